package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/langsync/langsync/shared/langsync"
)

const oneProject = `
projects:
  - name: Tickets
    source: primary
    targets: [secondary]
`

func wantPosts(t *testing.T, svc *fakeService, want map[langsync.JobKind]int) {
	t.Helper()
	got := svc.Posts()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d %s POSTs, want %d (all: %v)", svc.name, got[k], k, v, got)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 {
			t.Errorf("%s: unexpected %d %s POSTs", svc.name, v, k)
		}
	}
}

func TestReplicate(t *testing.T) {
	tests := []struct {
		name      string
		projects  string
		deps      map[string]string
		wantTrain int
		target    string // target project name
	}{
		{"one label two deployments", oneProject, map[string]string{"production": "model1", "staging": "model1"}, 1, "Tickets"},
		{"two labels", oneProject, map[string]string{"production": "model2", "staging": "model1"}, 2, "Tickets"},
		{"renamed on target", "projects: [{name: Tickets, source: primary, targets: [{resource: secondary, as: TicketsDR}], deployments: [production]}]",
			map[string]string{"production": "model1", "staging": "model2"}, 1, "TicketsDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, tt.projects)
			w.svc["primary"].seed("Tickets", tt.deps)
			p := w.pipeline()
			id := w.start(p, Request{Project: "Tickets", Trigger: langsync.TriggerCLI})
			r, err := w.drive(p, id)
			if err != nil {
				t.Fatalf("drive: %v", err)
			}
			if r.Phase != langsync.RunSucceeded {
				t.Fatalf("phase %s error %q", r.Phase, r.Error)
			}
			wantPosts(t, w.svc["primary"], map[langsync.JobKind]int{langsync.JobExport: tt.wantTrain})
			src := w.svc["primary"].projects["Tickets"]
			tgt := w.svc["secondary"].projects[tt.target]
			if tgt == nil {
				t.Fatalf("target project %s missing", tt.target)
			}
			mirrored := 0
			for dep, d := range src.deps {
				if tt.target != "Tickets" && dep != "production" {
					continue
				}
				mirrored++
				srcLabel := strings.TrimSuffix(d.ModelID, "-src")
				td, ok := tgt.deps[dep]
				if !ok {
					t.Errorf("deployment %s not on target", dep)
					continue
				}
				tm := tgt.models[srcLabel]
				if td.ModelID != tm.ModelID {
					t.Errorf("target %s serves %s, want model of label %s (%s)", dep, td.ModelID, srcLabel, tm.ModelID)
				}
				if tm.export != src.models[srcLabel].export && tt.target == "Tickets" {
					t.Errorf("target label %s trained on %q, want the source model's data", srcLabel, tm.export)
				}
				if compact(tm.eval) != compact(src.models[srcLabel].eval) || tm.TrainingConfigVersion != "2022-05-01" {
					t.Errorf("target model trained with %s %s, want the source's options", tm.TrainingConfigVersion, tm.eval)
				}
			}
			wantPosts(t, w.svc["secondary"], map[langsync.JobKind]int{langsync.JobImport: tt.wantTrain, langsync.JobTrain: tt.wantTrain, langsync.JobDeploy: mirrored})
			ps, _, err := p.loadPair(context.Background(), r.Pairs[0])
			if err != nil {
				t.Fatal(err)
			}
			if ps.Fingerprint == "" || ps.ActiveRun != "" || ps.LastRun != id || ps.LastRunPhase != langsync.RunSucceeded {
				t.Errorf("pair state %+v", ps)
			}
			if tt.target != "Tickets" {
				var doc struct{ Metadata struct{ ProjectName string } }
				if err := json.Unmarshal(w.svc["secondary"].lastImport, &doc); err != nil || doc.Metadata.ProjectName != tt.target {
					t.Errorf("imported projectName %q (%v), want %q", doc.Metadata.ProjectName, err, tt.target)
				}
			}
			for k, v := range w.state.docs {
				if strings.Contains(string(v), testKey) {
					t.Errorf("state %s contains the key", k)
				}
			}
		})
	}
}

