package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/langsync/langsync/shared/langsync"
)

// Inspector is what inspect reads of the source: the project, which models
// its deployments serve and how those were trained.
type Inspector interface {
	ProjectReader
	DeploymentReader
	// EvaluationOptions returns the evaluation options a model was trained
	// with, or nil when the service does not say.
	EvaluationOptions(ctx context.Context, project, modelLabel string) (json.RawMessage, error)
	// ListTrainingJobs lists the project's (unexpired) training jobs: a
	// conversation model's training mode is only reported there.
	ListTrainingJobs(ctx context.Context, project string) ([]TrainingJob, error)
}

func (x *exec) inspector() (Inspector, error) { return x.client(x.run.Source) }

// inspect reads the source project and plans the run's remaining steps.
func (x *exec) inspect(ctx context.Context, s *langsync.Step) error {
	r := x.run
	src, err := x.inspector()
	if err != nil {
		return err
	}
	proj, err := src.GetProject(ctx, r.Project)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("source project %q not found on %q (check projects[].name and source in the config)", r.Project, r.Source)
	}
	if err != nil {
		return fmt.Errorf("reading source project: %w", err)
	}
	if want := r.Pairs[0].Kind; want != "" && proj.Kind != want {
		return fmt.Errorf("source project %s/%s is a %s project, but the config says kind: %s (fix projects[].kind, or remove it to replicate whatever kind the source is)",
			r.Source, r.Project, proj.Kind, want)
	}
	deps, err := src.ListDeployments(ctx, r.Project)
	if err != nil {
		return fmt.Errorf("listing source deployments: %w", err)
	}
	selected, err := selectDeployments(deps, r.Pairs[0].Deployments)
	if err != nil {
		return fmt.Errorf("source %s/%s: %w", r.Source, r.Project, err)
	}
	models, err := src.ListModels(ctx, r.Project)
	if err != nil {
		return fmt.Errorf("listing source models: %w", err)
	}
	byID := map[string]Model{}
	for _, m := range models {
		byID[m.ModelID] = m
	}
	plans := map[string]*langsync.ModelPlan{}
	state := langsync.SourceState{LastModified: proj.LastModified, LastTrained: proj.LastTrained, LastDeployed: proj.LastDeployed, Deployments: map[string]string{}}
	for _, d := range selected {
		m, ok := byID[d.ModelID]
		if !ok {
			return fmt.Errorf("source deployment %q serves model %q, which is not in the project's model list", d.Name, d.ModelID)
		}
		state.Deployments[d.Name] = d.ModelID
		pl := plans[m.Label]
		if pl == nil {
			// The container is the project's until the backup reads the
			// export's (the same, unless it moved since training): the
			// documents can be copied before the export is done.
			pl = &langsync.ModelPlan{Label: m.Label, ModelID: m.ModelID, TrainingConfigVersion: m.TrainingConfigVersion, StorageContainer: proj.StorageContainer}
			plans[m.Label] = pl
		}
		pl.Deployments = append(pl.Deployments, d.Name)
	}
	r.Models = r.Models[:0]
	for _, pl := range plans {
		eval, err := src.EvaluationOptions(ctx, r.Project, pl.Label)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("reading evaluation options of model %q: %w", pl.Label, err)
		}
		pl.EvaluationOptions = eval
		sort.Strings(pl.Deployments)
		r.Models = append(r.Models, *pl)
	}
	sort.Slice(r.Models, func(i, j int) bool { return r.Models[i].Label < r.Models[j].Label })
	if proj.Kind.Conversational() && len(r.Models) > 0 {
		if err := trainingModes(ctx, src, r.Project, r.Models, byLabel(models)); err != nil {
			return err
		}
	}
	if len(r.Models) == 0 {
		// Never deployed: replicate (and back up) the working copy only.
		r.Models = []langsync.ModelPlan{{StorageContainer: proj.StorageContainer}}
		s.Note = "source has no deployment: replicating the working copy without training"
	}
	r.SourceState = state
	r.ProjectKind = proj.Kind
	r.Steps = append(r.Steps, x.plan()...)
	return nil
}

