package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

// Authoring adapts an *authoring.Client to pipeline.Authoring.
type Authoring struct {
	C *authoring.Client
}

var (
	_ pipeline.Authoring  = (*Authoring)(nil)
	_ pipeline.WriteSlots = (*Authoring)(nil)
)

// ReserveWrite holds a write slot of the resource's rate budget for the
// job-starting request the pipeline is about to claim.
func (a *Authoring) ReserveWrite(ctx context.Context, key string, until time.Time) (context.Context, func(), error) {
	return a.C.ReserveWrite(ctx, key, until)
}

// classify adds the pipeline's retry sentinels: unreachable for a
// resource that gave no answer at all (bounded by unreachableBudget);
// throttled with the service's Retry-After (waited as asked); and transient
// for other throttling, conflicts (a job still running), 5xx, network
// failures and a start request whose fate is unknown (the pipeline then
// looks for the job before sending it again). A 404 already matches
// langsync.ErrNotFound and is final: it is returned as it is.
func classify(err error) error {
	if err == nil || errors.Is(err, langsync.ErrNotFound) {
		return err
	}
	if errors.Is(err, authoring.ErrUnreachable) {
		return fmt.Errorf("%w: %w", pipeline.ErrUnreachable, err)
	}
	var re *authoring.ResponseError
	if errors.Is(err, authoring.ErrThrottled) && errors.As(err, &re) && re.RetryAfter > 0 {
		return &pipeline.ThrottledError{RetryAfter: re.RetryAfter, Err: err}
	}
	var ne net.Error
	switch {
	case errors.Is(err, authoring.ErrThrottled), errors.Is(err, authoring.ErrConflict), errors.Is(err, authoring.ErrMaybeStarted),
		errors.As(err, &re) && re.StatusCode >= 500,
		errors.As(err, &ne), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", pipeline.ErrTransient, err)
	}
	return err
}

// GetProject reads a project's metadata.
func (a *Authoring) GetProject(ctx context.Context, project string) (*pipeline.Project, error) {
	_, m, err := a.findProject(ctx, project)
	if err != nil {
		return nil, classify(err)
	}
	return &pipeline.Project{Name: m.ProjectName, StorageContainer: m.StorageInputContainerName, Kind: m.ProjectKind, LastModified: m.LastModifiedDateTime, LastTrained: m.LastTrainedDateTime, LastDeployed: m.LastDeployedDateTime}, nil
}

// ListDeployments lists a project's deployments.
func (a *Authoring) ListDeployments(ctx context.Context, project string) ([]pipeline.Deployment, error) {
	ds, err := a.api(ctx, project).ListDeployments(ctx, project)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]pipeline.Deployment, 0, len(ds))
	for _, d := range ds {
		out = append(out, pipeline.Deployment{Name: d.DeploymentName, ModelID: d.ModelID, LastDeployed: d.LastDeployedDateTime, Expires: parseDate(d.DeploymentExpirationDate)})
	}
	return out, nil
}

// ListModels lists a project's trained models.
func (a *Authoring) ListModels(ctx context.Context, project string) ([]pipeline.Model, error) {
	ms, err := a.api(ctx, project).ListModels(ctx, project)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]pipeline.Model, 0, len(ms))
	for _, m := range ms {
		out = append(out, pipeline.Model{Label: m.Label, ModelID: m.ModelID, TrainingConfigVersion: m.ModelTrainingConfigVersion, LastTrained: m.LastTrainedDateTime,
			Expires: parseDate(m.ModelExpirationDate)})
	}
	return out, nil
}

// ListTrainingConfigVersions lists the training config versions offered
// for a project kind.
func (a *Authoring) ListTrainingConfigVersions(ctx context.Context, kind langsync.ProjectKind) ([]pipeline.TrainingConfigVersion, error) {
	vs, err := a.C.ForKind(kind).ListTrainingConfigVersions(ctx, kind)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]pipeline.TrainingConfigVersion, 0, len(vs))
	for _, v := range vs {
		out = append(out, pipeline.TrainingConfigVersion{Version: v.TrainingConfigVersion, Expires: parseDate(v.ModelExpirationDate)})
	}
	return out, nil
}

