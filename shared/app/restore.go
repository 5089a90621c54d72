package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
