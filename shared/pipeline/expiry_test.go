package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

func TestExpiryWarnings(t *testing.T) {
	now := date("2026-12-01")
	src := []DeployedExpiry{{Resource: "primary", Project: "P", Deployment: "prod", Model: "m1", TrainingConfigVersion: "2022-05-01",
		ModelExpires: date("2027-06-01"), DeploymentExpires: date("2028-06-01"), VersionExpires: date("2027-06-01")}}
	tgt := []DeployedExpiry{
		{Resource: "secondary", Project: "P", Deployment: "prod", Model: "m1", TrainingConfigVersion: "2022-05-01",
			ModelExpires: date("2026-12-20"), DeploymentExpires: date("2027-12-20"), VersionExpires: date("2026-12-20")},
		{Resource: "secondary", Project: "P", Deployment: "old", Model: "m0", TrainingConfigVersion: "2021-01-01",
			ModelExpires: date("2027-03-01"), DeploymentExpires: date("2026-11-01"), VersionExpires: date("2026-12-10")},
	}
	got := strings.Join(expiryWarnings(src, tgt, now, 30*24*time.Hour), "\n")
	for _, want := range []string{
		"target secondary/P: deployment prod (model m1) expires 2026-12-20 (in 19 days)",
		"target secondary/P: deployment old (model m0) expired on 2026-11-01",
		"target secondary/P: deployment old (model m0): training config version 2021-01-01 expires 2026-12-10 (in 9 days)",
		"target secondary/P: deployment prod expires 2026-12-20, before the source's (2027-06-01)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "source") && strings.Contains(got, "source primary") {
		t.Errorf("the source expires outside the window but is warned about:\n%s", got)
	}
	if w := expiryWarnings(src, tgt[:1], now, 10*24*time.Hour); len(w) != 1 || !strings.Contains(w[0], "before the source's") {
		t.Errorf("with a 10-day window: %q", w)
	}
}

// expiringWorld replicates Tickets to a secondary whose 2022-05-01 (the
// source model's version) expires in 10 days, and that offers 2023-04-01
// for two years.
func expiringWorld(t *testing.T, mod ...func(*Options)) (*world, *Pipeline) {
	t.Helper()
	w := newWorld(t, oneProject)
	src := w.svc["primary"]
	src.seed("Tickets", map[string]string{"production": "model1"})
	m := src.projects["Tickets"].models["model1"]
	m.Expires = w.clock.Now().AddDate(1, 0, 0).Truncate(24 * time.Hour)
	src.projects["Tickets"].models["model1"] = m
	src.versions = []TrainingConfigVersion{{Version: "2022-05-01", Expires: m.Expires}}
	w.svc["secondary"].versions = []TrainingConfigVersion{
		{Version: "2022-05-01", Expires: w.clock.Now().AddDate(0, 0, 10).Truncate(24 * time.Hour)},
		{Version: "2023-04-01", Expires: w.clock.Now().AddDate(2, 0, 0).Truncate(24 * time.Hour)},
	}
	p := w.pipeline(append([]func(*Options){func(o *Options) { o.ExpiryWarning = 30 * 24 * time.Hour }}, mod...)...)
	id := w.start(p, Request{Project: "Tickets", Trigger: langsync.TriggerCLI})
	if r, err := w.drive(p, id); err != nil || r.Phase != langsync.RunSucceeded {
		t.Fatalf("first replication: %v %+v", err, r)
	}
	return w, p
}

func TestStatusExpiry(t *testing.T) {
	w, p := expiringWorld(t)
	st, err := p.Status(context.Background())
	if err != nil || len(st) != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	s := st[0]
	if len(s.SourceExpiry) != 1 || len(s.TargetExpiry) != 1 {
		t.Fatalf("expiry source %+v target %+v", s.SourceExpiry, s.TargetExpiry)
	}
	tgtExp := w.clock.Now().AddDate(0, 0, 10).Truncate(24 * time.Hour)
	te := s.TargetExpiry[0]
	if te.Model != "model1" || te.TrainingConfigVersion != "2022-05-01" || !te.ModelExpires.Equal(tgtExp) || !te.VersionExpires.Equal(tgtExp) || !s.Expires.Equal(tgtExp) {
		t.Errorf("target expiry %+v, pair expires %v; want %v", te, s.Expires, tgtExp)
	}
	if se := s.SourceExpiry[0]; se.Resource != "primary" || se.ModelExpires.IsZero() || se.VersionExpires.IsZero() {
		t.Errorf("source expiry %+v", se)
	}
	got := strings.Join(s.ExpiryWarnings, "\n")
	if !strings.Contains(got, "target secondary/Tickets: deployment production (model model1) expires "+day(tgtExp)+" (in 9 days)") ||
		!strings.Contains(got, "before the source's") || strings.Contains(got, "source primary") {
		t.Errorf("warnings:\n%s", got)
	}
}

func TestSyncRenew(t *testing.T) {
	ctx := context.Background()
	t.Run("off: nothing to do", func(t *testing.T) {
		w, p := expiringWorld(t)
		trains := w.svc["secondary"].Posts()[langsync.JobTrain]
		res, err := p.Sync(ctx, SyncOptions{})
		if err != nil || len(res.Decisions) != 1 || res.Decisions[0].Action != ActionNone {
			t.Fatalf("%+v %v", res, err)
		}
		if n := w.svc["secondary"].Posts()[langsync.JobTrain]; n != trains {
			t.Errorf("%d training POSTs", n-trains)
		}
	})
	t.Run("on: retrains on a longer-lived version", func(t *testing.T) {
		w, p := expiringWorld(t, func(o *Options) { o.RenewExpiring = true })
		res, err := p.Sync(ctx, SyncOptions{})
		if err != nil || len(res.Decisions) != 1 {
			t.Fatalf("%+v %v", res, err)
		}
		d := res.Decisions[0]
		want := "renew: model expires " + day(w.clock.Now().AddDate(0, 0, 10).Truncate(24*time.Hour))
		if d.Action != ActionReplicate || !d.Renew || !d.Retrain || !strings.HasPrefix(d.Reason, want) {
			t.Fatalf("decision %+v, want a replication with reason %q", d, want)
		}
		r, err := w.drive(p, d.Run)
		if err != nil || r.Phase != langsync.RunSucceeded || !strings.Contains(r.Reason, want) {
			t.Fatalf("run %v %+v", err, r)
		}
		s := trainStep(t, r)
		if s.TrainingConfigVersion != "2023-04-01" || !strings.Contains(s.VersionChange, "renewing: it expires") {
			t.Errorf("train step %q %q", s.TrainingConfigVersion, s.VersionChange)
		}
		// Renewed: the next sync has nothing to do.
		res, err = p.Sync(ctx, SyncOptions{})
		if err != nil || res.Decisions[0].Action != ActionNone {
			t.Errorf("after renewal: %+v %v", res.Decisions, err)
		}
	})
	t.Run("on, but no longer-lived version: no retraining", func(t *testing.T) {
		w, p := expiringWorld(t, func(o *Options) { o.RenewExpiring = true })
		w.svc["secondary"].versions = w.svc["secondary"].versions[:1]
		res, err := p.Sync(ctx, SyncOptions{})
		if err != nil || res.Decisions[0].Action != ActionNone {
			t.Errorf("%+v %v", res.Decisions, err)
		}
	})
}
