package authoring

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
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
		"2023-04-01_SuccessfulListProjects.json/200":                       roundTrip[page[ProjectMetadata]],
		"2023-04-01_SuccessfulCreateProject.json/200":                      roundTrip[ProjectMetadata],
		"2023-04-01_SuccessfulCreateProject.json/201":                      roundTrip[ProjectMetadata],
		"2023-04-01_SuccessfulCreateProject.json/body":                     roundTrip[ProjectOptions],
		"2023-04-01_SuccessfulImportProject.json/body":                     roundTrip[ExportedProject],
		"2023-04-01_SuccessfulGetExportStatus.json/200":                    roundTrip[JobState],
		"2023-04-01_SuccessfulTrainProject.json/body":                      roundTrip[TrainOptions],
		"2023-04-01_SuccessfulGetTrainStatus.json/200":                     roundTrip[JobState],
		"2023-04-01_SuccessfulListModels.json/200":                         roundTrip[page[TrainedModel]],
		"2023-04-01_SuccessfulDeployProject.json/body":                     roundTrip[deployBody],
		"2023-04-01_SuccessfulGetDeploymentStatus.json/200":                roundTrip[JobState],
		"2023-04-01_SuccessfulListDeployments.json/200":                    roundTrip[page[Deployment]],
		"2023-04-01_SuccessfulGetProject.json/200":                         roundTrip[ProjectMetadata],
		"2023-04-01_SuccessfulListTrainingJobs.json/200":                   roundTrip[page[JobState]],
		"2023-04-01_SuccessfulGetDeployment.json/200":                      roundTrip[Deployment],
		"2023-04-01_SuccessfulGetLoadSnapshotStatus.json/200":              roundTrip[JobState],
		"2023-04-01_SuccessfulGetSwapDeploymentsStatus.json/200":           roundTrip[JobState],
		"2023-04-01_SuccessfulGetModelEvaluation.json/200":                 roundTrip[page[DocumentEvaluation]],
		"2023-04-01_SuccessfulGetModelEvaluationSummary.json/200":          roundTrip[EvaluationSummary],
		"2023-04-01_SuccessfulGetSupportedLanguages.json/200":              roundTrip[page[SupportedLanguage]],
		"2023-04-01_SuccessfulGetSupportedPrebuiltEntities.json/200":       roundTrip[page[SupportedPrebuiltEntity]],
		"2023-04-01_SuccessfulGetSupportedTrainingConfigVersions.json/200": roundTrip[page[TrainingConfigVersion]],
		"2025-11-01_SuccessfulTrainProject.json/body":                      roundTrip[TrainOptions],
		"2025-11-01_SuccessfulGetDeployment.json/200":                      roundTrip[Deployment],
		"2025-11-01_SuccessfulListDeployments.json/200":                    roundTrip[page[Deployment]],
		"2025-11-01_SuccessfulImportProject.json/body":                     roundTrip[ExportedProject],
	}
	files, err := filepath.Glob("testdata/conversations/*.json")
	if err != nil || len(files) < 29 {
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
	cases = append(cases, convReplayMore(dir, conv)...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runReplay(t, tc) })
	}
}

