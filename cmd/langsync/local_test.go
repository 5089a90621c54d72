package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/pipeline"
)

// TestHelperLocal is not a test: the local tests run the test binary with
// LANGSYNC_HELPER_LOCAL=1 to get a real `langsync local` process they can
// signal and kill. LANGSYNC_HELPER_ARGS holds its arguments.
func TestHelperLocal(t *testing.T) {
	if os.Getenv("LANGSYNC_HELPER_LOCAL") != "1" {
		t.Log("helper process for the langsync local tests; nothing to do on its own")
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A host killed between a job's POST and its save is resumed at the
	// claim's deadline: 5 s here, not the default 20 s. The emulators
	// enforce no limits, and a test polling /status every 20 ms would
	// spend the service's 100 reads a minute and then wait out the window.
	e := &Env{Stdin: strings.NewReader(""), Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, appOptions: func(o *app.Options) {
		o.Authoring = &authoring.ClientOptions{Budget: roomyBudget()}
		o.Pipeline = func(po *pipeline.Options) { po.BeginTimeout = 5 * time.Second }
	}}
	os.Exit(run(ctx, e, append([]string{"local"}, strings.Fields(os.Getenv("LANGSYNC_HELPER_ARGS"))...)))
}

// localLogs collects a child's output.
type localLogs struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *localLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *localLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// localProcess starts `langsync local` with args as a child process.
func localProcess(t *testing.T, logs *localLogs, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLocal$")
	cmd.Env = append(os.Environ(), "LANGSYNC_HELPER_LOCAL=1", "LANGSYNC_HELPER_ARGS="+strings.Join(args, " "))
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	return cmd
}

// localRig is two emulators (real clock, a training job of train) with a
// small Tickets project deployed on the primary, and a config file with a
// directory store and a schedule that does not fire during the test.
type localRig struct {
	src, tgt *emulatortest.Resource
	cfgPath  string
}

func newLocalRig(t *testing.T, train time.Duration) *localRig {
	t.Helper()
	d := map[string]time.Duration{"export": 50 * time.Millisecond, "import": 50 * time.Millisecond, "train": train, "deploy": 100 * time.Millisecond}
	r := &localRig{
		src: emulatortest.Start(t, &emulator.Options{Name: "primary", Clock: emulator.RealClock(), JobDurations: d}),
		tgt: emulatortest.Start(t, &emulator.Options{Name: "secondary", Clock: emulator.RealClock(), JobDurations: d}),
	}
	r.src.Load(emulatortest.SingleLabelProject("Tickets", "tickets", 6))
	r.src.TrainAndDeploy("Tickets", "v1", "production")
	dir := t.TempDir()
	r.cfgPath = filepath.Join(dir, "langsync.yaml")
	text := fmt.Sprintf(`resources:
  primary: {endpoint: %q, key: %q, storage: %q}
  secondary: {endpoint: %q, key: %q, storage: %q}
projects:
  - name: Tickets
    source: primary
    targets: [secondary]
    deployments: [production]
store: %q
schedule: "0 0 2 1 1 *"
`, r.src.URL, r.src.Key, r.src.DocsDir, r.tgt.URL, r.tgt.Key, r.tgt.DocsDir, filepath.Join(dir, "store"))
	if err := os.WriteFile(r.cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *localRig) trainPosts() int {
	n := 0
	for _, q := range r.tgt.Server.Requests() {
		if q.Method == http.MethodPost && strings.HasSuffix(q.Path, ":train") {
			n++
		}
	}
	return n
}

// inSync reads the state the way `langsync status` does: replicated, no
// active run, no lag.
func (r *localRig) inSync(t *testing.T) bool {
	t.Helper()
	cfg, err := config.Load(r.cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Its own budget: the test polls every 20 ms, past the service's 100
	// reads a minute that the process-wide default budget would impose.
	a, err := app.New(context.Background(), cfg, &app.Options{Authoring: &authoring.ClientOptions{Budget: roomyBudget()}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.Pipeline.Status(context.Background())
	return err == nil && len(st) == 1 && st[0].Fingerprint != "" && st[0].ActiveRun == nil && st[0].Lag == 0 && st[0].LastRunPhase == "succeeded"
}

// pollUntil polls cond until it holds. It waits for the event, not for a
// budget: it gives up only shortly before the test binary's own -timeout,
// so a loaded machine makes the test slower, not red.
func pollUntil(t *testing.T, what string, cond func() bool, logs *localLogs) {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not before the test's deadline\n%s", what, tail(logs.String(), 40))
		case <-tick.C:
		}
	}
}

// testContext ends shortly before the test binary's -timeout (or after 10
// minutes without one), leaving time to report what was waited for.
func testContext(t *testing.T) (context.Context, context.CancelFunc) {
	deadline, ok := t.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Minute)
	}
	return context.WithDeadline(context.Background(), deadline.Add(-30*time.Second))
}

// TestLocalKilledDuringTraining kills the `langsync local` process
// (SIGKILL) while the target trains, starts it again, and checks that the
// run finishes from its state with exactly one training POST on the target
// and the pair in sync.
func TestLocalKilledDuringTraining(t *testing.T) {
	t.Parallel()
	r := newLocalRig(t, 3*time.Second)
	logs := &localLogs{}
	first := localProcess(t, logs, "--config", r.cfgPath, "--sync-now", "--log-format", "json")
	pollUntil(t, "training started on the target", func() bool { return r.trainPosts() > 0 }, logs)
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = first.Process.Wait()
	if r.inSync(t) {
		t.Fatal("in sync before the restart: the kill came too late to test anything")
	}

	second := localProcess(t, logs, "--config", r.cfgPath, "--log-format", "json")
	pollUntil(t, "pair in sync after the restart", func() bool { return r.inSync(t) }, logs)
	if n := r.trainPosts(); n != 1 {
		t.Errorf("target got %d training POSTs, want 1\n%s", n, tail(logs.String(), 40))
	}
	if !strings.Contains(logs.String(), `"msg":"resuming run"`) {
		t.Errorf("the restarted host logged no resumed run\n%s", tail(logs.String(), 40))
	}
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st, _ := second.Process.Wait(); st == nil || st.ExitCode() != 0 {
		t.Errorf("after SIGTERM: %v, want exit 0\n%s", st, tail(logs.String(), 20))
	}
	for _, k := range []string{r.src.Key, r.tgt.Key} {
		if strings.Contains(logs.String(), k) {
			t.Fatal("a subscription key appears in the output")
		}
	}
}

// TestLocalSignalStopsCleanly sends SIGINT to an idle host: it logs the
// stop and exits 0. Its logs are JSON (not a terminal) with one object per
// line.
func TestLocalSignalStopsCleanly(t *testing.T) {
	t.Parallel()
	r := newLocalRig(t, 0)
	logs := &localLogs{}
	p := localProcess(t, logs, "--config", r.cfgPath)
	pollUntil(t, "start-up", func() bool { return strings.Contains(logs.String(), "resumed unfinished runs") }, logs)
	if err := p.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	st, _ := p.Process.Wait()
	if st == nil || st.ExitCode() != 0 {
		t.Fatalf("after SIGINT: %v, want exit 0\n%s", st, logs)
	}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	var lines int
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "=== ") || strings.HasPrefix(line, "--- ") || line == "PASS" {
			continue // the test binary's own lines
		}
		lines++
		if !strings.HasPrefix(line, "{") {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
	if lines < 3 || !strings.Contains(logs.String(), `"msg":"local host stopped"`) {
		t.Errorf("want start, resume and stop lines:\n%s", logs)
	}
}

func TestLocalUsage(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "langsync.yaml")
	text := "resources:\n  primary: {endpoint: \"https://a.example.com\", key: k1}\n  secondary: {endpoint: \"https://b.example.com\", key: k2}\n" +
		"projects:\n  - {name: Tickets, source: primary, targets: [secondary]}\nstore: " + filepath.Join(t.TempDir(), "store") + "\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"NoConfig", nil, "--config is required"},
		{"MissingFile", []string{"--config", "missing.yaml"}, "missing.yaml"},
		{"BadFormat", []string{"--config", cfg, "--log-format", "xml"}, `--log-format "xml"`},
		{"BadWorkers", []string{"--config", cfg, "--workers", "0"}, "--workers must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, append([]string{"local"}, tt.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 mentioning %q", code, stderr, tt.want)
			}
		})
	}
}

// TestCommandNamesUnique guards the shared command table against a line
// added twice (several people edit it).
func TestCommandNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands() {
		if seen[c.Name] {
			t.Errorf("command %q is registered twice in commands()", c.Name)
		}
		seen[c.Name] = true
	}
}
