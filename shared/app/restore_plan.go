package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

// exportDocs is what a restore needs to know of an export's documents.
type exportDocs struct {
	Metadata struct {
		StorageInputContainerName string `json:"storageInputContainerName"`
	} `json:"metadata"`
	Assets struct {
		Documents []struct {
			Location string `json:"location"`
		} `json:"documents"`
	} `json:"assets"`
}

// plan builds the restore plan of an opened (verified) input.
func (a *App) plan(ctx context.Context, req RestoreRequest, ref langsync.BackupRef, ar *backup.Archive, runID string) (*RestorePlan, error) {
	m := ar.Manifest
	p := &RestorePlan{
		Backup: ref, Input: ar.Kind, Project: m.Project, ProjectKind: m.ProjectKind,
		Documents: m.Counts.Documents, DocumentsCarried: len(ar.Documents()), Classes: m.Counts.Classes, Entities: m.Counts.Entities,
		Target: req.To, TargetProject: m.Project,
	}
	if req.As != "" {
		p.TargetProject = req.As
	}
	var blockers []string
	var blockErr error
	block := func(err error, msg string, args ...any) {
		s := fmt.Sprintf(msg, args...)
		blockers = append(blockers, s)
		if blockErr == nil {
			blockErr = refuse(err, "%s", s)
		}
	}

	// The model: what the backup was exported for, with the training
	// config, evaluation options and deployments of the run that wrote it.
	model := langsync.ModelPlan{Label: m.TrainedModelLabel, Backup: ref.Key, Fingerprint: m.Fingerprint, StorageContainer: m.StorageContainer}
	p.ModelSource = "defaults (the backup names no trained model)"
	if model.Label != "" {
		p.ModelSource = "backup (model label); training config latest: the run that wrote the backup is gone"
		if runID != "" {
			if r, err := a.Pipeline.Run(ctx, runID); err == nil {
				if src := r.Model(model.Label); src != nil {
					model.TrainingConfigVersion, model.EvaluationOptions, model.Deployments = src.TrainingConfigVersion, src.EvaluationOptions, src.Deployments
					p.ModelSource = "backup and the run that wrote it (" + runID + ")"
				}
			}
		}
	} else {
		model.Label = DefaultRestoreModel
	}
	if model.TrainingConfigVersion == "" {
		model.TrainingConfigVersion = DefaultTrainingConfig
	}
	if len(req.Deployments) > 0 {
		model.Deployments = slices.Clone(req.Deployments)
	} else if len(model.Deployments) == 0 {
		model.Deployments = []string{DefaultRestoreDeployment}
	}
	p.Model, p.TrainingConfigVersion, p.ModelAction = model.Label, model.TrainingConfigVersion, "train"

	// The target, read only.
	c, err := a.Client(req.To)
	if err != nil {
		return nil, err
	}
	tgt := &Authoring{C: c}
	proj, err := tgt.GetProject(ctx, p.TargetProject)
	existing := map[string]bool{}
	switch {
	case errors.Is(err, pipeline.ErrNotFound):
		p.ProjectAction = "create"
	case err != nil:
		return nil, fmt.Errorf("app: reading project %s on %s: %w", p.TargetProject, req.To, err)
	default:
		p.ProjectAction = "replace"
		if !req.Replace {
			block(nil, "project %q exists on %s; restoring over it replaces its data (add --replace, or restore under another name with --as)", p.TargetProject, req.To)
		}
		if proj.Kind != "" && m.ProjectKind != "" && string(proj.Kind) != m.ProjectKind {
			block(nil, "project %q on %s is a %s project and the backup holds a %s project; restore under another name with --as", p.TargetProject, req.To, proj.Kind, m.ProjectKind)
		}
		deps, err := tgt.ListDeployments(ctx, p.TargetProject)
		if err != nil && !errors.Is(err, pipeline.ErrNotFound) {
			return nil, fmt.Errorf("app: listing deployments of %s on %s: %w", p.TargetProject, req.To, err)
		}
		for _, d := range deps {
			existing[d.Name] = true
		}
		models, err := tgt.ListModels(ctx, p.TargetProject)
		if err != nil && !errors.Is(err, pipeline.ErrNotFound) {
			return nil, fmt.Errorf("app: listing models of %s on %s: %w", p.TargetProject, req.To, err)
		}
		for _, tm := range models {
			if tm.Label == model.Label {
				p.ModelAction = "retrain (replaces the model of that label)"
			}
		}
		var others []string
		for name := range existing {
			if !slices.Contains(model.Deployments, name) {
				others = append(others, name)
			}
		}
		slices.Sort(others)
		for _, name := range others {
			p.Deployments = append(p.Deployments, DeploymentAction{Name: name, Action: "leave alone"})
		}
	}
	var deps []DeploymentAction
	for _, d := range model.Deployments {
		act := "create"
		if existing[d] {
			act = "replace"
		}
		deps = append(deps, DeploymentAction{Name: d, Action: act})
	}
	p.Deployments = append(deps, p.Deployments...)

	// Documents: every one the export labels must be in the target's
	// storage after the documents step, from the backup or already there.
	// A conversation project's utterances are in its export: it has no
	// storage container, so there is nothing to check or copy.
	var copyDocs bool
	if !langsync.ProjectKind(m.ProjectKind).Conversational() {
		copyDocs, err = a.checkDocuments(ctx, p, ar)
		if err != nil {
			return nil, err
		}
	}
	if len(p.MissingDocuments) > 0 {
		block(nil, "the target's storage container %q lacks %d document(s) the export labels and the backup does not carry them: %s (restore from a backup that carries documents, or copy them into that container first)",
			p.StorageContainer, len(p.MissingDocuments), nameList(p.MissingDocuments, 20))
	}

	pair := langsync.Pair{Source: ref.Source, Project: m.Project, Target: req.To}
	if p.TargetProject != m.Project {
		pair.TargetProject = p.TargetProject
	}
	var steps []langsync.Step
	if copyDocs {
		steps = append(steps, langsync.Step{Name: langsync.StepDocuments, Target: req.To, Model: model.Label})
	}
	steps = append(steps,
		langsync.Step{Name: langsync.StepImport, Target: req.To, Model: model.Label},
		langsync.Step{Name: langsync.StepTrain, Target: req.To, Model: model.Label})
	for _, d := range model.Deployments {
		steps = append(steps, langsync.Step{Name: langsync.StepDeploy, Target: req.To, Model: model.Label, Deployment: d})
	}
	steps = append(steps, langsync.Step{Name: langsync.StepVerify, Target: req.To})
	for _, s := range steps {
		p.Steps = append(p.Steps, s.ID())
	}
	reason := req.Reason
	if reason == "" {
		reason = "restore"
	}
	p.run = &langsync.Run{
		Kind: langsync.RunRestore, Trigger: langsync.TriggerRestore, Source: ref.Source, Project: m.Project,
		Pairs: []langsync.Pair{pair}, Models: []langsync.ModelPlan{model}, Steps: steps,
		Reason: reason + " of backup " + ref.Key,
	}
	p.Blockers, p.blocker = blockers, blockErr
	return p, nil
}

