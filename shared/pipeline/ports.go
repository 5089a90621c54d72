package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// Sentinel errors of the ports. The first three are the domain's own
// (shared/langsync), which the adapters' errors already match: nothing
// needs translating between an adapter and the pipeline.
var (
	// ErrNotFound: the project, deployment, blob or job does not exist.
	ErrNotFound = langsync.ErrNotFound
	// ErrConflict: an ETag or create-only condition failed (on the state
	// store; from authoring it is a 409).
	ErrConflict = langsync.ErrConflict
	// ErrLocked: the lock is held by someone else.
	ErrLocked = langsync.ErrLocked
	// ErrTransient marks an error worth retrying later (throttling, 5xx,
	// network). Adapters wrap such errors with it.
	ErrTransient = errors.New("transient")
	// ErrCorrupt: a run or pair state document cannot be read; the blob is
	// kept for inspection.
	ErrCorrupt = errors.New("corrupt state document")
	// ErrUnknownProject: a request names a project the config does not list.
	ErrUnknownProject = errors.New("project not configured")
	// ErrUnreachable: the resource could not be reached at all (connection
	// refused, DNS failure, TLS failure, connection closed before any
	// answer). It wraps ErrTransient; a step retries it for at most the
	// config's unreachableBudget.
	ErrUnreachable = fmt.Errorf("resource unreachable: %w", ErrTransient)
)

// ThrottledError is the service asking to wait (429 with Retry-After). The
// step waits RetryAfter and tries again, without counting an attempt and
// without spending the unreachable budget: throttling lasts as long as the
// service says.
type ThrottledError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *ThrottledError) Error() string { return e.Err.Error() }

// Unwrap returns ErrTransient and the cause.
func (e *ThrottledError) Unwrap() []error { return []error{ErrTransient, e.Err} }

// Project is what the pipeline reads of a project's metadata.
type Project struct {
	Name string
	// StorageContainer is the project's storageInputContainerName: where
	// its documents are in the resource's linked storage.
	StorageContainer string
	Kind             langsync.ProjectKind
	LastModified     time.Time
	LastTrained      time.Time
	LastDeployed     time.Time
}

// Deployment is one deployment of a project.
type Deployment struct {
	Name         string
	ModelID      string
	LastDeployed time.Time
	// Expires is the deployment's expiration date (zero if unknown).
	Expires time.Time
}

// Model is one trained model of a project.
type Model struct {
	Label                 string
	ModelID               string
	TrainingConfigVersion string
	LastTrained           time.Time
	// Expires is the model's expiration date (zero if unknown).
	Expires time.Time
}

// TrainingConfigVersion is one training config version a resource offers
// for a project kind, with the expiration date of the models trained on
// it.
type TrainingConfigVersion struct {
	Version string
	Expires time.Time
}

// TrainingJob is one entry of a project's training job list.
type TrainingJob struct {
	// Job is the job's status location (adapters build it from the id).
	Job        langsync.Job
	ModelLabel string
	Status     langsync.JobStatus
	Created    time.Time
	// TrainingMode is a conversation training job's mode (standard,
	// advanced); empty for text projects.
	TrainingMode string
}

// JobState is the result of one poll of a job.
type JobState struct {
	Status langsync.JobStatus
	// Percent is the job's progress 0..100; negative when the service
	// reports none (every job kind but training).
	Percent int
	// ResultURL is an export job's result location.
	ResultURL string
	// Errors are the job's error messages when it failed.
	Errors []string
	// Codes are the failed job's error codes (errors[].code, in order):
	// they decide whether a new job may succeed (see JobFailedError).
	Codes []string
	// NextPoll is the service's Retry-After (zero when not sent).
	NextPoll time.Duration
}

// TrainSpec is the body of a training request.
type TrainSpec struct {
	ModelLabel            string
	TrainingConfigVersion string
	// EvaluationOptions is the raw evaluationOptions object; nil means the
	// service default.
	EvaluationOptions json.RawMessage
	// TrainingMode is "standard" or "advanced" for conversation projects;
	// empty for text projects (and means standard for conversation ones).
	TrainingMode string
}

// Authoring is what the pipeline calls on one Language resource: what
// every step needs of it (each step's interface is in its step_*.go), and
// Sync's project and deployment reads. Errors wrap ErrNotFound for a
// missing project/deployment and ErrTransient for throttling, 5xx and
// network failures; anything else is permanent.
type Authoring interface {
	Inspector
	Exporter
	ExportReader
	Importer
	Trainer
	Deployer
	Verifier
	Poller
}

