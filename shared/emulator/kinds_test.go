package emulator_test

import (
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// runtimeResults submits one task and returns its results object.
func runtimeResults(t *testing.T, r *emulatortest.Resource, kind string, params map[string]any, texts ...string) map[string]any {
	t.Helper()
	var docs []any
	for i, tx := range texts {
		docs = append(docs, map[string]any{"id": string(rune('a' + i)), "language": "en", "text": tx})
	}
	loc := r.Start202("POST", "/language/analyze-text/jobs"+v23, map[string]any{
		"analysisInput": map[string]any{"documents": docs},
		"tasks":         []any{map[string]any{"kind": kind, "taskName": "t", "parameters": params}},
	})
	st := r.Wait(loc, time.Second)
	tasks := st["tasks"].(map[string]any)
	if st["status"] != "succeeded" || tasks["completed"] != 1.0 || tasks["total"] != 1.0 {
		t.Fatalf("job %v", st)
	}
	return tasks["items"].([]any)[0].(map[string]any)["results"].(map[string]any)
}

func TestMultiLabel(t *testing.T) {
	r := emulatortest.Start(t, nil)
	r.Load(emulatortest.MultiLabelProject("Movies", "movies", 60))
	r.TrainAndDeploy("Movies", "m1", "prod")
	res := runtimeResults(t, r, "CustomMultiLabelClassification", map[string]any{"projectName": "Movies", "deploymentName": "prod"},
		"a funny prank at the party, everyone laughs at the clown joke",
		"a car chase and an explosion, the hero fights a battle, then a funeral with tears for the family")
	docs := res["documents"].([]any)
	classes := func(i int) string {
		var out []string
		for _, c := range docs[i].(map[string]any)["class"].([]any) {
			out = append(out, c.(map[string]any)["category"].(string))
		}
		return strings.Join(out, ",")
	}
	if got := classes(0); got != "Comedy" {
		t.Fatalf("comedy text got %q", got)
	}
	if got := classes(1); !strings.Contains(got, "Action") || !strings.Contains(got, "Drama") || strings.Contains(got, "Comedy") {
		t.Fatalf("action+drama text got %q", got)
	}
	sum := getJSON(t, r, projects+"/Movies/models/m1/evaluation/summary-result"+v23)
	ev, ok := sum["customMultiLabelClassificationEvaluation"].(map[string]any)
	if !ok || ev["confusionMatrix"] != nil || ev["microF1"].(float64) < 0.8 {
		t.Fatalf("multi-label summary %v", sum)
	}
}

func TestEntityRecognition(t *testing.T) {
	r := emulatortest.Start(t, nil)
	r.Load(emulatortest.NERProject("Loans", "loans", 20))
	r.TrainAndDeploy("Loans", "m1", "prod")
	text := "Dated July 14, 2022: Contoso Bank lends to Wei Chen. 😀 Then Maria Garcia signs."
	for _, sit := range []string{"Utf16CodeUnit", "UnicodeCodePoint"} {
		res := runtimeResults(t, r, "CustomEntityRecognition", map[string]any{"projectName": "Loans", "deploymentName": "prod", "stringIndexType": sit}, text)
		ents := res["documents"].([]any)[0].(map[string]any)["entities"].([]any)
		var got []string
		for _, e := range ents {
			m := e.(map[string]any)
			got = append(got, m["category"].(string)+"="+m["text"].(string))
			if m["text"] == "Maria Garcia" {
				want := 60.0 // code points before "Maria"; the emoji is 2 UTF-16 units
				if sit == "Utf16CodeUnit" {
					want = 61
				}
				if m["offset"] != want || m["length"] != 12.0 {
					t.Fatalf("%s: Maria Garcia at %v+%v, want %v+12", sit, m["offset"], m["length"], want)
				}
			}
		}
		if strings.Join(got, ";") != "Date=July 14, 2022;LenderName=Contoso Bank;BorrowerName=Wei Chen;BorrowerName=Maria Garcia" {
			t.Fatalf("%s: entities %v", sit, got)
		}
	}
	sum := getJSON(t, r, projects+"/Loans/models/m1/evaluation/summary-result"+v23)
	ev := sum["customEntityRecognitionEvaluation"].(map[string]any)
	if ev["entities"].(map[string]any)["Date"] == nil || ev["confusionMatrix"].(map[string]any)["Date"] == nil {
		t.Fatalf("NER summary %v", sum)
	}
}

// TestRuntimeJobProgress: an analyze job is notStarted, then running, then
// succeeded with items; cancel stops one that has not finished.
func TestRuntimeJobProgress(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{JobDurations: map[string]time.Duration{emulator.KindAnalyze: 10 * time.Second}})
	r.Load(emulatortest.SingleLabelProject("P", "docs", 5))
	r.TrainAndDeploy("P", "m1", "prod")
	loc := r.Start202("POST", "/language/analyze-text/jobs"+v23, analyzeBody(2, "P", "prod"))
	if !strings.HasPrefix(loc, r.URL+"/language/analyze-text/jobs/") {
		t.Fatalf("operation-location %q", loc)
	}
	var trail []string
	for i := 0; i < 3; i++ {
		st := getJSON(t, r, loc)
		trail = append(trail, st["status"].(string))
		items := st["tasks"].(map[string]any)["items"].([]any)
		if (st["status"] == "succeeded") != (len(items) == 1) {
			t.Fatalf("status %v with %d items", st["status"], len(items))
		}
		r.Advance(5 * time.Second)
	}
	if strings.Join(trail, ",") != "notStarted,running,succeeded" {
		t.Fatalf("trail %v", trail)
	}
	loc = r.Start202("POST", "/language/analyze-text/jobs"+v23, analyzeBody(1, "P", "prod"))
	id := loc[strings.LastIndex(loc, "/")+1 : strings.Index(loc, "?")]
	if code, _, b := r.Do("POST", "/language/analyze-text/jobs/"+id+":cancel"+v23, nil); code != 202 {
		t.Fatalf("cancel: %d %s", code, b)
	}
	r.Advance(time.Minute)
	if st := getJSON(t, r, loc); st["status"] != "cancelled" {
		t.Fatalf("cancelled job %v", st)
	}
}

// TestConfidenceThreshold: a single-label prediction below the project's
// confidenceThreshold returns no class.
func TestConfidenceThreshold(t *testing.T) {
	r := emulatortest.Start(t, nil)
	r.Load(emulatortest.SingleLabelProject("P", "docs", 5))
	r.TrainAndDeploy("P", "m1", "prod")
	if got := predict(t, r, "P", "prod", []string{"zebra"}); got["1"] == "" {
		t.Fatal("no class without a threshold")
	}
	if code, _, b := r.Do("PATCH", projects+"/P"+v23, map[string]any{"settings": map[string]any{"confidenceThreshold": 0.99}}); code != 200 {
		t.Fatalf("PATCH: %d %s", code, b)
	}
	if got := predict(t, r, "P", "prod", []string{"zebra"}); got["1"] != "" {
		t.Fatalf("got %q under a 0.99 threshold", got["1"])
	}
}
