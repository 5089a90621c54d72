package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, r *Recorder) string {
	t.Helper()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

// TestNamesAndLabels checks every documented series, by name and labels,
// as a Prometheus scrape sees it.
func TestNamesAndLabels(t *testing.T) {
	ctx := context.Background()
	r, err := New(ctx, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown(ctx)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }
	r.RunEnded(ctx, "primary", "Tickets", "secondary", "succeeded")
	r.RunEnded(ctx, "primary", "Tickets", "secondary", "succeeded")
	r.RunEnded(ctx, "primary", "Tickets", "tertiary", "failed")
	r.StepEnded(ctx, "train", "done", 42*time.Second)
	r.BackupWritten(ctx, "primary", "Tickets", 2048)
	r.Throttled(ctx, "secondary")
	r.JobRetry(ctx, "train")
	r.SetPairs([]Pair{
		{Source: "primary", Project: "Tickets", Target: "secondary", LastSuccess: now.Add(-time.Hour)},
		{Source: "primary", Project: "Tickets", Target: "tertiary", Behind: now.Add(-30 * time.Hour), Alerts: map[string]int{"lag": 1, "expiry": 2}},
	})
	out := scrape(t, r)
	want := []string{
		`langsync_runs_total{outcome="succeeded",project="Tickets",source="primary",target="secondary"} 2`,
		`langsync_runs_total{outcome="failed",project="Tickets",source="primary",target="tertiary"} 1`,
		`langsync_replication_lag_seconds{project="Tickets",source="primary",target="secondary"} 0`,
		`langsync_replication_lag_seconds{project="Tickets",source="primary",target="tertiary"} 108000`,
		`langsync_last_success_timestamp_seconds{project="Tickets",source="primary",target="secondary"} 1.7965548e+09`,
		`langsync_alerts{kind="lag",project="Tickets",source="primary",target="tertiary"} 1`,
		`langsync_alerts{kind="expiry",project="Tickets",source="primary",target="tertiary"} 2`,
		`langsync_alerts{kind="lag",project="Tickets",source="primary",target="secondary"} 0`,
		`langsync_step_duration_seconds_bucket{outcome="done",step="train",le="60"} 1`,
		`langsync_step_duration_seconds_bucket{outcome="done",step="train",le="30"} 0`,
		`langsync_step_duration_seconds_sum{outcome="done",step="train"} 42`,
		`langsync_backups_written_total{project="Tickets",source="primary"} 1`,
		`langsync_backup_bytes_total{project="Tickets",source="primary"} 2048`,
		`langsync_throttled_requests_total{resource="secondary"} 1`,
		`langsync_job_retries_total{step="train"} 1`,
		"# TYPE langsync_replication_lag_seconds gauge",
		"# TYPE langsync_runs_total counter",
		"# TYPE langsync_step_duration_seconds histogram",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("scrape lacks %s", w)
		}
	}
	if strings.Contains(out, `last_success_timestamp_seconds{project="Tickets",source="primary",target="tertiary"}`) {
		t.Error("a never-replicated pair has a last-success timestamp")
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestNilRecorderIsSafe(t *testing.T) {
	var r *Recorder
	ctx := context.Background()
	r.RunEnded(ctx, "a", "b", "c", "failed")
	r.StepEnded(ctx, "train", "done", time.Second)
	r.BackupWritten(ctx, "a", "b", 1)
	r.Throttled(ctx, "a")
	r.JobRetry(ctx, "train")
	r.SetPairs(nil)
	if r.OTLP() || r.Flush(ctx) != nil || r.Shutdown(ctx) != nil {
		t.Fatal("nil recorder did something")
	}
}

// TestOTLPExport: with OTEL_EXPORTER_OTLP_ENDPOINT set, a flush POSTs the
// metrics to <endpoint>/v1/metrics as protobuf.
func TestOTLPExport(t *testing.T) {
	got := make(chan *http.Request, 4)
	bodies := make(chan []byte, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		got <- req
		bodies <- b
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	// The exporter reads the variables from the process environment.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	ctx := context.Background()
	r, err := New(ctx, Options{Getenv: os.Getenv, OTLPEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown(ctx)
	if !r.OTLP() {
		t.Fatal("OTLP not enabled by OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	r.RunEnded(ctx, "primary", "Tickets", "secondary", "succeeded")
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	req := <-got
	body := <-bodies
	if req.Method != http.MethodPost || req.URL.Path != "/v1/metrics" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		t.Errorf("OTLP request %s %s %s", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
	}
	for _, w := range []string{"langsync_runs", "Tickets", "secondary"} {
		if !strings.Contains(string(body), w) {
			t.Errorf("OTLP body lacks %q", w)
		}
	}
}

func TestOTLPRefusesGRPC(t *testing.T) {
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
	_, err := New(context.Background(), Options{Getenv: func(k string) string { return env[k] }})
	if err == nil || !strings.Contains(err.Error(), "http/protobuf") {
		t.Fatalf("grpc protocol: %v, want an error naming http/protobuf", err)
	}
	r, err := New(context.Background(), Options{Getenv: func(string) string { return "" }})
	if err != nil || r.OTLP() {
		t.Fatalf("no variables: otlp=%v err=%v", r.OTLP(), err)
	}
}
