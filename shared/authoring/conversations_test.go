package authoring

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/langsync"
)

const convBase = "/language/authoring/analyze-conversations/projects"

// TestConversationsExamplesRoundTrip decodes every payload of the official
// conversations authoring examples into its Go type and checks that
// encoding it again gives the same JSON.
func TestConversationsExamplesRoundTrip(t *testing.T) {
	typed := map[string]func([]byte) ([]byte, error){
		"2023-04-01_SuccessfulListProjects.json/200":        roundTrip[page[ProjectMetadata]],
		"2023-04-01_SuccessfulCreateProject.json/200":       roundTrip[ProjectMetadata],
		"2023-04-01_SuccessfulCreateProject.json/201":       roundTrip[ProjectMetadata],
		"2023-04-01_SuccessfulCreateProject.json/body":      roundTrip[ProjectOptions],
		"2023-04-01_SuccessfulImportProject.json/body":      roundTrip[ExportedProject],
		"2023-04-01_SuccessfulGetExportStatus.json/200":     roundTrip[JobState],
		"2023-04-01_SuccessfulTrainProject.json/body":       roundTrip[TrainOptions],
		"2023-04-01_SuccessfulGetTrainStatus.json/200":      roundTrip[JobState],
		"2023-04-01_SuccessfulListModels.json/200":          roundTrip[page[TrainedModel]],
		"2023-04-01_SuccessfulDeployProject.json/body":      roundTrip[deployBody],
		"2023-04-01_SuccessfulGetDeploymentStatus.json/200": roundTrip[JobState],
		"2023-04-01_SuccessfulListDeployments.json/200":     roundTrip[page[Deployment]],
	}
	files, err := filepath.Glob("testdata/conversations/*.json")
	if err != nil || len(files) < 12 {
		t.Fatalf("%d conversations examples (%v)", len(files), err)
	}
	covered := 0
	for _, f := range files {
		name := filepath.Base(f)
		ex := loadExample(t, "conversations/"+name)
		if len(ex.Parameters) == 0 || len(ex.Responses) == 0 {
			t.Errorf("%s: an official example has parameters and responses", name)
		}
		payloads := map[string]json.RawMessage{}
		if b, ok := ex.Parameters["body"]; ok {
			payloads["body"] = b
		}
		for status, r := range ex.Responses {
			if len(r.Body) > 0 {
				payloads[status] = r.Body
			}
		}
		for which, raw := range payloads {
			key := name + "/" + which
			rt, ok := typed[key]
			if !ok {
				t.Errorf("%s: no Go type mapped for this payload", key)
				continue
			}
			covered++
			got, err := rt(raw)
			if err != nil {
				t.Errorf("%s: decode/encode: %v", key, err)
				continue
			}
			if !jsonEqual(t, got, raw) {
				t.Errorf("%s: round trip changed the JSON:\n got %s\nwant %s", key, got, raw)
			}
		}
	}
	if covered != len(typed) {
		t.Fatalf("%d payloads covered, %d mapped: a mapped file is missing from testdata/conversations", covered, len(typed))
	}
}

// TestConversationsImportExampleIsTyped: the CLU parts of the import
// example land in typed fields (not only in Extra).
func TestConversationsImportExampleIsTyped(t *testing.T) {
	ex := loadExample(t, "conversations/2023-04-01_SuccessfulImportProject.json")
	var p ExportedProject
	if err := json.Unmarshal(ex.Parameters["body"], &p); err != nil {
		t.Fatal(err)
	}
	a := p.Assets
	if p.Metadata.ProjectKind != langsync.Conversation || !p.Metadata.ProjectKind.Conversational() || !p.Metadata.Multilingual {
		t.Fatalf("metadata = %+v", p.Metadata)
	}
	if len(a.Intents) != 2 || a.Intents[1].Category != "Delete" || len(a.Utterances) != 2 {
		t.Fatalf("assets = %+v", a)
	}
	u := a.Utterances[0]
	if u.Intent != "Read" || u.Dataset != "Train" || len(u.Entities) != 1 || u.Entities[0].Offset != 5 || u.Text[5:10] != "Blake" {
		t.Fatalf("utterance = %+v", u)
	}
	if a.Utterances[1].Language != "en-gb" {
		t.Fatalf("second utterance language = %q", a.Utterances[1].Language)
	}
	if a.Entities[1].Regex == nil || a.Entities[1].Regex.Expressions[0].RegexKey != "UK Phone numbers" || len(a.Entities[1].Extra) != 0 {
		t.Fatalf("regex entity = %+v", a.Entities[1])
	}
}

