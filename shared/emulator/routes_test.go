package emulator_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

const runtimeJobs = "/language/analyze-text/jobs"

// routeResource is a resource with one of everything a route can name: a
// project P with models m1 and m2, deployments prod and stage, and a
// finished job of each kind. It returns the job ids by placeholder
// ({trainJob}, ...), to be replaced in paths.
func routeResource(t *testing.T) (*emulatortest.Resource, *strings.Replacer) {
	t.Helper()
	r := emulatortest.Start(t, nil)
	r.Load(emulatortest.SingleLabelProject("P", "docs", 4))
	r.Load(emulatortest.SingleLabelProject("Gone", "docs", 1))
	r.Load(emulatortest.SingleLabelProject("Old", "docs", 1))
	var ids []string
	job := func(placeholder, method, path string, body any) {
		t.Helper()
		loc := r.Start202(method, path, body)
		if st := r.Wait(loc, time.Second); st["status"] != "succeeded" {
			t.Fatalf("%s %s: %v", method, path, st)
		}
		if placeholder != "" {
			id := strings.SplitN(loc, "?", 2)[0]
			ids = append(ids, placeholder, id[strings.LastIndex(id, "/")+1:])
		}
	}
	train := func(label string) map[string]any {
		return map[string]any{"modelLabel": label, "trainingConfigVersion": "latest"}
	}
	job("{trainJob}", "POST", projects+"/P/:train"+v23, train("m1"))
	job("", "POST", projects+"/P/:train"+v23, train("m2"))
	job("{deployJob}", "PUT", projects+"/P/deployments/prod"+v23, map[string]any{"trainedModelLabel": "m1"})
	job("", "PUT", projects+"/P/deployments/stage"+v23, map[string]any{"trainedModelLabel": "m1"})
	job("{swapJob}", "POST", projects+"/P/deployments/:swap"+v23, map[string]any{"firstDeploymentName": "prod", "secondDeploymentName": "stage"})
	job("{exportJob}", "POST", projects+"/P/:export"+v23+"&stringIndexType=Utf16CodeUnit", nil)
	job("{importJob}", "POST", projects+"/Imported/:import"+v23, emulatortest.SingleLabelProject("Imported", "docs", 1).Export)
	job("{snapshotJob}", "POST", projects+"/P/models/m1/:load-snapshot"+v23, nil)
	// Not Imported: a deleted project's jobs go with it.
	job("{deletionJob}", "DELETE", projects+"/Old"+v23, nil)
	job("{analyzeJob}", "POST", runtimeJobs+v23, analyzeBody(2, "P", "prod"))
	return r, strings.NewReplacer(ids...)
}

