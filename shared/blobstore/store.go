package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Store is a flat namespace of blobs in containers.
type Store interface {
	// Get streams a blob; the caller closes the reader.
	Get(ctx context.Context, container, key string) (io.ReadCloser, Info, error)
	// Stat returns a blob's properties and metadata.
	Stat(ctx context.Context, container, key string) (Info, error)
	// Put writes a blob from r in one streaming pass, subject to opts.
	Put(ctx context.Context, container, key string, r io.Reader, opts *PutOptions) (Info, error)
	// List returns the blobs whose key starts with prefix, sorted by key.
	List(ctx context.Context, container, prefix string) ([]Info, error)
	// Delete removes a blob; a non-empty ifMatch must equal its current ETag.
	Delete(ctx context.Context, container, key string, ifMatch string) error
	// Lock takes an exclusive, expiring lock on key (creating an empty blob
	// there if needed). It fails with ErrLocked while another holder's lock
	// has not expired; an expired lock is taken over.
	Lock(ctx context.Context, container, key string, ttl time.Duration) (Lock, error)
	// EnsureContainer creates the container if it does not exist.
	EnsureContainer(ctx context.Context, container string) error
}

// Lock is a held lock; renew it before it expires.
type Lock interface {
	// ID identifies this holding (a lease ID on Azure).
	ID() string
	// Expires is when the lock lapses unless renewed (by the holder's clock).
	Expires() time.Time
	// Renew extends the lock by its TTL; ErrLockLost if it was taken over.
	Renew(ctx context.Context) error
	// Release gives the lock up; ErrLockLost if it was taken over.
	Release(ctx context.Context) error
}

// Info describes a blob.
type Info struct {
	Key          string
	Size         int64
	ETag         string
	LastModified time.Time
	ContentType  string
	// Metadata keys are lowercase (Azure treats them case-insensitively).
	Metadata map[string]string
}

// PutOptions are the conditions and properties of a Put; nil means an
// unconditional write with no metadata.
type PutOptions struct {
	// IfNoneMatch: create only; ErrConflict if the blob exists.
	IfNoneMatch bool
	// IfMatch: replace only the blob with this ETag; ErrConflict otherwise
	// (including when it no longer exists).
	IfMatch string
	// Metadata keys must be C# identifiers (letters, digits, underscore; not
	// starting with a digit); they are stored lowercase. Values must be
	// printable ASCII.
	Metadata    map[string]string
	ContentType string
}

// CheckMetadata validates metadata keys and values as Azure would (see
// PutOptions.Metadata) and returns a lowercased copy. Every Store calls it
// in Put, so that no store accepts what another refuses.
func CheckMetadata(md map[string]string) (map[string]string, error) {
	if len(md) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(md))
	for k, v := range md {
		if !isIdentifier(k) {
			return nil, fmt.Errorf("metadata key %q is not a C# identifier (letters, digits, underscore, not starting with a digit)", k)
		}
		lk := strings.ToLower(k)
		if _, dup := out[lk]; dup {
			return nil, fmt.Errorf("metadata keys differ only in case (%q): Azure treats them as one", lk)
		}
		for _, r := range v {
			if r < 0x20 || r > 0x7e {
				return nil, fmt.Errorf("metadata %q value has a non-printable or non-ASCII character: encode it first", lk)
			}
		}
		out[lk] = v
	}
	return out, nil
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// CheckKey rejects keys that could escape a directory or that Azure treats
// differently from a directory. Every Store calls it.
func CheckKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case len(key) > 1024:
		return errors.New("key longer than 1024 characters")
	case strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || strings.Contains(key, "//"):
		return errors.New("key has an empty path segment or a leading or trailing slash")
	case strings.Contains(key, "\\") || strings.ContainsRune(key, 0):
		return errors.New("key contains a backslash or NUL")
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "." || seg == ".." {
			return errors.New("key contains a . or .. segment")
		}
	}
	return nil
}

// CheckContainer applies Azure's container naming rules: 3-63 characters,
// lowercase letters, digits and single hyphens, starting and ending with a
// letter or digit. Every Store calls it.
func CheckContainer(name string) error {
	if len(name) < 3 || len(name) > 63 {
		return fmt.Errorf("container name %q must be 3 to 63 characters", name)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' && i > 0 && i < len(name)-1 && name[i-1] != '-'
		if !ok {
			return fmt.Errorf("container name %q: use lowercase letters, digits and single hyphens, starting and ending with a letter or digit", name)
		}
	}
	return nil
}

// URLReader is what a Store may also offer: a URL that reads one blob for
// ttl with no other credential (a short shared access signature), handed to
// another store's URLCopier so that the bytes go from one storage service
// to the other and never through this process. The URL is a secret: it
// must never be logged, stored or put in an error.
type URLReader interface {
	ReadURL(ctx context.Context, container, key string, ttl time.Duration) (string, error)
}

// URLCopier is what a Store may also offer: writing a blob from a
// URLReader's URL, copied by the storage service itself. A non-empty
// sourceETag must be the source blob's current ETag (ErrConflict
// otherwise), so what is copied is exactly what was listed. opts.Metadata
// and opts.ContentType are set on the copy; opts' conditions apply to the
// destination.
type URLCopier interface {
	CopyFromURL(ctx context.Context, container, key, sourceURL, sourceETag string, opts *PutOptions) (Info, error)
}
