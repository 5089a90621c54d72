package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Text projects (analyze-text) and conversation projects
// (analyze-conversations) live in two namespaces whose model, job and
// deployment operations have the same REST shape. One handler serves
// both: it is built for a family (conv) and reads the project through a
// projectView, which hides the namespace.

// projectView is what the shared handlers read of one project.
type projectView struct {
	// path is the project's path, {projects path}/{name}.
	path          string
	hasModel      func(label string) bool
	hasDeployment func(name string) bool
	deployments   int
	// evaluation returns a trained model's evaluation summary and its
	// per-document (text) or per-utterance (conversation) results.
	evaluation func(label string) (json.RawMessage, []any)
}

// view finds project name among text (conv false) or conversation
// projects.
func (s *Server) view(conv bool, name string) (*projectView, error) {
	if conv {
		p, err := s.convProject(name)
		if err != nil {
			return nil, err
		}
		return &projectView{path: convProjectsPath + "/" + name,
			hasModel:      func(l string) bool { return p.Models[l] != nil },
			hasDeployment: func(d string) bool { return p.Deployments[d] != nil },
			deployments:   len(p.Deployments),
			evaluation: func(l string) (json.RawMessage, []any) {
				return p.Models[l].Summary, anySlice(p.Models[l].Evaluations)
			},
		}, nil
	}
	p, err := s.project(name)
	if err != nil {
		return nil, err
	}
	return &projectView{path: projectsPath + "/" + name,
		hasModel:      func(l string) bool { return p.Models[l] != nil },
		hasDeployment: func(d string) bool { return p.Deployments[d] != nil },
		deployments:   len(p.Deployments),
		evaluation: func(l string) (json.RawMessage, []any) {
			return p.Models[l].Summary, anySlice(p.Models[l].DocEvaluations)
		},
	}, nil
}

// model checks that the project has the trained model label.
func (v *projectView) model(name, label string) error {
	if !v.hasModel(label) {
		return errNotFound("The trained model %q was not found in project %q.", label, name)
	}
	return nil
}

// viewModel is view and model in one: the project with a trained model.
func (s *Server) viewModel(conv bool, name, label string) (*projectView, error) {
	v, err := s.view(conv, name)
	if err != nil {
		return nil, err
	}
	return v, v.model(name, label)
}

// modelOrFail returns the trained model a deploy or load-snapshot job
// names, or fails the job when it was deleted meanwhile.
func modelOrFail[M any](j *job, at time.Time, models map[string]*M) *M {
	m := models[j.ModelLabel]
	if m == nil {
		j.finish(at, "failed", apiError{Code: "NotFound", Message: fmt.Sprintf("The trained model %q was not found.", j.ModelLabel), Target: j.ModelLabel})
	}
	return m
}

func anySlice[T any](xs []T) []any {
	out := make([]any, 0, len(xs))
	for _, x := range xs {
		out = append(out, x)
	}
	return out
}

// normalizeIn accepts either case of one of kinds and returns it as
// listed.
func normalizeIn(kinds []string, k string) (string, bool) {
	for _, want := range kinds {
		if strings.EqualFold(k, want) {
			return want, true
		}
	}
	return "", false
}

// trainRunning refuses a training job while another runs on the project.
func (s *Server) trainRunning(conv bool, name string) error {
	for _, j := range s.projectJobs(conv, name, KindTrain) {
		if !j.Done {
			return errConflict("A training job (%s) is already running on project %q; wait for it or cancel it.", j.ID, name)
		}
	}
	return nil
}

func listTrainingJobs(conv bool) func(s *Server, c *call, name string) error {
	return func(s *Server, c *call, name string) error {
		if _, err := s.view(conv, name); err != nil {
			return err
		}
		items := []any{}
		for _, j := range s.projectJobs(conv, name, KindTrain) {
			items = append(items, s.renderJob(c, j))
		}
		return s.page(c, items)
	}
}

func cancelTraining(conv bool) func(s *Server, c *call, name, id string) error {
	return func(s *Server, c *call, name, id string) error {
		v, err := s.view(conv, name)
		if err != nil {
			return err
		}
		t := s.st.Jobs[id]
		if t == nil || t.Kind != KindTrain || t.Project != name || t.Conv != conv {
			return errOperationNotFound(id)
		}
		if t.Done {
			return errConflict("The training job %s has already ended (%s).", id, t.Status)
		}
		if t.CancelJob != "" {
			return errConflict("The training job %s is already being cancelled.", id)
		}
		cid := newJobID(c.now)
		t.CancelJob = cid
		return s.startJob(c, &job{ID: cid, Conv: conv, Kind: KindCancelTrain, Project: name, Target: id, ModelLabel: t.ModelLabel,
			ConfigVersion: t.ConfigVersion, TrainingMode: t.TrainingMode, Path: v.path + "/train/jobs/" + cid})
	}
}