// trainingModes sets each conversation model's TrainingMode from the
// source's training jobs: the latest job for its label that started by the
// time the model was trained, a succeeded one first. A model whose job has
// expired keeps no mode (the target then trains standard).
func trainingModes(ctx context.Context, src Inspector, project string, plans []langsync.ModelPlan, models map[string]Model) error {
	jobs, err := src.ListTrainingJobs(ctx, project)
	if err != nil {
		return fmt.Errorf("listing source training jobs (for the training modes): %w", err)
	}
	for i := range plans {
		pl := &plans[i]
		var best *TrainingJob
		for j := range jobs {
			tj := &jobs[j]
			if tj.ModelLabel != pl.Label || tj.TrainingMode == "" || tj.Created.After(models[pl.Label].LastTrained) {
				continue
			}
			if best == nil {
				best = tj
				continue
			}
			ok, bestOK := tj.Status == langsync.JobSucceeded, best.Status == langsync.JobSucceeded
			// Equal times: the later in the list (the service lists
			// oldest first).
			if ok && !bestOK || ok == bestOK && !tj.Created.Before(best.Created) {
				best = tj
			}
		}
		if best != nil {
			pl.TrainingMode = best.TrainingMode
		}
	}
	return nil
}

func byLabel(models []Model) map[string]Model {
	out := make(map[string]Model, len(models))
	for _, m := range models {
		out[m.Label] = m
	}
	return out
}

func selectDeployments(deps []Deployment, want []string) ([]Deployment, error) {
	if len(want) == 0 {
		return deps, nil
	}
	byName := map[string]Deployment{}
	for _, d := range deps {
		byName[d.Name] = d
	}
	var out []Deployment
	var missing []string
	for _, w := range want {
		d, ok := byName[w]
		if !ok {
			missing = append(missing, w)
			continue
		}
		out = append(out, d)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("configured deployments %v do not exist on the source (fix projects[].deployments or deploy them)", missing)
	}
	return out, nil
}

// plan lists the steps after inspect: export and backup per model, then per
// target import, documents (if its storage differs) and train per model,
// deploy per deployment, and verify.
func (x *exec) plan() []langsync.Step {
	r := x.run
	var steps []langsync.Step
	add := func(s langsync.Step) {
		s.Status = langsync.StepPending
		steps = append(steps, s)
	}
	for _, m := range r.Models {
		add(langsync.Step{Name: langsync.StepExport, Model: m.Label})
		add(langsync.Step{Name: langsync.StepBackup, Model: m.Label})
	}
	srcRes, _ := x.p.cfg.Resource(r.Source)
	for _, pair := range r.Pairs {
		tgtRes, _ := x.p.cfg.Resource(pair.Target)
		// Conversation projects carry their utterances in the export: no
		// documents to copy.
		copyDocs := !r.ProjectKind.Conversational() && !tgtRes.Storage.IsZero() && tgtRes.Storage != srcRes.Storage
		for _, m := range r.Models {
			docs := langsync.Step{Name: langsync.StepDocuments, Target: pair.Target, Model: m.Label}
			if copyDocs && x.p.opts.Sequential {
				add(docs)
			}
			add(langsync.Step{Name: langsync.StepImport, Target: pair.Target, Model: m.Label})
			if copyDocs && !x.p.opts.Sequential {
				// After the import, so that the copy (started in the
				// background once the backup is written) runs while the
				// import job does; the training that reads the documents
				// comes after it.
				add(docs)
			}
			if m.Label != "" {
				add(langsync.Step{Name: langsync.StepTrain, Target: pair.Target, Model: m.Label})
			}
		}
		for _, m := range r.Models {
			for _, d := range m.Deployments {
				add(langsync.Step{Name: langsync.StepDeploy, Target: pair.Target, Model: m.Label, Deployment: d})
			}
		}
		add(langsync.Step{Name: langsync.StepVerify, Target: pair.Target})
	}
	return steps
}
