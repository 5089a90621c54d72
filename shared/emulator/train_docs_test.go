package emulator_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// TestTrainingReadsEveryDocument: a training reads its documents (several
// at a time) when it ends; each missing one is named, in the project's
// document order, up to 20, and a project whose documents are all there
// trains.
func TestTrainingReadsEveryDocument(t *testing.T) {
	missing := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("billing-%03d.txt", i))
		}
		return out
	}
	for _, tt := range []struct {
		name    string
		missing []string
		want    []string // the targets of the errors, in order
	}{
		{"AllPresent", nil, nil},
		{"TwoMissing", []string{"outage-010.txt", "billing-005.txt"}, []string{"billing-005.txt", "outage-010.txt"}},
		{"ManyMissingNamesTheFirst20", missing(25), missing(20)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := emulatortest.Start(t, nil)
			r.Load(emulatortest.SingleLabelProject("P", "docs", 30))
			for _, loc := range tt.missing {
				r.RemoveDoc("docs", loc)
			}
			loc := r.Start202("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"})
			st := r.Wait(loc, time.Second)
			if len(tt.want) == 0 {
				if st["status"] != "succeeded" {
					t.Fatalf("training: %v", st)
				}
				return
			}
			errs, _ := st["errors"].([]any)
			var got []string
			for _, e := range errs {
				target, _ := e.(map[string]any)["target"].(string)
				got = append(got, target)
			}
			if st["status"] != "failed" || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("training: status %v, errors naming %v; want failed naming %v", st["status"], got, tt.want)
			}
		})
	}
}
