package authoring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/langsync"
)

// replayCase drives one operation against a server that answers with a spec
// example's response, and checks the request against the example.
type replayCase struct {
	name   string
	file   string
	status string // which example response to replay
	method string
	// path is the expected request path; {name} is replaced with the
	// example's parameter of that name.
	path string
	// query lists the example parameters expected in the query besides
	// api-version.
	query []string
	// statusPath, for Poll cases, is the job status path (the job's
	// location is built from it); path is then the same.
	poll bool
	// getOnly: the example's body parameter belongs to another operation.
	getOnly bool
	call    func(ctx context.Context, c *Client, loc string) (any, error)
	// check inspects the decoded result.
	check func(t *testing.T, got any)
}

const base = "/language/authoring/analyze-text/projects"

func TestOperationsReplayExamples(t *testing.T) {
	cases := []replayCase{
		{
			name: "ListProjects", file: "2023-04-01_SuccessfulListProjects.json", status: "200",
			method: "GET", path: base,
			call: func(ctx context.Context, c *Client, _ string) (any, error) { return c.ListProjects(ctx) },
			check: func(t *testing.T, got any) {
				ps := got.([]ProjectMetadata)
				if len(ps) != 2 || ps[0].ProjectName != "LoanAgreements" || ps[1].ProjectKind != langsync.MultiLabelClassification {
					t.Fatalf("projects = %+v", ps)
				}
				if ps[0].LastTrainedDateTime.IsZero() || !ps[1].LastTrainedDateTime.IsZero() {
					t.Fatalf("lastTrainedDateTime: got %v and %v, want set and absent", ps[0].LastTrainedDateTime, ps[1].LastTrainedDateTime)
				}
			},
		},
		{
			name: "GetProject", file: "2023-04-01_SuccessfulCreateProject.json", status: "200",
			method: "GET", path: base + "/{projectName}", getOnly: true,
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.GetProject(ctx, "LoanAgreements")
			},
			check: func(t *testing.T, got any) {
				p := got.(*ProjectMetadata)
				if p.ProjectKind != langsync.EntityRecognition || p.StorageInputContainerName != "loanagreements" || p.LastDeployedDateTime.IsZero() {
					t.Fatalf("project = %+v", p)
				}
			},
		},
		{
			name: "CreateProject", file: "2023-04-01_SuccessfulCreateProject.json", status: "201",
			method: "PATCH", path: base + "/{projectName}",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.CreateOrUpdateProject(ctx, "LoanAgreements", ProjectOptions{
					ProjectName: "LoanAgreements", Language: "en", ProjectKind: langsync.EntityRecognition,
					Description:               "This is a sample dataset provided by the Azure Language service team to help users get started with [Custom named entity recognition](https://aka.ms/ct-docs). The provided sample dataset contains 20 loan agreements drawn up between two entities.",
					StorageInputContainerName: "loanagreements",
				})
			},
			check: func(t *testing.T, got any) {
				if p := got.(*ProjectMetadata); p.CreatedDateTime.IsZero() || p.ProjectName != "LoanAgreements" {
					t.Fatalf("project = %+v", p)
				}
			},
		},
		{
			name: "BeginDeleteProject", file: "2023-04-01_SuccessfulDeleteProject.json", status: "202",
			method: "DELETE", path: base + "/{projectName}",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginDeleteProject(ctx, "LoanAgreements")
			},
			check: checkJob(langsync.JobDeleteProject, "/projects/global/deletion-jobs/129d3182-625d-496c-bcf9-43686e85160b_637858368000000000"),
		},
		{
			name: "PollDeleteProject", file: "2023-04-01_SuccessfulGetProjectDeletionStatus.json", status: "200",
			method: "GET", path: base + "/global/deletion-jobs/{jobId}", poll: true,
			call:  pollAs(langsync.JobDeleteProject),
			check: checkSucceeded,
		},
		{
			name: "BeginExport", file: "2023-04-01_SuccessfulExportProject.json", status: "202",
			method: "POST", path: base + "/{projectName}/:export", query: []string{"stringIndexType"},
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginExport(ctx, "LoanAgreements", nil)
			},
			check: checkJob(langsync.JobExport, "/projects/LoanAgreements/export/jobs/"),
		},
		{
			name: "PollExport", file: "2023-04-01_SuccessfulGetExportStatus.json", status: "200",
			method: "GET", path: base + "/{projectName}/export/jobs/{jobId}", poll: true,
			call: pollAs(langsync.JobExport),
			check: func(t *testing.T, got any) {
				st := got.(*JobState)
				checkSucceeded(t, st)
				if !strings.HasSuffix(st.ResultURL, "/export/jobs/c4946bfa-4fbf-493b-bfcf-2d232eb9de69_637858368000000000/result?api-version=2023-04-01") {
					t.Fatalf("resultUrl = %q", st.ResultURL)
				}
			},
		},
		{
			name: "PollExport2022", file: "2022-05-01_SuccessfulGetExportStatus.json", status: "200",
			method: "GET", path: base + "/{projectName}/export/jobs/{jobId}", poll: true,
			call: pollAs(langsync.JobExport),
			check: func(t *testing.T, got any) {
				if st := got.(*JobState); !strings.Contains(st.ResultURL, "api-version=2022-05-01") {
					t.Fatalf("resultUrl = %q", st.ResultURL)
				}
			},
		},
		{
			name: "BeginImport", file: "2023-04-01_SuccessfulImportProject.json", status: "202",
			method: "POST", path: base + "/{projectName}/:import",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				ex := loadExample(t, "2023-04-01_SuccessfulImportProject.json")
				return c.BeginImport(ctx, "LoanAgreements", bytes.NewReader(ex.Parameters["body"]))
			},
			check: checkJob(langsync.JobImport, "/projects/LoanAgreements/import/jobs/"),
		},
		{
			name: "PollImport", file: "2023-04-01_SuccessfulGetImportStatus.json", status: "200",
			method: "GET", path: base + "/{projectName}/import/jobs/{jobId}", poll: true,
			call: pollAs(langsync.JobImport), check: checkSucceeded,
		},
		{
			name: "BeginTrain", file: "2023-04-01_SuccessfulTrainProject.json", status: "202",
			method: "POST", path: base + "/{projectName}/:train",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginTrain(ctx, "LoanAgreements", TrainOptions{
					ModelLabel: "model1", TrainingConfigVersion: "latest",
					EvaluationOptions: &EvaluationOptions{Kind: EvaluationPercentage, TrainingSplitPercentage: 80, TestingSplitPercentage: 20},
				})
			},
			check: checkJob(langsync.JobTrain, "/projects/LoanAgreements/train/jobs/"),
		},
		{
			name: "PollTrainRunning", file: "2024-11-15-preview_SuccessfulGetTrainStatus.json", status: "200",
			method: "GET", path: base + "/{projectName}/train/jobs/{jobId}", poll: true,
			call: pollAs(langsync.JobTrain),
			check: func(t *testing.T, got any) {
				st := got.(*JobState)
				if st.Done() || st.Status != langsync.JobRunning || st.NextPoll <= 0 {
					t.Fatalf("state = %s, next poll %v; want running with a next poll", st.Status, st.NextPoll)
				}
				if st.Result == nil || st.Result.TrainingStatus.PercentComplete != 3 || st.Result.EvaluationStatus.Status != langsync.JobNotStarted {
					t.Fatalf("result = %+v", st.Result)
				}
				if st.Percent() != 2 { // (3*9 + 0)/10
					t.Fatalf("percent = %d, want 2", st.Percent())
				}
			},
		},
		{
			name: "ListTrainingJobs", file: "2023-04-01_SuccessfulListTrainingJobs.json", status: "200",
			method: "GET", path: base + "/{projectName}/train/jobs",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.ListTrainingJobs(ctx, "LoanAgreements")
			},
			check: func(t *testing.T, got any) {
				js := got.([]JobState)
				if len(js) != 3 || js[1].Result.ModelLabel != "model2" || js[0].Result.EvaluationStatus.EndDateTime.Nanosecond() != 837889200 {
					t.Fatalf("jobs = %+v", js)
				}
			},
		},
		{
			name: "BeginCancelTraining", file: "2023-04-01_SuccessfulCancelTrainingJob.json", status: "202",
			method: "POST", path: base + "/{projectName}/train/jobs/{jobId}/:cancel",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginCancelTraining(ctx, "LoanAgreements", "8ccf2ffe-e758-4d04-a44a-31512918c7e8_637858368000000000")
			},
			check: checkJob(langsync.JobCancelTrain, "/train/jobs/4d37982f-fded-4c2c-afe3-15953b5919b6_637858368000000000"),
		},
		{
			name: "ListModels", file: "2023-04-01_SuccessfulListModels.json", status: "200",
			method: "GET", path: base + "/{projectName}/models",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.ListModels(ctx, "LoanAgreements")
			},
			check: func(t *testing.T, got any) {
				ms := got.([]TrainedModel)
				if len(ms) != 2 || ms[1].LastTrainingDurationInSeconds != 192 || !ms[0].HasSnapshot || ms[0].ModelExpirationDate != "2022-10-28" {
					t.Fatalf("models = %+v", ms)
				}
			},
		},
		{
			name: "GetModel", file: "2023-04-01_SuccessfulGetModel.json", status: "200",
			method: "GET", path: base + "/{projectName}/models/{trainedModelLabel}",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.GetModel(ctx, "LoanAgreements", "model1")
			},
			check: func(t *testing.T, got any) {
				if m := got.(*TrainedModel); m.ModelID != "model1-20220418T034749-299f45b8114849538c1a750b21b05a94" || m.ModelTrainingConfigVersion != "2022-05-15-preview" {
					t.Fatalf("model = %+v", m)
				}
			},
		},
		{
			name: "BeginLoadSnapshot", file: "2023-04-01_SuccessfulLoadSnapshot.json", status: "202",
			method: "POST", path: base + "/{projectName}/models/{trainedModelLabel}/:load-snapshot",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginLoadSnapshot(ctx, "LoanAgreements", "model1")
			},
			// The example's URL wrongly says analyze-conversations: it is
			// kept verbatim, not rebuilt.
			check: checkJob(langsync.JobLoadSnapshot, "/language/authoring/analyze-conversations/projects/LoanAgreements/models/model1/load-snapshot/jobs/"),
		},
		{
			name: "GetEvaluationSummary", file: "2023-04-01_SuccessfulGetModelEvaluationSummary.json", status: "200",
			method: "GET", path: base + "/{projectName}/models/{trainedModelLabel}/evaluation/summary-result",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.GetEvaluationSummary(ctx, "LoanAgreements", "model2")
			},
			check: func(t *testing.T, got any) {
				s := got.(*EvaluationSummary)
				e := s.EntityRecognition
				if e == nil || e.Entities["Date"].TruePositiveCount != 4 || e.ConfusionMatrix["BorrowerAddress"]["$none"].RawValue != 0.55172414 {
					t.Fatalf("summary = %+v", s)
				}
				if s.EvaluationOptions.TrainingSplitPercentage != 80 {
					t.Fatalf("evaluation options = %+v", s.EvaluationOptions)
				}
			},
		},
		{
			name: "BeginDeploy", file: "2023-04-01_SuccessfulDeployProject.json", status: "202",
			method: "PUT", path: base + "/{projectName}/deployments/{deploymentName}",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginDeploy(ctx, "LoanAgreements", "production", "29886710a2ae49259d62cffca977db66")
			},
			check: checkJob(langsync.JobDeploy, "/deployments/production/jobs/"),
		},
		{
			name: "PollDeploy2022", file: "2022-05-01_SuccessfulGetDeploymentStatus.json", status: "200",
			method: "GET", path: base + "/{projectName}/deployments/{deploymentName}/jobs/{jobId}", poll: true,
			call: pollAs(langsync.JobDeploy), check: checkSucceeded,
		},
		{
			name: "ListDeployments", file: "2023-04-01_SuccessfulListDeployments.json", status: "200",
			method: "GET", path: base + "/{projectName}/deployments",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.ListDeployments(ctx, "LoanAgreements")
			},
			check: func(t *testing.T, got any) {
				ds := got.([]Deployment)
				if len(ds) != 2 || ds[1].DeploymentName != "staging" || ds[0].DeploymentExpirationDate != "2023-10-28" {
					t.Fatalf("deployments = %+v", ds)
				}
			},
		},
		{
			name: "BeginDeleteDeployment", file: "2023-04-01_SuccessfulDeleteDeployment.json", status: "202",
			method: "DELETE", path: base + "/{projectName}/deployments/{deploymentName}",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginDeleteDeployment(ctx, "LoanAgreements", "staging")
			},
			check: checkJob(langsync.JobDeleteDeployment, "/deployments/staging/jobs/"),
		},
		{
			name: "BeginSwap", file: "2024-11-15-preview_SuccessfulSwapDeployments.json", status: "202",
			method: "POST", path: base + "/{projectName}/deployments/:swap",
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.BeginSwap(ctx, "LoanAgreements", "production", "staging")
			},
			check: checkJob(langsync.JobSwap, "/deployments/swap/jobs/"),
		},
		{
			name: "PollSwap", file: "2023-04-01_SuccessfulGetSwapDeploymentsStatus.json", status: "200",
			method: "GET", path: base + "/{projectName}/deployments/swap/jobs/{jobId}", poll: true,
			call: pollAs(""), // kind inferred from the URL
			check: func(t *testing.T, got any) {
				st := got.(*JobState)
				checkSucceeded(t, st)
				if st.Job.Kind != langsync.JobSwap {
					t.Fatalf("kind = %q, want inferred swap", st.Job.Kind)
				}
			},
		},
		{
			name: "SupportedLanguages", file: "2023-04-01_SuccessfulGetSupportedLanguages.json", status: "200",
			method: "GET", path: base + "/global/languages",
			call: func(ctx context.Context, c *Client, _ string) (any, error) { return c.SupportedLanguages(ctx, "") },
			check: func(t *testing.T, got any) {
				ls := got.([]SupportedLanguage)
				if len(ls) != 93 || ls[1].LanguageCode != "en-us" {
					t.Fatalf("%d languages, second %+v", len(ls), ls[1])
				}
			},
		},
		{
			name: "TrainingConfigVersions", file: "2023-04-01_SuccessfulGetSupportedTrainingConfigVersions.json", status: "200",
			method: "GET", path: base + "/global/training-config-versions", query: []string{"projectKind"},
			call: func(ctx context.Context, c *Client, _ string) (any, error) {
				return c.ListTrainingConfigVersions(ctx, langsync.EntityRecognition)
			},
			check: func(t *testing.T, got any) {
				vs := got.([]TrainingConfigVersion)
				if len(vs) != 1 || vs[0].TrainingConfigVersion != "2022-05-01" || vs[0].ModelExpirationDate != "2022-10-28" {
					t.Fatalf("versions = %+v", vs)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runReplay(t, tc) })
	}
}