// TestRoutes sends one request to every operation the emulator serves and
// checks that its handler answered: the status and error code (empty for a
// success) that operation gives, never the gateway's no-route 404. The
// table must name every registered pattern.
func TestRoutes(t *testing.T) {
	r, ids := routeResource(t)
	const (
		project    = projects + "/{projectName}"
		model      = project + "/models/{trainedModelLabel}"
		deployment = project + "/deployments/{deploymentName}"
		sit        = "&stringIndexType=Utf16CodeUnit"
	)
	create := map[string]any{"projectKind": "CustomSingleLabelClassification", "storageInputContainerName": "docs", "language": "en"}
	tests := []struct {
		pattern string // as registered
		path    string // the request sent (method from pattern), query included
		body    any
		status  int
		code    string // error.code; empty for a success
	}{
		// Projects.
		{"GET " + projects, projects + v23, nil, 200, ""},
		{"GET " + project, projects + "/P" + v23, nil, 200, ""},
		{"PATCH " + project, projects + "/New" + v23, create, 201, ""},
		{"DELETE " + project, projects + "/Gone" + v23, nil, 202, ""},
		{"GET " + projects + "/global/deletion-jobs/{jobId}", projects + "/global/deletion-jobs/{deletionJob}" + v23, nil, 200, ""},
		{"GET " + projects + "/global/languages", projects + "/global/languages" + v23, nil, 200, ""},
		{"GET " + projects + "/global/training-config-versions", projects + "/global/training-config-versions" + v23, nil, 200, ""},

		// Import and export.
		{"POST " + project + "/:export", projects + "/P/:export" + v23, nil, 400, "InvalidRequest"},
		{"GET " + project + "/export/jobs/{jobId}", projects + "/P/export/jobs/{exportJob}" + v23, nil, 200, ""},
		{"GET " + project + "/export/jobs/{jobId}/result", projects + "/P/export/jobs/{exportJob}/result" + v23, nil, 200, ""},
		{"POST " + project + "/:import", projects + "/P/:import" + v23, "", 400, "InvalidRequest"},
		{"GET " + project + "/import/jobs/{jobId}", projects + "/Imported/import/jobs/{importJob}" + v23, nil, 200, ""},

		// Training.
		{"POST " + project + "/:train", projects + "/P/:train" + v23, map[string]any{}, 400, "InvalidRequest"},
		{"GET " + project + "/train/jobs", projects + "/P/train/jobs" + v23, nil, 200, ""},
		{"GET " + project + "/train/jobs/{jobId}", projects + "/P/train/jobs/{trainJob}" + v23, nil, 200, ""},
		{"POST " + project + "/train/jobs/{jobId}/:cancel", projects + "/P/train/jobs/{trainJob}/:cancel" + v23, nil, 409, "Conflict"},

		// Trained models.
		{"GET " + project + "/models", projects + "/P/models" + v23, nil, 200, ""},
		{"GET " + model, projects + "/P/models/m1" + v23, nil, 200, ""},
		{"DELETE " + model, projects + "/P/models/m2" + v23, nil, 204, ""},
		{"GET " + model + "/evaluation/summary-result", projects + "/P/models/m1/evaluation/summary-result" + v23, nil, 200, ""},
		{"GET " + model + "/evaluation/result", projects + "/P/models/m1/evaluation/result" + v23 + sit, nil, 200, ""},
		{"POST " + model + "/:load-snapshot", projects + "/P/models/m1/:load-snapshot" + v23, nil, 202, ""},
		{"POST " + model, projects + "/P/models/m1:load-snapshot" + v23, nil, 202, ""},
		{"GET " + model + "/load-snapshot/jobs/{jobId}", projects + "/P/models/m1/load-snapshot/jobs/{snapshotJob}" + v23, nil, 200, ""},

		// Deployments.
		{"GET " + project + "/deployments", projects + "/P/deployments" + v23, nil, 200, ""},
		{"POST " + project + "/deployments/:swap", projects + "/P/deployments/:swap" + v23, map[string]any{}, 400, "InvalidRequest"},
		{"GET " + deployment, projects + "/P/deployments/prod" + v23, nil, 200, ""},
		{"PUT " + deployment, projects + "/P/deployments/next" + v23, map[string]any{"trainedModelLabel": "m1"}, 202, ""},
		{"DELETE " + deployment, projects + "/P/deployments/stage" + v23, nil, 202, ""},
		{"GET " + deployment + "/jobs/{jobId}", projects + "/P/deployments/prod/jobs/{deployJob}" + v23, nil, 200, ""},
		{"GET " + deployment + "/jobs/{jobId}", projects + "/P/deployments/swap/jobs/{swapJob}" + v23, nil, 200, ""},

		// Runtime.
		{"POST " + runtimeJobs, runtimeJobs + v23, analyzeBody(1, "P", "prod"), 202, ""},
		{"GET " + runtimeJobs + "/{jobId}", runtimeJobs + "/{analyzeJob}" + v23, nil, 200, ""},
		{"POST " + runtimeJobs + "/{jobId}", runtimeJobs + "/{analyzeJob}:cancel" + v23, nil, 202, ""},
	}
	var tested []string
	for _, tt := range tests {
		method, _, _ := strings.Cut(tt.pattern, " ")
		tested = append(tested, tt.pattern)
		t.Run(method+" "+tt.path, func(t *testing.T) {
			code, _, body := r.Do(method, ids.Replace(tt.path), tt.body)
			if code != tt.status {
				t.Fatalf("status %d, want %d; body %s", code, tt.status, body)
			}
			if tt.code != "" {
				if got, _, _ := errorOf(t, body); got != tt.code {
					t.Fatalf("error.code %q, want %q; body %s", got, tt.code, body)
				}
			}
		})
	}
	for _, p := range emulator.RoutePatterns() {
		if !slices.Contains(tested, p) {
			t.Errorf("registered route %q has no row in this table", p)
		}
	}
	for _, p := range tested {
		if !slices.Contains(emulator.RoutePatterns(), p) {
			t.Errorf("row %q names no registered route", p)
		}
	}
}

