package authoring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
)

// The client suite over HTTP against the Language emulator
// (shared/emulator), which reads the REST contract independently: every
// operation, the full export -> import -> train -> deploy cycle for every
// project kind, and faults injected by the emulator.

func TestEmulatorLifecycle(t *testing.T) {
	projects := []emulatortest.Project{
		emulatortest.SingleLabelProject("Tickets", "tickets", 6),
		emulatortest.MultiLabelProject("Movies", "movies", 12),
		emulatortest.NERProject("Loans", "loans", 8),
	}
	for _, version := range []string{APIVersion20230401, APIVersion20220501} {
		for _, p := range projects {
			t.Run(version+"/"+p.Name, func(t *testing.T) {
				r := emulatortest.Start(t, nil)
				r.WriteDocs(p.Container, p.Docs)
				env := newEmulatorEnv(t, r, version)
				runLifecycle(t, env.client, p, version)
				if strings.Contains(env.logs.String(), r.Key) {
					t.Fatal("the logs contain the key")
				}
			})
		}
	}
}

func newEmulatorEnv(t *testing.T, r *emulatortest.Resource, version string) *testEnv {
	t.Helper()
	return newTestClientKey(t, r.URL, r.Key, func(o *ClientOptions) { o.APIVersion = version })
}

func runLifecycle(t *testing.T, c *Client, p emulatortest.Project, version string) {
	ctx := context.Background()
	kind := langsync.ProjectKind(p.Kind)
	wait := func(job langsync.Job, err error) *JobState {
		t.Helper()
		if err != nil {
			t.Fatalf("begin %s: %v", job.Kind, err)
		}
		st, err := c.Wait(ctx, job, nil)
		if err != nil {
			t.Fatalf("%s job: %v", job.Kind, err)
		}
		return st
	}
	exportBytes := func(opts *ExportOptions) []byte {
		t.Helper()
		st := wait(c.BeginExport(ctx, p.Name, opts))
		rc, err := c.OpenExportResult(ctx, st.ResultURL)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	if ls, err := c.SupportedLanguages(ctx, kind); err != nil || len(ls) == 0 {
		t.Fatalf("languages: %d, %v", len(ls), err)
	}
	vs, err := c.ListTrainingConfigVersions(ctx, kind)
	if err != nil || len(vs) < 2 {
		t.Fatalf("config versions: %d, %v", len(vs), err)
	}
	versionExpiry := map[string]string{}
	for _, v := range vs {
		versionExpiry[v.TrainingConfigVersion] = v.ModelExpirationDate
	}

	// Import, then read the project back.
	in, _ := json.Marshal(p.Export)
	wait(c.BeginImport(ctx, p.Name, bytes.NewReader(in)))
	got, err := c.GetProject(ctx, p.Name)
	if err != nil || got.ProjectKind != kind || got.StorageInputContainerName != p.Container {
		t.Fatalf("project %+v, %v", got, err)
	}
	ps, err := c.ListProjects(ctx)
	if err != nil || len(ps) != 1 || ps[0].ProjectName != p.Name {
		t.Fatalf("list %+v, %v", ps, err)
	}

	// Export; the export imported back and exported again is unchanged.
	first := exportBytes(nil)
	var ep ExportedProject
	if err := json.Unmarshal(first, &ep); err != nil || ep.Assets == nil || len(ep.Assets.Documents) != len(p.Docs) {
		t.Fatalf("export: %v, %d documents, want %d", err, len(ep.Assets.Documents), len(p.Docs))
	}
	wait(c.BeginImport(ctx, p.Name, bytes.NewReader(first)))
	if second := exportBytes(nil); !jsonEqual(t, second, first) {
		t.Fatalf("export after re-import differs:\n%s\n%s", first, second)
	}
	// Restore under another name.
	var renamed bytes.Buffer
	if err := RenameExport(bytes.NewReader(first), &renamed, p.Name+"-copy"); err != nil {
		t.Fatal(err)
	}
	wait(c.BeginImport(ctx, p.Name+"-copy", bytes.NewReader(renamed.Bytes())))

	// Train, inspect models and evaluation.
	st := wait(c.BeginTrain(ctx, p.Name, TrainOptions{ModelLabel: "m1",
		EvaluationOptions: &EvaluationOptions{Kind: EvaluationPercentage, TrainingSplitPercentage: 80, TestingSplitPercentage: 20}}))
	if st.Result == nil || st.Result.ModelLabel != "m1" || st.Percent() != 100 {
		t.Fatalf("train result %+v", st.Result)
	}
	jobs, err := c.ListTrainingJobs(ctx, p.Name)
	if err != nil || len(jobs) != 1 || jobs[0].Result.ModelLabel != "m1" {
		t.Fatalf("training jobs %+v, %v", jobs, err)
	}
	models, err := c.ListModels(ctx, p.Name)
	if err != nil || len(models) != 1 || models[0].Label != "m1" {
		t.Fatalf("models %+v, %v", models, err)
	}
	if mv := models[0].ModelTrainingConfigVersion; versionExpiry[mv] == "" || models[0].ModelExpirationDate != versionExpiry[mv] {
		t.Fatalf("model trained on %q expires %q; the version list says %v", mv, models[0].ModelExpirationDate, versionExpiry)
	}
	m, err := c.GetModel(ctx, p.Name, "m1")
	if err != nil || m.ModelID == "" {
		t.Fatalf("model %+v, %v", m, err)
	}
	sum, err := c.GetEvaluationSummary(ctx, p.Name, "m1")
	if err != nil || (sum.SingleLabel == nil && sum.MultiLabel == nil && sum.EntityRecognition == nil) {
		t.Fatalf("evaluation summary %+v, %v", sum, err)
	}
	if docs, err := c.ListEvaluationResults(ctx, p.Name, "m1"); err != nil || len(docs) == 0 {
		t.Fatalf("evaluation results: %d, %v", len(docs), err)
	}
	if version != APIVersion20220501 {
		if b := exportBytes(&ExportOptions{TrainedModelLabel: "m1"}); !bytes.Contains(b, []byte(p.Name)) {
			t.Fatalf("export of m1: %s", b)
		}
		wait(c.BeginLoadSnapshot(ctx, p.Name, "m1"))
	}

	// Deploy twice, swap, delete one.
	wait(c.BeginDeploy(ctx, p.Name, "production", "m1"))
	wait(c.BeginTrain(ctx, p.Name, TrainOptions{ModelLabel: "m2"}))
	wait(c.BeginDeploy(ctx, p.Name, "staging", "m2"))
	m2, _ := c.GetModel(ctx, p.Name, "m2")
	wait(c.BeginSwap(ctx, p.Name, "production", "staging"))
	prod, err := c.GetDeployment(ctx, p.Name, "production")
	if err != nil || prod.ModelID != m2.ModelID {
		t.Fatalf("after swap production serves %+v (%v), want %s", prod, err, m2.ModelID)
	}
	deps, err := c.ListDeployments(ctx, p.Name)
	if err != nil || len(deps) != 2 {
		t.Fatalf("deployments %+v, %v", deps, err)
	}
	wait(c.BeginDeleteDeployment(ctx, p.Name, "staging"))
	if _, err := c.GetDeployment(ctx, p.Name, "staging"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted deployment: %v, want ErrNotFound", err)
	}

	// Cancel a training job.
	job, err := c.BeginTrain(ctx, p.Name, TrainOptions{ModelLabel: "m3"})
	if err != nil {
		t.Fatal(err)
	}
	jobID := job.Location[strings.LastIndex(job.Location, "/")+1:]
	jobID, _, _ = strings.Cut(jobID, "?")
	if cj, err := c.BeginCancelTraining(ctx, p.Name, jobID); err != nil {
		// The emulator may have finished the instant job already; a
		// conflict or bad request is the service's answer then.
		var re *ResponseError
		if !errors.As(err, &re) || re.StatusCode >= 500 {
			t.Fatalf("cancel: %v", err)
		}
	} else if cj.Kind != langsync.JobCancelTrain {
		t.Fatalf("cancel job %+v", cj)
	}
	c.Wait(ctx, job, nil)

	// Delete a model and the copy project.
	if err := c.DeleteModel(ctx, p.Name, "m3"); err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete model: %v", err)
	}
	wait(c.BeginDeleteProject(ctx, p.Name+"-copy"))
	if _, err := c.GetProject(ctx, p.Name+"-copy"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted project: %v, want ErrNotFound", err)
	}
}

