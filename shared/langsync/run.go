package langsync

import (
	"encoding/json"
	"time"
)

// RunSchemaVersion is the version of the run JSON document. A run with
// another version is refused (kept for inspection) rather than misread.
const RunSchemaVersion = 1

// RunKind says what a run does.
type RunKind string

const (
	// RunReplicate copies a source project to its targets:
	// inspect, export, backup, then per target documents, import, train,
	// deploy and verify.
	RunReplicate RunKind = "replicate"
	// RunRestore imports a backup into a resource: import, train, deploy.
	RunRestore RunKind = "restore"
)

// Trigger says what started a run.
type Trigger string

const (
	// TriggerTimer is the daily change check; a timer run whose export
	// fingerprint equals the one last replicated stops before training.
	TriggerTimer Trigger = "timer"
	// TriggerForced is a request on the export queue: replicate now,
	// skipping the change check.
	TriggerForced Trigger = "forced"
	// TriggerCLI is `langsync replicate`; like forced.
	TriggerCLI Trigger = "cli"
	// TriggerRestore is a restore request (queue, blob drop or CLI).
	TriggerRestore Trigger = "restore"
)

// RunPhase is the lifecycle phase of a run.
type RunPhase string

const (
	// RunRunning: steps remain; a wake-up is scheduled at Run.NextAt.
	RunRunning RunPhase = "running"
	// RunSucceeded: every step succeeded or was skipped.
	RunSucceeded RunPhase = "succeeded"
	// RunFailed: a step failed permanently; Run.Error says why. Nothing on
	// the target was deleted, so it keeps serving what it served before.
	RunFailed RunPhase = "failed"
)

// Terminal reports whether the run will not change any more.
func (p RunPhase) Terminal() bool { return p == RunSucceeded || p == RunFailed }

// StepName names a step of a run.
type StepName string

const (
	// StepInspect reads the source (GETs only): project, deployments,
	// models and training jobs, and plans the remaining steps.
	StepInspect StepName = "inspect"
	// StepExport exports the model behind the mirrored deployments
	// (trainedModelLabel) from the source: a job.
	StepExport StepName = "export"
	// StepBackup streams the export and its documents into a backup blob and
	// computes the fingerprint.
	StepBackup StepName = "backup"
	// StepDocuments writes the backup's documents into the target's linked
	// storage when it differs from the source's.
	StepDocuments StepName = "documents"
	// StepImport imports the export into the target project: a job.
	StepImport StepName = "import"
	// StepTrain trains the target with the source model's label, training
	// config version and evaluation options: a job.
	StepTrain StepName = "train"
	// StepDeploy deploys the trained label under the source deployment's
	// name: a job.
	StepDeploy StepName = "deploy"
	// StepVerify checks the target's project and deployments (and probes)
	// and records the pair state.
	StepVerify StepName = "verify"
)

// StepStatus is the state of one step.
type StepStatus string

const (
	// StepPending: not started yet (or waiting for NotBefore after a
	// transient error).
	StepPending StepStatus = "pending"
	// StepStarting: claimed by a handler that is about to send the POST.
	// Until the claim's deadline (Step.ClaimUntil) other handlers only
	// watch it; a step found in this state without a Job after the
	// deadline is recovered by looking for the job on the service before
	// any re-POST.
	StepStarting StepStatus = "starting"
	// StepRunning: the job was started; Job.Location is polled.
	StepRunning StepStatus = "running"
	// StepSucceeded: done.
	StepSucceeded StepStatus = "succeeded"
	// StepSkipped: not needed (e.g. fingerprint unchanged on a timer run).
	StepSkipped StepStatus = "skipped"
	// StepFailed: failed permanently. A source step fails the run with it;
	// a target step ends only its target (the target's remaining steps are
	// skipped) and the run fails once the other targets are done.
	StepFailed StepStatus = "failed"
)

// Done reports whether the step needs no more work.
func (s StepStatus) Done() bool { return s == StepSucceeded || s == StepSkipped }

