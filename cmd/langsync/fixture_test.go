package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// pairFixture is the common CLI test setup: a primary emulator holding
// Tickets (12 documents, model1 deployed as production), an empty
// secondary, directory document storage on both, a directory store, and a
// config whose keys come from the environment (SRC_KEY, TGT_KEY in env).
type pairFixture struct {
	src, tgt *emulatortest.Resource
	dir      string
	cfgPath  string
	env      map[string]string
}

// newPairFixture starts the fixture; jobs, when not nil, sets the
// emulators' job durations.
func newPairFixture(t *testing.T, jobs map[string]time.Duration) *pairFixture {
	t.Helper()
	f := &pairFixture{
		src: emulatortest.Start(t, &emulator.Options{Name: "primary", Clock: emulator.RealClock(), JobDurations: jobs}),
		tgt: emulatortest.Start(t, &emulator.Options{Name: "secondary", Clock: emulator.RealClock(), JobDurations: jobs}),
		dir: t.TempDir(),
	}
	f.src.Load(emulatortest.SingleLabelProject("Tickets", "tickets", 12))
	f.src.TrainAndDeploy("Tickets", "model1", "production")
	f.cfgPath = filepath.Join(f.dir, "langsync.yaml")
	cfg := fmt.Sprintf(`resources:
  primary: {endpoint: %q, key: "${SRC_KEY}", storage: %q}
  secondary: {endpoint: %q, key: "${TGT_KEY}", storage: %q}
projects:
  - name: Tickets
    source: primary
    targets: [secondary]
    deployments: [production]
store: %q
`, f.src.URL, f.src.DocsDir, f.tgt.URL, f.tgt.DocsDir, filepath.Join(f.dir, "store"))
	if err := os.WriteFile(f.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	f.env = map[string]string{"SRC_KEY": f.src.Key, "TGT_KEY": f.tgt.Key}
	return f
}