func runReplay(t *testing.T, tc replayCase) {
	ex := loadExample(t, tc.file)
	resp, ok := ex.Responses[tc.status]
	if !ok {
		t.Fatalf("%s has no %s response", tc.file, tc.status)
	}
	wantPath := tc.path
	for name := range ex.Parameters {
		wantPath = strings.ReplaceAll(wantPath, "{"+name+"}", ex.param(t, name))
	}
	rec := &recorder{}
	var srvURL string
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		for k, v := range resp.Headers {
			w.Header().Set(k, strings.ReplaceAll(v, "{Endpoint}", srvURL))
		}
		code, _ := strconv.Atoi(tc.status)
		if len(resp.Body) == 0 {
			w.WriteHeader(code)
			return
		}
		writeJSON(w, code, strings.ReplaceAll(string(resp.Body), "{Endpoint}", srvURL))
	})
	srvURL = srv.URL
	version := ex.param(t, "api-version")
	env := newTestClient(t, srv.URL, func(o *ClientOptions) { o.APIVersion = version })
	loc := ""
	if tc.poll {
		loc = srv.URL + wantPath + "?api-version=" + version
	}
	got, err := tc.call(context.Background(), env.client, loc)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	reqs := rec.all()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != tc.method || r.Path != wantPath {
		t.Fatalf("request %s %s, want %s %s", r.Method, r.Path, tc.method, wantPath)
	}
	q, _ := url.ParseQuery(r.RawQuery)
	want := url.Values{"api-version": {version}}
	for _, name := range tc.query {
		want.Set(name, ex.param(t, name))
	}
	if q.Encode() != want.Encode() {
		t.Fatalf("query %q, want %q", q.Encode(), want.Encode())
	}
	if r.Header.Get(KeyHeader) != testKey {
		t.Fatalf("key header missing")
	}
	if wantBody, ok := ex.Parameters["body"]; ok && !tc.getOnly {
		if !jsonEqual(t, r.Body, wantBody) {
			t.Fatalf("body\n%s\nwant\n%s", r.Body, wantBody)
		}
		wantCT := "application/json"
		if ct, ok := ex.Parameters["Content-Type"]; ok {
			wantCT = strings.Trim(string(ct), `"`)
		}
		if got := r.Header.Get("Content-Type"); got != wantCT {
			t.Fatalf("content type %q, want %q", got, wantCT)
		}
	} else if len(r.Body) != 0 || r.Header.Get("Content-Length") != "" && r.Header.Get("Content-Length") != "0" {
		t.Fatalf("unexpected body %s", r.Body)
	}
	tc.check(t, got)
}

