package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// TestSyncNeverDeployedTargetMissing: with no mirrored deployment an
// empty deployment list says nothing, so Sync reads the target project and
// still sees that it is gone.
func TestSyncNeverDeployedTargetMissing(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, oneProject)
	src, tgt := w.svc["primary"], w.svc["secondary"]
	src.seed("Tickets", nil)
	p := w.pipeline()
	res, err := p.Sync(ctx, SyncOptions{})
	if err != nil || len(res.Wake) != 1 {
		t.Fatalf("first sync: %+v %v", res, err)
	}
	if r, err := w.drive(p, res.Wake[0].Run); err != nil || r.Phase != langsync.RunSucceeded {
		t.Fatalf("run: %v %+v", err, r)
	}
	if res, err := p.Sync(ctx, SyncOptions{DryRun: true}); err != nil || res.Decisions[0].Action != ActionNone {
		t.Fatalf("second sync: %+v %v", res, err)
	}
	tgt.mu.Lock()
	delete(tgt.projects, "Tickets")
	tgt.mu.Unlock()
	res, err = p.Sync(ctx, SyncOptions{DryRun: true})
	if err != nil || res.Decisions[0].Action != ActionReplicate || !strings.Contains(res.Decisions[0].Reason, "missing") {
		t.Fatalf("target deleted: %+v %v", res, err)
	}
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, oneProject)
	src, tgt := w.svc["primary"], w.svc["secondary"]
	src.seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()

	// syncOnce runs the daily check and drives every run it starts.
	syncOnce := func(t *testing.T) Decision {
		t.Helper()
		res, err := p.Sync(ctx, SyncOptions{})
		if err != nil {
			t.Fatalf("Sync: %v", err)
		}
		if len(res.Decisions) != 1 {
			t.Fatalf("%d decisions", len(res.Decisions))
		}
		for _, n := range res.Wake {
			if r, err := w.drive(p, n.Run); err != nil || r.Phase != langsync.RunSucceeded {
				t.Fatalf("run %s: %v %+v", n.Run, err, r)
			}
		}
		return res.Decisions[0]
	}

	d := syncOnce(t)
	if d.Action != ActionReplicate || d.Reason != "never replicated" || !d.Retrain || d.Run == "" {
		t.Fatalf("first sync: %+v", d)
	}

	t.Run("nothing changed: no POST, no write, 3 GETs", func(t *testing.T) {
		puts, posts := w.state.Puts(), src.TotalPosts()+tgt.TotalPosts()
		gets := src.getCount() + tgt.getCount()
		d := syncOnce(t)
		if got := src.getCount() + tgt.getCount() - gets; got != 3 {
			t.Errorf("an up-to-date pair cost %d GETs, want 3 (source project and deployments, target deployments)", got)
		}
		if d.Action != ActionNone || !strings.Contains(d.Reason, "up to date") {
			t.Errorf("decision %+v", d)
		}
		if w.state.Puts() != puts || src.TotalPosts()+tgt.TotalPosts() != posts {
			t.Errorf("unchanged sync wrote %d docs and sent %d POSTs", w.state.Puts()-puts, src.TotalPosts()+tgt.TotalPosts()-posts)
		}
	})

	t.Run("timestamps moved, fingerprint equal: no retraining, no new backup", func(t *testing.T) {
		w.clock.Advance(time.Hour)
		src.mu.Lock()
		src.projects["Tickets"].meta.LastModified = w.clock.Now()
		src.mu.Unlock()
		trains, backups := tgt.Posts()[langsync.JobTrain], w.backups.created
		d := syncOnce(t)
		if d.Action != ActionReplicate || d.Retrain || !strings.Contains(d.Reason, "lastModifiedDateTime") {
			t.Errorf("decision %+v", d)
		}
		if got := tgt.Posts()[langsync.JobTrain]; got != trains {
			t.Errorf("retrained: %d train POSTs, want %d", got, trains)
		}
		if w.backups.created != backups {
			t.Errorf("a duplicate backup was written")
		}
		if d := syncOnce(t); d.Action != ActionNone {
			t.Errorf("after recording the timestamps: %+v", d)
		}
	})

	t.Run("source retrained on new data: replicated", func(t *testing.T) {
		w.clock.Advance(time.Hour)
		src.mu.Lock()
		pr := src.projects["Tickets"]
		m := pr.models["model1"]
		m.export, m.ModelID = exportJSON("Tickets", "v2"), "model1-v2"
		pr.models["model1"] = m
		pr.deps["production"] = Deployment{Name: "production", ModelID: "model1-v2", Expires: w.clock.Now().AddDate(1, 0, 0)}
		pr.meta.LastTrained, pr.meta.LastDeployed = w.clock.Now(), w.clock.Now()
		src.mu.Unlock()
		trains := tgt.Posts()[langsync.JobTrain]
		d := syncOnce(t)
		if d.Action != ActionReplicate || !strings.Contains(d.Reason, "model1-v2") {
			t.Errorf("decision %+v", d)
		}
		if got := tgt.Posts()[langsync.JobTrain]; got != trains+1 {
			t.Errorf("%d train POSTs, want %d", got, trains+1)
		}
		if tgt.projects["Tickets"].models["model1"].export != exportJSON("Tickets", "v2") {
			t.Errorf("target not trained on the new data")
		}
	})

	t.Run("target lost its deployment", func(t *testing.T) {
		tgt.mu.Lock()
		delete(tgt.projects["Tickets"].deps, "production")
		tgt.mu.Unlock()
		if d := syncOnce(t); d.Action != ActionReplicate || !d.Retrain || !strings.Contains(d.Reason, `lacks deployment "production"`) {
			t.Errorf("decision %+v", d)
		}
		if _, ok := tgt.projects["Tickets"].deps["production"]; !ok {
			t.Errorf("deployment not restored")
		}
	})

	t.Run("target deployment expiring", func(t *testing.T) {
		tgt.mu.Lock()
		dep := tgt.projects["Tickets"].deps["production"]
		dep.Expires = w.clock.Now().Add(3 * 24 * time.Hour)
		tgt.projects["Tickets"].deps["production"] = dep
		tgt.mu.Unlock()
		if d := syncOnce(t); d.Action != ActionReplicate || !d.Retrain || !strings.Contains(d.Reason, "expires") {
			t.Errorf("decision %+v", d)
		}
	})

	t.Run("target project deleted", func(t *testing.T) {
		tgt.mu.Lock()
		delete(tgt.projects, "Tickets")
		tgt.mu.Unlock()
		if d := syncOnce(t); d.Action != ActionReplicate || !strings.Contains(d.Reason, "missing") {
			t.Errorf("decision %+v", d)
		}
	})

	t.Run("active run is joined", func(t *testing.T) {
		tk, err := p.Start(ctx, Request{Project: "Tickets"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Sync(ctx, SyncOptions{})
		if err != nil || res.Decisions[0].Action != ActionJoin || res.Decisions[0].Run != tk[0].Run || len(res.Wake) != 0 {
			t.Errorf("sync during a run: %+v %v", res, err)
		}
		st, err := p.Status(ctx)
		if err != nil || st[0].ActiveRun == nil || st[0].ActiveRun.ID != tk[0].Run {
			t.Errorf("status during a run: %+v %v", st, err)
		}
		if _, err := w.drive(p, tk[0].Run); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("status", func(t *testing.T) {
		st, err := p.Status(ctx)
		if err != nil || len(st) != 1 {
			t.Fatalf("%+v %v", st, err)
		}
		s := st[0]
		if s.Fingerprint == "" || s.LastReplicated.IsZero() || s.Lag != 0 || s.ActiveRun != nil || s.LastRunPhase != langsync.RunSucceeded {
			t.Errorf("status %+v", s)
		}
		w.clock.Advance(time.Hour)
		src.mu.Lock()
		src.projects["Tickets"].meta.LastModified = w.clock.Now()
		src.mu.Unlock()
		st, _ = p.Status(ctx)
		if st[0].Lag <= 0 {
			t.Errorf("lag %v after a source change, want > 0", st[0].Lag)
		}
	})
}

func TestSyncErrors(t *testing.T) {
	w := newWorld(t, "projects: [{name: Tickets, source: primary, targets: [secondary], deployments: [production, ghost]}, {name: Gone, source: primary, targets: [secondary]}]")
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	res, err := w.pipeline().Sync(context.Background(), SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"[ghost] do not exist on the source", `source project "Gone" not found`}
	for i, d := range res.Decisions {
		if d.Action != ActionError || !strings.Contains(d.Reason, want[i]) {
			t.Errorf("decision %d: %+v, want error containing %q", i, d, want[i])
		}
	}
	if len(res.Wake) != 0 || w.svc["primary"].TotalPosts() != 0 {
		t.Errorf("errors started work")
	}
}

func TestSweepRewakesOverdueRuns(t *testing.T) {
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	ctx := context.Background()
	tk, err := p.Start(ctx, Request{Project: "Tickets"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := p.Wake(ctx, tk[0].Next.Wakeup)
	if err != nil || n.Done {
		t.Fatalf("%+v %v", n, err)
	}
	if got, _ := p.Sweep(ctx, time.Minute); len(got) != 0 {
		t.Errorf("sweep before due: %+v", got)
	}
	w.clock.Advance(time.Hour) // the wake-up was lost
	got, err := p.Sweep(ctx, time.Minute)
	if err != nil || len(got) != 1 || got[0].Run != n.Run || got[0].Seq <= n.Seq {
		t.Fatalf("sweep: %+v %v", got, err)
	}
	if stale, _ := p.Wake(ctx, n.Wakeup); !stale.Stale {
		t.Errorf("the lost wake-up is now stale, got %+v", stale)
	}
	if _, err := p.Wake(ctx, got[0].Wakeup); err != nil {
		t.Errorf("sweep wake-up: %v", err)
	}
}

func TestSyncRetrainsOnlyTheTargetThatNeedsIt(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, "projects: [{name: Tickets, source: primary, targets: [secondary, third]}]")
	src := w.svc["primary"]
	src.seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	drive := func() []Decision {
		t.Helper()
		res, err := p.Sync(ctx, SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range res.Wake {
			if r, err := w.drive(p, n.Run); err != nil || r.Phase != langsync.RunSucceeded {
				t.Fatalf("%v %+v", err, r)
			}
		}
		return res.Decisions
	}
	drive()
	// The source's timestamps move (same data) and "third" loses its
	// deployment: one run, "third" retrained, "secondary" skipped.
	w.clock.Advance(time.Hour)
	src.mu.Lock()
	src.projects["Tickets"].meta.LastModified = w.clock.Now()
	src.mu.Unlock()
	w.svc["third"].mu.Lock()
	delete(w.svc["third"].projects["Tickets"].deps, "production")
	w.svc["third"].mu.Unlock()
	sTrains, tTrains := w.svc["secondary"].Posts()[langsync.JobTrain], w.svc["third"].Posts()[langsync.JobTrain]
	ds := drive()
	if ds[0].Run != ds[1].Run || ds[0].Retrain || !ds[1].Retrain {
		t.Errorf("decisions %+v", ds)
	}
	if got := w.svc["secondary"].Posts()[langsync.JobTrain]; got != sTrains {
		t.Errorf("secondary retrained (%d -> %d)", sTrains, got)
	}
	if got := w.svc["third"].Posts()[langsync.JobTrain]; got != tTrains+1 {
		t.Errorf("third: %d train POSTs, want %d", got, tTrains+1)
	}
	for _, d := range drive() {
		if d.Action != ActionNone {
			t.Errorf("after the run: %+v", d)
		}
	}
}

func TestCrashedClaimIsDueWhenTheClaimExpires(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline(func(o *Options) {
		o.Hook = func(at string) error {
			if at == "export/model1:claimed" {
				return errors.New("crash")
			}
			return nil
		}
	})
	tk, err := p.Start(ctx, Request{Project: "Tickets"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wake(ctx, tk[0].Next.Wakeup); err == nil {
		t.Fatal("want the crash")
	}
	r, _ := p.Run(ctx, tk[0].Run)
	if want := w.clock.Now().Add(w.opts.BeginTimeout); !r.NextAt.Equal(want) || !r.Steps[1].ClaimUntil.Equal(want) {
		t.Errorf("NextAt %v, claim deadline %v, want both at the claim's deadline %v", r.NextAt, r.Steps[1].ClaimUntil, want)
	}
	// The redelivered message is stale; the sweep re-wakes the run once
	// the claim has expired, and the resumed run sends one export.
	if got, _ := p.Sweep(ctx, time.Second); len(got) != 0 {
		t.Errorf("swept before the claim expired: %+v", got)
	}
	w.clock.Advance(w.opts.BeginTimeout + 2*time.Second)
	got, err := p.Sweep(ctx, time.Second)
	if err != nil || len(got) != 1 {
		t.Fatalf("sweep: %+v %v", got, err)
	}
	if r, err := w.drive(w.pipeline(), got[0].Run); err != nil || r.Phase != langsync.RunSucceeded {
		t.Fatalf("%v %+v", err, r)
	}
	wantPosts(t, w.svc["primary"], map[langsync.JobKind]int{langsync.JobExport: 1})
}

func TestRunningJobIsDueAtOnce(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline(func(o *Options) {
		o.Hook = func(at string) error {
			if at == "export/model1:saved" {
				return errors.New("killed while polling")
			}
			return nil
		}
	})
	tk, err := p.Start(ctx, Request{Project: "Tickets"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wake(ctx, tk[0].Next.Wakeup); err == nil {
		t.Fatal("want the crash")
	}
	r, _ := p.Run(ctx, tk[0].Run)
	if r.NextAt.After(w.clock.Now()) || r.Steps[1].Job == nil {
		t.Errorf("NextAt %v after the job was saved, want now %v", r.NextAt, w.clock.Now())
	}
}
