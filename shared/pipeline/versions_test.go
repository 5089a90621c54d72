package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestChooseVersion(t *testing.T) {
	now := date("2026-12-01")
	renew := now.Add(30 * 24 * time.Hour)
	offered := []TrainingConfigVersion{
		{Version: "2022-05-01", Expires: date("2026-12-20")},
		{Version: "2022-05-15-preview", Expires: date("2026-11-01")},
		{Version: "2023-04-01", Expires: date("2027-06-01")},
		{Version: "2024-01-01-preview", Expires: date("2028-01-01")},
	}
	tests := []struct {
		name, source, override string
		offered                []TrainingConfigVersion
		until                  time.Time
		want, change, err      string
	}{
		{"supported: kept", "2022-05-01", "", offered, now, "2022-05-01", "", ""},
		{"not offered: newest GA", "2021-01-01", "", offered, now, "2023-04-01", "not offered by secondary", ""},
		{"expired: newest GA", "2022-05-15-preview", "", offered, now, "2023-04-01", "it expired on 2026-11-01 on secondary", ""},
		{"renewing: expires within the window", "2022-05-01", "", offered, renew, "2023-04-01", "renewing: it expires 2026-12-20", ""},
		{"renewing: nothing outlasts the window keeps an unexpired one", "2022-05-01", "",
			[]TrainingConfigVersion{{Version: "2022-05-01", Expires: date("2026-12-20")}}, renew, "2022-05-01", "", ""},
		{"only previews left", "2022-05-01", "", []TrainingConfigVersion{{Version: "2024-01-01-preview", Expires: date("2028-01-01")}}, now, "2024-01-01-preview", "not offered", ""},
		{"nothing left", "2022-05-01", "", []TrainingConfigVersion{{Version: "2022-05-01", Expires: date("2026-01-01")}}, now, "", "", "offers no unexpired training config version"},
		{"nothing listed: keep", "2022-05-01", "", nil, now, "2022-05-01", "", ""},
		{"override wins", "2022-05-01", "2024-01-01-preview", offered, now, "2024-01-01-preview", "the config's trainingConfigVersion", ""},
		{"override equal to source", "2022-05-01", "2022-05-01", offered, now, "2022-05-01", "", ""},
		{"override latest", "2022-05-01", "latest", offered, now, "latest", "the config's trainingConfigVersion", ""},
		{"override not offered", "2022-05-01", "2021-01-01", offered, now, "", "", "is not offered by secondary"},
		{"override expired", "2022-05-01", "2022-05-15-preview", offered, now, "", "", "expired on 2026-11-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, change, err := chooseVersion(tt.source, tt.override, "secondary", tt.offered, now, tt.until)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || v != tt.want || !strings.Contains(change, tt.change) || (tt.change == "") != (change == "") {
				t.Fatalf("got %q %q %v, want %q with change %q", v, change, err, tt.want, tt.change)
			}
		})
	}
}

// replicateWithVersions replicates Tickets (model1 on 2022-05-01 on the
// source) to a secondary offering versions.
func replicateWithVersions(t *testing.T, projects string, versions []TrainingConfigVersion) (*world, *langsync.Run) {
	t.Helper()
	w := newWorld(t, projects)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	w.svc["secondary"].versions = versions
	p := w.pipeline(func(o *Options) { o.Prober = fakeProber{"primary": "Billing", "secondary": "Billing"} })
	id := w.start(p, Request{Project: "Tickets", Trigger: langsync.TriggerCLI})
	r, err := w.drive(p, id)
	if err != nil {
		t.Fatal(err)
	}
	return w, r
}

func trainStep(t *testing.T, r *langsync.Run) langsync.Step {
	t.Helper()
	for _, s := range r.Steps {
		if s.Name == langsync.StepTrain {
			return s
		}
	}
	t.Fatal("no train step")
	return langsync.Step{}
}

