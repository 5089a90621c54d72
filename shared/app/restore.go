package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

// Restore defaults for a backup that says nothing about a trained model (a
// plain Language Studio export, a legacy export, or a backup of a project's
// working copy): train under DefaultRestoreModel with the newest training
// configuration and deploy as DefaultRestoreDeployment.
const (
	DefaultRestoreModel      = "restored"
	DefaultTrainingConfig    = "latest"
	DefaultRestoreDeployment = "production"
)

// ErrRefused marks a restore that was refused before anything changed on
// the target: the backup failed verification, the target project exists
// and replace was not asked for, documents are missing, a name is invalid.
// A retry cannot cure it (it is permanent for the queue hosts).
var ErrRefused = errors.New("restore refused")

// RefusedError is a restore refused before any change, with the reason and
// what to do about it.
type RefusedError struct {
	Reason string
	Err    error
}

func (e *RefusedError) Error() string {
	if e.Err != nil {
		return "restore refused, nothing was changed: " + e.Reason + ": " + e.Err.Error()
	}
	return "restore refused, nothing was changed: " + e.Reason
}

// Unwrap returns ErrRefused and the cause.
func (e *RefusedError) Unwrap() []error { return []error{ErrRefused, e.Err} }

// Permanent tells the queue hosts not to retry.
func (e *RefusedError) Permanent() bool { return true }

func refuse(err error, format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...), Err: err}
}

// RestoreRequest says what to restore where.
type RestoreRequest struct {
	// Backup is a backup id: its blob name, or <time>-<sha12> with Project.
	Backup string
	// Project and At pick the newest verified backup of Project taken at or
	// before At (when Backup is empty).
	Project string
	At      time.Time
	// To is the configured resource to restore into (required).
	To string
	// As is the project name on the target; default the backup's.
	As string
	// Deployments to create or replace on the target; default the
	// deployments the backed-up model served (from the run that wrote the
	// backup), else DefaultRestoreDeployment.
	Deployments []string
	// Replace allows restoring over an existing project of that name.
	Replace bool
	// Reason is recorded in the run (who asked).
	Reason string
}

// DeploymentAction is what a restore does to one deployment on the target.
type DeploymentAction struct {
	Name string `json:"name"`
	// Action is "create", "replace" or "leave alone".
	Action string `json:"action"`
}

// RestorePlan is what a restore will do, found with reads only: the backup
// (verified), what it holds and what happens on the target.
type RestorePlan struct {
	Backup langsync.BackupRef `json:"backup"`
	// Input is langsync-backup, exported-project-json or
	// legacy-2021-11-01-preview.
	Input       backup.Kind `json:"input"`
	Project     string      `json:"project"`
	ProjectKind string      `json:"projectKind,omitempty"`
	// Documents the export labels, and how many of them the backup carries.
	Documents        int `json:"documents"`
	DocumentsCarried int `json:"documentsCarried"`
	Classes          int `json:"classes,omitempty"`
	Entities         int `json:"entities,omitempty"`

	Target        string `json:"target"`
	TargetProject string `json:"targetProject"`
	// ProjectAction is "create" or "replace".
	ProjectAction string `json:"projectAction"`
	Model         string `json:"model"`
	// ModelAction is "train" or "retrain (replaces the model of that label)".
	ModelAction           string `json:"modelAction"`
	TrainingConfigVersion string `json:"trainingConfigVersion"`
	// ModelSource says where the model label, training config and
	// deployments come from.
	ModelSource string             `json:"modelSource"`
	Deployments []DeploymentAction `json:"deployments"`
	// StorageContainer is the target storage container of the documents;
	// DocumentsToWrite how many of the carried ones are missing or
	// different there ("" and 0 when the target has no linked storage).
	StorageContainer string `json:"storageContainer,omitempty"`
	DocumentsToWrite int    `json:"documentsToWrite"`
	// DocumentsNotChecked: the target has no linked storage in the config,
	// so nothing could be checked or written; the service reads its own.
	DocumentsNotChecked bool `json:"documentsNotChecked,omitempty"`
	// MissingDocuments the export labels that neither the backup nor the
	// target storage has: the restore cannot train on them.
	MissingDocuments []string `json:"missingDocuments,omitempty"`
	// Steps the run will take.
	Steps []string `json:"steps"`
	// Blockers stop the restore before any change (each says what to do).
	Blockers []string `json:"blockers,omitempty"`

	run     *langsync.Run
	blocker error
}