func TestCrashAtEveryPointStartsEachJobOnce(t *testing.T) {
	points := []string{}
	for _, step := range []string{"export/model1", "import/secondary/model1", "train/secondary/model1", "deploy/secondary/production"} {
		for _, pt := range []string{"claimed", "begun", "saved", "done"} {
			points = append(points, step+":"+pt)
		}
	}
	points = append(points, "inspect:done", "backup/model1:done", "verify/secondary:done")
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			w := newWorld(t, oneProject)
			w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
			crashed := false
			p := w.pipeline(func(o *Options) {
				o.Hook = func(at string) error {
					if at == point && !crashed {
						crashed = true
						return errors.New("crash")
					}
					return nil
				}
			})
			id := w.start(p, Request{Project: "Tickets"})
			if _, err := w.drive(p, id); err == nil || !strings.Contains(err.Error(), "crash") {
				t.Fatalf("drive: %v, want the crash", err)
			}
			// A new process resumes once the claim of a crashed handler
			// has reached its deadline (BeginTimeout, not ClaimTimeout).
			w.clock.Advance(w.opts.BeginTimeout)
			r, err := w.drive(w.pipeline(), id)
			if err != nil || r.Phase != langsync.RunSucceeded {
				t.Fatalf("resume: %v %+v", err, r)
			}
			wantExports := 1
			if point == "export/model1:begun" {
				// The API lists no export jobs; an export is read-only, so
				// it is requested again (documented).
				wantExports = 2
			}
			wantPosts(t, w.svc["primary"], map[langsync.JobKind]int{langsync.JobExport: wantExports})
			wantPosts(t, w.svc["secondary"], map[langsync.JobKind]int{langsync.JobImport: 1, langsync.JobTrain: 1, langsync.JobDeploy: 1})
		})
	}
}

func TestWakeDropsStaleAndDuplicates(t *testing.T) {
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	tickets, err := p.Start(context.Background(), Request{Project: "Tickets"})
	if err != nil {
		t.Fatal(err)
	}
	next := tickets[0].Next
	n1, err := p.Wake(context.Background(), next.Wakeup)
	if err != nil || n1.Stale || n1.Seq <= next.Seq {
		t.Fatalf("first wake: %+v %v", n1, err)
	}
	before := w.state.Puts()
	postsBefore := w.svc["primary"].TotalPosts()
	dup, err := p.Wake(context.Background(), next.Wakeup)
	if err != nil || !dup.Stale {
		t.Fatalf("duplicate wake: %+v %v, want stale", dup, err)
	}
	if w.state.Puts() != before || w.svc["primary"].TotalPosts() != postsBefore {
		t.Errorf("duplicate wake wrote %d docs / sent %d POSTs", w.state.Puts()-before, w.svc["primary"].TotalPosts()-postsBefore)
	}
	if n1.MessageID() != fmt.Sprintf("%s/%s/%d", n1.Run, n1.Step, n1.Seq) || n1.Queue == "" {
		t.Errorf("next %+v", n1)
	}
}

func TestConcurrentRequestsJoin(t *testing.T) {
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk, err := p.Start(context.Background(), Request{Project: "Tickets"})
			errs[i] = err
			if err == nil {
				ids[i] = tk[0].Run
			}
		}()
	}
	wg.Wait()
	runs := 0
	for k := range w.state.docs {
		if strings.HasPrefix(k, langsync.RunsPrefix) {
			runs++
		}
	}
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("request %d: run %q err %v, want join %q", i, ids[i], errs[i], ids[0])
		}
	}
	if runs != 1 {
		t.Errorf("%d runs created, want 1", runs)
	}
	if _, err := w.drive(p, ids[0]); err != nil {
		t.Fatal(err)
	}
	// Finished: the next request starts a new run.
	if id := w.start(p, Request{Project: "Tickets"}); id == ids[0] {
		t.Errorf("request after the run ended joined it")
	}
}

