package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/sample"
)

// TestTwoDriversOfOneRun: two processes (two Apps on one state store)
// drive one run at once, as two `langsync replicate` do, against emulators
// that answer slowly. When one has sent the export or the training POST and
// not yet saved the job, the other advances the run: it must write nothing
// and report what it waits for; both then finish on the owner's progress,
// not on the claim's deadline (an hour here, so a wait for it would end
// the test by its context), and each job is sent once.
func TestTwoDriversOfOneRun(t *testing.T) {
	t.Parallel()
	p := sample.Orders()
	r := newRig(t, nil, p)
	for _, res := range []struct {
		name string
		do   func(string, string, any) (int, http.Header, []byte)
	}{{"primary", r.src.Do}, {"secondary", r.tgt.Do}} {
		if code, _, body := res.do(http.MethodPost, "/emulator/faults", map[string]any{"latency": "300ms"}); code/100 != 2 {
			t.Fatalf("%s faults: %d %s", res.name, code, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var mu sync.Mutex
	var waits []pipeline.Progress
	observed := map[string]*pipeline.Next{"export/model1": nil, "train/secondary/model1": nil}
	var runID string
	var apps [2]*app.App
	driver := func(i int) *app.App {
		return r.app(func(o *pipeline.Options) {
			o.BeginTimeout, o.ClaimTimeout = time.Hour, time.Hour
			o.OnProgress = func(ev pipeline.Progress) {
				if ev.Event == "wait" {
					mu.Lock()
					waits = append(waits, ev)
					mu.Unlock()
				}
			}
			o.Hook = func(at string) error {
				step, point, _ := strings.Cut(at, ":")
				mu.Lock()
				n, watched := observed[step]
				mu.Unlock()
				if !watched || n != nil || point != "begun" {
					return nil
				}
				// Between this process's POST and its save of the job: the
				// other process advances the run now.
				other := apps[1-i]
				_, tag, err := other.State.Get(ctx, langsync.RunKey(runID))
				if err != nil {
					return err
				}
				next, err := other.Pipeline.Advance(ctx, runID)
				if err != nil {
					return fmt.Errorf("the other driver: %w", err)
				}
				if _, now, err := other.State.Get(ctx, langsync.RunKey(runID)); err != nil || now != tag {
					return fmt.Errorf("the other driver wrote the run while %s was being started", step)
				}
				mu.Lock()
				observed[step] = &next
				mu.Unlock()
				return nil
			}
		})
	}
	apps[0], apps[1] = driver(0), driver(1)
	a, b := apps[0], apps[1]
	t1, err := a.Pipeline.Start(ctx, pipeline.Request{Project: p.Name, Trigger: langsync.TriggerCLI})
	if err != nil {
		t.Fatal(err)
	}
	t2, err := b.Pipeline.Start(ctx, pipeline.Request{Project: p.Name, Trigger: langsync.TriggerCLI})
	if err != nil || len(t2) != 1 || !t2[0].Joined || t2[0].Run != t1[0].Run {
		t.Fatalf("second start: %+v %v, want it to join %s", t2, err, t1[0].Run)
	}
	runID = t1[0].Run
	type result struct {
		run *langsync.Run
		err error
	}
	results := make(chan result, 2)
	for _, d := range []*app.App{a, b} {
		go func() {
			run, err := d.Drive(ctx, t1[0].Run)
			results <- result{run, err}
		}()
	}
	for range 2 {
		res := <-results
		if res.err != nil {
			t.Fatalf("drive: %v", res.err) // a wait for a claim's deadline ends by ctx
		}
		if res.run.Phase != langsync.RunSucceeded {
			t.Fatalf("run %s: %s", res.run.Phase, res.run.Error)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for step, n := range observed {
		if n == nil || !n.Busy || n.Stale {
			t.Errorf("the other driver during %s's POST: %+v, want Busy", step, n)
		}
	}
	if len(waits) < len(observed) {
		t.Errorf("%d wait events, want one per held step", len(waits))
	}
	for _, w := range waits {
		if !strings.Contains(w.Message, "another langsync is starting the") || w.Until.IsZero() {
			t.Errorf("wait event %q until %v", w.Message, w.Until)
		}
	}
	checks := []struct {
		count          func(method, suffix string) int
		method, suffix string
	}{
		{r.src.Server.CountRequests, http.MethodPost, "/:export"},
		{r.tgt.Server.CountRequests, http.MethodPost, "/:import"},
		{r.tgt.Server.CountRequests, http.MethodPost, "/:train"},
		{r.tgt.Server.CountRequests, http.MethodPut, "/deployments/production"},
	}
	for _, c := range checks {
		if got := c.count(c.method, c.suffix); got != 1 {
			t.Errorf("%s %s: %d requests, want 1", c.method, c.suffix, got)
		}
	}
}
