package local_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/local"
	"github.com/langsync/langsync/shared/pipeline"
)

// rig is a source and a target emulator (real clock, short jobs) with the
// sample-sized Tickets project trained and deployed on the source, and a
// config whose store is a directory.
type rig struct {
	src, tgt *emulatortest.Resource
	store    string
	schedule string
	// more is appended to the config's projects list (YAML list items).
	more string
}

func newRig(t *testing.T, train time.Duration) *rig {
	t.Helper()
	durations := map[string]time.Duration{"export": 50 * time.Millisecond, "import": 50 * time.Millisecond, "train": train, "deploy": 100 * time.Millisecond}
	r := &rig{
		src:      emulatortest.Start(t, &emulator.Options{Name: "primary", Clock: emulator.RealClock(), JobDurations: durations}),
		tgt:      emulatortest.Start(t, &emulator.Options{Name: "secondary", Clock: emulator.RealClock(), JobDurations: durations}),
		store:    t.TempDir(),
		schedule: "0 0 2 * * *",
	}
	r.src.Load(emulatortest.SingleLabelProject("Tickets", "tickets", 6))
	r.src.TrainAndDeploy("Tickets", "v1", "production")
	return r
}

func (r *rig) config(t *testing.T) *config.Config {
	t.Helper()
	text := fmt.Sprintf(`resources:
  primary: {endpoint: %q, key: %q, storage: %q}
  secondary: {endpoint: %q, key: %q, storage: %q}
projects:
  - name: Tickets
    source: primary
    targets: [secondary]
    deployments: [production]
%sstore: %q
schedule: %q
`, r.src.URL, r.src.Key, r.src.DocsDir, r.tgt.URL, r.tgt.Key, r.tgt.DocsDir, r.more, r.store, r.schedule)
	cfg, err := config.Parse([]byte(text), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// writes counts the non-GET requests a resource received whose path
// contains part.
func writes(res *emulatortest.Resource, part string) int {
	n := 0
	for _, q := range res.Server.Requests() {
		if q.Method != http.MethodGet && strings.Contains(q.Path, part) {
			n++
		}
	}
	return n
}

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serve runs h until the returned stop is called; stop waits for Run to
// return and fails the test if it did not return nil within 30 s.
func serve(t *testing.T, h *local.Host) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return within 30s of the stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond every 20 ms until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s\nlogs:\n%s", what, d, logs)
		}
		<-tick.C
	}
}

// inSync reports whether every configured pair has been replicated and
// has no active run.
func inSync(t *testing.T, h *local.Host) bool {
	t.Helper()
	st, err := h.App.Pipeline.Status(context.Background())
	if err != nil || len(st) != len(h.App.Config.Pairs()) {
		return false
	}
	for _, s := range st {
		if s.Fingerprint == "" || s.ActiveRun != nil || s.Lag != 0 {
			return false
		}
	}
	return true
}

// fakeRestorer records the dropped keys it was asked to restore.
type fakeRestorer struct {
	mu   sync.Mutex
	keys []string
	err  error
}

func (f *fakeRestorer) RestoreDropped(_ context.Context, key string) ([]pipeline.Next, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = append(f.keys, key)
	return nil, f.err
}

func (f *fakeRestorer) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.keys...)
}

var errCrash = errors.New("simulated crash")

// roomy gives a host's clients a rate budget far above the service's
// limits. These emulators enforce none, and the tests poll Status (a few
// GETs a call) every 20 ms, or sync every second: the real limits (100 GETs
// in any minute) would stall them for most of a minute.
func roomy(o *app.Options) {
	o.Authoring = &authoring.ClientOptions{Budget: authoring.NewRateBudget(authoring.BudgetOptions{Writes: 100000, Reads: 100000})}
}

// dropBackup copies the one backup of primary/project into the state
// container under restore/secondary/<as>/ and returns the drop's key.
func dropBackup(t *testing.T, h *local.Host, project, as string) string {
	t.Helper()
	ctx, cfg := context.Background(), h.App.Config
	backups, err := h.App.Store.List(ctx, cfg.Containers.Backups, langsync.BackupPrefix("primary", project))
	if err != nil || len(backups) != 1 {
		t.Fatalf("backups of %s: %v (%v), want one", project, backups, err)
	}
	rc, _, err := h.App.Store.Get(ctx, cfg.Containers.Backups, backups[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	key := "restore/secondary/" + as + "/" + path.Base(backups[0].Key)
	if _, err := h.App.Store.Put(ctx, cfg.Containers.State, key, rc, nil); err != nil {
		t.Fatal(err)
	}
	return key
}

// restoringHost serves a host on cfg that syncs on start and restores
// drops (listing every 50 ms), and waits until every pair is in sync.
func restoringHost(t *testing.T, cfg *config.Config, what string, within time.Duration) (*local.Host, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	h, err := local.New(context.Background(), cfg, &local.Options{App: roomy, Logger: slog.New(slog.NewTextHandler(logs, nil)), SyncOnStart: true, RestoreEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.SetRestorer(h.App)
	serve(t, h)
	waitFor(t, what, within, func() bool { return inSync(t, h) }, logs)
	return h, logs
}
