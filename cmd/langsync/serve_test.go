package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/config"
)

// serveBuffer is an output sink the server goroutine and the test share.
type serveBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *serveBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *serveBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type served struct {
	url            string
	stdout, stderr *serveBuffer
	stop           func() int
}

// startServe runs `langsync serve` in process on a free port with env as
// the app settings and appOptions (may be nil) adjusting its app; stop
// cancels it and returns the exit code.
func startServe(t *testing.T, env map[string]string, appOptions func(*app.Options)) *served {
	t.Helper()
	env["FUNCTIONS_CUSTOMHANDLER_PORT"] = "0"
	addrc := make(chan string, 1)
	s := &served{stdout: &serveBuffer{}, stderr: &serveBuffer{}}
	e := &Env{
		Stdin: strings.NewReader(""), Stdout: s.stdout, Stderr: s.stderr, Getenv: func(k string) string { return env[k] },
		appOptions: appOptions, listening: func(a string) { addrc <- a },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, e, []string{"serve", "--grace", "5s"}) }()
	select {
	case a := <-addrc:
		s.url = "http://" + a
	case code := <-done:
		cancel()
		t.Fatalf("serve exited %d before listening: %s", code, s.stderr)
	}
	var once sync.Once
	code := 0
	s.stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() { s.stop() })
	return s
}

func TestServeNeedsPort(t *testing.T) {
	code, _, stderr := runCLI(t, nil, "serve")
	if code != exitUsage || !strings.Contains(stderr, "FUNCTIONS_CUSTOMHANDLER_PORT is not set") {
		t.Fatalf("exit=%d stderr=%q", code, stderr)
	}
}

// TestServeStartupFailure: the readiness probe answers at once; with
// unusable app settings every invocation answers 500 (the host retries and
// logs), and the reason goes to stderr (an Error log in the host).
func TestServeStartupFailure(t *testing.T) {
	s := startServe(t, map[string]string{"LANGSYNC_CONFIG": "resources: [", "LANGSYNC_SERVICEBUS": "x.servicebus.windows.net"}, nil)
	resp, err := http.Get(s.url + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readiness: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Post(s.url+"/sync", "application/json", strings.NewReader(`{"Data":{},"Metadata":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(body), "LANGSYNC_CONFIG") {
		t.Fatalf("invocation %d %q, want 500 naming LANGSYNC_CONFIG", resp.StatusCode, body)
	}
	if code := s.stop(); code != exitOK {
		t.Fatalf("exit=%d after stop", code)
	}
	if !strings.Contains(s.stderr.String(), "LANGSYNC_CONFIG") {
		t.Fatalf("stderr %q lacks the start-up error", s.stderr)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestServeNegativeGrace: a negative --grace is a usage error (exit 2),
// not a silent immediate stop.
func TestServeNegativeGrace(t *testing.T) {
	code, stdout, stderr := runCLI(t, map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "0"}, "serve", "--grace", "-1s")
	if code != exitUsage || !strings.Contains(stderr, "--grace -1s is negative") {
		t.Fatalf("exit %d, want %d\nstdout %q\nstderr %q", code, exitUsage, stdout, stderr)
	}
}

// TestServeStopDuringStartup: a stop while start-up is still wiring the app
// waits for start-up to end, so nothing it opens outlives serve.
func TestServeStopDuringStartup(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var startupDone atomic.Bool
	settings := map[string]string{
		"LANGSYNC_CONFIG": `resources:
  primary: {endpoint: "https://a.cognitiveservices.azure.com", key: k}
  secondary: {endpoint: "https://b.cognitiveservices.azure.com", key: k}
projects: [{name: P, source: primary, targets: [secondary]}]
store: ` + t.TempDir(),
		"LANGSYNC_SERVICEBUS": "x.servicebus.windows.net",
	}
	// Start-up reaches the app options only with valid settings.
	if _, err := config.FromAppSettings(func(k string) string { return settings[k] }); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, settings, func(*app.Options) {
		close(entered)
		<-release
		startupDone.Store(true)
	})
	<-entered
	stopped := make(chan int, 1)
	go func() { stopped <- s.stop() }()
	close(release)
	if code := <-stopped; code != exitOK {
		t.Fatalf("exit=%d after stop\n%s", code, s.stderr)
	}
	if !startupDone.Load() {
		t.Fatal("serve returned while start-up was still running")
	}
}