func TestTrainKeepsSupportedSourceVersion(t *testing.T) {
	w, r := replicateWithVersions(t, oneProject, []TrainingConfigVersion{
		{Version: "2022-05-01", Expires: date("2027-06-01")}, {Version: "2023-04-01", Expires: date("2028-01-01")}})
	if r.Phase != langsync.RunSucceeded {
		t.Fatalf("run %s: %s", r.Phase, r.Error)
	}
	if s := trainStep(t, r); s.TrainingConfigVersion != "2022-05-01" || s.VersionChange != "" {
		t.Errorf("train step %q %q, want the source's 2022-05-01 unchanged", s.TrainingConfigVersion, s.VersionChange)
	}
	if got := w.svc["secondary"].trainedWith; len(got) != 1 || got[0] != "2022-05-01" {
		t.Errorf("trained with %v", got)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings %q", r.Warnings)
	}
}

func TestTrainFallsBackToNewestSupported(t *testing.T) {
	for _, tt := range []struct {
		name     string
		versions []TrainingConfigVersion
		why      string
	}{
		{"missing", []TrainingConfigVersion{{Version: "2023-04-01", Expires: date("2028-01-01")}, {Version: "2024-01-01-preview", Expires: date("2028-06-01")}}, "not offered by secondary"},
		{"expired", []TrainingConfigVersion{{Version: "2022-05-01", Expires: date("2026-06-01")}, {Version: "2023-04-01", Expires: date("2028-01-01")}}, "it expired on 2026-06-01 on secondary"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, r := replicateWithVersions(t, oneProject, tt.versions)
			if r.Phase != langsync.RunSucceeded {
				t.Fatalf("run %s: %s", r.Phase, r.Error)
			}
			s := trainStep(t, r)
			if s.TrainingConfigVersion != "2023-04-01" || !strings.Contains(s.VersionChange, "not the source's 2022-05-01: "+tt.why) {
				t.Errorf("train step %q %q", s.TrainingConfigVersion, s.VersionChange)
			}
			if got := w.svc["secondary"].trainedWith; len(got) != 1 || got[0] != "2023-04-01" {
				t.Errorf("trained with %v", got)
			}
			if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "secondary/Tickets model model1 trained on 2023-04-01") ||
				!strings.Contains(r.Warnings[0], "probes: 1 of 1 predictions agree with the source") {
				t.Errorf("warnings %q", r.Warnings)
			}
			p := w.pipeline()
			ps, _, err := p.loadPair(context.Background(), r.Pairs[0])
			if err != nil || !strings.Contains(ps.VersionChanges["model1"], tt.why) {
				t.Errorf("pair state version changes %v, %v", ps.VersionChanges, err)
			}
			st, err := p.Status(context.Background())
			if err != nil || len(st) != 1 || len(st[0].VersionChanges) != 1 || !strings.Contains(st[0].VersionChanges[0], "model1: trained on 2023-04-01") {
				t.Errorf("status version changes %+v, %v", st, err)
			}
		})
	}
}

func TestTrainConfigOverride(t *testing.T) {
	versions := []TrainingConfigVersion{{Version: "2022-05-01", Expires: date("2027-06-01")}, {Version: "2024-01-01-preview", Expires: date("2028-06-01")}}
	w, r := replicateWithVersions(t, "projects: [{name: Tickets, source: primary, targets: [secondary], trainingConfigVersion: 2024-01-01-preview}]", versions)
	if r.Phase != langsync.RunSucceeded {
		t.Fatalf("run %s: %s", r.Phase, r.Error)
	}
	if s := trainStep(t, r); s.TrainingConfigVersion != "2024-01-01-preview" || !strings.Contains(s.VersionChange, "the config's trainingConfigVersion") {
		t.Errorf("train step %q %q", s.TrainingConfigVersion, s.VersionChange)
	}
	if got := w.svc["secondary"].trainedWith; len(got) != 1 || got[0] != "2024-01-01-preview" {
		t.Errorf("trained with %v", got)
	}

	// An override the target does not offer fails the target before any
	// training POST, saying why.
	w, r = replicateWithVersions(t, "projects: [{name: Tickets, source: primary, targets: [secondary], trainingConfigVersion: 2021-01-01}]", versions)
	if r.Phase != langsync.RunFailed || !strings.Contains(trainStep(t, r).Error, `trainingConfigVersion "2021-01-01" is not offered by secondary`) {
		t.Errorf("run %s, train step error %q", r.Phase, trainStep(t, r).Error)
	}
	if n := w.svc["secondary"].Posts()[langsync.JobTrain]; n != 0 {
		t.Errorf("%d training POSTs", n)
	}
}
