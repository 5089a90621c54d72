package emulatortest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

func TestStartDefaults(t *testing.T) {
	r := emulatortest.Start(t, nil)
	if r.Key == "" || r.Clock == nil || !r.Clock.Now().Equal(emulatortest.Epoch) || r.DocsDir == "" {
		t.Fatalf("defaults: key %q clock %v docs %q", r.Key, r.Clock, r.DocsDir)
	}
	r.WriteDocs("c", map[string]string{"a.txt": "hello"})
	if b, err := os.ReadFile(filepath.Join(r.DocsDir, "c", "a.txt")); err != nil || string(b) != "hello" {
		t.Fatalf("WriteDocs: %q %v", b, err)
	}
	// Instant jobs: an import is done at its first status GET.
	p := emulatortest.NERProject("Loans", "loans", 3)
	r.WriteDocs(p.Container, p.Docs)
	loc := r.Start202("POST", "/language/authoring/analyze-text/projects/Loans/:import?api-version="+emulatortest.APIVersion, p.Export)
	if code, _, b := r.Do("GET", loc, nil); code != 200 || !contains(b, `"status":"succeeded"`) {
		t.Fatalf("first status GET: %d %s", code, b)
	}
	r.Advance(time.Minute)
	if !r.Clock.Now().Equal(emulatortest.Epoch.Add(time.Minute)) {
		t.Fatal("Advance did not move the clock")
	}
}

func TestStartKeepsGivenDurations(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{Keys: []string{"mine"}, JobDurations: map[string]time.Duration{emulator.KindImport: time.Minute}})
	if r.Key != "mine" {
		t.Fatalf("key %q", r.Key)
	}
	p := emulatortest.MultiLabelProject("M", "m", 3)
	r.WriteDocs(p.Container, p.Docs)
	loc := r.Start202("POST", "/language/authoring/analyze-text/projects/M/:import?api-version="+emulatortest.APIVersion, p.Export)
	if _, _, b := r.Do("GET", loc, nil); !contains(b, `"status":"notStarted"`) {
		t.Fatalf("a one-minute import: %s", b)
	}
	if st := r.Wait(loc, 10*time.Second); st["status"] != "succeeded" {
		t.Fatalf("after Wait: %v", st)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
