package local_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/local"
	"github.com/langsync/langsync/shared/pipeline"
)

// TestReplicateBesideLocalHost: `langsync replicate` (an App driving in
// process) joins a run the local host is running, at the moment the host
// has sent the training POST and not yet saved the job. The joiner must
// not write (it would break the host's save): it waits on the host's progress (claims last
// an hour here, so a wait for a deadline would end the test by its
// context), both finish, and the target gets one job of each kind.
func TestReplicateBesideLocalHost(t *testing.T) {
	t.Parallel()
	deadline, ok := t.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Minute)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-30*time.Second))
	defer cancel()
	r := newRig(t, 300*time.Millisecond)
	cfg := r.config(t)
	const step = "train/secondary/v1"
	held, observed := make(chan struct{}), make(chan struct{})
	var heldOnce sync.Once
	logs := &logBuffer{}
	h, err := local.New(ctx, cfg, &local.Options{
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SyncOnStart: true,
		App: func(o *app.Options) {
			roomy(o)
			o.Pipeline = func(po *pipeline.Options) {
				po.BeginTimeout, po.ClaimTimeout = time.Hour, time.Hour
				po.Hook = func(at string) error {
					if at != step+":begun" {
						return nil
					}
					// After the POST, before saving its location.
					heldOnce.Do(func() { close(held) })
					select {
					case <-observed:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, h)
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatalf("the host never started training\n%s", logs)
	}

	var waits []pipeline.Progress
	var mu sync.Mutex
	cli, err := app.New(ctx, cfg, &app.Options{Pipeline: func(po *pipeline.Options) {
		po.BeginTimeout, po.ClaimTimeout = time.Hour, time.Hour
		po.OnProgress = func(ev pipeline.Progress) {
			if ev.Event != "wait" {
				return
			}
			mu.Lock()
			waits = append(waits, ev)
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := cli.Pipeline.Start(ctx, pipeline.Request{Project: "Tickets", Trigger: langsync.TriggerCLI})
	if err != nil || len(tk) != 1 || !tk[0].Joined {
		t.Fatalf("replicate beside the host: %+v %v, want it to join the host's run", tk, err)
	}
	// The joiner looks at the run while the host is between its POST and
	// its save; only then does the host go on.
	tag := runETag(t, cli, tk[0].Run)
	n, err := cli.Pipeline.Advance(ctx, tk[0].Run)
	if err != nil || !n.Busy || n.Step != langsync.StepTrain {
		t.Fatalf("joiner: %+v %v, want Busy on the host's train step", n, err)
	}
	if got := runETag(t, cli, tk[0].Run); got != tag {
		t.Fatal("the joiner wrote the run the host is starting a job of")
	}
	close(observed)
	run, err := cli.Drive(ctx, tk[0].Run)
	if err != nil || run.Phase != langsync.RunSucceeded {
		t.Fatalf("drive: %v %+v\n%s", err, run, logs)
	}
	waitFor(t, "pair in sync", 30*time.Second, func() bool { return inSync(t, h) }, logs)
	mu.Lock()
	if len(waits) == 0 || !strings.Contains(waits[0].Message, "another langsync is starting the train job on secondary") {
		t.Errorf("wait events %+v", waits)
	}
	mu.Unlock()
	for _, part := range []string{":import", ":train", "/deployments/production"} {
		if n := writes(r.tgt, part); n != 1 {
			t.Errorf("target got %d %s requests, want 1", n, part)
		}
	}
	if strings.Contains(logs.String(), "advancing run failed") {
		t.Errorf("the host failed to advance the run\n%s", logs)
	}
}

func runETag(t *testing.T, a *app.App, id string) string {
	t.Helper()
	_, etag, err := a.State.Get(context.Background(), langsync.RunKey(id))
	if err != nil {
		t.Fatal(err)
	}
	return etag
}