func pollAs(kind langsync.JobKind) func(ctx context.Context, c *Client, loc string) (any, error) {
	return func(ctx context.Context, c *Client, loc string) (any, error) {
		return c.Poll(ctx, langsync.Job{Kind: kind, Location: loc})
	}
}

func checkSucceeded(t *testing.T, got any) {
	t.Helper()
	st := got.(*JobState)
	if !st.Done() || !st.Succeeded() || st.Err() != nil || st.NextPoll != 0 || st.JobID == "" || st.ExpirationDateTime.IsZero() {
		t.Fatalf("state = %+v, want succeeded", st)
	}
}

func checkJob(kind langsync.JobKind, locContains string) func(t *testing.T, got any) {
	return func(t *testing.T, got any) {
		t.Helper()
		j := got.(langsync.Job)
		if j.Kind != kind || !strings.Contains(j.Location, locContains) || j.Started.IsZero() {
			t.Fatalf("job = %+v, want kind %s and location containing %q", j, kind, locContains)
		}
		if !strings.HasPrefix(j.Location, "http://127.0.0.1:") {
			t.Fatalf("location %q not on the test server", j.Location)
		}
	}
}

func TestOpenExportResultStreamsTheExport(t *testing.T) {
	ex := loadExample(t, "2023-04-01_SuccessfulImportProject.json")
	exported := []byte(ex.Parameters["body"])
	rec := &recorder{}
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		writeJSON(w, 200, exported)
	})
	env := newTestClient(t, srv.URL, nil)
	resultURL := srv.URL + base + "/LoanAgreements/export/jobs/c4946bfa_1/result?api-version=2023-04-01"
	rc, err := env.client.OpenExportResult(context.Background(), resultURL)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, exported) {
		t.Fatalf("export body differs")
	}
	r := rec.all()[0]
	if r.Path != base+"/LoanAgreements/export/jobs/c4946bfa_1/result" || r.RawQuery != "api-version=2023-04-01" {
		t.Fatalf("request %s?%s", r.Path, r.RawQuery)
	}
}

