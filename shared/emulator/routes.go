package emulator

import (
	"net/http"
	"net/url"
	"strings"
)

// operation answers a request routed to it. r is the request the mux
// matched: it carries the method and the path values, nothing else (the
// client's request is c.r).
type operation func(s *Server, c *call, r *http.Request) error

const (
	projectRoute    = projectsPath + "/{projectName}"
	modelRoute      = projectRoute + "/models/{trainedModelLabel}"
	deploymentRoute = projectRoute + "/deployments/{deploymentName}"
)

// routes is every operation of the authoring and runtime API, one
// http.ServeMux pattern each.
var routes = []struct {
	pattern string
	op      operation
}{
	// Projects.
	{"GET " + projectsPath, plain((*Server).listProjects)},
	{"GET " + projectRoute, byProject((*Server).getProject)},
	{"PATCH " + projectRoute, byProject((*Server).patchProject)},
	{"DELETE " + projectRoute, byProject((*Server).deleteProject)},
	{"GET " + projectsPath + "/global/deletion-jobs/{jobId}", byJob((*Server).getJob)},
	{"GET " + projectsPath + "/global/languages", plain((*Server).listLanguages)},
	{"GET " + projectsPath + "/global/training-config-versions", plain((*Server).listConfigVersions)},

	// Import and export.
	{"POST " + projectRoute + "/:export", byProject((*Server).export)},
	{"GET " + projectRoute + "/export/jobs/{jobId}", byJob((*Server).getJob)},
	{"GET " + projectRoute + "/export/jobs/{jobId}/result", byProjectJob((*Server).exportResult)},
	{"POST " + projectRoute + "/:import", byProject((*Server).importProject)},
	{"GET " + projectRoute + "/import/jobs/{jobId}", byJob((*Server).getJob)},

	// Training.
	{"POST " + projectRoute + "/:train", byProject((*Server).trainProject)},
	{"GET " + projectRoute + "/train/jobs", byProject(listTrainingJobs(false))},
	{"GET " + projectRoute + "/train/jobs/{jobId}", byJob((*Server).getJob)},
	{"POST " + projectRoute + "/train/jobs/{jobId}/:cancel", byProjectJob(cancelTraining(false))},

	// Trained models.
	{"GET " + projectRoute + "/models", byProject((*Server).listModels)},
	{"GET " + modelRoute, byModel((*Server).getModel)},
	{"DELETE " + modelRoute, byModel((*Server).deleteModel)},
	{"GET " + modelRoute + "/evaluation/summary-result", byModel(getEvaluationSummary(false))},
	{"GET " + modelRoute + "/evaluation/result", byModel(getEvaluationResults(false))},
	{"POST " + modelRoute + "/:load-snapshot", since("2023-04-01", byModel(loadSnapshot(false)))},
	// The docs' spelling without the slash
	// (docs/reference/language-rest.md#gotcha-19-load-snapshot-path-differs-between-docs-and-spec).
	// A wildcard is a whole segment, so the label arrives with the suffix on.
	{"POST " + modelRoute, since("2023-04-01", withSuffix("trainedModelLabel", ":load-snapshot", byModel(loadSnapshot(false))))},
	{"GET " + modelRoute + "/load-snapshot/jobs/{jobId}", since("2023-04-01", byJob((*Server).getJob))},

	// Deployments.
	{"GET " + projectRoute + "/deployments", byProject((*Server).listDeployments)},
	{"POST " + projectRoute + "/deployments/:swap", byProject(swapDeployments(false))},
	{"GET " + deploymentRoute, byDeployment((*Server).getDeployment)},
	{"PUT " + deploymentRoute, byDeployment(deploy(false))},
	{"DELETE " + deploymentRoute, byDeployment(deleteDeployment(false))},
	// Deployment jobs and swap jobs (deployments/swap/jobs/{id}) share this
	// shape; the job's stored path tells them apart.
	{"GET " + deploymentRoute + "/jobs/{jobId}", byJob((*Server).getJob)},

	// Runtime.
	{"POST " + runtimePath, plain((*Server).analyze)},
	{"GET " + runtimePath + "/{jobId}", byJob((*Server).getRuntimeJob)},
	{"POST " + runtimePath + "/{jobId}", withSuffix("jobId", ":cancel", byJob((*Server).cancelRuntimeJob))},
}

func plain(fn func(*Server, *call) error) operation {
	return func(s *Server, c *call, _ *http.Request) error { return fn(s, c) }
}