// Run returns the planned run (not yet started).
func (p *RestorePlan) Run() *langsync.Run { return p.run }

func (a *App) catalog() *backup.Catalog {
	c := backup.NewCatalog(a.Store, a.Config.Containers.Backups)
	c.StateContainer = a.Config.Containers.State // quarantined backups are not restored
	c.Logger = a.Logger
	c.Limits = a.opts.Limits
	return c
}

// PlanRestore chooses and verifies the backup and reads the target (GETs
// only) to say what a restore would do. It changes nothing anywhere: this
// is --dry-run. A plan with Blockers would be refused by Restore.
func (a *App) PlanRestore(ctx context.Context, req RestoreRequest) (*RestorePlan, error) {
	if err := a.checkRequest(req); err != nil {
		return nil, err
	}
	ref, err := a.chooseBackup(ctx, req)
	if err != nil {
		return nil, err
	}
	ar, err := a.catalog().Open(ctx, ref.Key)
	if err != nil {
		return nil, refuse(err, "backup %s failed verification", ref.Key)
	}
	defer ar.Close()
	md := map[string]string{}
	if info, err := a.Store.Stat(ctx, a.Config.Containers.Backups, ref.Key); err == nil {
		md = info.Metadata
	}
	return a.plan(ctx, req, ref, ar, md[MetaRun])
}

// Restore plans the restore, refuses it when the plan has blockers, and
// starts the restore run (documents, import, train, deploy, verify). Drive
// the returned ticket's run (or send its wake-up) to carry it out.
func (a *App) Restore(ctx context.Context, req RestoreRequest) (*RestorePlan, pipeline.Ticket, error) {
	p, err := a.PlanRestore(ctx, req)
	if err != nil {
		return p, pipeline.Ticket{}, err
	}
	t, err := a.start(ctx, p)
	return p, t, err
}

func (a *App) start(ctx context.Context, p *RestorePlan) (pipeline.Ticket, error) {
	if p.blocker != nil {
		return pipeline.Ticket{}, p.blocker
	}
	t, err := a.Pipeline.StartPlanned(ctx, p.run)
	if errors.Is(err, pipeline.ErrBusy) {
		// A redelivered request (or a second click) finds its own run
		// going: join it instead of failing or restoring twice.
		if id := a.sameRestore(ctx, p); id != "" {
			a.Logger.Info("restore already running; joined", "run", id, "backup", p.Backup.Key)
			return pipeline.Ticket{Run: id, Joined: true, Pairs: p.run.Pairs, Next: pipeline.Next{Wakeup: langsync.Wakeup{Run: id}, Stale: true}}, nil
		}
	}
	if err != nil {
		return t, fmt.Errorf("app: starting the restore of %s: %w", p.Backup.Key, err)
	}
	a.Logger.Info("restore started", "run", t.Run, "backup", p.Backup.Key, "target", p.Target, "project", p.TargetProject)
	return t, nil
}

// sameRestore returns the pair's active run when it restores the same
// backup under the same name ("" otherwise).
func (a *App) sameRestore(ctx context.Context, p *RestorePlan) string {
	pair := p.run.Pairs[0]
	data, _, err := a.State.Get(ctx, langsync.PairKey(pair))
	if err != nil {
		return ""
	}
	var ps langsync.PairState
	if json.Unmarshal(data, &ps) != nil || ps.ActiveRun == "" {
		return ""
	}
	r, err := a.Pipeline.Run(ctx, ps.ActiveRun)
	if err != nil || r.Kind != langsync.RunRestore || r.Phase.Terminal() || len(r.Models) != 1 || len(r.Pairs) != 1 {
		return ""
	}
	if r.Models[0].Backup != p.run.Models[0].Backup || r.Pairs[0].TargetName() != pair.TargetName() {
		return ""
	}
	return r.ID
}

