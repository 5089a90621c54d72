package langsync

import "time"

// JobKind names the kind of a long-running authoring operation.
type JobKind string

// Job kinds, one per long-running authoring operation langsync starts.
const (
	JobExport           JobKind = "export"
	JobImport           JobKind = "import"
	JobTrain            JobKind = "train"
	JobCancelTrain      JobKind = "cancelTrain"
	JobDeploy           JobKind = "deploy"
	JobDeleteDeployment JobKind = "deleteDeployment"
	JobSwap             JobKind = "swap"
	JobDeleteProject    JobKind = "deleteProject"
	JobLoadSnapshot     JobKind = "loadSnapshot"
)

// Job is the resumable handle of a long-running operation: the
// operation-location the service returned. It is saved in run state before
// anything else happens so that no step ever starts a second job.
type Job struct {
	Kind     JobKind   `json:"kind"`
	Location string    `json:"location"`
	Started  time.Time `json:"started"`
}

// JobStatus is the service's job status, spelled as on the wire.
type JobStatus string

// Job statuses (docs/reference/language-rest.md#job-status-values).
const (
	JobNotStarted         JobStatus = "notStarted"
	JobRunning            JobStatus = "running"
	JobSucceeded          JobStatus = "succeeded"
	JobFailed             JobStatus = "failed"
	JobCancelled          JobStatus = "cancelled"
	JobCancelling         JobStatus = "cancelling"
	JobPartiallyCompleted JobStatus = "partiallyCompleted"
)

// Terminal reports whether the job will not change any more.
// partiallyCompleted is terminal but not a success.
func (s JobStatus) Terminal() bool {
	switch s {
	case JobSucceeded, JobFailed, JobCancelled, JobPartiallyCompleted:
		return true
	}
	return false
}
