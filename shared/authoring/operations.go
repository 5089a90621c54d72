package authoring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/langsync/langsync/shared/langsync"
)

// Operations of docs/reference/language-rest.md#endpoint-catalogue. Names are
// validated before any request.

func projectPath(p string) string { return "projects/" + p }

// ListProjects lists every project of the resource (all pages).
func (c *Client) ListProjects(ctx context.Context) ([]ProjectMetadata, error) {
	return listAll[ProjectMetadata](ctx, c, c.url("projects", nil))
}

// GetProject returns a project's metadata; ErrNotFound when it is missing.
func (c *Client) GetProject(ctx context.Context, project string) (*ProjectMetadata, error) {
	if err := ValidateProjectName(project); err != nil {
		return nil, err
	}
	var m ProjectMetadata
	if _, err := c.getJSON(ctx, c.url(projectPath(project), nil), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// CreateOrUpdateProject creates the project or merges opts into it
// (merge-patch). opts.ProjectName defaults to project and must equal it.
func (c *Client) CreateOrUpdateProject(ctx context.Context, project string, opts ProjectOptions) (*ProjectMetadata, error) {
	if err := ValidateProjectName(project); err != nil {
		return nil, err
	}
	if opts.ProjectName == "" {
		opts.ProjectName = project
	}
	if opts.ProjectName != project {
		return nil, fmt.Errorf("authoring: project options name %q differ from the project %q: they must match", opts.ProjectName, project)
	}
	body, err := json.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("authoring: encoding project options: %w", err)
	}
	resp, err := c.send(ctx, request{
		method: http.MethodPatch, url: c.url(projectPath(project), nil),
		body: bytes.NewReader(body), contentType: "application/merge-patch+json",
	})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m ProjectMetadata
	if err := decodeBody(resp, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// BeginDeleteProject starts deleting a project (job status lives under
// projects/global/deletion-jobs).
func (c *Client) BeginDeleteProject(ctx context.Context, project string) (langsync.Job, error) {
	if err := ValidateProjectName(project); err != nil {
		return langsync.Job{}, err
	}
	return c.begin(ctx, langsync.JobDeleteProject, request{method: http.MethodDelete, url: c.url(projectPath(project), nil)})
}

// ExportOptions select what BeginExport exports.
type ExportOptions struct {
	// TrainedModelLabel exports the data a trained model was trained on
	// (2023-04-01+); empty exports the current working copy.
	TrainedModelLabel string
	// AssetKind is passed through when set (undocumented values).
	AssetKind string
}

// BeginExport starts exporting a project. When the job succeeds its
// ResultURL is opened with OpenExportResult.
func (c *Client) BeginExport(ctx context.Context, project string, opts *ExportOptions) (langsync.Job, error) {
	if err := ValidateProjectName(project); err != nil {
		return langsync.Job{}, err
	}
	q := url.Values{"stringIndexType": {"Utf16CodeUnit"}}
	if opts != nil {
		if opts.TrainedModelLabel != "" {
			if c.apiVersion == APIVersion20220501 {
				return langsync.Job{}, fmt.Errorf("%w: exporting a trained model's data needs api-version %s or later", ErrUnsupported, APIVersion20230401)
			}
			if err := ValidateModelLabel(opts.TrainedModelLabel); err != nil {
				return langsync.Job{}, err
			}
			q.Set("trainedModelLabel", opts.TrainedModelLabel)
		}
		if opts.AssetKind != "" {
			q.Set("assetKind", opts.AssetKind)
		}
	}
	// No body: the GA spec defines none (docs' assetsToExport is a
	// preview leftover).
	return c.begin(ctx, langsync.JobExport, request{method: http.MethodPost, url: c.url(projectPath(project)+"/:export", q)})
}

// OpenExportResult streams the exported project JSON from a succeeded
// export job's resultUrl. The URL is followed verbatim and must be on the
// endpoint's host (ErrForeignHost otherwise; nothing is sent). The caller
// closes the reader.
func (c *Client) OpenExportResult(ctx context.Context, resultURL string) (io.ReadCloser, error) {
	u, err := c.followURL(resultURL)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, url: u, stream: true, timeout: c.download})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// BeginImport starts importing an exported project into project (creating
// it or replacing its data). The bytes are sent exactly as given, so nothing
// the export carried is lost. The JSON is checked first: it must be an
// object whose metadata.projectName equals project (rename with
// RenameExport to restore under another name).
func (c *Client) BeginImport(ctx context.Context, project string, exported io.ReadSeeker) (langsync.Job, error) {
	if err := ValidateProjectName(project); err != nil {
		return langsync.Job{}, err
	}
	if exported == nil {
		return langsync.Job{}, errors.New("authoring: import: no exported project given")
	}
	if _, err := exported.Seek(0, io.SeekStart); err != nil {
		return langsync.Job{}, fmt.Errorf("authoring: import: rewinding the export: %w", err)
	}
	name, err := exportedProjectName(exported)
	if err != nil {
		return langsync.Job{}, fmt.Errorf("authoring: import: %w", err)
	}
	if name != project {
		return langsync.Job{}, fmt.Errorf("authoring: import: the export is of project %q, not %q: rename it first (authoring.RenameExport)", name, project)
	}
	if _, err := exported.Seek(0, io.SeekStart); err != nil {
		return langsync.Job{}, fmt.Errorf("authoring: import: rewinding the export: %w", err)
	}
	return c.begin(ctx, langsync.JobImport, request{
		method: http.MethodPost, url: c.url(projectPath(project)+"/:import", nil),
		body: exported, contentType: "application/json",
	})
}

// exportedProjectName reads metadata.projectName from an exported project
// token by token, so that a large export is not held in memory: only the
// metadata object is decoded, every other member is skipped.
func exportedProjectName(r io.Reader) (string, error) {
	dec := json.NewDecoder(r)
	notExport := func(err error) error {
		return fmt.Errorf("the file is not an exported project (a JSON object with metadata): %w", err)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if err == nil {
			err = errors.New("it does not start with '{'")
		}
		return "", notExport(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", notExport(err)
		}
		if tok == "metadata" {
			var meta struct {
				ProjectName *string `json:"projectName"`
			}
			if err := dec.Decode(&meta); err != nil {
				return "", notExport(err)
			}
			if meta.ProjectName == nil {
				return "", errors.New("the export's metadata has no projectName")
			}
			return *meta.ProjectName, nil
		}
		if err := skipValue(dec); err != nil {
			return "", notExport(err)
		}
	}
	return "", errors.New("the JSON has no metadata object: is it a Language Studio export?")
}

// skipValue consumes one JSON value without keeping it.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// RenameExport copies an exported project from r to w with
// metadata.projectName set to name; every other member is kept.
func RenameExport(r io.Reader, w io.Writer, name string) error {
	if err := ValidateProjectName(name); err != nil {
		return err
	}
	var ep ExportedProject
	if err := json.NewDecoder(r).Decode(&ep); err != nil {
		return fmt.Errorf("authoring: reading export: %w", err)
	}
	ep.Metadata.ProjectName = name
	b, err := json.Marshal(ep)
	if err != nil {
		return fmt.Errorf("authoring: writing export: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// BeginTrain starts training a model. TrainingConfigVersion defaults to
// "latest".
func (c *Client) BeginTrain(ctx context.Context, project string, opts TrainOptions) (langsync.Job, error) {
	if err := ValidateProjectName(project); err != nil {
		return langsync.Job{}, err
	}
	if err := ValidateModelLabel(opts.ModelLabel); err != nil {
		return langsync.Job{}, err
	}
	if opts.TrainingConfigVersion == "" {
		opts.TrainingConfigVersion = "latest"
	}
	if err := c.checkTrainingMode(&opts); err != nil {
		return langsync.Job{}, err
	}
	if e := opts.EvaluationOptions; e != nil && (e.Kind == "" || e.Kind == EvaluationPercentage) &&
		(e.TrainingSplitPercentage != 0 || e.TestingSplitPercentage != 0) &&
		e.TrainingSplitPercentage+e.TestingSplitPercentage != 100 {
		return langsync.Job{}, fmt.Errorf("authoring: train: split %d/%d does not sum to 100", e.TrainingSplitPercentage, e.TestingSplitPercentage)
	}
	body, err := json.Marshal(opts)
	if err != nil {
		return langsync.Job{}, fmt.Errorf("authoring: encoding train options: %w", err)
	}
	return c.begin(ctx, langsync.JobTrain, request{
		method: http.MethodPost, url: c.url(projectPath(project)+"/:train", nil),
		body: bytes.NewReader(body), contentType: "application/json",
	})
}

// ListTrainingJobs lists the project's non-expired training jobs.
func (c *Client) ListTrainingJobs(ctx context.Context, project string) ([]JobState, error) {
	if err := ValidateProjectName(project); err != nil {
		return nil, err
	}
	jobs, err := listAll[JobState](ctx, c, c.url(projectPath(project)+"/train/jobs", nil))
	for i := range jobs {
		jobs[i].Job.Kind = langsync.JobTrain
	}
	return jobs, err
}

// BeginCancelTraining cancels a training job. The returned job points at
// the training job's status.
func (c *Client) BeginCancelTraining(ctx context.Context, project, jobID string) (langsync.Job, error) {
	if err := ValidateProjectName(project); err != nil {
		return langsync.Job{}, err
	}
	if err := validateJobID(jobID); err != nil {
		return langsync.Job{}, err
	}
	return c.begin(ctx, langsync.JobCancelTrain, request{
		method: http.MethodPost, url: c.url(projectPath(project)+"/train/jobs/"+url.PathEscape(jobID)+"/:cancel", nil),
	})
}

// ListModels lists the project's trained models.
func (c *Client) ListModels(ctx context.Context, project string) ([]TrainedModel, error) {
	if err := ValidateProjectName(project); err != nil {
		return nil, err
	}
	return listAll[TrainedModel](ctx, c, c.url(projectPath(project)+"/models", nil))
}

// GetModel returns one trained model; ErrNotFound when it is missing.
func (c *Client) GetModel(ctx context.Context, project, label string) (*TrainedModel, error) {
	if err := validateProjectAndLabel(project, label); err != nil {
		return nil, err
	}
	var m TrainedModel
	if _, err := c.getJSON(ctx, c.url(projectPath(project)+"/models/"+label, nil), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// DeleteModel deletes a trained model (synchronous: 204).
func (c *Client) DeleteModel(ctx context.Context, project, label string) error {
	if err := validateProjectAndLabel(project, label); err != nil {
		return err
	}
	resp, err := c.send(ctx, request{method: http.MethodDelete, url: c.url(projectPath(project)+"/models/"+label, nil)})
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// BeginLoadSnapshot restores a model's training snapshot into the working
// copy (2023-04-01+).
func (c *Client) BeginLoadSnapshot(ctx context.Context, project, label string) (langsync.Job, error) {
	if err := validateProjectAndLabel(project, label); err != nil {
		return langsync.Job{}, err
	}
	if c.apiVersion == APIVersion20220501 {
		return langsync.Job{}, fmt.Errorf("%w: load-snapshot needs api-version %s or later", ErrUnsupported, APIVersion20230401)
	}
	return c.begin(ctx, langsync.JobLoadSnapshot, request{
		method: http.MethodPost, url: c.url(projectPath(project)+"/models/"+label+"/:load-snapshot", nil),
	})
}

// GetEvaluationSummary returns a trained model's evaluation summary.
func (c *Client) GetEvaluationSummary(ctx context.Context, project, label string) (*EvaluationSummary, error) {
	if err := validateProjectAndLabel(project, label); err != nil {
		return nil, err
	}
	var s EvaluationSummary
	if _, err := c.getJSON(ctx, c.url(projectPath(project)+"/models/"+label+"/evaluation/summary-result", nil), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ListEvaluationResults returns a trained model's per-document evaluation.
func (c *Client) ListEvaluationResults(ctx context.Context, project, label string) ([]DocumentEvaluation, error) {
	if err := validateProjectAndLabel(project, label); err != nil {
		return nil, err
	}
	q := url.Values{"stringIndexType": {"Utf16CodeUnit"}}
	return listAll[DocumentEvaluation](ctx, c, c.url(projectPath(project)+"/models/"+label+"/evaluation/result", q))
}

// BeginDeploy deploys (creates or replaces) a deployment with a trained
// model.
func (c *Client) BeginDeploy(ctx context.Context, project, deployment, modelLabel string) (langsync.Job, error) {
	if err := validateProjectAndDeployment(project, deployment); err != nil {
		return langsync.Job{}, err
	}
	if err := ValidateModelLabel(modelLabel); err != nil {
		return langsync.Job{}, err
	}
	body, _ := json.Marshal(deployBody{TrainedModelLabel: modelLabel})
	return c.begin(ctx, langsync.JobDeploy, request{
		method: http.MethodPut, url: c.url(projectPath(project)+"/deployments/"+deployment, nil),
		body: bytes.NewReader(body), contentType: "application/json",
	})
}

// ListDeployments lists the project's deployments.
func (c *Client) ListDeployments(ctx context.Context, project string) ([]Deployment, error) {
	if err := ValidateProjectName(project); err != nil {
		return nil, err
	}
	return listAll[Deployment](ctx, c, c.url(projectPath(project)+"/deployments", nil))
}

// GetDeployment returns one deployment; ErrNotFound when it is missing.
func (c *Client) GetDeployment(ctx context.Context, project, deployment string) (*Deployment, error) {
	if err := validateProjectAndDeployment(project, deployment); err != nil {
		return nil, err
	}
	var d Deployment
	if _, err := c.getJSON(ctx, c.url(projectPath(project)+"/deployments/"+deployment, nil), &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// BeginDeleteDeployment starts deleting a deployment.
func (c *Client) BeginDeleteDeployment(ctx context.Context, project, deployment string) (langsync.Job, error) {
	if err := validateProjectAndDeployment(project, deployment); err != nil {
		return langsync.Job{}, err
	}
	return c.begin(ctx, langsync.JobDeleteDeployment, request{
		method: http.MethodDelete, url: c.url(projectPath(project)+"/deployments/"+deployment, nil),
	})
}

// BeginSwap swaps two deployments' models.
func (c *Client) BeginSwap(ctx context.Context, project, first, second string) (langsync.Job, error) {
	if err := validateProjectAndDeployment(project, first); err != nil {
		return langsync.Job{}, err
	}
	if err := ValidateDeploymentName(second); err != nil {
		return langsync.Job{}, err
	}
	if first == second {
		return langsync.Job{}, fmt.Errorf("authoring: swap: both deployments are %q: name two different ones", first)
	}
	body, _ := json.Marshal(swapBody{FirstDeploymentName: first, SecondDeploymentName: second})
	return c.begin(ctx, langsync.JobSwap, request{
		method: http.MethodPost, url: c.url(projectPath(project)+"/deployments/:swap", nil),
		body: bytes.NewReader(body), contentType: "application/json",
	})
}

// SupportedLanguages lists the languages a project kind supports (kind is
// ignored by 2022-05-01, which has no such parameter; empty means the
// service default).
func (c *Client) SupportedLanguages(ctx context.Context, kind langsync.ProjectKind) ([]SupportedLanguage, error) {
	q := url.Values{}
	if kind != "" && c.apiVersion != APIVersion20220501 {
		q.Set("projectKind", string(kind))
	}
	return listAll[SupportedLanguage](ctx, c, c.url("projects/global/languages", q))
}

// ListTrainingConfigVersions lists the training config versions of a project
// kind (2022-05-01 requires the kind: it defaults to single-label there).
func (c *Client) ListTrainingConfigVersions(ctx context.Context, kind langsync.ProjectKind) ([]TrainingConfigVersion, error) {
	q := url.Values{}
	if kind == "" && c.apiVersion == APIVersion20220501 {
		kind = langsync.SingleLabelClassification
	}
	if kind != "" {
		q.Set("projectKind", string(kind))
	}
	return listAll[TrainingConfigVersion](ctx, c, c.url("projects/global/training-config-versions", q))
}

func validateProjectAndLabel(project, label string) error {
	if err := ValidateProjectName(project); err != nil {
		return err
	}
	return ValidateModelLabel(label)
}

func validateProjectAndDeployment(project, deployment string) error {
	if err := ValidateProjectName(project); err != nil {
		return err
	}
	return ValidateDeploymentName(deployment)
}
