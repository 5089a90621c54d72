package langsync

import "errors"

// The domain's error kinds, matched with errors.Is. Every adapter wraps
// them (blobstore, authoring, predict) and the pipeline's ports use them as
// they are, so one check covers a missing blob, a 404 from a service and a
// missing run alike, and no layer has to translate another's errors.
var (
	// ErrNotFound: the thing named does not exist (a blob or container, a
	// project, model, deployment or job, a run).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write clashed with the current state (an ETag or
	// create-only condition failed, a job is already running, a name is
	// taken).
	ErrConflict = errors.New("conflict")
	// ErrLocked: a lock is held by someone else.
	ErrLocked = errors.New("locked")
)
