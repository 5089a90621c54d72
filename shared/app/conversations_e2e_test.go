package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/sample"
)

const convAPI = "/language/authoring/analyze-conversations/projects/"

// convRig is two emulated regions with the Travel (CLU) and TravelRouter
// (orchestration) samples deployed on the primary, and an app whose
// projects section is given. The secondary has linked storage (a
// directory): conversation projects must neither read nor need it.
type convRig struct {
	src, tgt *emulatortest.Resource
	cfg      *config.Config
	app      *app.App
	// runs are the last runs driven, by project.
	runs map[string]*langsync.Run
}

func newConvRig(t *testing.T, projects string) *convRig {
	t.Helper()
	return newConvRigWith(t, projects, emulator.Options{}, func(*pipeline.Options) {})
}

// newConvRigWith is newConvRig with the target's emulator options (its
// Name is set) and an adjustment of the pipeline options.
func newConvRigWith(t *testing.T, projects string, tgt emulator.Options, adjust func(*pipeline.Options)) *convRig {
	t.Helper()
	tgt.Name = "secondary"
	r := &convRig{src: emulatortest.Start(t, &emulator.Options{Name: "primary"}), tgt: emulatortest.Start(t, &tgt)}
	for _, p := range sample.Conversations() {
		r.src.LoadConversation(p.Name, p.JSON)
		r.src.TrainAndDeployConversation(p.Name, "model1", "production")
	}
	n := containerSeq.Add(1)
	y := fmt.Sprintf(`resources:
  primary: {endpoint: %q, key: "${SRC_KEY}"}
  secondary: {endpoint: %q, key: "${TGT_KEY}", storage: %q}
projects:
%sstore: "${STORE}"
containers: {backups: backups-%d, state: state-%d}
`, r.src.URL, r.tgt.URL, t.TempDir(), projects, n, n)
	env := map[string]string{"SRC_KEY": r.src.Key, "TGT_KEY": r.tgt.Key, "STORE": azuritetest.Shared(t)}
	cfg, err := config.Parse([]byte(y), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	r.cfg = cfg
	a, err := app.New(context.Background(), cfg, &app.Options{
		Authoring: &authoring.ClientOptions{Budget: authoring.NewRateBudget(authoring.BudgetOptions{Writes: 100000, Reads: 100000})},
		Pipeline:  adjust,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.app = a
	return r
}

// sync runs one Sync, drives the runs it started in order, and returns the
// decisions by project.
func (r *convRig) sync(t *testing.T) map[string]pipeline.Decision {
	t.Helper()
	ctx := context.Background()
	res, err := r.app.Pipeline.Sync(ctx, pipeline.SyncOptions{})
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	r.runs = map[string]*langsync.Run{}
	for _, n := range res.Wake {
		run, err := r.app.Drive(ctx, n.Run)
		if err != nil || run.Phase != langsync.RunSucceeded {
			t.Fatalf("run: %v %+v", err, run)
		}
		r.runs[run.Project] = run
	}
	out := map[string]pipeline.Decision{}
	for _, d := range res.Decisions {
		out[d.Pair.Project] = d
	}
	return out
}

// authoringWrites counts the authoring writes a resource received.
func authoringWrites(res *emulatortest.Resource) int {
	n := 0
	for _, q := range res.Server.Requests() {
		if q.Method != http.MethodGet && strings.HasPrefix(q.Path, "/language/authoring/") {
			n++
		}
	}
	return n
}

func analyze(t *testing.T, res *emulatortest.Resource, project, text string) string {
	t.Helper()
	return res.AnalyzeConversation(project, "production", text)
}

// TestConversationProjectsEndToEnd: the CLU project (renamed on the
// target) and the orchestration project that routes to it replicate; the
// replica routes to the renamed CLU replica; an unchanged source is not
// replicated again, a retrain on the same data retrains nothing, and a
// change is replicated.
func TestConversationProjectsEndToEnd(t *testing.T) {
	t.Parallel()
	r := newConvRig(t, `  - {name: Travel, source: primary, targets: [{resource: secondary, as: TravelDR}]}
  - {name: TravelRouter, source: primary, targets: [secondary]}
`)
	ds := r.sync(t)
	if ds["Travel"].Action != pipeline.ActionReplicate || ds["TravelRouter"].Action != pipeline.ActionReplicate {
		t.Fatalf("first sync: %+v", ds)
	}
	// The replicas answer, and the orchestration replica routes to TravelDR.
	if out := analyze(t, r.tgt, "TravelDR", "cancel my booking QX7781"); !strings.Contains(out, `"topIntent":"CancelBooking"`) || !strings.Contains(out, `"text":"QX7781"`) {
		t.Errorf("TravelDR on the target: %s", out)
	}
	if out := analyze(t, r.tgt, "TravelRouter", "book me a flight to Madrid"); !strings.Contains(out, `"topIntent":"Travel"`) || !strings.Contains(out, `"topIntent":"BookFlight"`) {
		t.Errorf("TravelRouter on the target: %s", out)
	}
	loc := r.tgt.Start202(http.MethodPost, convAPI+"TravelRouter/:export?stringIndexType=Utf16CodeUnit&api-version="+apiVersion, nil)
	st := r.tgt.Wait(loc, 0)
	_, _, exported := r.tgt.Do(http.MethodGet, strings.TrimPrefix(st["resultUrl"].(string), r.tgt.URL), nil)
	if !strings.Contains(string(exported), `"projectName":"TravelDR"`) || strings.Contains(string(exported), `"projectName":"Travel"`) {
		t.Errorf("the orchestration replica does not route to the renamed CLU replica: %s", exported)
	}
	// No documents step, and backups of the conversation projects hold
	// the project file only.
	for _, p := range []string{"Travel", "TravelRouter"} {
		run := r.runs[p]
		if run == nil || run.ProjectKind == "" || !run.ProjectKind.Conversational() {
			t.Fatalf("%s run: %+v", p, run)
		}
		for _, s := range run.Steps {
			if s.Name == langsync.StepDocuments {
				t.Errorf("a %s run has a documents step: %+v", p, s)
			}
			if s.Name == langsync.StepBackup && !strings.Contains(s.Note, "(0 documents)") {
				t.Errorf("%s backup: %s", p, s.Note)
			}
		}
	}

	r.src.Server.ResetRequests()
	r.tgt.Server.ResetRequests()
	ds = r.sync(t)
	if ds["Travel"].Action != pipeline.ActionNone || ds["TravelRouter"].Action != pipeline.ActionNone {
		t.Errorf("second sync: %+v", ds)
	}
	if n := authoringWrites(r.src) + authoringWrites(r.tgt); n != 0 {
		t.Errorf("an unchanged sync sent %d writes", n)
	}

	// Retrained on the same data: the fingerprint holds, nothing retrained.
	r.src.TrainAndDeployConversation("Travel", "model1", "production")
	r.tgt.Server.ResetRequests()
	if d := r.sync(t)["Travel"]; d.Action != pipeline.ActionReplicate || d.Retrain {
		t.Errorf("sync after a retrain on the same data: %+v", d)
	}
	if n := authoringWrites(r.tgt); n != 0 {
		t.Errorf("the target received %d writes although the fingerprint is unchanged", n)
	}

	// A new utterance: replicated and retrained.
	var doc map[string]any
	_ = json.Unmarshal(sample.Travel().JSON, &doc)
	assets := doc["assets"].(map[string]any)
	assets["utterances"] = append(assets["utterances"].([]any), map[string]any{"text": "reserve two seats to Vienna", "language": "en-us", "dataset": "Train", "intent": "BookFlight", "entities": []any{}})
	r.src.LoadConversation("Travel", doc)
	r.src.TrainAndDeployConversation("Travel", "model1", "production")
	r.tgt.Server.ResetRequests()
	if d := r.sync(t)["Travel"]; d.Action != pipeline.ActionReplicate || !strings.Contains(d.Reason, "source changed") {
		t.Errorf("sync after a change: %+v", d)
	}
	if n := r.tgt.Server.CountRequests(http.MethodPost, "/:train"); n != 1 {
		t.Errorf("%d train requests on the target after the change, want 1", n)
	}
}

// TestOrchestrationRefusedWithoutItsCLUProject: an orchestration project
// whose CLU project is not replicated to the target is refused, naming
// the project, the target and the fix; nothing is imported there.
func TestOrchestrationRefusedWithoutItsCLUProject(t *testing.T) {
	t.Parallel()
	r := newConvRig(t, "  - {name: TravelRouter, source: primary, targets: [secondary]}\n")
	ctx := context.Background()
	tk, err := r.app.Pipeline.Start(ctx, pipeline.Request{Project: "TravelRouter", Trigger: langsync.TriggerCLI})
	if err != nil {
		t.Fatal(err)
	}
	run, _ := r.app.Drive(ctx, tk[0].Run)
	if run == nil || run.Phase != langsync.RunFailed || !strings.Contains(run.Error, `CLU project "Travel", which is not replicated to secondary`) ||
		!strings.Contains(run.Error, "add Travel to projects") {
		t.Fatalf("run = %+v", run)
	}
	if n := r.tgt.Server.CountRequests(http.MethodPost, "/:import"); n != 0 {
		t.Errorf("%d imports on the target", n)
	}
}

// TestOrchestrationWaitsForItsCLUProject: the orchestration run, driven
// first, reaches its import while the CLU project it routes to is still
// being replicated in the same sync: it imports nothing and retries
// (a transient wait naming the CLU replica), then completes once the CLU
// run has put the replica and its deployment on the target, and the
// orchestration replica routes to it.
func TestOrchestrationWaitsForItsCLUProject(t *testing.T) {
	t.Parallel()
	r := newConvRigWith(t, `  - {name: Travel, source: primary, targets: [{resource: secondary, as: TravelDR}]}
  - {name: TravelRouter, source: primary, targets: [secondary]}
`, emulator.Options{}, func(o *pipeline.Options) { o.Backoff, o.MaxBackoff = time.Millisecond, 10*time.Millisecond })
	ctx := context.Background()
	start := func(project string) string {
		t.Helper()
		tk, err := r.app.Pipeline.Start(ctx, pipeline.Request{Project: project, Trigger: langsync.TriggerCLI})
		if err != nil || len(tk) != 1 {
			t.Fatalf("start %s: %v %+v", project, err, tk)
		}
		return tk[0].Run
	}
	router, travel := start("TravelRouter"), start("Travel")
	const waiting = "routes intent \"Travel\" to CLU project TravelDR (deployment \"production\"), which is not on secondary yet"
	// Advance the router alone, on the pipeline's own schedule, until its
	// import step reports the wait.
	var waited *langsync.Step
	for waited == nil {
		n, err := r.app.Pipeline.Advance(ctx, router)
		if err != nil {
			t.Fatal(err)
		}
		run, err := r.app.Pipeline.Run(ctx, router)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range run.Steps {
			if s.Name == langsync.StepImport && strings.Contains(s.Error, waiting) {
				waited = &run.Steps[i]
			}
		}
		if n.Done {
			t.Fatalf("the router run ended before waiting: %s %s", run.Phase, run.Error)
		}
		if err := r.app.Pipeline.Clock().Sleep(ctx, n.At.Sub(r.app.Pipeline.Clock().Now())); err != nil {
			t.Fatal(err)
		}
	}
	if waited.Status == langsync.StepFailed || waited.Job != nil {
		t.Fatalf("waiting import step = %+v", waited)
	}
	if n := r.tgt.Server.CountRequests(http.MethodPost, "TravelRouter/:import"); n != 0 {
		t.Fatalf("%d orchestration imports before its CLU project is on the target", n)
	}
	if run, err := r.app.Drive(ctx, travel); err != nil || run.Phase != langsync.RunSucceeded {
		t.Fatalf("Travel run: %v %+v", err, run)
	}
	run, err := r.app.Drive(ctx, router)
	if err != nil || run.Phase != langsync.RunSucceeded {
		t.Fatalf("TravelRouter run: %v %+v", err, run)
	}
	if out := analyze(t, r.tgt, "TravelRouter", "book me a flight to Madrid"); !strings.Contains(out, `"topIntent":"BookFlight"`) {
		t.Errorf("TravelRouter on the target after waiting: %s", out)
	}
}

// TestTrainingModeReplicated: a CLU model trained advanced on the source
// is trained advanced on the target (the target's training job says so);
// a target without advanced training trains it standard and the train
// step carries the warning.
func TestTrainingModeReplicated(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		noAdvanced bool
		wantMode   string
		wantNote   string
	}{
		{"advanced", false, "advanced", ""},
		{"target without advanced", true, "standard", "warning: trained standard, not advanced as the source model \"model1\": secondary refused advanced training"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newConvRigWith(t, "  - {name: Travel, source: primary, targets: [secondary]}\n", emulator.Options{NoAdvancedTraining: tt.noAdvanced}, func(*pipeline.Options) {})
			loc := r.src.Start202(http.MethodPost, convAPI+"Travel/:train?api-version="+apiVersion, map[string]any{"modelLabel": "model1", "trainingMode": "advanced"})
			if st := r.src.Wait(loc, time.Second); st["status"] != "succeeded" {
				t.Fatalf("advanced training on the source: %v", st)
			}
			if st := r.src.Wait(r.src.Start202(http.MethodPut, convAPI+"Travel/deployments/production?api-version="+apiVersion, map[string]any{"trainedModelLabel": "model1"}), time.Second); st["status"] != "succeeded" {
				t.Fatalf("deploy on the source: %v", st)
			}
			r.sync(t)
			run := r.runs["Travel"]
			var note string
			for _, s := range run.Steps {
				if s.Name == langsync.StepTrain {
					note = s.Note
				}
			}
			if !strings.Contains(note, tt.wantNote) || tt.wantNote == "" && note != "" {
				t.Errorf("train step note %q, want %q", note, tt.wantNote)
			}
			_, _, b := r.tgt.Do(http.MethodGet, convAPI+"Travel/train/jobs?api-version="+apiVersion, nil)
			if !strings.Contains(string(b), `"trainingMode":"`+tt.wantMode+`"`) || strings.Count(string(b), `"jobId"`) != 1 {
				t.Errorf("target training jobs, want one %s: %s", tt.wantMode, b)
			}
		})
	}
}

// TestRestoreConversationProjectsUnderAnotherName: a CLU backup restores
// under another name and serves; an orchestration backup restored --as
// another name routes to the CLU replica configured for that target.
func TestRestoreConversationProjectsUnderAnotherName(t *testing.T) {
	t.Parallel()
	r := newConvRig(t, `  - {name: Travel, source: primary, targets: [{resource: secondary, as: TravelDR}]}
  - {name: TravelRouter, source: primary, targets: [secondary]}
`)
	r.sync(t)
	ctx := context.Background()
	for _, tt := range []struct{ project, as, text, want string }{
		{"Travel", "TravelOld", "cancel my booking QX7781", `"topIntent":"CancelBooking"`},
		{"TravelRouter", "RouterOld", "book me a flight to Madrid", `"topIntent":"BookFlight"`},
	} {
		plan, tk, err := r.app.Restore(ctx, app.RestoreRequest{Project: tt.project, At: time.Now().Add(time.Minute), To: "secondary", As: tt.as})
		if err != nil {
			t.Fatalf("restore %s: %v (plan %+v)", tt.project, err, plan)
		}
		run, err := r.app.Drive(ctx, tk.Run)
		if err != nil || run.Phase != langsync.RunSucceeded {
			t.Fatalf("restore run of %s: %v %+v", tt.project, err, run)
		}
		if out := analyze(t, r.tgt, tt.as, tt.text); !strings.Contains(out, tt.want) {
			t.Errorf("%s on the target: %s", tt.as, out)
		}
	}
	loc := r.tgt.Start202(http.MethodPost, convAPI+"RouterOld/:export?stringIndexType=Utf16CodeUnit&api-version="+apiVersion, nil)
	st := r.tgt.Wait(loc, 0)
	_, _, exported := r.tgt.Do(http.MethodGet, strings.TrimPrefix(st["resultUrl"].(string), r.tgt.URL), nil)
	if !strings.Contains(string(exported), `"projectName":"TravelDR"`) || !strings.Contains(string(exported), `"projectName":"RouterOld"`) {
		t.Errorf("restored orchestration: %s", exported)
	}
}
