package blobstore

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/langsync/langsync/shared/langsync"
)

// Sentinels matched with errors.Is on errors returned by a Store. The first
// three also match the domain's langsync.ErrNotFound, ErrConflict and
// ErrLocked, so callers beyond the store need not know it is a blob.
var (
	// ErrNotFound: the blob or its container does not exist. Errors that
	// match it also match fs.ErrNotExist.
	ErrNotFound error = &sentinel{"blobstore: not found", []error{langsync.ErrNotFound, fs.ErrNotExist}}
	// ErrConflict: a write condition failed (IfNoneMatch on an existing
	// blob, IfMatch or a delete's ETag no longer current).
	ErrConflict error = &sentinel{"blobstore: condition not met (the blob was created or changed by someone else)", []error{langsync.ErrConflict}}
	// ErrLocked: the key is locked by another holder whose lock has not expired.
	ErrLocked error = &sentinel{"blobstore: locked by another holder", []error{langsync.ErrLocked}}
	// ErrLockLost: a Lock was renewed or released after another holder took it
	// over (or it was already released).
	ErrLockLost = errors.New("blobstore: lock lost")
)

// sentinel keeps the store's own wording while matching the domain's
// errors (and, for ErrNotFound, fs.ErrNotExist, as io/fs callers expect).
type sentinel struct {
	msg   string
	kinds []error
}

func (e *sentinel) Error() string   { return e.msg }
func (e *sentinel) Unwrap() []error { return e.kinds }

// Error describes a failed operation on one blob; it unwraps to a sentinel
// or to the underlying cause.
type Error struct {
	Op        string // get, stat, put, list, delete, lock, renew, release, ensure-container
	Container string
	Key       string
	Err       error
}

func (e *Error) Error() string {
	name := e.Container
	if e.Key != "" {
		name += "/" + e.Key
	}
	return "blobstore: " + e.Op + " " + name + ": " + strings.TrimPrefix(e.Err.Error(), "blobstore: ")
}

// Unwrap returns the sentinel or underlying error.
func (e *Error) Unwrap() error { return e.Err }

// OpError returns err as an *Error of op on container/key (nil for nil):
// every Store reports failures this way.
func OpError(op, container, key string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Container: container, Key: key, Err: err}
}