func loadSnapshot(conv bool) func(s *Server, c *call, name, label string) error {
	return func(s *Server, c *call, name, label string) error {
		v, err := s.viewModel(conv, name, label)
		if err != nil {
			return err
		}
		id := newJobID(c.now)
		return s.startJob(c, &job{ID: id, Conv: conv, Kind: KindLoadSnapshot, Project: name, ModelLabel: label,
			Path: v.path + "/models/" + label + "/load-snapshot/jobs/" + id})
	}
}

func getEvaluationSummary(conv bool) func(s *Server, c *call, name, label string) error {
	return func(s *Server, c *call, name, label string) error {
		v, err := s.viewModel(conv, name, label)
		if err != nil {
			return err
		}
		summary, _ := v.evaluation(label)
		if summary == nil {
			// A model saved by an emulator that did not evaluate.
			return errNotFound("The evaluation of model %q of project %q is not available: train the model again.", label, name)
		}
		c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
		c.w.WriteHeader(200)
		_, _ = c.w.Write(summary)
		return nil
	}
}

func getEvaluationResults(conv bool) func(s *Server, c *call, name, label string) error {
	return func(s *Server, c *call, name, label string) error {
		v, err := s.viewModel(conv, name, label)
		if err != nil {
			return err
		}
		if sit := c.r.URL.Query().Get("stringIndexType"); sit != "Utf16CodeUnit" {
			return errBadRequest("InvalidParameterValue", "The stringIndexType query parameter is required and must be Utf16CodeUnit (got %q).", sit)
		}
		_, items := v.evaluation(label)
		return s.page(c, items)
	}
}

func deploy(conv bool) func(s *Server, c *call, name, dep string) error {
	return func(s *Server, c *call, name, dep string) error {
		v, err := s.view(conv, name)
		if err != nil {
			return err
		}
		if err := validName("deployment", dep); err != nil {
			return err
		}
		var body struct {
			TrainedModelLabel string `json:"trainedModelLabel"`
		}
		if err := decodeBody(c.r, &body); err != nil {
			return err
		}
		if body.TrainedModelLabel == "" {
			return errBadRequest("InvalidParameterValue", "The field trainedModelLabel is required.")
		}
		if err := v.model(name, body.TrainedModelLabel); err != nil {
			return err
		}
		if !v.hasDeployment(dep) && v.deployments >= 10 {
			return errBadRequest("InvalidParameterValue", "The project already has the maximum of 10 deployments.")
		}
		id := newJobID(c.now)
		return s.startJob(c, &job{ID: id, Conv: conv, Kind: KindDeploy, Project: name, Deployment: dep, ModelLabel: body.TrainedModelLabel,
			Path: v.path + "/deployments/" + dep + "/jobs/" + id})
	}
}

func deleteDeployment(conv bool) func(s *Server, c *call, name, dep string) error {
	return func(s *Server, c *call, name, dep string) error {
		v, err := s.view(conv, name)
		if err != nil {
			return err
		}
		if !v.hasDeployment(dep) {
			return errNotFound("The deployment %q was not found in project %q.", dep, name)
		}
		id := newJobID(c.now)
		return s.startJob(c, &job{ID: id, Conv: conv, Kind: KindDeleteDeployment, Project: name, Deployment: dep,
			Path: v.path + "/deployments/" + dep + "/jobs/" + id})
	}
}

func swapDeployments(conv bool) func(s *Server, c *call, name string) error {
	return func(s *Server, c *call, name string) error {
		v, err := s.view(conv, name)
		if err != nil {
			return err
		}
		var body struct {
			First  string `json:"firstDeploymentName"`
			Second string `json:"secondDeploymentName"`
		}
		if err := decodeBody(c.r, &body); err != nil {
			return err
		}
		if body.First == "" || body.Second == "" {
			return errBadRequest("InvalidParameterValue", "Both firstDeploymentName and secondDeploymentName are required.")
		}
		if body.First == body.Second {
			return errBadRequest("InvalidParameterValue", "A deployment cannot be swapped with itself.")
		}
		for _, d := range []string{body.First, body.Second} {
			if !v.hasDeployment(d) {
				return errNotFound("The deployment %q was not found in project %q.", d, name)
			}
		}
		id := newJobID(c.now)
		return s.startJob(c, &job{ID: id, Conv: conv, Kind: KindSwap, Project: name, Swap: [2]string{body.First, body.Second},
			Path: v.path + "/deployments/swap/jobs/" + id})
	}
}

// swapIn applies swap job j: the two deployments exchange models and
// keep their names. It fails j (and reports false) when either is gone.
func swapIn[D any](j *job, at time.Time, m map[string]*D, rename func(*D, string)) bool {
	a, b := j.Swap[0], j.Swap[1]
	da, db := m[a], m[b]
	if da == nil || db == nil {
		j.finish(at, "failed", apiError{Code: "NotFound", Message: "Both deployments must exist to be swapped."})
		return false
	}
	na, nb := *db, *da
	rename(&na, a)
	rename(&nb, b)
	m[a], m[b] = &na, &nb
	return true
}