// TestNoRoute checks what a request no operation matches gets: the
// gateway's 404 with its JSON body, byte for byte, whatever the reason
// (unknown path, wrong method, an operation the api-version lacks, a path
// ServeMux would clean) — never ServeMux's plain-text 404 or 405 or a
// redirect. The api-version is checked before the route under the
// authoring and runtime prefixes, as the service does.
func TestNoRoute(t *testing.T) {
	r, _ := routeResource(t)
	const noRoute = `{"error":{"code":"404","message":"Resource not found"}}`
	tests := []struct {
		method, path string
		status       int
		body         string // exact; empty for HEAD
	}{
		{"GET", "/language/authoring/query-knowledgebases/projects" + v23, 404, noRoute},
		{"GET", "/language/authoring/analyze-text/projectsX" + v23, 404, noRoute},
		{"GET", projects + "/P/bogus" + v23, 404, noRoute},
		{"GET", projects + "/P/models/m1/bogus" + v23, 404, noRoute},
		{"GET", runtimeJobs + "/a/b" + v23, 404, noRoute},
		// Wrong methods.
		{"POST", projects + v23, 404, noRoute},
		{"PUT", projects + "/P" + v23, 404, noRoute},
		{"POST", projects + "/P/models/m1" + v23, 404, noRoute},
		{"PATCH", projects + "/P/deployments/prod" + v23, 404, noRoute},
		{"POST", projects + "/P/deployments/prod" + v23, 404, noRoute},
		{"GET", projects + "/P/:train" + v23, 404, noRoute},
		{"GET", runtimeJobs + v23, 404, noRoute},
		{"DELETE", runtimeJobs + "/{analyzeJob}" + v23, 404, noRoute},
		{"OPTIONS", projects + v23, 404, noRoute},
		{"get", projects + v23, 404, noRoute},
		{"HEAD", projects + "/P" + v23, 404, ""},
		// A POST on a model or job that is not the suffixed action.
		{"POST", projects + "/P/models/m1:train" + v23, 404, noRoute},
		{"POST", runtimeJobs + "/x:pause" + v23, 404, noRoute},
		// load-snapshot is not in 2022-05-01.
		{"POST", projects + "/P/models/m1/:load-snapshot?api-version=2022-05-01", 404, noRoute},
		{"POST", projects + "/P/models/m1:load-snapshot?api-version=2022-05-01", 404, noRoute},
		{"GET", projects + "/P/models/m1/load-snapshot/jobs/x?api-version=2022-05-01", 404, noRoute},
		// global is no project: only its three operations live under it.
		{"GET", projects + "/global" + v23, 404, noRoute},
		{"GET", projects + "/global/models" + v23, 404, noRoute},
		// Creating a project named global is a bad name, not a route miss
		// (TestReservedProjectName checks the 400 bodies).
		{"PATCH", projects + "/global" + v23, 400, ""},
		{"POST", projects + "/global/:import" + v23, 400, ""},
		// Paths ServeMux would clean or redirect.
		{"GET", projects + "//P" + v23, 404, noRoute},
		{"GET", projects + "/P//" + v23, 404, noRoute},
		{"GET", projects + "/P/../P" + v23, 404, noRoute},
		{"GET", projects + "/P/./models" + v23, 404, noRoute},
		{"GET", projects + "/P%2Fmodels" + v23, 200, ""}, // the decoded path is served
		// The api-version comes first under the prefixes, not elsewhere.
		{"GET", projects + "/P/bogus", 400, ""},
		{"PUT", runtimeJobs, 400, ""},
		{"GET", "/language/bogus", 404, noRoute},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			path := strings.ReplaceAll(tt.path, "{analyzeJob}", "x")
			req, err := http.NewRequest(tt.method, r.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Ocp-Apim-Subscription-Key", r.Key)
			r.Server.ResetRequests()
			code, hdr, body := send(t, req)
			if code != tt.status {
				t.Fatalf("status %d, want %d; body %s", code, tt.status, body)
			}
			if tt.body != "" && string(body) != tt.body {
				t.Fatalf("body %s, want %s", body, tt.body)
			}
			if ct := hdr.Get("Content-Type"); code != 200 && ct != "application/json; charset=utf-8" || hdr.Get("Allow") != "" || hdr.Get("Location") != "" {
				t.Fatalf("headers %v: want a JSON content type, no Allow, no Location", hdr)
			}
			if reqs := r.Server.Requests(); len(reqs) != 1 || reqs[0].Status != code || reqs[0].Method != tt.method {
				t.Fatalf("recorded %+v, want one %s answered %d", reqs, tt.method, code)
			}
		})
	}
	// ".." is a name like any other, not a step up (ServeMux would clean it).
	code, _, body := r.Do("GET", projects+"/.."+v23, nil)
	if c, _, _ := errorOf(t, body); code != 404 || c != "ProjectNotFound" || !strings.Contains(string(body), `"message":".."`) {
		t.Fatalf("GET projects/..: %d %s, want ProjectNotFound for \"..\"", code, body)
	}
}
