package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// advanceUntil advances run id (moving the fake clock to each Next.At)
// until stop says so or the run ends; it returns the last Next.
func (w *world) advanceUntil(p *Pipeline, id string, stop func(*langsync.Run) bool) Next {
	w.t.Helper()
	ctx := context.Background()
	for i := 0; i < 500; i++ {
		n, err := p.Advance(ctx, id)
		if err != nil {
			w.t.Fatalf("advance %s: %v", id, err)
		}
		r, err := p.Run(ctx, id)
		if err != nil {
			w.t.Fatal(err)
		}
		if n.Done || (stop != nil && stop(r)) {
			return n
		}
		if d := n.At.Sub(w.clock.Now()); d > 0 {
			w.clock.Advance(d)
		}
	}
	w.t.Fatalf("run %s did not reach the point in 500 wake-ups", id)
	return Next{}
}

func inspected(r *langsync.Run) bool { return r.Steps[0].Status == langsync.StepSucceeded }

func (w *world) changeSource(data string) {
	f := w.svc["primary"]
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.projects["Tickets"]
	m := p.models["model1"]
	m.export = exportJSON("Tickets", data)
	p.models["model1"] = m
	p.meta.LastModified = f.clock.Now()
}

func (w *world) pairState(t *testing.T, p *Pipeline) *langsync.PairState {
	t.Helper()
	ps, _, err := p.loadPair(context.Background(), p.cfg.Pairs()[0])
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// A request that joins a run which has already read the source cannot
// count that run as replicating what changed before the request: the run's
// end starts another, which retrains only if the source really moved.
func TestRequestBehindARunThatReadTheSourceIsFollowed(t *testing.T) {
	tests := []struct {
		name      string
		change    bool
		wantTrain int // training POSTs on the target over both runs
	}{
		{"source changed before the request", true, 2},
		{"source unchanged: the follow-up exports, does not retrain", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, oneProject)
			w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
			p := w.pipeline()
			ctx := context.Background()
			first := w.start(p, Request{Project: "Tickets", Trigger: langsync.TriggerCLI})
			w.advanceUntil(p, first, inspected)
			w.clock.Advance(time.Second)
			if tt.change {
				w.changeSource("changed after the first run read it")
			}
			tk, err := p.Start(ctx, Request{Project: "Tickets", Trigger: langsync.TriggerForced, Reason: "queue"})
			if err != nil {
				t.Fatal(err)
			}
			if len(tk) != 1 || tk[0].Run != first || !tk[0].Joined || !tk[0].Owed {
				t.Fatalf("tickets %+v, want run %s joined and owed", tk, first)
			}
			if o := w.pairState(t, p).Owed; o == nil || o.Behind != first || o.Trigger != langsync.TriggerForced {
				t.Fatalf("pair owed %+v, want a forced request behind %s", o, first)
			}
			end := w.advanceUntil(p, first, nil)
			r1, _ := p.Run(ctx, first)
			if r1.Phase != langsync.RunSucceeded || r1.FollowedBy == "" {
				t.Fatalf("first run %s followedBy %q, want succeeded and followed", r1.Phase, r1.FollowedBy)
			}
			if end.Follow == nil || end.Follow.Run != r1.FollowedBy || end.Follow.Step != langsync.StepInspect {
				t.Fatalf("the ending Next's Follow = %+v, want the inspect wake-up of %s", end.Follow, r1.FollowedBy)
			}
			ps := w.pairState(t, p)
			if ps.ActiveRun != r1.FollowedBy || ps.Owed != nil {
				t.Fatalf("pair active %q owed %+v, want %s and nothing owed", ps.ActiveRun, ps.Owed, r1.FollowedBy)
			}
			r2, err := w.drive(p, r1.FollowedBy)
			if err != nil || r2.Phase != langsync.RunSucceeded {
				t.Fatalf("follow-up run: %v %+v", err, r2)
			}
			if !strings.Contains(r2.Reason, "while run "+first+" had already read the source") || r2.Trigger != langsync.TriggerForced {
				t.Errorf("follow-up reason %q trigger %s", r2.Reason, r2.Trigger)
			}
			if got := w.svc["secondary"].Posts()[langsync.JobTrain]; got != tt.wantTrain {
				t.Errorf("%d trainings on the target, want %d", got, tt.wantTrain)
			}
			if got := w.svc["primary"].Posts()[langsync.JobExport]; got != 2 {
				t.Errorf("%d exports, want 2 (the follow-up reads the source again)", got)
			}
			if ps := w.pairState(t, p); ps.LastRun != r2.ID || ps.ActiveRun != "" || ps.Owed != nil {
				t.Errorf("pair after follow-up: last %s active %q owed %+v", ps.LastRun, ps.ActiveRun, ps.Owed)
			}
		})
	}
}

