package blobstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Dir is a Store in a local directory: blob <container>/<key> is the file
// DIR/<container>/<key>, so a directory of plain files is also a store.
// Properties, metadata and ETags live in sidecars under DIR/.blobmeta/ (a
// name no container can have); a file without a sidecar gets an ETag derived
// from its size and modification time. Writes go to a temporary file that is
// renamed into place, and every check-then-write runs under a per-container
// file lock (flock), so conditional writes and locks hold across processes.
type Dir struct {
	root string
	opts *DirOptions
}

var _ Store = (*Dir)(nil)

const metaDir = ".blobmeta"

// DirOptions configure NewDir; nil means defaults.
type DirOptions struct {
	// Now is the clock used for lock expiry; default time.Now.
	Now func() time.Time
	// Logger records lock takeovers; default discard.
	Logger *slog.Logger
}

func (o *DirOptions) logger() *slog.Logger {
	if o != nil && o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (o *DirOptions) now() time.Time {
	if o != nil && o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// NewDir returns a Dir store rooted at path, creating the directory.
func NewDir(path string, opts *DirOptions) (*Dir, error) {
	if path == "" {
		return nil, errors.New("blobstore: empty directory path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("blobstore: directory store %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, metaDir, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("blobstore: creating directory store %q: %w", path, err)
	}
	return &Dir{root: abs, opts: opts}, nil
}

// Root is the store's directory.
func (d *Dir) Root() string { return d.root }

type sidecar struct {
	ETag         string            `json:"etag"`
	Size         int64             `json:"size"`
	LastModified time.Time         `json:"lastModified"`
	ContentType  string            `json:"contentType,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

type leaseFile struct {
	ID      string    `json:"id"`
	Expires time.Time `json:"expires"`
}

func (d *Dir) dataPath(c, key string) string {
	return filepath.Join(d.root, c, filepath.FromSlash(key))
}
func (d *Dir) metaPath(c, key string) string {
	return filepath.Join(d.root, metaDir, c, filepath.FromSlash(key)) + ".json"
}
func (d *Dir) leasePath(c, key string) string {
	return filepath.Join(d.root, metaDir, c, filepath.FromSlash(key)) + ".lease"
}

func (d *Dir) check(op, c, key string) error {
	if err := CheckContainer(c); err != nil {
		return OpError(op, c, key, err)
	}
	if key != "" || op == "get" || op == "put" || op == "stat" || op == "delete" || op == "lock" {
		if err := CheckKey(key); err != nil {
			return OpError(op, c, key, err)
		}
	}
	return nil
}

func (d *Dir) containerExists(c string) error {
	fi, err := os.Stat(filepath.Join(d.root, c))
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("container does not exist (call EnsureContainer): %w", ErrNotFound)
	}
	return nil
}

// stat reads a blob's properties; the caller holds the container guard.
func (d *Dir) stat(c, key string) (Info, error) {
	if err := d.containerExists(c); err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(d.dataPath(c, key))
	if err != nil || !fi.Mode().IsRegular() {
		return Info{}, ErrNotFound
	}
	info := Info{Key: key, Size: fi.Size(), LastModified: fi.ModTime().UTC()}
	b, err := os.ReadFile(d.metaPath(c, key))
	switch {
	case err == nil:
		var sc sidecar
		if err := json.Unmarshal(b, &sc); err != nil {
			return Info{}, fmt.Errorf("reading sidecar: %w", err)
		}
		// A sidecar whose size disagrees belongs to an older file that was
		// replaced by hand: fall through to the derived ETag.
		if sc.Size == fi.Size() {
			info.ETag, info.LastModified = sc.ETag, sc.LastModified
			info.ContentType, info.Metadata = sc.ContentType, sc.Metadata
			return info, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return Info{}, fmt.Errorf("reading sidecar: %w", err)
	}
	info.ETag = fmt.Sprintf("\"f%x-%x\"", fi.ModTime().UnixNano(), fi.Size())
	return info, nil
}

// Stat implements Store.
func (d *Dir) Stat(ctx context.Context, c, key string) (Info, error) {
	if err := d.check("stat", c, key); err != nil {
		return Info{}, err
	}
	g, err := d.guard(c, false)
	if err != nil {
		return Info{}, OpError("stat", c, key, err)
	}
	defer g.unlock()
	info, err := d.stat(c, key)
	return info, OpError("stat", c, key, err)
}

// Get implements Store.
func (d *Dir) Get(ctx context.Context, c, key string) (io.ReadCloser, Info, error) {
	if err := d.check("get", c, key); err != nil {
		return nil, Info{}, err
	}
	g, err := d.guard(c, false)
	if err != nil {
		return nil, Info{}, OpError("get", c, key, err)
	}
	defer g.unlock()
	info, err := d.stat(c, key)
	if err != nil {
		return nil, Info{}, OpError("get", c, key, err)
	}
	// The open file stays readable after a later rename replaces it.
	f, err := os.Open(d.dataPath(c, key))
	if err != nil {
		return nil, Info{}, OpError("get", c, key, err)
	}
	return f, info, nil
}

// Put implements Store.
func (d *Dir) Put(ctx context.Context, c, key string, r io.Reader, opts *PutOptions) (Info, error) {
	if opts == nil {
		opts = &PutOptions{}
	}
	if err := d.check("put", c, key); err != nil {
		return Info{}, err
	}
	md, err := CheckMetadata(opts.Metadata)
	if err != nil {
		return Info{}, OpError("put", c, key, err)
	}
	if err := d.containerExists(c); err != nil {
		return Info{}, OpError("put", c, key, err)
	}
	// Stream to a temporary file first, outside the guard.
	tmp, size, err := d.writeTemp(ctx, r)
	if err != nil {
		return Info{}, OpError("put", c, key, err)
	}
	defer os.Remove(tmp)

	g, err := d.guard(c, true)
	if err != nil {
		return Info{}, OpError("put", c, key, err)
	}
	defer g.unlock()
	cur, err := d.stat(c, key)
	exists := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Info{}, OpError("put", c, key, err)
	}
	switch {
	case opts.IfNoneMatch && exists:
		return Info{}, OpError("put", c, key, ErrConflict)
	case opts.IfMatch != "" && (!exists || cur.ETag != opts.IfMatch):
		return Info{}, OpError("put", c, key, ErrConflict)
	}
	if d.leased(c, key) {
		return Info{}, OpError("put", c, key, ErrLocked)
	}
	info := Info{Key: key, Size: size, ETag: newETag(), LastModified: d.opts.now().UTC().Truncate(time.Millisecond), ContentType: opts.ContentType, Metadata: md}
	if err := d.install(c, key, tmp, info); err != nil {
		return Info{}, OpError("put", c, key, err)
	}
	return info, nil
}

func (d *Dir) writeTemp(ctx context.Context, r io.Reader) (string, int64, error) {
	f, err := os.CreateTemp(filepath.Join(d.root, metaDir, "tmp"), "put-*")
	if err != nil {
		return "", 0, err
	}
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", 0, fmt.Errorf("writing: %w", err)
	}
	return f.Name(), n, nil
}

// install renames tmp into place and writes the sidecar; the data is renamed
// first so a reader never pairs new properties with old content.
func (d *Dir) install(c, key, tmp string, info Info) error {
	data := d.dataPath(c, key)
	if err := os.MkdirAll(filepath.Dir(data), 0o755); err != nil {
		return fmt.Errorf("key conflicts with an existing blob used as a folder: %w", err)
	}
	if fi, err := os.Stat(data); err == nil && fi.IsDir() {
		return errors.New("key names a folder of other blobs; a directory store cannot hold both")
	}
	if err := os.Rename(tmp, data); err != nil {
		return err
	}
	sc := sidecar{ETag: info.ETag, Size: info.Size, LastModified: info.LastModified, ContentType: info.ContentType, Metadata: info.Metadata}
	b, _ := json.Marshal(sc)
	return d.writeFileAtomic(d.metaPath(c, key), b)
}

func (d *Dir) writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Join(d.root, metaDir, "tmp"), "side-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// List implements Store.
func (d *Dir) List(ctx context.Context, c, prefix string) ([]Info, error) {
	if err := CheckContainer(c); err != nil {
		return nil, OpError("list", c, prefix, err)
	}
	g, err := d.guard(c, false)
	if err != nil {
		return nil, OpError("list", c, prefix, err)
	}
	defer g.unlock()
	if err := d.containerExists(c); err != nil {
		return nil, OpError("list", c, prefix, err)
	}
	base := filepath.Join(d.root, c)
	var out []Info
	err = filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		key := filepath.ToSlash(rel)
		if e.IsDir() {
			// Descend only where the prefix can still match.
			if p != base && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.stat(c, key)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		}
		out = append(out, info)
		return nil
	})
	if err != nil {
		return nil, OpError("list", c, prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements Store.
func (d *Dir) Delete(ctx context.Context, c, key string, ifMatch string) error {
	if err := d.check("delete", c, key); err != nil {
		return err
	}
	g, err := d.guard(c, true)
	if err != nil {
		return OpError("delete", c, key, err)
	}
	defer g.unlock()
	cur, err := d.stat(c, key)
	if err != nil {
		return OpError("delete", c, key, err)
	}
	if ifMatch != "" && cur.ETag != ifMatch {
		return OpError("delete", c, key, ErrConflict)
	}
	if d.leased(c, key) {
		return OpError("delete", c, key, ErrLocked)
	}
	if err := os.Remove(d.dataPath(c, key)); err != nil {
		return OpError("delete", c, key, err)
	}
	os.Remove(d.metaPath(c, key))
	os.Remove(d.leasePath(c, key))
	d.pruneDirs(filepath.Join(d.root, c), filepath.Dir(d.dataPath(c, key)))
	d.pruneDirs(filepath.Join(d.root, metaDir, c), filepath.Dir(d.metaPath(c, key)))
	return nil
}

// pruneDirs removes now-empty folders between dir and base, as Azure has no
// folders to leave behind.
func (d *Dir) pruneDirs(base, dir string) {
	for dir != base && strings.HasPrefix(dir, base+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// EnsureContainer implements Store.
func (d *Dir) EnsureContainer(ctx context.Context, c string) error {
	if err := CheckContainer(c); err != nil {
		return OpError("ensure-container", c, "", err)
	}
	if err := os.MkdirAll(filepath.Join(d.root, c), 0o755); err != nil {
		return OpError("ensure-container", c, "", err)
	}
	return nil
}

// leased reports whether key has an unexpired lease; the caller holds the guard.
func (d *Dir) leased(c, key string) bool {
	l, ok := d.readLease(c, key)
	return ok && d.opts.now().Before(l.Expires)
}

func (d *Dir) readLease(c, key string) (leaseFile, bool) {
	b, err := os.ReadFile(d.leasePath(c, key))
	if err != nil {
		return leaseFile{}, false
	}
	var l leaseFile
	if json.Unmarshal(b, &l) != nil {
		// An unreadable lease cannot be renewed by anyone: treat it as expired.
		return leaseFile{}, false
	}
	return l, true
}

// Lock implements Store. The lease is a sidecar file holding an ID and an
// expiry, replaced atomically under the container guard.
func (d *Dir) Lock(ctx context.Context, c, key string, ttl time.Duration) (Lock, error) {
	if err := d.check("lock", c, key); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, OpError("lock", c, key, fmt.Errorf("lock TTL %s must be positive", ttl))
	}
	if err := d.containerExists(c); err != nil {
		return nil, OpError("lock", c, key, err)
	}
	g, err := d.guard(c, true)
	if err != nil {
		return nil, OpError("lock", c, key, err)
	}
	defer g.unlock()
	if _, err := d.stat(c, key); errors.Is(err, ErrNotFound) {
		tmp, _, err := d.writeTemp(ctx, strings.NewReader(""))
		if err != nil {
			return nil, OpError("lock", c, key, err)
		}
		if err := d.install(c, key, tmp, Info{Key: key, ETag: newETag(), LastModified: d.opts.now().UTC()}); err != nil {
			os.Remove(tmp)
			return nil, OpError("lock", c, key, err)
		}
	} else if err != nil {
		return nil, OpError("lock", c, key, err)
	}
	if d.leased(c, key) {
		return nil, OpError("lock", c, key, ErrLocked)
	}
	if old, ok := d.readLease(c, key); ok {
		d.opts.logger().Info("expired lock taken over", "container", c, "key", key, "expired", old.Expires)
	}
	l := &dirLock{d: d, c: c, key: key, ttl: ttl, id: newID()}
	if err := l.write(); err != nil {
		return nil, OpError("lock", c, key, err)
	}
	return l, nil
}

type dirLock struct {
	d       *Dir
	c, key  string
	ttl     time.Duration
	id      string
	expires time.Time
}

func (l *dirLock) ID() string         { return l.id }
func (l *dirLock) Expires() time.Time { return l.expires }

func (l *dirLock) write() error {
	exp := l.d.opts.now().Add(l.ttl)
	b, _ := json.Marshal(leaseFile{ID: l.id, Expires: exp})
	if err := l.d.writeFileAtomic(l.d.leasePath(l.c, l.key), b); err != nil {
		return err
	}
	l.expires = exp
	return nil
}

func (l *dirLock) Renew(ctx context.Context) error {
	g, err := l.d.guard(l.c, true)
	if err != nil {
		return OpError("renew", l.c, l.key, err)
	}
	defer g.unlock()
	if cur, ok := l.d.readLease(l.c, l.key); !ok || cur.ID != l.id {
		return OpError("renew", l.c, l.key, ErrLockLost)
	}
	return OpError("renew", l.c, l.key, l.write())
}

func (l *dirLock) Release(ctx context.Context) error {
	g, err := l.d.guard(l.c, true)
	if err != nil {
		return OpError("release", l.c, l.key, err)
	}
	defer g.unlock()
	if cur, ok := l.d.readLease(l.c, l.key); !ok || cur.ID != l.id {
		return OpError("release", l.c, l.key, ErrLockLost)
	}
	return OpError("release", l.c, l.key, os.Remove(l.d.leasePath(l.c, l.key)))
}

func newETag() string { return "\"0x" + strings.ToUpper(newID()[:16]) + "\"" }

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