func TestEmulatorJobProgress(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{JobDurations: map[string]time.Duration{"train": 10 * time.Minute}})
	p := emulatortest.SingleLabelProject("Tickets", "tickets", 5)
	r.Load(p)
	env := newEmulatorEnv(t, r, APIVersion20230401)
	ctx := context.Background()
	job, err := env.client.BeginTrain(ctx, "Tickets", TrainOptions{ModelLabel: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := env.client.Poll(ctx, job)
	if err != nil || st.Done() || st.NextPoll <= 0 {
		t.Fatalf("state %+v, %v: want running", st, err)
	}
	r.Advance(5 * time.Minute)
	mid, err := env.client.Poll(ctx, job)
	if err != nil || mid.Done() || mid.Percent() <= 0 || mid.Percent() >= 100 {
		t.Fatalf("half way: %+v (percent %d), %v", mid, mid.Percent(), err)
	}
	r.Advance(6 * time.Minute)
	// Another process resumes the saved handle.
	saved, _ := json.Marshal(job)
	var resumed langsync.Job
	json.Unmarshal(saved, &resumed)
	other := newEmulatorEnv(t, r, APIVersion20230401)
	final, err := other.client.Wait(ctx, resumed, nil)
	if err != nil || !final.Succeeded() {
		t.Fatalf("final %+v, %v", final, err)
	}
}

func TestEmulatorFaults(t *testing.T) {
	r := emulatortest.Start(t, nil)
	p := emulatortest.SingleLabelProject("Tickets", "tickets", 5)
	r.Load(p)
	ctx := context.Background()

	t.Run("WrongKey", func(t *testing.T) {
		c, err := NewKeyClient(r.URL, "not-the-key", &ClientOptions{Budget: NewRateBudget(BudgetOptions{})})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListProjects(ctx)
		var re *ResponseError
		if !errors.As(err, &re) || !errors.Is(err, ErrUnauthorized) || re.Code != "401" {
			t.Fatalf("err = %v, want 401 with code \"401\"", err)
		}
	})
	t.Run("ThrottledAndUnavailable", func(t *testing.T) {
		env := newEmulatorEnv(t, r, APIVersion20230401)
		if err := r.Server.SetFaults(emulator.Faults{ThrottleRatio: 0.3, ErrorRatio: 0.2, ErrorStatus: 503, RetryAfter: 2, Seed: 11}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Server.SetFaults(emulator.Faults{}) })
		for i := 0; i < 10; i++ {
			if _, err := env.client.GetProject(ctx, "Tickets"); err != nil {
				t.Fatalf("get %d: %v", i, err)
			}
		}
		// Job starts are retried on 429/503 (never accepted), so they
		// succeed too, and no job is started twice.
		r.Server.ResetRequests()
		for i := 0; i < 3; i++ {
			job, err := env.client.BeginExport(ctx, "Tickets", nil)
			if err != nil {
				t.Fatalf("export %d: %v", i, err)
			}
			if _, err := env.client.Wait(ctx, job, nil); err != nil {
				t.Fatalf("export %d: %v", i, err)
			}
		}
		accepted := 0
		for _, req := range r.Server.Requests() {
			if req.Method == "POST" && req.Status == 202 {
				accepted++
			}
		}
		if accepted != 3 {
			t.Fatalf("%d export jobs accepted, want 3", accepted)
		}
		if env.clock.slept() < 2*time.Second {
			t.Fatalf("the budget never honoured Retry-After (slept %v)", env.clock.slept())
		}
	})
	t.Run("JobFailure", func(t *testing.T) {
		env := newEmulatorEnv(t, r, APIVersion20230401)
		r.Server.SetFaults(emulator.Faults{JobFailureRatio: 1})
		t.Cleanup(func() { r.Server.SetFaults(emulator.Faults{}) })
		_, err := env.client.Wait(ctx, mustBegin(t)(env.client.BeginTrain(ctx, "Tickets", TrainOptions{ModelLabel: "bad"})), nil)
		var je *JobError
		if !errors.As(err, &je) || je.Status != langsync.JobFailed || len(je.Errors) == 0 {
			t.Fatalf("err = %v, want a failed *JobError with errors", err)
		}
	})
}

func mustBegin(t *testing.T) func(langsync.Job, error) langsync.Job {
	return func(j langsync.Job, err error) langsync.Job {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
}
