package local_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/local"
	"github.com/langsync/langsync/shared/sample"
)

// TestExampleConfig loads the shipped examples/langsync.local.yaml and runs
// the host on it with the embedded Tickets sample, moving only the
// endpoints (the emulators' ports) and the directories into the test's
// temporary directory: the pair replicates with directory storage.
func TestExampleConfig(t *testing.T) {
	t.Parallel()
	keys := map[string]string{"PRIMARY_KEY": "k-primary", "SECONDARY_KEY": "k-secondary"}
	cfg, err := config.Load(filepath.Join("..", "..", "examples", "langsync.local.yaml"), func(k string) string { return keys[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Pairs(); len(got) != 1 || got[0].String() != "primary/Tickets -> secondary" {
		t.Fatalf("example pairs %v, want primary/Tickets -> secondary", got)
	}
	if _, err := config.ParseSchedule(cfg.Schedule); err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Reveal() != "./langsync-data/store" {
		t.Fatalf("example store %q, want the directory ./langsync-data/store", cfg.Store.Reveal())
	}

	tickets := sample.Tickets()
	dir := t.TempDir()
	docs := func(name string) string { return filepath.Join(dir, name+"-docs") }
	if err := tickets.WriteDocs(docs("primary"), ""); err != nil {
		t.Fatal(err)
	}
	d := map[string]time.Duration{"export": 50 * time.Millisecond, "import": 50 * time.Millisecond, "train": 200 * time.Millisecond, "deploy": 50 * time.Millisecond}
	emu := map[string]*emulatortest.Resource{}
	for _, name := range []string{"primary", "secondary"} {
		emu[name] = emulatortest.Start(t, &emulator.Options{Name: name, Keys: []string{keys[map[string]string{"primary": "PRIMARY_KEY", "secondary": "SECONDARY_KEY"}[name]]},
			Clock: emulator.RealClock(), JobDurations: d, Documents: emulator.DirDocuments(docs(name))})
		cfg.Resources[name].Endpoint = emu[name].URL
		cfg.Resources[name].Storage = langsync.Secret(docs(name))
	}
	cfg.Store = langsync.Secret(filepath.Join(dir, "store"))
	src := emu["primary"]
	if st := src.Wait(src.Start202(http.MethodPost, "/language/authoring/analyze-text/projects/Tickets/:import?api-version="+emulatortest.APIVersion, tickets.JSON), 0); st["status"] != "succeeded" {
		t.Fatalf("import: %v", st)
	}
	src.TrainAndDeploy("Tickets", "v1", "production")

	logs := &logBuffer{}
	h, err := local.New(context.Background(), cfg, &local.Options{App: roomy, Logger: slog.New(slog.NewTextHandler(logs, nil)), SyncOnStart: true})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, h)
	waitFor(t, "the example's pair in sync", 60*time.Second, func() bool { return inSync(t, h) }, logs)
	if n := writes(emu["secondary"], ":train"); n != 1 {
		t.Errorf("secondary got %d training POSTs, want 1", n)
	}
}