// A request that joins a run before it has read the source is carried by
// it: no second run.
func TestRequestBeforeTheRunReadsTheSourceJoinsOnly(t *testing.T) {
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	ctx := context.Background()
	first := w.start(p, Request{Project: "Tickets"})
	w.clock.Advance(time.Second)
	w.changeSource("changed before the run read it")
	since := w.clock.Now()
	tk, err := p.Start(ctx, Request{Project: "Tickets", Trigger: langsync.TriggerCLI})
	if err != nil || len(tk) != 1 || tk[0].Run != first || !tk[0].Joined || tk[0].Owed {
		t.Fatalf("tickets %+v err %v, want a plain join of %s", tk, err, first)
	}
	end := w.advanceUntil(p, first, nil)
	r, _ := p.Run(ctx, first)
	if end.Follow != nil || r.FollowedBy != "" || !r.ReadSourceAfter(since) {
		t.Errorf("follow %+v followedBy %q: the run read the source after the request", end.Follow, r.FollowedBy)
	}
	if ps := w.pairState(t, p); ps.Owed != nil || ps.ActiveRun != "" {
		t.Errorf("pair owed %+v active %q, want cleared", ps.Owed, ps.ActiveRun)
	}
	if got := w.svc["primary"].Posts()[langsync.JobExport]; got != 1 {
		t.Errorf("%d exports, want 1", got)
	}
}

// A request owed to a pair whose run ended without starting it (a crash
// at the run's end) is started by the change check.
func TestSyncStartsAnOwedRun(t *testing.T) {
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	ctx := context.Background()
	if _, err := w.drive(p, w.start(p, Request{Project: "Tickets"})); err != nil {
		t.Fatal(err)
	}
	pair := p.cfg.Pairs()[0]
	err := p.updatePair(ctx, pair, func(ps *langsync.PairState) {
		ps.Owed = &langsync.OwedRequest{Requested: w.clock.Now(), Behind: "gone", Trigger: langsync.TriggerForced}
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Sync(ctx, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Decisions[0]
	if d.Action != ActionReplicate || !d.Retrain || !strings.Contains(d.Reason, "behind run gone was never started") {
		t.Fatalf("decision %+v, want a full replication for the owed request", d)
	}
	if ps := w.pairState(t, p); ps.Owed != nil || ps.ActiveRun != d.Run {
		t.Errorf("pair owed %+v active %q, want the new run %s with nothing owed", ps.Owed, ps.ActiveRun, d.Run)
	}
}

// A request for a target that a run still busy with other targets has
// just replicated (a rerun after the driver was killed finds this) waits
// behind that run: the target is not trained twice for the same data.
func TestRequestForATargetJustReplicatedWaitsBehindItsRun(t *testing.T) {
	w := newWorld(t, `
projects:
  - name: Tickets
    source: primary
    targets: [secondary, third]
`)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	ctx := context.Background()
	first := w.start(p, Request{Project: "Tickets", Trigger: langsync.TriggerCLI})
	w.advanceUntil(p, first, func(r *langsync.Run) bool {
		return stepOf(t, r, "verify/secondary").Status == langsync.StepSucceeded
	})
	r, _ := p.Run(ctx, first)
	if r.Phase.Terminal() {
		t.Fatal("the run ended with the first target; the test needs it busy with the other")
	}
	w.clock.Advance(time.Second)
	tk, err := p.Start(ctx, Request{Project: "Tickets", Trigger: langsync.TriggerCLI})
	if err != nil {
		t.Fatal(err)
	}
	if len(tk) != 1 || tk[0].Run != first || !tk[0].Owed || len(tk[0].Pairs) != 2 {
		t.Fatalf("tickets %+v, want both targets behind run %s", tk, first)
	}
	w.advanceUntil(p, first, nil)
	r, _ = p.Run(ctx, first)
	if r.FollowedBy == "" {
		t.Fatal("no run followed")
	}
	if _, err := w.drive(p, r.FollowedBy); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"secondary", "third"} {
		if got := w.svc[target].Posts()[langsync.JobTrain]; got != 1 {
			t.Errorf("%s: %d trainings, want 1 (the source did not change)", target, got)
		}
	}
}

// The handler that ends a run starts the run owed to a late request, then
// loses the final save to another handler (two processes driving one
// run). The new run exists all the same, so its wake-up comes back with
// the stale answer; without it the run would wait for the sweep.
func TestFollowUpWokenWhenTheFinalSaveLoses(t *testing.T) {
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	ctx := context.Background()
	first := w.start(p, Request{Project: "Tickets", Trigger: langsync.TriggerCLI})
	w.advanceUntil(p, first, inspected)
	w.clock.Advance(time.Second)
	if _, err := p.Start(ctx, Request{Project: "Tickets", Trigger: langsync.TriggerForced, Reason: "queue"}); err != nil {
		t.Fatal(err)
	}
	w.state.mu.Lock()
	w.state.conflict = func(key string, data []byte) bool {
		return key == langsync.RunKey(first) && strings.Contains(string(data), `"followedBy"`)
	}
	w.state.mu.Unlock()
	var end Next
	for i := 0; i < 500 && !end.Stale; i++ {
		n, err := p.Advance(ctx, first)
		if err != nil {
			t.Fatalf("advance: %v", err)
		}
		if n.Done {
			t.Fatalf("the run ended although its final save was made to lose: %+v", n)
		}
		end = n
		if d := n.At.Sub(w.clock.Now()); d > 0 {
			w.clock.Advance(d)
		}
	}
	if !end.Stale || end.Follow == nil || end.Follow.Step != langsync.StepInspect {
		t.Fatalf("the answer after the lost save = %+v, want stale with the follow-up's inspect wake-up", end)
	}
	if ps := w.pairState(t, p); ps.ActiveRun != end.Follow.Run {
		t.Errorf("pair active run %q, want the follow-up %s", ps.ActiveRun, end.Follow.Run)
	}
}
