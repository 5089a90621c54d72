package authoring

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sample"
)

// TestEmulatorConversationsLifecycle drives the conversations client over
// HTTP against the emulator with the Travel and TravelRouter samples:
// import, export (unchanged), rename and import as a copy, train in both
// modes, deploy, list, delete.
func TestEmulatorConversationsLifecycle(t *testing.T) {
	r := emulatortest.Start(t, nil)
	env := newEmulatorEnv(t, r, APIVersion20230401)
	c := env.client.ForKind(langsync.Conversation)
	ctx := context.Background()
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
	export := func(project string) []byte {
		t.Helper()
		st := wait(c.BeginExport(ctx, project, nil))
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
	for _, p := range sample.Conversations() {
		wait(c.BeginImport(ctx, p.Name, bytes.NewReader(p.JSON)))
		got := export(p.Name)
		if !jsonEqual(t, got, p.JSON) {
			t.Fatalf("%s: export differs from what was imported:\n got %s\nwant %s", p.Name, got, p.JSON)
		}
		var renamed bytes.Buffer
		if err := RenameExport(bytes.NewReader(got), &renamed, p.Name+"Copy"); err != nil {
			t.Fatal(err)
		}
		wait(c.BeginImport(ctx, p.Name+"Copy", bytes.NewReader(renamed.Bytes())))
		if again := export(p.Name + "Copy"); !jsonEqual(t, again, renamed.Bytes()) {
			t.Fatalf("%s: the renamed copy changed on import:\n got %s\nwant %s", p.Name, again, renamed.Bytes())
		}
	}
	meta, err := c.GetProject(ctx, "TravelRouter")
	if err != nil || meta.ProjectKind != langsync.Orchestration || meta.StorageInputContainerName != "" {
		t.Fatalf("TravelRouter = %+v, %v", meta, err)
	}
	for i, mode := range []string{TrainingModeStandard, TrainingModeAdvanced} {
		label := []string{"m1", "m2"}[i]
		st := wait(c.BeginTrain(ctx, "Travel", TrainOptions{ModelLabel: label, TrainingMode: mode,
			EvaluationOptions: &EvaluationOptions{Kind: EvaluationManual}}))
		if st.Result == nil || st.Result.TrainingMode != mode || st.Result.ModelLabel != label {
			t.Fatalf("train %s: %+v", mode, st.Result)
		}
	}
	wait(c.BeginDeploy(ctx, "Travel", "production", "m2"))
	deps, err := c.ListDeployments(ctx, "Travel")
	if err != nil || len(deps) != 1 || !strings.HasPrefix(deps[0].ModelID, "m2-") {
		t.Fatalf("deployments = %+v, %v", deps, err)
	}
	models, err := c.ListModels(ctx, "Travel")
	if err != nil || len(models) != 2 {
		t.Fatalf("models = %+v, %v", models, err)
	}
	// The text API does not see conversation projects.
	if _, err := env.client.GetProject(ctx, "Travel"); err == nil {
		t.Fatal("a conversation project answered on the text API")
	}
	wait(c.BeginDeleteProject(ctx, "TravelCopy"))
	if _, err := c.GetProject(ctx, "TravelCopy"); err == nil {
		t.Fatal("deleted project still there")
	}
}
