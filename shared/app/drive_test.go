package app_test

import (
	"context"
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
// that answer slowly. Whoever claims the export and the train step is held
// after its POST until the other has seen the claim; the other must wait
// on the owner's progress, not on the claim's deadline (an hour here, so a
// wait for it would end the test by its context), and each job is sent
// once.
func TestTwoDriversOfOneRun(t *testing.T) {
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
	seen := map[string]chan struct{}{"export/model1": make(chan struct{}), "train/secondary/model1": make(chan struct{})}
	closed := map[string]bool{}
	driver := func() *app.App {
		return r.app(func(o *pipeline.Options) {
			o.BeginTimeout, o.ClaimTimeout = time.Hour, time.Hour
			o.OnProgress = func(ev pipeline.Progress) {
				if ev.Event != "wait" {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				waits = append(waits, ev)
				if ch, ok := seen[ev.Step.ID()]; ok && !closed[ev.Step.ID()] {
					closed[ev.Step.ID()] = true
					close(ch)
				}
			}
			o.Hook = func(at string) error {
				step, point, _ := strings.Cut(at, ":")
				if ch, ok := seen[step]; ok && point == "begun" {
					// Between the POST and saving its location: the moment
					// another driver's write used to break.
					select {
					case <-ch:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				return nil
			}
		})
	}
	a, b := driver(), driver()
	t1, err := a.Pipeline.Start(ctx, pipeline.Request{Project: p.Name, Trigger: langsync.TriggerCLI})
	if err != nil {
		t.Fatal(err)
	}
	t2, err := b.Pipeline.Start(ctx, pipeline.Request{Project: p.Name, Trigger: langsync.TriggerCLI})
	if err != nil || len(t2) != 1 || !t2[0].Joined || t2[0].Run != t1[0].Run {
		t.Fatalf("second start: %+v %v, want it to join %s", t2, err, t1[0].Run)
	}
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
			t.Fatalf("drive: %v (a driver waited for a claim's deadline instead of the owner's progress?)", res.err)
		}
		if res.run.Phase != langsync.RunSucceeded {
			t.Fatalf("run %s: %s", res.run.Phase, res.run.Error)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for step := range seen {
		if !closed[step] {
			t.Errorf("no driver reported waiting for %s", step)
		}
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