func byProject(fn func(s *Server, c *call, project string) error) operation {
	return func(s *Server, c *call, r *http.Request) error { return fn(s, c, r.PathValue("projectName")) }
}

func byJob(fn func(s *Server, c *call, id string) error) operation {
	return func(s *Server, c *call, r *http.Request) error { return fn(s, c, r.PathValue("jobId")) }
}

func byProjectJob(fn func(s *Server, c *call, project, id string) error) operation {
	return func(s *Server, c *call, r *http.Request) error {
		return fn(s, c, r.PathValue("projectName"), r.PathValue("jobId"))
	}
}

func byModel(fn func(s *Server, c *call, project, label string) error) operation {
	return func(s *Server, c *call, r *http.Request) error {
		return fn(s, c, r.PathValue("projectName"), r.PathValue("trainedModelLabel"))
	}
}

func byDeployment(fn func(s *Server, c *call, project, deployment string) error) operation {
	return func(s *Server, c *call, r *http.Request) error {
		return fn(s, c, r.PathValue("projectName"), r.PathValue("deploymentName"))
	}
}

// since serves op from api-version v on; earlier versions lack the route.
func since(v string, op operation) operation {
	return func(s *Server, c *call, r *http.Request) error {
		if c.version < v {
			return errNoRoute()
		}
		return op(s, c, r)
	}
}

// withSuffix serves op when wildcard ends with suffix (an action such as
// {jobId}:cancel), passing the wildcard on without it.
func withSuffix(wildcard, suffix string, op operation) operation {
	return func(s *Server, c *call, r *http.Request) error {
		v, ok := strings.CutSuffix(r.PathValue(wildcard), suffix)
		if !ok {
			return errNoRoute()
		}
		r.SetPathValue(wildcard, v)
		return op(s, c, r)
	}
}

// createsProject names the patterns whose operation creates the project
// named in the path. There "global" is an invalid project name (a 400 from
// the operation's name check), not a route miss: the request is well
// formed, only the name is reserved
// (docs/reference/language-rest.md#gotcha-3-project-deletion-status-lives-under-global).
var createsProject = map[string]bool{
	"PATCH " + projectRoute:             true,
	"POST " + projectRoute + "/:import": true,
	"PATCH " + convRoute:                true,
	"POST " + convRoute + "/:import":    true,
}

// mux matches routes. Each handler also requires the exact method, as
// ServeMux sends HEAD to GET patterns, and turns away "global" as a
// project name (only the global operations live under it) except where
// the operation creates a project (createsProject), which refuses the
// name itself.
var mux = func() *http.ServeMux {
	m := http.NewServeMux()
	for _, rt := range append(routes[:len(routes):len(routes)], convRoutes...) {
		method, _, _ := strings.Cut(rt.pattern, " ")
		op, creates := rt.op, createsProject[rt.pattern]
		m.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			a := w.(*muxAnswer)
			if r.Method == method && (creates || r.PathValue("projectName") != "global") {
				a.err = op(a.s, a.c, r)
			}
		})
	}
	return m
}()

// muxAnswer carries a call through mux and brings the operation's error
// back. Operations write to c.w; the mux's own answers (its plain-text 404
// and 405, redirects) land here and are discarded, leaving errNoRoute,
// the gateway's JSON 404.
type muxAnswer struct {
	s   *Server
	c   *call
	err error
}

func (a *muxAnswer) Header() http.Header         { return http.Header{} }
func (a *muxAnswer) Write(b []byte) (int, error) { return len(b), nil }
func (a *muxAnswer) WriteHeader(int)             {}

// route answers c by its operation; segs is c.path split at "/" (no empty
// segment but the first). The mux matches a request built from the
// decoded segments, each escaped again, so that it sees the segments the
// client's decoded path has: an escaped "/" splits a segment, a trailing
// "/" is already gone, and "." and ".." are names, not steps ServeMux
// would clean away with a redirect.
func (s *Server) route(c *call, segs []string) error {
	esc := make([]string, len(segs))
	for i, seg := range segs {
		if seg == "." || seg == ".." {
			esc[i] = strings.Repeat("%2E", len(seg))
		} else {
			esc[i] = url.PathEscape(seg)
		}
	}
	req := &http.Request{Method: c.r.Method, URL: &url.URL{Path: c.path, RawPath: strings.Join(esc, "/")}}
	a := &muxAnswer{s: s, c: c, err: errNoRoute()}
	mux.ServeHTTP(a, req)
	return a.err
}