func TestTransientRetriesPermanentFails(t *testing.T) {
	t.Run("transient", func(t *testing.T) {
		w := newWorld(t, oneProject)
		w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
		w.svc["secondary"].failNext["BeginTrain"] = fmt.Errorf("429: %w", ErrTransient)
		w.svc["secondary"].failNext["Poll"] = fmt.Errorf("503: %w", ErrTransient)
		p := w.pipeline()
		r, err := w.drive(p, w.start(p, Request{Project: "Tickets"}))
		if err != nil || r.Phase != langsync.RunSucceeded {
			t.Fatalf("%v %+v", err, r)
		}
		wantPosts(t, w.svc["secondary"], map[langsync.JobKind]int{langsync.JobImport: 1, langsync.JobTrain: 1, langsync.JobDeploy: 1})
	})
	t.Run("permanent", func(t *testing.T) {
		w := newWorld(t, oneProject)
		w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
		w.svc["secondary"].failJob[langsync.JobTrain] = "InvalidTrainingConfigVersion"
		p := w.pipeline()
		r, err := w.drive(p, w.start(p, Request{Project: "Tickets"}))
		if err != nil || r.Phase != langsync.RunFailed || !strings.Contains(r.Error, "train/secondary/model1") || !strings.Contains(r.Error, "InvalidTrainingConfigVersion") {
			t.Fatalf("%v phase %s error %q", err, r.Phase, r.Error)
		}
		ps, _, _ := p.loadPair(context.Background(), r.Pairs[0])
		if ps.ActiveRun != "" || ps.LastRunPhase != langsync.RunFailed || !strings.Contains(ps.LastError, "InvalidTrainingConfigVersion") {
			t.Errorf("pair state %+v", ps)
		}
		if _, ok := w.svc["secondary"].projects["Tickets"].deps["production"]; ok {
			t.Errorf("deployed after a failed training")
		}
	})
}

func TestTransientBeginFailureWithTrainCountsOnce(t *testing.T) {
	// The failed POST never reached the service (fake): recovery finds no
	// job and sends it once.
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	w.svc["secondary"].failNext["BeginTrain"] = fmt.Errorf("timeout: %w", ErrTransient)
	p := w.pipeline()
	if _, err := w.drive(p, w.start(p, Request{Project: "Tickets"})); err != nil {
		t.Fatal(err)
	}
	if got := w.svc["secondary"].Posts()[langsync.JobTrain]; got != 1 {
		t.Errorf("%d train POSTs, want 1", got)
	}
}

func TestCorruptStateIsAnErrorNotACrash(t *testing.T) {
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	ctx := context.Background()
	w.state.docs[langsync.RunKey("broken")] = []byte("{not json")
	_, err := p.Advance(ctx, "broken")
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "runs/broken.json") {
		t.Errorf("Advance(corrupt) = %v, want ErrCorrupt naming the blob", err)
	}
	if string(w.state.docs[langsync.RunKey("broken")]) != "{not json" {
		t.Errorf("corrupt run blob changed")
	}
	pair := w.cfg.Pairs()[0]
	w.state.docs[langsync.PairKey(pair)] = []byte(`{"v":99}`)
	if _, err := p.Start(ctx, Request{Project: "Tickets"}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), langsync.PairKey(pair)) {
		t.Errorf("Start with corrupt pair = %v", err)
	}
	res, err := p.Sync(ctx, SyncOptions{})
	if err != nil || res.Decisions[0].Action != ActionError || !strings.Contains(res.Decisions[0].Reason, "kept for inspection") {
		t.Errorf("Sync with corrupt pair = %+v %v", res, err)
	}
	if _, err := p.Start(ctx, Request{Project: "Nope"}); !errors.Is(err, ErrUnknownProject) {
		t.Errorf("Start(unknown) = %v", err)
	}
}