// WriteSlots is what an Authoring may also offer (checked with a type
// assertion): a place in its resource's queue for writes (10 a minute).
// A job step reserves its POST's slot before it prepares and claims the
// step, so the claim's short deadline is never spent waiting for the
// budget, a step waiting in line sends nothing, and steps of many runs
// take the slots oldest first. Reads sent with the returned context (the
// step's preparation and evidence) go ahead of other reads of the
// resource, so that a held write slot does not wait behind job polling.
type WriteSlots interface {
	// ReserveWrite waits for a write slot until ctx ends or until. key
	// names the waiter across calls, so one that gave up and comes back
	// keeps its place. The returned context (ctx with the slot) carries
	// the slot to the next write sent with it; release gives the slot back
	// if none was sent (safe to call always).
	ReserveWrite(ctx context.Context, key string, until time.Time) (wctx context.Context, release func(), err error)
}

// ProjectReader reads a project's metadata.
type ProjectReader interface {
	GetProject(ctx context.Context, project string) (*Project, error)
}

// DeploymentReader reads a project's deployments and the models behind
// them.
type DeploymentReader interface {
	ListDeployments(ctx context.Context, project string) ([]Deployment, error)
	ListModels(ctx context.Context, project string) ([]Model, error)
}

// Condition guards a Put: IfMatch an ETag, or IfNoneMatch (create only).
type Condition struct {
	IfMatch     string
	IfNoneMatch bool
}

// StateStore holds run and pair state documents (the state container).
type StateStore interface {
	// Get returns the document and its ETag; ErrNotFound when missing.
	Get(ctx context.Context, key string) ([]byte, string, error)
	// Put writes under the condition and returns the new ETag; ErrConflict
	// when the condition fails.
	Put(ctx context.Context, key string, data []byte, cond Condition) (string, error)
	// Lock takes a lock that expires after ttl unless released; ErrLocked
	// when held.
	Lock(ctx context.Context, key string, ttl time.Duration) (release func(context.Context) error, err error)
}

// BackupInput is what the backup step hands to Backups.Create.
type BackupInput struct {
	// Source is the source resource name (its storage holds the documents).
	Source  string
	Project string
	Model   string
	// Export streams the exported project JSON.
	Export      io.Reader
	SourceState langsync.SourceState
	RunID       string
	// Kind is the source project's kind (the api-version the export was
	// taken with depends on it).
	Kind langsync.ProjectKind
}

// BackupResult describes the backup written (or found) for an export.
type BackupResult struct {
	Key         string
	Fingerprint string
	// Created is false when the latest backup already had this fingerprint
	// and no new blob was written.
	Created   bool
	Documents int
	// Container is the export's storageInputContainerName.
	Container string
	// Warnings: the backup that would have been reused failed verification
	// and was quarantined; a fresh one was written. Recorded in the run.
	Warnings []string
}

// Backups writes and reads backup archives.
type Backups interface {
	// Create streams the export and its documents into a backup and returns
	// its fingerprint. It writes no new blob when the project's latest backup
	// has the same fingerprint.
	Create(ctx context.Context, in BackupInput) (BackupResult, error)
	// OpenExport returns the export JSON held in a backup.
	OpenExport(ctx context.Context, key string) (io.ReadCloser, error)
	// CopyDocuments writes the backup's documents into the target
	// resource's storage container when missing or different; it returns
	// how many it wrote.
	CopyDocuments(ctx context.Context, key, targetResource, container string) (int, error)
}

// DocumentContainers is what Backups may also offer (checked with a type
// assertion): creating the target's document container before anything is
// copied into it. The service refuses an import whose storage container does
// not exist, and the import is sent while the documents are still being
// copied (see overlap.go).
type DocumentContainers interface {
	EnsureDocumentContainer(ctx context.Context, targetResource, container string) error
}

// DocumentMirror is what Backups may also offer: copying the documents of
// the source's linked storage container into the target's before the
// backup exists, so that the copy runs while the export and import jobs do
// (overlap.go). The documents step then writes only what the backup holds
// differently (CopyDocuments).
type DocumentMirror interface {
	MirrorDocuments(ctx context.Context, sourceResource, targetResource, container string) (int, error)
}

// QuarantinedBackup is a backup set aside: it failed verification or an
// operator marked it. It is kept, but not reused or relied on.
type QuarantinedBackup struct {
	Key    string
	Model  string
	Reason string
	// Time is when it was set aside.
	Time time.Time
}

// BackupQuarantine is what Backups may also offer (checked with a type
// assertion): the set-aside backups. Sync re-runs a pair whose backup was
// set aside, and Status reports them.
type BackupQuarantine interface {
	// Quarantined lists the quarantined backups of a source's project.
	Quarantined(ctx context.Context, source, project string) ([]QuarantinedBackup, error)
	// Usable reports whether a backup of the model with the fingerprint
	// exists that is not quarantined.
	Usable(ctx context.Context, source, project, model, fingerprint string) (bool, error)
}

// Prober classifies probe texts with a deployment (verify, optional).
type Prober interface {
	// Classify returns one label string per text (classes or entities,
	// joined canonically).
	Classify(ctx context.Context, resource, project, deployment string, texts []string) ([]string, error)
}

// Clock is time as the pipeline sees it; tests use a fake.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }
func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