// convReplayMore are the replay cases of the models, jobs, deployments
// and global operations.
func convReplayMore(dir string, conv func(f func(ctx context.Context, c *Client, loc string) (any, error)) func(ctx context.Context, c *Client, loc string) (any, error)) []replayCase {
	return []replayCase{
		{
			name: "GetProjectExample", file: dir + "2023-04-01_SuccessfulGetProject.json", status: "200",
			method: "GET", path: convBase + "/{projectName}",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) { return c.GetProject(ctx, "myproject") }),
			check: func(t *testing.T, got any) {
				if p := got.(*ProjectMetadata); p.ProjectKind != langsync.Conversation || p.Multilingual || p.LastTrainedDateTime.IsZero() {
					t.Fatalf("project = %+v", p)
				}
			},
		},
		{
			name: "ListTrainingJobs", file: dir + "2023-04-01_SuccessfulListTrainingJobs.json", status: "200",
			method: "GET", path: convBase + "/{projectName}/train/jobs",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.ListTrainingJobs(ctx, "EmailApp")
			}),
			check: func(t *testing.T, got any) {
				js := got.([]JobState)
				if len(js) != 3 || js[0].Result.TrainingMode != TrainingModeAdvanced || js[1].Result.TrainingMode != TrainingModeStandard || js[0].Job.Kind != langsync.JobTrain {
					t.Fatalf("jobs = %+v", js)
				}
			},
		},
		{
			name: "CancelTraining", file: dir + "2023-04-01_SuccessfulCancelTrainingJob.json", status: "202",
			method: "POST", path: convBase + "/{projectName}/train/jobs/{jobId}/:cancel",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginCancelTraining(ctx, "EmailApp", "8ccf2ffe-e758-4d04-a44a-31512918c7e8_637858368000000000")
			}),
			check: checkJob(langsync.JobCancelTrain, "/analyze-conversations/projects/EmailApp/train/jobs/"),
		},
		{
			name: "DeleteModel", file: dir + "2023-04-01_SuccessfulDeleteModel.json", status: "204",
			method: "DELETE", path: convBase + "/{projectName}/models/{trainedModelLabel}",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return "deleted", c.DeleteModel(ctx, "EmailApp", "model2")
			}),
			check: func(t *testing.T, got any) {
				if got != "deleted" {
					t.Fatalf("got %v", got)
				}
			},
		},
		{
			name: "LoadSnapshot", file: dir + "2023-04-01_SuccessfulLoadSnapshot.json", status: "202",
			method: "POST", path: convBase + "/{projectName}/models/{trainedModelLabel}/:load-snapshot",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginLoadSnapshot(ctx, "EmailApp", "model1")
			}),
			check: checkJob(langsync.JobLoadSnapshot, "/analyze-conversations/projects/EmailApp/models/model1/load-snapshot/jobs/"),
		},
		{
			name: "LoadSnapshotStatus", file: dir + "2023-04-01_SuccessfulGetLoadSnapshotStatus.json", status: "200",
			method: "GET", path: convBase + "/{projectName}/models/{trainedModelLabel}/load-snapshot/jobs/{jobId}", poll: true,
			call: conv(pollAs(langsync.JobLoadSnapshot)),
			check: func(t *testing.T, got any) {
				if st := got.(*JobState); st.Done() || st.Status != "running" {
					t.Fatalf("state = %+v", st)
				}
			},
		},
		{
			name: "EvaluationSummary", file: dir + "2023-04-01_SuccessfulGetModelEvaluationSummary.json", status: "200",
			method: "GET", path: convBase + "/{projectName}/models/{trainedModelLabel}/evaluation/summary-result",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.GetEvaluationSummary(ctx, "EmailApp", "model1")
			}),
			check: func(t *testing.T, got any) {
				s := got.(*EvaluationSummary)
				if s.Intents == nil || s.Intents.Intents["SendEmail"].TruePositiveCount != 20 || s.Entities == nil ||
					s.Entities.ConfusionMatrix["Message"]["$none"].RawValue != 0.7296037 || s.EvaluationOptions.Kind != EvaluationPercentage || len(s.Extra) != 0 {
					t.Fatalf("summary = %+v", s)
				}
			},
		},
		{
			name: "GetDeployment", file: dir + "2023-04-01_SuccessfulGetDeployment.json", status: "200",
			method: "GET", path: convBase + "/{projectName}/deployments/{deploymentName}",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.GetDeployment(ctx, "EmailApp", "staging")
			}),
			check: func(t *testing.T, got any) {
				if d := got.(*Deployment); d.DeploymentName != "staging" || d.ModelTrainingConfigVersion != "2022-05-15-preview" {
					t.Fatalf("deployment = %+v", d)
				}
			},
		},
		{
			name: "DeleteDeployment", file: dir + "2023-04-01_SuccessfulDeleteDeployment.json", status: "202",
			method: "DELETE", path: convBase + "/{projectName}/deployments/{deploymentName}",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginDeleteDeployment(ctx, "EmailApp", "staging")
			}),
			check: checkJob(langsync.JobDeleteDeployment, "/analyze-conversations/projects/EmailApp/deployments/staging/jobs/"),
		},
		{
			name: "SwapStatus", file: dir + "2023-04-01_SuccessfulGetSwapDeploymentsStatus.json", status: "200",
			method: "GET", path: convBase + "/{projectName}/deployments/swap/jobs/{jobId}", poll: true,
			call: conv(pollAs("")),
			check: func(t *testing.T, got any) {
				checkSucceeded(t, got)
				if st := got.(*JobState); st.Job.Kind != langsync.JobSwap {
					t.Fatalf("kind = %q, want inferred swap", st.Job.Kind)
				}
			},
		},
		{
			name: "SupportedLanguages", file: dir + "2023-04-01_SuccessfulGetSupportedLanguages.json", status: "200",
			method: "GET", path: convBase + "/global/languages", query: []string{"projectKind"},
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.SupportedLanguages(ctx, langsync.Conversation)
			}),
			check: func(t *testing.T, got any) {
				if ls := got.([]SupportedLanguage); len(ls) != 95 || ls[2].LanguageCode != "en-gb" {
					t.Fatalf("%d languages, third %+v", len(ls), ls[2])
				}
			},
		},
		{
			name: "SupportedPrebuiltEntities", file: dir + "2023-04-01_SuccessfulGetSupportedPrebuiltEntities.json", status: "200",
			method: "GET", path: convBase + "/global/prebuilt-entities", query: []string{"language"},
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.SupportedPrebuiltEntities(ctx, "en", false)
			}),
			check: func(t *testing.T, got any) {
				ps := got.([]SupportedPrebuiltEntity)
				if len(ps) != 16 || ps[11].Category != "Quantity.Currency" || !strings.Contains(ps[11].Examples, "£20.00") {
					t.Fatalf("prebuilt entities = %+v", ps)
				}
			},
		},
		{
			name: "Train20251101", file: dir + "2025-11-01_SuccessfulTrainProject.json", status: "202",
			method: "POST", path: convBase + "/{projectName}/:train",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginTrain(ctx, "EmailApp", TrainOptions{ModelLabel: "model1", TrainingMode: TrainingModeStandard, TrainingConfigVersion: "latest",
					EvaluationOptions: &EvaluationOptions{Kind: EvaluationPercentage, TestingSplitPercentage: 20, TrainingSplitPercentage: 80}})
			}),
			check: checkJob(langsync.JobTrain, "/analyze-conversations/projects/EmailApp/train/jobs/"),
		},
		{
			name: "Import20251101", file: dir + "2025-11-01_SuccessfulImportProject.json", status: "202",
			method: "POST", path: convBase + "/{projectName}/:import",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				b, err := os.ReadFile(filepath.Join("testdata", dir+"2025-11-01_SuccessfulImportProject.json"))
				if err != nil {
					return nil, err
				}
				var ex struct {
					Parameters struct {
						Body json.RawMessage `json:"body"`
					} `json:"parameters"`
				}
				if err := json.Unmarshal(b, &ex); err != nil {
					return nil, err
				}
				return c.Conversations().BeginImport(ctx, "EmailApp", bytes.NewReader(ex.Parameters.Body))
			},
			check: checkJob(langsync.JobImport, "/analyze-conversations/projects/EmailApp/import/jobs/"),
		},
		{
			name: "Export20251101", file: dir + "2025-11-01_SuccessfulExportProject.json", status: "202",
			method: "POST", path: convBase + "/{projectName}/:export", query: []string{"stringIndexType"},
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginExport(ctx, "EmailApp", nil)
			}),
			check: checkJob(langsync.JobExport, "/analyze-conversations/projects/EmailApp/export/jobs/"),
		},
		{
			name: "GetDeployment20251101", file: dir + "2025-11-01_SuccessfulGetDeployment.json", status: "200",
			method: "GET", path: convBase + "/{projectName}/deployments/{deploymentName}",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.GetDeployment(ctx, "EmailApp", "staging")
			}),
			check: func(t *testing.T, got any) {
				d := got.(*Deployment)
				if len(d.AssignedResources) != 1 || d.AssignedResources[0].Region != "westeurope" || len(d.Extra) != 0 {
					t.Fatalf("deployment = %+v", d)
				}
			},
		},
		{
			name: "ListDeployments20251101", file: dir + "2025-11-01_SuccessfulListDeployments.json", status: "200",
			method: "GET", path: convBase + "/{projectName}/deployments",
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) { return c.ListDeployments(ctx, "EmailApp") }),
			check: func(t *testing.T, got any) {
				if ds := got.([]Deployment); len(ds) != 2 || len(ds[0].AssignedResources) != 2 || ds[0].AssignedResources[1].Region != "eastus" {
					t.Fatalf("deployments = %+v", ds)
				}
			},
		},
		{
			name: "TrainingConfigVersions", file: dir + "2023-04-01_SuccessfulGetSupportedTrainingConfigVersions.json", status: "200",
			method: "GET", path: convBase + "/global/training-config-versions", query: []string{"projectKind"},
			call: conv(func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.ListTrainingConfigVersions(ctx, langsync.Conversation)
			}),
			check: func(t *testing.T, got any) {
				if vs := got.([]TrainingConfigVersion); len(vs) != 1 || vs[0].TrainingConfigVersion != "2022-05-01" {
					t.Fatalf("versions = %+v", vs)
				}
			},
		},
	}
}

// TestConversationsAPIVersion: the conversations API may run a newer GA
// version than the text API of the same client.
func TestConversationsAPIVersion(t *testing.T) {
	for _, tt := range []struct {
		conv, wantText, wantConv, wantErr string
	}{
		{"", APIVersion20230401, APIVersion20230401, ""},
		{APIVersion20251101, APIVersion20230401, APIVersion20251101, ""},
		{"latest", "", "", `conversations api-version "latest" is not a version`},
	} {
		c, err := NewKeyClient("http://127.0.0.1:1", langsync.Secret("0123456789abcdef"), &ClientOptions{ConversationsAPIVersion: tt.conv})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.conv, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if c.APIVersion() != tt.wantText || c.Conversations().APIVersion() != tt.wantConv {
			t.Errorf("%q: text %s, conversations %s", tt.conv, c.APIVersion(), c.Conversations().APIVersion())
		}
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