// Step is one action of a run with its durable progress.
type Step struct {
	Name StepName `json:"name"`
	// Target is the target resource for per-target steps; empty for
	// source steps.
	Target string `json:"target,omitempty"`
	// Model is the model label the step works on (export, backup,
	// documents, import, train).
	Model string `json:"model,omitempty"`
	// Deployment is the deployment name of a deploy step.
	Deployment string     `json:"deployment,omitempty"`
	Status     StepStatus `json:"status"`
	// Job is the started job's operation-location; saved before anything
	// else once the POST returns.
	Job *Job `json:"job,omitempty"`
	// ResultURL is an export job's result location.
	ResultURL string `json:"resultUrl,omitempty"`
	// Percent is the job's last reported progress (training), 0..100.
	Percent  int `json:"percent,omitempty"`
	Attempts int `json:"attempts,omitempty"`
	// Before is what the service showed just before the POST (the
	// target's existing training job ids, the project's lastModified, the
	// deployment's lastDeployed): after a crash, a difference is the
	// evidence that the POST was accepted.
	Before string `json:"before,omitempty"`
	// Claimed is when a handler set StepStarting.
	Claimed time.Time `json:"claimed,omitempty"`
	// ClaimUntil is the claim's deadline: the claimant's POST is cut off
	// before it, so once it has passed no handler can still be sending
	// it and another may recover the step. Zero in steps claimed by an
	// older langsync (the pipeline's ClaimTimeout applies then).
	ClaimUntil time.Time `json:"claimUntil,omitempty"`
	Started    time.Time `json:"started,omitempty"`
	Finished   time.Time `json:"finished,omitempty"`
	// NotBefore delays the next attempt after a transient error.
	NotBefore time.Time `json:"notBefore,omitempty"`
	// Error is the last error (transient or the final one).
	Error string `json:"error,omitempty"`
	// Note says why a step was skipped or what it found.
	Note string `json:"note,omitempty"`
	// TrainingConfigVersion is the version a train step trains the target
	// with, chosen before its POST: the source model's, unless the target
	// does not offer it, it has expired (or, when renewing, expires soon)
	// or the config overrides it.
	TrainingConfigVersion string `json:"trainingConfigVersion,omitempty"`
	// VersionChange says why TrainingConfigVersion is not the source
	// model's; empty when it is.
	VersionChange string `json:"versionChange,omitempty"`
	// History lists the earlier jobs of this step that failed on the
	// service's side and were replaced by a new job, oldest first (the
	// current attempt is the step itself).
	History []Attempt `json:"history,omitempty"`
	// Unreachable is the step's current spell of connection failures;
	// nil once the resource answers again.
	Unreachable *Outage `json:"unreachable,omitempty"`
	// UnknownStatusSince is when the step's job was first seen, in the
	// current unbroken spell, reporting a status langsync does not know
	// (JobStatus.Known); zero otherwise. The pipeline fails the step once
	// the spell outlasts its UnknownStatusTimeout.
	UnknownStatusSince time.Time `json:"unknownStatusSince,omitzero"`
}

// Attempt is one job a step sent that ended without succeeding.
type Attempt struct {
	Job    Job       `json:"job"`
	Status JobStatus `json:"status"`
	// Codes are the job's error codes (errors[].code), e.g.
	// InternalServerError.
	Codes []string `json:"codes,omitempty"`
	Error string   `json:"error,omitempty"`
	// Ended is when the step saw the job end (Job.Started is its start).
	Ended time.Time `json:"ended,omitempty"`
}

// Outage is a spell of failures to reach a resource at all (connection
// refused, DNS, TLS): the pipeline retries it for a bounded time.
type Outage struct {
	Resource string `json:"resource"`
	// Since is when the first failing request of the spell was sent; Last
	// is when the latest one failed.
	Since time.Time `json:"since"`
	Last  time.Time `json:"last"`
	Tries int       `json:"tries"`
	Error string    `json:"error,omitempty"`
}

