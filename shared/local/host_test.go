package local_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/local"
	"github.com/langsync/langsync/shared/pipeline"
)

// TestScheduleReplicates fires a schedule of every second: the first
// firing replicates the never-replicated pair through the in-process
// queue; later firings find it up to date and start nothing. Every log
// line is JSON and step lines carry run, project and step.
func TestScheduleReplicates(t *testing.T) {
	t.Parallel()
	r := newRig(t, 300*time.Millisecond)
	r.schedule = "* * * * * *"
	logs := &logBuffer{}
	h, err := local.New(context.Background(), r.config(t), &local.Options{App: roomy, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	stop := serve(t, h)
	waitFor(t, "pair in sync", 30*time.Second, func() bool { return inSync(t, h) }, logs)
	waitFor(t, "a later firing that decides none", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), `"action":"none"`)
	}, logs)
	stop()

	if n := writes(r.tgt, ":train"); n != 1 {
		t.Errorf("target got %d training POSTs, want 1", n)
	}
	var stepLines, decisions int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		msg, _ := rec["msg"].(string)
		if strings.HasPrefix(msg, "step ") {
			stepLines++
			if rec["run"] == "" || rec["project"] != "Tickets" || rec["step"] == "" {
				t.Errorf("step line lacks run/project/step: %s", line)
			}
		}
		if msg == "sync decision" {
			decisions++
			if rec["project"] != "Tickets" || rec["reason"] == "" {
				t.Errorf("decision line lacks project/reason: %s", line)
			}
		}
	}
	if stepLines < 6 || decisions < 2 {
		t.Errorf("got %d step lines and %d decision lines, want at least 6 and 2", stepLines, decisions)
	}
	for _, k := range []string{r.src.Key, r.tgt.Key} {
		if strings.Contains(logs.String(), k) {
			t.Fatal("a subscription key appears in the logs")
		}
	}
}

// TestResumeAfterCrash stops the first host abruptly right after the
// target's training job was started and saved (as a crash would, via the
// pipeline's hook), starts a second host on the same state, and checks that
// it resumes the run from the state and finishes it with one training job.
func TestResumeAfterCrash(t *testing.T) {
	t.Parallel()
	r := newRig(t, 2*time.Second)
	cfg := r.config(t)
	logs := &logBuffer{}
	crashed := make(chan struct{})
	h1, err := local.New(context.Background(), cfg, &local.Options{
		Logger:      slog.New(slog.NewTextHandler(logs, nil)),
		SyncOnStart: true,
		App: func(o *app.Options) {
			roomy(o)
			o.Pipeline = func(po *pipeline.Options) {
				po.Hook = func(point string) error {
					if strings.HasPrefix(point, "train/") && strings.HasSuffix(point, ":saved") {
						close(crashed)
						return errCrash
					}
					return nil
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop1 := serve(t, h1)
	select {
	case <-crashed:
	case <-time.After(30 * time.Second):
		t.Fatalf("training never started\n%s", logs)
	}
	stop1()
	if inSync(t, h1) {
		t.Fatal("pair in sync before the restart; the crash came too late to test anything")
	}

	h2, err := local.New(context.Background(), cfg, &local.Options{App: roomy, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, h2)
	waitFor(t, "pair in sync after the restart", 30*time.Second, func() bool { return inSync(t, h2) }, logs)
	if n := writes(r.tgt, ":train"); n != 1 {
		t.Errorf("target got %d training POSTs, want 1\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "resuming run") {
		t.Errorf("no 'resuming run' line:\n%s", logs)
	}
}

// TestStopIsPrompt stops an idle host and one in the middle of a training
// job: Run returns nil, and the unfinished run stays resumable.
func TestStopIsPrompt(t *testing.T) {
	t.Parallel()
	r := newRig(t, 5*time.Second)
	logs := &logBuffer{}
	h, err := local.New(context.Background(), r.config(t), &local.Options{App: roomy, Logger: slog.New(slog.NewTextHandler(logs, nil)), SyncOnStart: true, StopGrace: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stop := serve(t, h)
	waitFor(t, "training started", 30*time.Second, func() bool { return writes(r.tgt, ":train") == 1 }, logs)
	start := time.Now()
	stop()
	t.Logf("stopped in %s", time.Since(start))
	if el := time.Since(start); el > 4*time.Second {
		t.Errorf("stop took %s, want about the 2 s grace, under the 5 s training job", el)
	}
	if !strings.Contains(logs.String(), "local host stopped") {
		t.Errorf("no stop line:\n%s", logs)
	}
	n, err := h.Resume(context.Background())
	if err != nil || n != 1 {
		t.Errorf("Resume after the stop found %d unfinished runs (%v), want 1", n, err)
	}
}