// TestConversationsReplayExamples drives every conversations operation
// against a server answering with the official example and checks the
// request (method, path, query, body) against it.
func TestConversationsReplayExamples(t *testing.T) {
	conv := func(f func(ctx context.Context, c *Client, loc string) (any, error)) func(ctx context.Context, c *Client, loc string) (any, error) {
		return func(ctx context.Context, c *Client, loc string) (any, error) { return f(ctx, c.Conversations(), loc) }
	}
	dir := "conversations/"
	cases := []replayCase{
		{
			name: "ListProjects", file: dir + "2023-04-01_SuccessfulListProjects.json", status: "200",
			method: "GET", path: convBase,
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) { return c.ListProjects(ctx) }),
			check: func(t *testing.T, got any) {
				ps := got.([]ProjectMetadata)
				if len(ps) != 2 || ps[0].ProjectName != "myproject1" || ps[1].ProjectKind != langsync.Conversation {
					t.Fatalf("projects = %+v", ps)
				}
			},
		},
		{
			name: "GetProject", file: dir + "2023-04-01_SuccessfulCreateProject.json", status: "200",
			method: "GET", path: convBase + "/{projectName}", getOnly: true,
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) { return c.GetProject(ctx, "myproject") }),
			check: func(t *testing.T, got any) {
				p := got.(*ProjectMetadata)
				if p.ProjectKind != langsync.Conversation || p.LastDeployedDateTime.IsZero() || p.StorageInputContainerName != "" {
					t.Fatalf("project = %+v", p)
				}
			},
		},
		{
			name: "CreateProject", file: dir + "2023-04-01_SuccessfulCreateProject.json", status: "201",
			method: "PATCH", path: convBase + "/{projectName}",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.CreateOrUpdateProject(ctx, "myproject", ProjectOptions{
					ProjectName: "myproject", Language: "en", ProjectKind: langsync.Conversation,
					Description: "This is a sample conversation project.",
				})
			}),
			check: func(t *testing.T, got any) {
				if p := got.(*ProjectMetadata); p.ProjectName != "myproject" || !p.LastTrainedDateTime.IsZero() {
					t.Fatalf("project = %+v", p)
				}
			},
		},
		{
			name: "DeleteProject", file: dir + "2023-04-01_SuccessfulDeleteProject.json", status: "202",
			method: "DELETE", path: convBase + "/{projectName}",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginDeleteProject(ctx, "myproject")
			}),
			check: checkJob(langsync.JobDeleteProject, "/analyze-conversations/projects/global/deletion-jobs/"),
		},
		{
			name: "Export", file: dir + "2023-04-01_SuccessfulExportProject.json", status: "202",
			method: "POST", path: convBase + "/{projectName}/:export", query: []string{"stringIndexType"},
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginExport(ctx, "EmailApp", nil)
			}),
			check: checkJob(langsync.JobExport, "/analyze-conversations/projects/EmailApp/export/jobs/"),
		},
		{
			name: "ExportStatus", file: dir + "2023-04-01_SuccessfulGetExportStatus.json", status: "200",
			method: "GET", path: convBase + "/{projectName}/export/jobs/{jobId}", poll: true,
			call: conv(pollAs(langsync.JobExport)),
			check: func(t *testing.T, got any) {
				st := got.(*JobState)
				if !st.Succeeded() || !strings.Contains(st.ResultURL, "/analyze-conversations/projects/EmailApp/export/jobs/") {
					t.Fatalf("state = %+v", st)
				}
			},
		},
		{
			name: "Import", file: dir + "2023-04-01_SuccessfulImportProject.json", status: "202",
			method: "POST", path: convBase + "/{projectName}/:import",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				ex := loadExample(t, dir+"2023-04-01_SuccessfulImportProject.json")
				return c.Conversations().BeginImport(ctx, "EmailApp", strings.NewReader(string(ex.Parameters["body"])))
			},
			check: checkJob(langsync.JobImport, "/analyze-conversations/projects/EmailApp/import/jobs/"),
		},
		{
			name: "Train", file: dir + "2023-04-01_SuccessfulTrainProject.json", status: "202",
			method: "POST", path: convBase + "/{projectName}/:train",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginTrain(ctx, "EmailApp", TrainOptions{ModelLabel: "model1", TrainingMode: TrainingModeStandard,
					EvaluationOptions: &EvaluationOptions{Kind: EvaluationPercentage, TestingSplitPercentage: 20, TrainingSplitPercentage: 80}})
			}),
			check: checkJob(langsync.JobTrain, "/analyze-conversations/projects/EmailApp/train/jobs/"),
		},
		{
			name: "TrainStatus", file: dir + "2023-04-01_SuccessfulGetTrainStatus.json", status: "200",
			method: "GET", path: convBase + "/{projectName}/train/jobs/{jobId}", poll: true,
			call: conv(pollAs(langsync.JobTrain)),
			check: func(t *testing.T, got any) {
				st := got.(*JobState)
				if st.Done() || st.Result == nil || st.Result.TrainingMode != TrainingModeStandard || st.Percent() != 2 {
					t.Fatalf("state = %+v (percent %d)", st, st.Percent())
				}
			},
		},
		{
			name: "ListModels", file: dir + "2023-04-01_SuccessfulListModels.json", status: "200",
			method: "GET", path: convBase + "/{projectName}/models",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) { return c.ListModels(ctx, "EmailApp") }),
			check: func(t *testing.T, got any) {
				if ms := got.([]TrainedModel); len(ms) != 2 || ms[1].Label != "model2" {
					t.Fatalf("models = %+v", ms)
				}
			},
		},
		{
			name: "Deploy", file: dir + "2023-04-01_SuccessfulDeployProject.json", status: "202",
			method: "PUT", path: convBase + "/{projectName}/deployments/{deploymentName}",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginDeploy(ctx, "EmailApp", "production", "29886710a2ae49259d62cffca977db66")
			}),
			check: checkJob(langsync.JobDeploy, "/analyze-conversations/projects/EmailApp/deployments/production/jobs/"),
		},
		{
			name: "DeploymentStatus", file: dir + "2023-04-01_SuccessfulGetDeploymentStatus.json", status: "200",
			method: "GET", path: convBase + "/{projectName}/deployments/{deploymentName}/jobs/{jobId}", poll: true,
			call: conv(pollAs(langsync.JobDeploy)), check: checkSucceeded,
		},
		{
			name: "ListDeployments", file: dir + "2023-04-01_SuccessfulListDeployments.json", status: "200",
			method: "GET", path: convBase + "/{projectName}/deployments",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) { return c.ListDeployments(ctx, "EmailApp") }),
			check: func(t *testing.T, got any) {
				if ds := got.([]Deployment); len(ds) != 2 || ds[1].DeploymentName != "staging" {
					t.Fatalf("deployments = %+v", ds)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runReplay(t, tc) })
	}
}

func TestConversationsTrainingMode(t *testing.T) {
	env := newTestClient(t, "http://127.0.0.1:1", nil)
	conv := env.client.Conversations()
	if !conv.IsConversations() || env.client.IsConversations() {
		t.Fatal("Conversations must return a conversations client and leave the original alone")
	}
	if env.client.ForKind(langsync.Orchestration) == env.client || env.client.ForKind(langsync.EntityRecognition) != env.client {
		t.Fatal("ForKind picks the wrong API")
	}
	for _, tt := range []struct {
		c       *Client
		mode    string
		wantErr string
	}{
		{env.client, TrainingModeStandard, "conversation projects only"},
		{conv, "turbo", `"turbo" is not`},
	} {
		_, err := tt.c.BeginTrain(context.Background(), "P", TrainOptions{ModelLabel: "m", TrainingMode: tt.mode})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("mode %q: err = %v, want %q", tt.mode, err, tt.wantErr)
		}
	}
	o := TrainOptions{}
	if err := conv.checkTrainingMode(&o); err != nil || o.TrainingMode != TrainingModeStandard {
		t.Fatalf("default mode = %q, %v", o.TrainingMode, err)
	}
}