// ID names the step within its run, e.g. "train/secondary/model1".
func (s Step) ID() string {
	id := string(s.Name)
	if s.Target != "" {
		id += "/" + s.Target
	}
	if s.Deployment != "" {
		id += "/" + s.Deployment
	} else if s.Model != "" {
		id += "/" + s.Model
	}
	return id
}

// ModelPlan is what a run replicates of one source model.
type ModelPlan struct {
	Label string `json:"label"`
	// ModelID is the source model's id (to see later whether it changed).
	ModelID string `json:"modelId,omitempty"`
	// TrainingConfigVersion and EvaluationOptions come from the source's
	// training job that produced the model (or the model itself).
	TrainingConfigVersion string `json:"trainingConfigVersion,omitempty"`
	// EvaluationOptions is the raw evaluationOptions JSON object, if known.
	EvaluationOptions json.RawMessage `json:"evaluationOptions,omitempty"`
	// TrainingMode is a conversation model's training mode (standard or
	// advanced), from the source's training job that produced it; empty
	// for text projects and when the job has expired (standard then).
	TrainingMode string `json:"trainingMode,omitempty"`
	// Deployments of the source served by this model.
	Deployments []string `json:"deployments,omitempty"`
	// Backup is the backup blob key and Fingerprint the export's
	// fingerprint, set by the backup step.
	Backup      string `json:"backup,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// StorageContainer is the export's storageInputContainerName.
	StorageContainer string `json:"storageContainer,omitempty"`
}

// SourceState is what a run saw of the source project when it inspected it.
type SourceState struct {
	LastModified time.Time `json:"lastModified,omitempty"`
	LastTrained  time.Time `json:"lastTrained,omitempty"`
	LastDeployed time.Time `json:"lastDeployed,omitempty"`
	// Deployments maps each mirrored deployment to its model id.
	Deployments map[string]string `json:"deployments,omitempty"`
}

// Latest returns the newest of the three timestamps.
func (s SourceState) Latest() time.Time {
	t := s.LastModified
	for _, u := range []time.Time{s.LastTrained, s.LastDeployed} {
		if u.After(t) {
			t = u
		}
	}
	return t
}

// Run is one replication (or restore) run: a small JSON document in the
// state container (runs/<id>.json), updated under ETag conditions. It never
// holds a secret.
type Run struct {
	V       int     `json:"v"`
	ID      string  `json:"id"`
	Kind    RunKind `json:"kind"`
	Trigger Trigger `json:"trigger"`
	// Source and Project name the source project; Pairs are its targets in
	// this run (one active run per target project).
	Source  string `json:"source"`
	Project string `json:"project"`
	Pairs   []Pair `json:"pairs"`
	// ProjectKind is the source project's kind, read by inspect (empty in
	// runs saved before it was recorded): conversation projects have no
	// documents step.
	ProjectKind ProjectKind `json:"projectKind,omitempty"`
	// SkipIfUnchanged stops the run after the backup step when the export's
	// fingerprint equals the one last replicated to every target (set by
	// sync when only the source's timestamps moved).
	SkipIfUnchanged bool `json:"skipIfUnchanged,omitempty"`
	// MustRetrain lists targets excluded from SkipIfUnchanged (sync found
	// them missing a project or deployment, or expiring).
	MustRetrain []string `json:"mustRetrain,omitempty"`
	// Renew lists targets retrained because their model expires soon:
	// their train step avoids a version that expires within the expiry
	// warning window when the target offers a longer-lived one.
	Renew []string `json:"renew,omitempty"`
	Phase RunPhase `json:"phase"`
	// Seq increases with every save; a wake-up carrying a lower Seq is
	// stale and dropped.
	Seq     int       `json:"seq"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Ended   time.Time `json:"ended,omitempty"`
	// NextAt is when the next wake-up is due; the timer's sweep re-wakes
	// runs that are overdue (a lost message).
	NextAt time.Time `json:"nextAt,omitempty"`
	// Steps in execution order; planned by the inspect step.
	Steps []Step `json:"steps"`
	// Source facts found by inspect, and the models replicated.
	SourceState SourceState `json:"sourceState"`
	Models      []ModelPlan `json:"models,omitempty"`
	// Reason says why the run was started (from sync, or "forced").
	Reason string `json:"reason,omitempty"`
	// Error is why the run failed.
	Error string `json:"error,omitempty"`
	// Warnings are non-fatal findings (probe disagreements, a backup that
	// already existed, ...).
	Warnings []string `json:"warnings,omitempty"`
	// FollowedBy is the run started when this one ended, for requests that
	// joined it after it had read the source (see PairState.Owed).
	FollowedBy string `json:"followedBy,omitempty"`
}