func TestRenameProject(t *testing.T) {
	out, err := RenameProject([]byte(`{"projectFileVersion":"x","metadata":{"projectName":"A","extra":1},"assets":{"k":[1,2]}}`), "B")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	meta := doc["metadata"].(map[string]any)
	if meta["projectName"] != "B" || meta["extra"] != float64(1) || doc["assets"] == nil || doc["projectFileVersion"] != "x" {
		t.Errorf("renamed = %s", out)
	}
	if _, err := RenameProject([]byte(`[]`), "B"); err == nil {
		t.Errorf("want error for a non-object export")
	}
}

func compact(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "invalid: " + err.Error()
	}
	return b.String()
}

type fakeProber map[string]string // resource -> label answered for every text

func (f fakeProber) Classify(_ context.Context, resource, _, _ string, texts []string) ([]string, error) {
	out := make([]string, len(texts))
	for i := range texts {
		out[i] = f[resource]
	}
	return out, nil
}

func TestVerifyReportsProbeDisagreement(t *testing.T) {
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline(func(o *Options) { o.Prober = fakeProber{"primary": "Billing", "secondary": "Outage"} })
	r, err := w.drive(p, w.start(p, Request{Project: "Tickets"}))
	if err != nil || r.Phase != langsync.RunSucceeded {
		t.Fatalf("%v %+v", err, r)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], `probe "hello" on production: source primary says "Billing", target secondary says "Outage"`) {
		t.Errorf("warnings %q", r.Warnings)
	}
}

func TestExpiredExportResultIsExportedAgain(t *testing.T) {
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	w.svc["primary"].failNext["OpenExportResult"] = fmt.Errorf("result: %w", ErrNotFound)
	p := w.pipeline()
	r, err := w.drive(p, w.start(p, Request{Project: "Tickets"}))
	if err != nil || r.Phase != langsync.RunSucceeded {
		t.Fatalf("%v %+v", err, r)
	}
	wantPosts(t, w.svc["primary"], map[langsync.JobKind]int{langsync.JobExport: 2})
}

func TestStartPlannedRestore(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	rep, err := w.drive(p, w.start(p, Request{Project: "Tickets"}))
	if err != nil || rep.Phase != langsync.RunSucceeded {
		t.Fatalf("%v %+v", err, rep)
	}
	pair := langsync.Pair{Source: "primary", Project: "Tickets", Target: "third", TargetProject: "Restored"}
	plan := &langsync.Run{Kind: langsync.RunRestore, Trigger: langsync.TriggerRestore, Source: "primary", Project: "Tickets",
		Pairs: []langsync.Pair{pair}, Models: rep.Models, Steps: []langsync.Step{
			{Name: langsync.StepImport, Target: "third", Model: "model1"},
			{Name: langsync.StepTrain, Target: "third", Model: "model1"},
			{Name: langsync.StepDeploy, Target: "third", Model: "model1", Deployment: "production"},
			{Name: langsync.StepVerify, Target: "third"},
		}}
	tk, err := p.StartPlanned(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.StartPlanned(ctx, &langsync.Run{Kind: langsync.RunRestore, Project: "Tickets", Pairs: []langsync.Pair{pair}, Steps: plan.Steps}); !errors.Is(err, ErrBusy) {
		t.Errorf("second restore into the same project: %v, want ErrBusy", err)
	}
	r, err := w.drive(p, tk.Run)
	if err != nil || r.Phase != langsync.RunSucceeded {
		t.Fatalf("%v %+v", err, r)
	}
	third := w.svc["third"].projects["Restored"]
	if third == nil || third.deps["production"].ModelID == "" {
		t.Fatalf("restored project %+v", third)
	}
	ps, _, _ := p.loadPair(ctx, pair)
	if ps.ActiveRun != "" || ps.LastRun != r.ID || ps.Fingerprint != "" {
		t.Errorf("pair state after a restore %+v", ps)
	}
	if _, err := p.StartPlanned(ctx, &langsync.Run{Kind: langsync.RunRestore}); err == nil {
		t.Errorf("StartPlanned accepted an empty plan")
	}
}
