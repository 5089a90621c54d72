package local_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/heartbeat"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/local"
	"github.com/langsync/langsync/shared/metrics"
	"github.com/langsync/langsync/shared/pipeline"
)

type beat struct{ path, body string }

// monitor is a local dead-man's-switch service: it passes each ping on.
func monitor(t *testing.T) (*httptest.Server, <-chan beat) {
	t.Helper()
	got := make(chan beat, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- beat{r.URL.Path, string(b)}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func nextBeat(t *testing.T, got <-chan beat, logs *logBuffer) beat {
	t.Helper()
	select {
	case b := <-got:
		return b
	case <-time.After(2 * time.Minute):
		t.Fatalf("no heartbeat within 2 minutes\n%s", logs)
	}
	return beat{}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const token = "c0ffee-check-token"

// TestHeartbeatAndEndpoints: a scheduled sync replicates the pair; once
// its run has ended the heartbeat URL gets its success ping, and the
// endpoints show the run in the metrics, the pair in /status and on the
// page.
func TestHeartbeatAndEndpoints(t *testing.T) {
	t.Parallel()
	r := newRig(t, 200*time.Millisecond)
	cfg := r.config(t)
	mon, beats := monitor(t)
	cfg.Heartbeat.URL = langsync.Secret(mon.URL + "/ping/" + token)
	rec, err := metrics.New(context.Background(), metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	h, err := local.New(context.Background(), cfg, &local.Options{App: roomy, Logger: slog.New(slog.NewJSONHandler(logs, nil)), SyncOnStart: true,
		Metrics: rec, Heartbeat: heartbeat.New(cfg.Heartbeat.URL.Reveal(), nil)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = h.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	if code, _ := get(t, base+"/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz before Run: %d, want 503", code)
	}
	stop := serve(t, h)

	b := nextBeat(t, beats, logs)
	if b.path != "/ping/"+token || b.body != "" {
		t.Fatalf("heartbeat %+v, want a success ping to /ping/<token>\n%s", b, logs)
	}
	if code, body := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	_, text := get(t, base+"/metrics")
	for _, want := range []string{
		`langsync_runs_total{outcome="succeeded",project="Tickets",source="primary",target="secondary"} 1`,
		`langsync_replication_lag_seconds{project="Tickets",source="primary",target="secondary"} 0`,
		`langsync_backups_written_total{project="Tickets",source="primary"} 1`,
		`langsync_step_duration_seconds_count{outcome="done",step="train"} 1`,
		`langsync_last_success_timestamp_seconds{project="Tickets",source="primary",target="secondary"}`,
		`langsync_alerts{kind="lag",project="Tickets",source="primary",target="secondary"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	code, body := get(t, base+"/status")
	var st []pipeline.PairStatus
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || len(st) != 1 || st[0].Fingerprint == "" || st[0].Lag != 0 {
		t.Errorf("/status %d: %s", code, body)
	}
	code, body = get(t, base+"/")
	if code != http.StatusOK || !strings.Contains(body, "primary/Tickets -&gt; secondary") || !strings.Contains(body, "1 pairs: 1 in sync, 0 alerting.") || !strings.Contains(body, "<svg") {
		t.Errorf("/ %d:\n%s", code, body)
	}
	stop()
	if code, _ := get(t, base+"/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz after the stop: %d, want 503", code)
	}
	if strings.Contains(logs.String(), token) {
		t.Error("the heartbeat token appears in the logs")
	}
}

// TestHeartbeatFailure: a sync whose run fails (the target refuses the
// key) pings URL/fail with a reason naming the pair, and no key or token
// shows in the reason or the logs.
func TestHeartbeatFailure(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0)
	cfg := r.config(t)
	cfg.Resources["secondary"].Key = "not-the-key-4711"
	mon, beats := monitor(t)
	cfg.Heartbeat.URL = langsync.Secret(mon.URL + "/ping/" + token)
	logs := &logBuffer{}
	h, err := local.New(context.Background(), cfg, &local.Options{App: roomy, Logger: slog.New(slog.NewJSONHandler(logs, nil)), SyncOnStart: true,
		Heartbeat: heartbeat.New(cfg.Heartbeat.URL.Reveal(), nil)})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, h)
	b := nextBeat(t, beats, logs)
	if b.path != "/ping/"+token+"/fail" || !strings.Contains(b.body, "primary/Tickets -> secondary") {
		t.Fatalf("heartbeat %+v, want /fail with the pair in the reason\n%s", b, logs)
	}
	// The ping is answered before the host logs it.
	waitFor(t, "the failure ping logged", time.Minute, func() bool { return strings.Contains(logs.String(), `"msg":"heartbeat sent: failure"`) }, logs)
	for _, secret := range []string{"not-the-key-4711", r.src.Key, token} {
		if strings.Contains(b.body, secret) || strings.Contains(logs.String(), secret) {
			t.Errorf("a secret (%q) appears in the reason or the logs", secret)
		}
	}
}