// ReadSourceAfter reports whether the run read its source at or after t,
// so that it carries every change made before t: a replication created at
// or after t, or one whose inspect step started at or after t. A restore
// reads no source. A run whose inspect has not finished is not known to
// have, and reports false.
func (r *Run) ReadSourceAfter(t time.Time) bool {
	if r.Kind != RunReplicate {
		return false
	}
	if !r.Created.Before(t) {
		return true
	}
	for _, s := range r.Steps {
		if s.Name == StepInspect {
			return s.Status == StepSucceeded && !s.Started.Before(t)
		}
	}
	return false
}

// OwedRequest is a replication requested while the pair's active run had
// already read the source (or might have): that run cannot carry changes
// made before the request, so a new run starts for the pair when it ends,
// unless it turns out to have read the source after Requested.
type OwedRequest struct {
	// Requested is when the earliest such request was made.
	Requested time.Time `json:"requested"`
	// Behind is the run that was active.
	Behind  string  `json:"behind"`
	Trigger Trigger `json:"trigger"`
	Reason  string  `json:"reason,omitempty"`
	// SkipIfUnchanged as in Run: true only if every request asked for it.
	SkipIfUnchanged bool `json:"skipIfUnchanged,omitempty"`
}

// Current returns the index of the first step that is neither done nor
// failed, or -1. (A failed target step does not stop the other targets.)
func (r *Run) Current() int {
	for i, s := range r.Steps {
		if !s.Status.Done() && s.Status != StepFailed {
			return i
		}
	}
	return -1
}

// Model returns the plan of the named model label, or nil.
func (r *Run) Model(label string) *ModelPlan {
	for i := range r.Models {
		if r.Models[i].Label == label {
			return &r.Models[i]
		}
	}
	return nil
}

// PairState is the durable per-pair record (pairs/<source>/<project>/<target>.json).
type PairState struct {
	V    int  `json:"v"`
	Pair Pair `json:"pair"`
	// ActiveRun is the id of the run currently replicating this pair;
	// requests for the pair join it.
	ActiveRun string `json:"activeRun,omitempty"`
	// LastRun is the last run that finished (either way).
	LastRun      string    `json:"lastRun,omitempty"`
	LastRunPhase RunPhase  `json:"lastRunPhase,omitempty"`
	LastError    string    `json:"lastError,omitempty"`
	LastRunEnded time.Time `json:"lastRunEnded,omitempty"`
	// Fingerprint last replicated to the target, per model label and
	// combined; Replicated is when.
	Fingerprint  string            `json:"fingerprint,omitempty"`
	Fingerprints map[string]string `json:"fingerprints,omitempty"`
	Replicated   time.Time         `json:"replicated,omitempty"`
	// Backups holds the backup key of each replicated model.
	Backups map[string]string `json:"backups,omitempty"`
	// Source is what the source looked like when last replicated (or last
	// found unchanged by fingerprint).
	Source SourceState `json:"source"`
	// VersionChanges maps a model label to why the target was last trained
	// on another training config version than the source model's.
	VersionChanges map[string]string `json:"versionChanges,omitempty"`
	// Owed is a request that ActiveRun cannot carry; a run starts for it
	// when ActiveRun ends (and sync starts one should that be lost).
	Owed *OwedRequest `json:"owed,omitempty"`
}