func (a *App) checkRequest(req RestoreRequest) error {
	if req.To == "" {
		return refuse(nil, "no target resource; name one of %v", a.Config.ResourceNames())
	}
	if _, ok := a.Config.Resource(req.To); !ok {
		return refuse(nil, "resource %q is not in the config; name one of %v", req.To, a.Config.ResourceNames())
	}
	if req.Backup == "" && (req.Project == "" || req.At.IsZero()) {
		return refuse(nil, "name a backup, or a project and a time (the newest verified backup at or before it is restored)")
	}
	if req.Project != "" {
		if err := langsync.ValidateProjectName(req.Project); err != nil {
			return refuse(err, "bad project name")
		}
	}
	if req.As != "" {
		if err := authoring.ValidateProjectName(req.As); err != nil {
			return refuse(err, "bad project name for the restored project")
		}
	}
	for _, d := range req.Deployments {
		if err := authoring.ValidateDeploymentName(d); err != nil {
			return refuse(err, "bad deployment name")
		}
	}
	return nil
}

func (a *App) chooseBackup(ctx context.Context, req RestoreRequest) (langsync.BackupRef, error) {
	cat := a.catalog()
	if req.Backup != "" {
		ref, err := cat.Find(ctx, req.Project, req.Backup)
		if errors.Is(err, blobstore.ErrNotFound) {
			return ref, refuse(err, "no backup %q (list them with langsync backups list)", req.Backup)
		}
		if err != nil && (strings.Contains(err.Error(), "is not a complete langsync backup") || strings.Contains(err.Error(), "needs a project")) {
			return ref, refuse(err, "cannot use backup %q", req.Backup)
		}
		return ref, err
	}
	ref, err := cat.FindAt(ctx, req.Project, req.At)
	if errors.Is(err, blobstore.ErrNotFound) {
		return ref, refuse(err, "no verified backup of %q at or before %s", req.Project, req.At.UTC().Format(time.RFC3339))
	}
	return ref, err
}

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
	copyDocs, err := a.checkDocuments(ctx, p, ar)
	if err != nil {
		return nil, err
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

// --- dropped backups ----------------------------------------------------------

// DroppedSource is the source name recorded for a dropped plain export
// whose project is not configured (so no source is known).
const DroppedSource = "dropped"

// RestoreDropped starts the restore of a backup dropped under restore/ in
// the state container (key is the full key, "restore/<name>"). Where it
// goes follows the path:
//
//	restore/<file>                     the configured targets of the backup's project (its replicas, replaced)
//	restore/<resource>/<file>          that resource, under the backup's project name
//	restore/<resource>/<as>/<file>     that resource, under the name <as>
//
// The drop is verified first, streamed from the store (backup.OpenSize:
// the same checks and limits as `backups verify`, names included), with
// nothing written anywhere. Only a configured replica is replaced without
// asking; into a named resource an existing project is refused. A valid
// drop is then kept in the backup catalog (so the run reads a verified,
// write-once backup), the run is started, and the drop is removed. A drop
// that is refused for any reason (not a valid backup, a bad name, a
// blocker) is moved to failed/ with a .reason.json beside it, once, and the
// returned error is a *RefusedError; only failures to read or write storage
// are returned for a retry. A drop that no longer exists was handled
// already: nothing happens. It implements the local host's Restorer.
func (a *App) RestoreDropped(ctx context.Context, key string) ([]pipeline.Next, error) {
	state := a.Config.Containers.State
	name, ok := strings.CutPrefix(key, langsync.RestorePrefix)
	if !ok || name == "" || strings.Contains(name, "..") {
		return nil, refuse(nil, "%q is not under %s", key, langsync.RestorePrefix)
	}
	log := a.Logger.With("blob", key)
	drop, err := a.openDrop(ctx, state, key)
	if errors.Is(err, blobstore.ErrNotFound) {
		log.Info("dropped backup already handled (gone)")
		return nil, nil
	}
	if err != nil {
		if errors.Is(err, ErrRefused) {
			return nil, a.moveAside(ctx, key, drop.info.ETag, err)
		}
		return nil, err
	}
	ar := drop.ar
	defer ar.Close()

	reqs, err := a.dropTargets(name, ar)
	if err != nil {
		return nil, a.moveAside(ctx, key, drop.info.ETag, err)
	}
	source := reqs[0].source
	// A drop of an archive the catalog already holds (downloaded, then
	// dropped) keeps the model facts of the run that wrote it.
	runID := ""
	if ar.Kind == backup.KindArchive {
		if ref, ok := a.catalogCopy(ctx, drop.sum, ar.Manifest.Project); ok {
			if info, err := a.Store.Stat(ctx, a.Config.Containers.Backups, ref.Key); err == nil {
				runID = info.Metadata[MetaRun]
			}
		}
	}
	var plans []*RestorePlan
	for _, rq := range reqs {
		p, err := a.plan(ctx, rq.req, langsync.BackupRef{Source: source, Project: ar.Manifest.Project}, ar, runID)
		if err != nil {
			if errors.Is(err, ErrRefused) || errors.Is(err, langsync.ErrInvalidName) {
				return nil, a.moveAside(ctx, key, drop.info.ETag, err)
			}
			return nil, err
		}
		if p.blocker != nil {
			return nil, a.moveAside(ctx, key, drop.info.ETag, p.blocker)
		}
		plans = append(plans, p)
	}
	ref, err := a.keepDrop(ctx, key, drop, source)
	if err != nil {
		return nil, err
	}
	var nexts []pipeline.Next
	for _, p := range plans {
		p.Backup = ref
		p.run.Models[0].Backup = ref.Key
		p.run.Reason = "restore of dropped " + key + " (kept as backup " + ref.Key + ")"
		t, err := a.start(ctx, p)
		if err != nil {
			if len(nexts) > 0 {
				// Some runs started: keep the drop for the retry, which
				// finds those pairs busy until their runs end.
				log.Error("restore of a dropped backup started only partly", "err", err)
			}
			return nexts, err
		}
		nexts = append(nexts, t.Next)
	}
	if err := a.Store.Delete(ctx, state, key, drop.info.ETag); err != nil && !errors.Is(err, blobstore.ErrNotFound) {
		log.Warn("could not remove the dropped backup after starting its restore", "err", err)
	}
	log.Info("restore of dropped backup started", "backup", ref.Key, "runs", len(nexts))
	return nexts, nil
}

// openedDrop is a dropped file that verified: what it holds, its blob
// properties, and the sha256 of its bytes.
type openedDrop struct {
	ar   *backup.Archive
	info blobstore.Info
	sum  string
}

// openDrop verifies a drop streamed from the store, hashing its bytes on
// the way; nothing is written. An input that fails verification or a limit
// is a *RefusedError (info is still set, for moving it aside); a failure to
// read the blob is returned as it is, for a retry.
func (a *App) openDrop(ctx context.Context, container, key string) (openedDrop, error) {
	rc, info, err := a.Store.Get(ctx, container, key)
	if err != nil {
		return openedDrop{}, err
	}
	defer rc.Close()
	d := openedDrop{info: info}
	src := &readErrs{r: rc}
	h := sha256.New()
	tee := io.TeeReader(src, h)
	ar, err := backup.OpenSize(tee, info.Size, a.opts.Limits)
	if err == nil {
		// Hash what follows the archive too (the drop is kept byte for
		// byte); Open already bounded the input by the archive limit.
		_, err = io.Copy(io.Discard, tee)
	}
	if src.err != nil {
		return d, fmt.Errorf("app: reading %s: %w", key, src.err)
	}
	if err != nil {
		return d, refuse(err, "%s is not a valid backup", key)
	}
	d.ar, d.sum = ar, hex.EncodeToString(h.Sum(nil))
	return d, nil
}

// readErrs remembers the first error of the underlying reader other than
// EOF, so that a storage fault is told apart from a bad archive.
type readErrs struct {
	r   io.Reader
	err error
}

func (r *readErrs) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

type dropRequest struct {
	req    RestoreRequest
	source string
}

func (a *App) dropTargets(name string, ar *backup.Archive) ([]dropRequest, error) {
	m := ar.Manifest
	source := m.Source.Name
	parts := strings.Split(name, "/")
	reason := "dropped under " + langsync.RestorePrefix + name
	if len(parts) == 1 {
		var out []dropRequest
		for _, pair := range a.Config.Pairs() {
			if pair.Project != m.Project {
				continue
			}
			if source == "" {
				// A plain export names no source: take the project's
				// (first) configured one.
				source = pair.Source
			}
			if pair.Source != source {
				continue
			}
			out = append(out, dropRequest{req: RestoreRequest{To: pair.Target, As: pair.TargetProject, Deployments: pair.Deployments, Replace: true, Reason: reason}})
		}
		if len(out) == 0 {
			return nil, refuse(nil, "project %q has no configured target to restore into; drop the file under %s<resource>/ (or %s<resource>/<project name>/) to choose one", m.Project, langsync.RestorePrefix, langsync.RestorePrefix)
		}
		for i := range out {
			out[i].source = source
		}
		return out, nil
	}
	if len(parts) > 3 {
		return nil, refuse(nil, "%s%s is nested too deep; use %s<file>, %s<resource>/<file> or %s<resource>/<project name>/<file>", langsync.RestorePrefix, name, langsync.RestorePrefix, langsync.RestorePrefix, langsync.RestorePrefix)
	}
	req := RestoreRequest{To: parts[0], Reason: reason}
	if len(parts) == 3 {
		req.As = parts[1]
	}
	if err := a.checkRequest(RestoreRequest{To: req.To, As: req.As, Backup: "dropped"}); err != nil {
		return nil, err
	}
	if source == "" {
		for _, pair := range a.Config.Pairs() {
			if pair.Project == m.Project {
				source = pair.Source
				break
			}
		}
	}
	if source == "" {
		source = DroppedSource
	}
	return []dropRequest{{req: req, source: source}}, nil
}

// keepDrop puts a dropped input into the backup catalog: an archive as it
// is (unless the catalog already has the same bytes), a plain or legacy
// export as a new archive without documents. The archive is copied from
// the drop a second time, through a reader that fails unless the bytes are
// the ones that verified (same size and sha256), so the catalog never
// commits a blob that did not verify.
func (a *App) keepDrop(ctx context.Context, key string, d openedDrop, source string) (langsync.BackupRef, error) {
	cat := a.catalog()
	ar := d.ar
	if ar.Kind != backup.KindArchive {
		// SkipIfUnchanged: a retried drop finds the backup it kept before.
		res, err := cat.Save(ctx, ar.ExportReader(), nil, backup.ManifestInfo{Source: source}, &backup.SaveOptions{SkipIfUnchanged: true})
		if err != nil {
			return langsync.BackupRef{}, fmt.Errorf("app: keeping the dropped export as a backup: %w", err)
		}
		return res.Ref, nil
	}
	m := ar.Manifest
	refs, err := cat.List(ctx, m.Project)
	if err != nil {
		return langsync.BackupRef{}, err
	}
	for _, r := range refs {
		if r.SHA256 == d.sum {
			return r, nil
		}
	}
	at := m.ExportedAt
	if at.IsZero() {
		at = time.Now()
	}
	ref := langsync.BackupRef{Key: langsync.BackupKey(source, m.Project, at, d.sum), Source: source, Project: m.Project, Model: m.TrainedModelLabel,
		Time: at.UTC().Truncate(time.Second), SHA256: d.sum, Size: d.info.Size, Fingerprint: m.Fingerprint, Documents: m.Counts.DocumentsStored}
	md := map[string]string{MetaSHA256: d.sum, MetaFingerprint: m.Fingerprint, MetaProject: url.QueryEscape(m.Project), MetaSource: url.QueryEscape(source),
		MetaDocuments: strconv.Itoa(m.Counts.DocumentsStored)}
	if m.TrainedModelLabel != "" {
		md[MetaModel] = url.QueryEscape(m.TrainedModelLabel)
	}
	rc, info, err := a.Store.Get(ctx, a.Config.Containers.State, key)
	if err != nil {
		return ref, fmt.Errorf("app: reading %s again to keep it: %w", key, err)
	}
	defer rc.Close()
	if info.ETag != d.info.ETag {
		return ref, fmt.Errorf("app: %s changed while it was verified; it will be read again", key)
	}
	same := &sameBytes{r: io.LimitReader(rc, d.info.Size+1), h: sha256.New(), size: d.info.Size, sum: d.sum}
	_, err = a.Store.Put(ctx, a.Config.Containers.Backups, ref.Key, same, &blobstore.PutOptions{IfNoneMatch: true, Metadata: md, ContentType: "application/gzip"})
	if err != nil && !errors.Is(err, blobstore.ErrConflict) {
		return ref, fmt.Errorf("app: keeping the dropped backup as %s: %w", ref.Key, err)
	}
	return ref, nil
}

// errChanged: the second read of a drop did not give the verified bytes.
var errChanged = errors.New("app: the dropped file changed after it was verified")

// sameBytes passes r through and, at its end, fails instead of returning
// io.EOF unless exactly size bytes with the sha256 sum went by; a Put that
// reads it then commits nothing.
type sameBytes struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	size int64
	sum  string
}