// ListTrainingJobs lists a project's training jobs with their status
// locations (built from the job id: the list carries no URL).
func (a *Authoring) ListTrainingJobs(ctx context.Context, project string) ([]pipeline.TrainingJob, error) {
	c := a.api(ctx, project)
	js, err := c.ListTrainingJobs(ctx, project)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]pipeline.TrainingJob, 0, len(js))
	for _, j := range js {
		tj := pipeline.TrainingJob{Status: j.Status, Created: j.CreatedDateTime,
			Job: langsync.Job{Kind: langsync.JobTrain, Location: c.TrainingJobURL(project, j.JobID), Started: j.CreatedDateTime}}
		if j.Result != nil {
			tj.ModelLabel, tj.TrainingMode = j.Result.ModelLabel, j.Result.TrainingMode
		}
		out = append(out, tj)
	}
	return out, nil
}

// EvaluationOptions reads the evaluation options a model was trained with
// from its evaluation summary (the only place the API reports them).
func (a *Authoring) EvaluationOptions(ctx context.Context, project, label string) (json.RawMessage, error) {
	s, err := a.api(ctx, project).GetEvaluationSummary(ctx, project, label)
	if err != nil {
		return nil, classify(err)
	}
	if s.EvaluationOptions == nil {
		return nil, nil
	}
	return json.Marshal(s.EvaluationOptions)
}

// BeginExport starts an export of a model's data (or the working copy).
func (a *Authoring) BeginExport(ctx context.Context, project, label string) (langsync.Job, error) {
	var opts *authoring.ExportOptions
	if label != "" {
		opts = &authoring.ExportOptions{TrainedModelLabel: label}
	}
	j, err := a.api(ctx, project).BeginExport(ctx, project, opts)
	return j, classify(err)
}

// OpenExportResult streams an export result.
func (a *Authoring) OpenExportResult(ctx context.Context, resultURL string) (io.ReadCloser, error) {
	rc, err := a.C.OpenExportResult(ctx, resultURL)
	return rc, classify(err)
}

// BeginImport starts an import.
func (a *Authoring) BeginImport(ctx context.Context, project string, exported io.ReadSeeker) (langsync.Job, error) {
	c := a.C
	if kind, err := exportKind(exported); err == nil && kind.Conversational() {
		c = a.C.Conversations()
		a.remember(project, true)
	}
	j, err := c.BeginImport(ctx, project, exported)
	return j, classify(err)
}

// BeginTrain starts training with the source model's settings.
func (a *Authoring) BeginTrain(ctx context.Context, project string, spec pipeline.TrainSpec) (langsync.Job, error) {
	opts := authoring.TrainOptions{ModelLabel: spec.ModelLabel, TrainingConfigVersion: spec.TrainingConfigVersion, TrainingMode: spec.TrainingMode}
	if len(spec.EvaluationOptions) > 0 {
		var eo authoring.EvaluationOptions
		if err := json.Unmarshal(spec.EvaluationOptions, &eo); err != nil {
			return langsync.Job{}, fmt.Errorf("app: evaluation options in run state: %w", err)
		}
		opts.EvaluationOptions = &eo
	}
	j, err := a.api(ctx, project).BeginTrain(ctx, project, opts)
	return j, classify(err)
}

// BeginDeploy deploys a model label under a deployment name.
func (a *Authoring) BeginDeploy(ctx context.Context, project, deployment, label string) (langsync.Job, error) {
	j, err := a.api(ctx, project).BeginDeploy(ctx, project, deployment, label)
	return j, classify(err)
}

// Poll makes one status request.
func (a *Authoring) Poll(ctx context.Context, job langsync.Job) (*pipeline.JobState, error) {
	st, err := a.C.Poll(ctx, job)
	if err != nil {
		return nil, classify(err)
	}
	out := &pipeline.JobState{Status: st.Status, Percent: st.Percent(), ResultURL: st.ResultURL, NextPoll: st.NextPoll}
	for _, e := range st.Errors {
		msg := fmt.Sprintf("%s: %s", e.Code, e.Message)
		for ie := e.InnerError; ie != nil; ie = ie.InnerError {
			msg += fmt.Sprintf(" (inner %s: %s)", ie.Code, ie.Message)
		}
		out.Errors = append(out.Errors, msg)
		out.Codes = append(out.Codes, string(e.Code))
	}
	return out, nil
}

// parseDate reads a "YYYY-MM-DD" expiration date (zero when absent).
func parseDate(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