func TestDeleteModelAndGetDeployment(t *testing.T) {
	ex := loadExample(t, "2023-04-01_SuccessfulListDeployments.json")
	var list page[Deployment]
	if err := json.Unmarshal(ex.Responses["200"].Body, &list); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		switch {
		case r.Method == "DELETE" && r.URL.Path == base+"/LoanAgreements/models/model1":
			w.WriteHeader(http.StatusNoContent)
		case r.Method == "GET" && r.URL.Path == base+"/LoanAgreements/deployments/production":
			writeJSON(w, 200, list.Value[0])
		default:
			writeJSON(w, 404, `{"error":{"code":"NotFound","message":"no such thing"}}`)
		}
	})
	c := newTestClient(t, srv.URL, nil).client
	ctx := context.Background()
	if err := c.DeleteModel(ctx, "LoanAgreements", "model1"); err != nil {
		t.Fatal(err)
	}
	d, err := c.GetDeployment(ctx, "LoanAgreements", "production")
	if err != nil || d.ModelID != "model1-20220418T034749-299f45b8114849538c1a750b21b05a94" {
		t.Fatalf("deployment %+v, %v", d, err)
	}
	_, err = c.GetDeployment(ctx, "LoanAgreements", "nope")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

// TestListFollowsNextLink replays the evaluation examples (text and
// conversations), whose nextLink is on api.example.com: as is, the client
// refuses it; rewritten to the test server, it follows it verbatim (its
// api-version may differ from the client's).
func TestListFollowsNextLink(t *testing.T) {
	for _, ex := range []struct {
		file, project, label, path, version string
		client                              func(*Client) *Client
		check                               func(d DocumentEvaluation) bool
	}{
		{"2023-04-01_SuccessfulGetModelEvaluation.json", "LoanAgreements", "model2", base + "/LoanAgreements/models/model2/evaluation/result/", "2023-04-15-preview",
			func(c *Client) *Client { return c },
			func(d DocumentEvaluation) bool { return d.EntityRecognition != nil && d.Location == "11.txt" }},
		{"conversations/2023-04-01_SuccessfulGetModelEvaluation.json", "EmailApp", "model1", convBase + "/EmailApp/models/model1/evaluation/result/", "2023-04-01",
			(*Client).Conversations,
			func(d DocumentEvaluation) bool {
				return d.Text == "send the email" && d.IntentsResult.PredictedIntent == "SendEmail" && d.EntitiesResult != nil && len(d.EntitiesResult.ExpectedEntities) == 0
			}},
	} {
		body := string(loadExample(t, ex.file).Responses["200"].Body)
		for _, tt := range []struct {
			name    string
			rewrite bool
		}{{"ForeignNextLinkRefused", false}, {"NextLinkFollowed", true}} {
			t.Run(ex.project+"/"+tt.name, func(t *testing.T) {
				rec := &recorder{}
				var srvURL string
				srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
					rec.add(r)
					b := body
					if rec.count() > 1 {
						b = strings.Replace(b, `"nextLink"`, `"ignored"`, 1)
					} else if tt.rewrite {
						b = strings.ReplaceAll(b, "https://api.example.com", srvURL)
					}
					writeJSON(w, 200, b)
				})
				srvURL = srv.URL
				c := ex.client(newTestClient(t, srv.URL, nil).client)
				got, err := c.ListEvaluationResults(context.Background(), ex.project, ex.label)
				reqs := rec.all()
				if !tt.rewrite {
					if !errors.Is(err, ErrForeignHost) || len(reqs) != 1 {
						t.Fatalf("err = %v after %d requests, want ErrForeignHost after 1", err, len(reqs))
					}
					noKey(t, "error", err.Error())
					if strings.Contains(err.Error(), "skip=100") {
						t.Fatalf("error shows the query: %v", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(reqs) != 2 || len(got) == 0 || !ex.check(got[0]) {
					t.Fatalf("%d requests, %d results, first %+v", len(reqs), len(got), got)
				}
				first, _ := url.ParseQuery(reqs[0].RawQuery)
				if first.Get("stringIndexType") != "Utf16CodeUnit" {
					t.Fatalf("first page query %q lacks stringIndexType", reqs[0].RawQuery)
				}
				second, _ := url.ParseQuery(reqs[1].RawQuery)
				if reqs[1].Path != ex.path || second.Get("api-version") != ex.version || second.Get("skip") != "100" {
					t.Fatalf("second page %s?%s, want the nextLink verbatim", reqs[1].Path, reqs[1].RawQuery)
				}
			})
		}
	}
}