func (s *sameBytes) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	if s.n > s.size {
		return n, errChanged
	}
	if err == io.EOF && (s.n != s.size || hex.EncodeToString(s.h.Sum(nil)) != s.sum) {
		return n, errChanged
	}
	return n, err
}

// catalogCopy finds the catalog's backup with the given sha256.
func (a *App) catalogCopy(ctx context.Context, sum, project string) (langsync.BackupRef, bool) {
	refs, err := a.catalog().List(ctx, project)
	if err != nil {
		return langsync.BackupRef{}, false
	}
	for _, r := range refs {
		if r.SHA256 == sum {
			return r, true
		}
	}
	return langsync.BackupRef{}, false
}

// moveAside moves a drop that cannot be restored to failed/ with a
// .reason.json beside it, and returns cause.
func (a *App) moveAside(ctx context.Context, key, etag string, cause error) error {
	state := a.Config.Containers.State
	flat := strings.ReplaceAll(strings.TrimPrefix(key, langsync.RestorePrefix), "/", "~")
	dst := langsync.FailedPrefix + time.Now().UTC().Format(langsync.KeyTimeFormat) + "-restore-" + flat
	log := a.Logger.With("blob", key, "movedTo", dst)
	rc, _, err := a.Store.Get(ctx, state, key)
	if err != nil {
		log.Error("moving a refused drop aside: reading it", "err", err)
		return cause
	}
	_, err = a.Store.Put(ctx, state, dst, rc, nil)
	rc.Close()
	if err != nil {
		log.Error("moving a refused drop aside: copying it", "err", err)
		return cause
	}
	doc, _ := json.MarshalIndent(map[string]any{"blob": key, "movedTo": dst, "reason": cause.Error(), "time": time.Now().UTC()}, "", "  ")
	if _, err := a.Store.Put(ctx, state, dst+".reason.json", strings.NewReader(string(doc)), &blobstore.PutOptions{ContentType: "application/json"}); err != nil {
		log.Error("moving a refused drop aside: writing the reason", "err", err)
	}
	if err := a.Store.Delete(ctx, state, key, etag); err != nil && !errors.Is(err, blobstore.ErrNotFound) {
		log.Error("moving a refused drop aside: removing it", "err", err)
	}
	log.Warn("dropped file refused and moved aside", "reason", cause.Error())
	return fmt.Errorf("%w (moved to %s in container %s)", cause, dst, state)
}
