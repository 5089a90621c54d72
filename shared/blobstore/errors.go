package blobstore

import (
	"errors"
	"io/fs"
	"strings"
)

// Sentinels matched with errors.Is on errors returned by a Store.
var (
	// ErrNotFound: the blob or its container does not exist. Errors that
	// match it also match fs.ErrNotExist.
	ErrNotFound = notFound{}
	// ErrConflict: a write condition failed (IfNoneMatch on an existing
	// blob, IfMatch or a delete's ETag no longer current).
	ErrConflict = errors.New("blobstore: condition not met (the blob was created or changed by someone else)")
	// ErrLocked: the key is locked by another holder whose lock has not expired.
	ErrLocked = errors.New("blobstore: locked by another holder")
	// ErrLockLost: a Lock was renewed or released after another holder took it
	// over (or it was already released).
	ErrLockLost = errors.New("blobstore: lock lost")
)

type notFound struct{}

func (notFound) Error() string { return "blobstore: not found" }

// Is makes ErrNotFound match fs.ErrNotExist, as io/fs callers expect.
func (notFound) Is(target error) bool { return target == fs.ErrNotExist }

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

func opErr(op, container, key string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Container: container, Key: key, Err: err}
}