// checkDocuments fills the plan's document fields and reports whether the
// run needs a documents step.
func (a *App) checkDocuments(ctx context.Context, p *RestorePlan, ar *backup.Archive) (bool, error) {
	var ed exportDocs
	if err := json.Unmarshal(ar.Export(), &ed); err != nil {
		return false, refuse(err, "the backup's export is not a project JSON object")
	}
	container := ar.Manifest.StorageContainer
	if container == "" {
		container = ed.Metadata.StorageInputContainerName
	}
	p.StorageContainer = container
	dst, err := a.documents(ctx, p.Target)
	if err != nil {
		return false, err
	}
	if dst == nil {
		p.DocumentsNotChecked = true
		return false, nil
	}
	// One listing instead of a request per document (a project may label
	// hundreds of thousands).
	infos, err := dst.List(ctx, container, "")
	if err != nil && !errors.Is(err, blobstore.ErrNotFound) {
		return false, fmt.Errorf("app: listing container %s in %s storage: %w", container, p.Target, err)
	}
	have := make(map[string]blobstore.Info, len(infos))
	for _, i := range infos {
		have[i.Key] = i
	}
	carried := map[string]backup.File{}
	for _, f := range ar.Documents() {
		carried[f.Document()] = f
	}
	seen := map[string]bool{}
	for _, d := range ed.Assets.Documents {
		loc := d.Location
		if loc == "" || seen[loc] {
			continue
		}
		seen[loc] = true
		info, present := have[loc]
		f, ok := carried[loc]
		switch {
		case ok && (!present || info.Size != f.Size || (info.Metadata["sha256"] != "" && info.Metadata["sha256"] != f.SHA256)):
			p.DocumentsToWrite++
		case !ok && !present:
			p.MissingDocuments = append(p.MissingDocuments, loc)
		}
	}
	slices.Sort(p.MissingDocuments)
	return len(carried) > 0, nil
}

func nameList(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}
