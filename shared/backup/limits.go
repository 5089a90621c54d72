package backup

import (
	"errors"
	"fmt"
	"io"
)

// Limits bound what a reader accepts from an archive or JSON input. Zero
// fields take the defaults of DefaultLimits.
type Limits struct {
	// MaxArchiveBytes bounds the input as stored (compressed).
	MaxArchiveBytes int64
	// MaxUncompressedBytes bounds the tar stream after gunzip (gzip bombs).
	MaxUncompressedBytes int64
	// MaxFiles bounds the number of tar entries.
	MaxFiles int
	// MaxDocumentBytes bounds one archived document: a restore holds one
	// document in memory at a time while it checks its hash.
	MaxDocumentBytes int64
	// MaxJSONBytes bounds project.json, manifest.json and plain JSON input.
	MaxJSONBytes int64
	// MaxJSONDepth bounds JSON nesting.
	MaxJSONDepth int
}

// DefaultLimits are generous for real projects (the service caps a project
// at far fewer documents) and small enough to stop hostile input early.
func DefaultLimits() Limits {
	return Limits{
		MaxArchiveBytes:      16 << 30,
		MaxUncompressedBytes: 64 << 30,
		MaxFiles:             1_000_000,
		MaxDocumentBytes:     64 << 20,
		MaxJSONBytes:         256 << 20,
		MaxJSONDepth:         64,
	}
}

func (l *Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l == nil {
		return d
	}
	out := *l
	if out.MaxArchiveBytes <= 0 {
		out.MaxArchiveBytes = d.MaxArchiveBytes
	}
	if out.MaxUncompressedBytes <= 0 {
		out.MaxUncompressedBytes = d.MaxUncompressedBytes
	}
	if out.MaxFiles <= 0 {
		out.MaxFiles = d.MaxFiles
	}
	if out.MaxDocumentBytes <= 0 {
		out.MaxDocumentBytes = d.MaxDocumentBytes
	}
	if out.MaxJSONBytes <= 0 {
		out.MaxJSONBytes = d.MaxJSONBytes
	}
	if out.MaxJSONDepth <= 0 {
		out.MaxJSONDepth = d.MaxJSONDepth
	}
	return out
}

// Sentinels matched with errors.Is.
var (
	// ErrLimit: the input exceeds one of the Limits (see *LimitError).
	ErrLimit = errors.New("backup: input exceeds a limit")
	// ErrCorrupt: the archive is damaged, truncated or fails a hash check
	// (see *VerifyError).
	ErrCorrupt = errors.New("backup: archive is corrupt")
	// ErrUnsafePath: a tar entry is a link, a directory or has a path
	// outside the archive's layout.
	ErrUnsafePath = errors.New("backup: unsafe path in archive")
	// ErrFormat: the input is neither a langsync backup nor an exported
	// project JSON we can read.
	ErrFormat = errors.New("backup: unrecognised input")
)

// LimitError names the limit exceeded.
type LimitError struct {
	What  string // "archive size", "decompressed size", "file count", "document size", "JSON size", "JSON depth"
	Limit int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("backup: %s exceeds the limit of %d (raise Limits if the input is trusted)", e.What, e.Limit)
}

// Is makes a *LimitError match ErrLimit.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// VerifyError names the file that failed verification.
type VerifyError struct {
	File   string
	Reason string
	// Err is the cause when it is a typed error (a *langsync.NameError).
	Err error
}

// Unwrap returns the cause, if any.
func (e *VerifyError) Unwrap() error { return e.Err }

func (e *VerifyError) Error() string {
	return fmt.Sprintf("backup: verification failed for %s: %s", e.File, e.Reason)
}

// Is makes a *VerifyError match ErrCorrupt.
func (e *VerifyError) Is(target error) bool { return target == ErrCorrupt }

// PathError names an unsafe tar entry.
type PathError struct {
	Name   string
	Reason string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("backup: archive entry %q rejected: %s", e.Name, e.Reason)
}

// Is makes a *PathError match ErrUnsafePath.
func (e *PathError) Is(target error) bool { return target == ErrUnsafePath }

// limitReader fails with a *LimitError once more than max bytes are read.
type limitReader struct {
	r    io.Reader
	n    int64
	max  int64
	what string
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, &LimitError{What: l.what, Limit: l.max}
	}
	// Allow one byte past the limit so exceeding it is detectable.
	if rem := l.max - l.n + 1; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, &LimitError{What: l.what, Limit: l.max}
	}
	return n, err
}
