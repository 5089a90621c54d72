package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

// DocumentSource reads a labelled document from linked storage.
type DocumentSource interface {
	Open(ctx context.Context, container, name string) (io.ReadCloser, error)
}

// ArchiveInfo is what writing an archive reports.
type ArchiveInfo struct {
	Fingerprint string
	Documents   int
	// Container is the export's storageInputContainerName.
	Container string
}

// Archiver is the backup archive format (shared/backup).
type Archiver interface {
	// Write streams in.Export and the documents it references (none when
	// docs is nil) into w.
	Write(ctx context.Context, w io.Writer, docs DocumentSource, in pipeline.BackupInput) (ArchiveInfo, error)
	// Export returns the export JSON held in an archive (verified).
	Export(ctx context.Context, r io.Reader) ([]byte, error)
	// Documents calls fn for every document in the archive.
	Documents(ctx context.Context, r io.Reader, fn func(container, name string, body []byte) error) error
}

// Backup blob metadata keys.
const (
	MetaSHA256      = "sha256"
	MetaFingerprint = "fingerprint"
	MetaProject     = "project"
	MetaSource      = "source"
	MetaModel       = "model"
	MetaDocuments   = "documents"
	MetaRun         = "run"
	MetaSourceMod   = "sourcelastmodified"
)

// Backups implements pipeline.Backups over a blobstore container and an
// Archiver. An archive is first written to a temporary file (constant
// memory, and the fingerprint is known before anything is uploaded), then
// uploaded create-only unless the project's latest backup of the same
// model has the same fingerprint.
type Backups struct {
	Store     blobstore.Store
	Container string
	// State is the state container: quarantine records and the
	// verification cache live there (see backup.Catalog).
	State   string
	Archive Archiver
	// Documents returns the linked storage of a resource (nil: none).
	Documents func(ctx context.Context, resource string) (blobstore.Store, error)
	Logger    *slog.Logger
	Now       func() time.Time
	// StreamMirror lets MirrorDocuments stream documents between stores
	// that cannot copy server-side (benchmarks; off: see mirror.go).
	StreamMirror bool
	// MirrorWorkers bounds the document copies MirrorDocuments has in
	// flight (0: mirrorWorkers).
	MirrorWorkers int
	// OnWritten, if set, is told of each backup archive uploaded and its
	// size in bytes (the metrics).
	OnWritten func(source, project string, size int64)

	// recent keeps the export bytes of backups written by this process, so
	// that an in-process import does not read and verify the archive again.
	mu     sync.Mutex
	recent map[string][]byte
	order  []string
	// reads and mirrors remember, by backup key and by target container,
	// the source ETag of every document a backup read and a mirror copied
	// (mirror.go), so the documents step skips what is already there.
	reads, mirrors         map[string]*etagSet
	readOrder, mirrorOrder []string
}

// Bounds of the in-process export cache.
const (
	cacheEntries  = 8
	cacheMaxBytes = 16 << 20
)

func (b *Backups) remember(key string, export []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.recent == nil {
		b.recent = map[string][]byte{}
	}
	if _, ok := b.recent[key]; !ok {
		b.order = append(b.order, key)
	}
	b.recent[key] = export
	for len(b.order) > cacheEntries {
		delete(b.recent, b.order[0])
		b.order = b.order[1:]
	}
}

// limitedBuffer keeps at most max bytes and remembers overflowing.
type limitedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if !l.overflow && l.buf.Len()+len(p) <= l.max {
		l.buf.Write(p)
	} else {
		l.overflow = true
		l.buf.Reset()
	}
	return len(p), nil
}

var (
	_ pipeline.Backups            = (*Backups)(nil)
	_ pipeline.BackupQuarantine   = (*Backups)(nil)
	_ pipeline.DocumentContainers = (*Backups)(nil)
)

// catalog is the backup container as shared/backup sees it: verification,
// quarantine and listing are the same as the CLI's.
func (b *Backups) catalog() *backup.Catalog {
	c := backup.NewCatalog(b.Store, b.Container)
	c.StateContainer = b.State
	c.Logger = b.Logger
	if ba, ok := b.Archive.(*BackupArchive); ok {
		c.Limits = ba.Limits
	}
	if b.Now != nil {
		c.Now = b.Now
	}
	return c
}

func (b *Backups) archiver() (Archiver, error) {
	if b.Archive == nil {
		return nil, errors.New("app: no backup archiver configured")
	}
	return b.Archive, nil
}

// Create writes the backup of one export (see Backups).
func (b *Backups) Create(ctx context.Context, in pipeline.BackupInput) (pipeline.BackupResult, error) {
	ar, err := b.archiver()
	if err != nil {
		return pipeline.BackupResult{}, err
	}
	var docs DocumentSource // nil: the source has no linked storage
	seen := newETagSet()
	if b.Documents != nil {
		s, err := b.Documents(ctx, in.Source)
		if err != nil {
			return pipeline.BackupResult{}, err
		}
		if s != nil {
			docs = etagDocs{s, seen}
		}
	}
	tmp, err := os.CreateTemp("", "langsync-backup-*.tar.gz")
	if err != nil {
		return pipeline.BackupResult{}, fmt.Errorf("app: backup temp file: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	export := &limitedBuffer{max: cacheMaxBytes}
	in.Export = io.TeeReader(in.Export, export)
	info, err := ar.Write(ctx, io.MultiWriter(tmp, h), docs, in)
	if err != nil {
		return pipeline.BackupResult{}, fmt.Errorf("app: writing backup archive: %w", err)
	}
	res := pipeline.BackupResult{Fingerprint: info.Fingerprint, Documents: info.Documents, Container: info.Container}
	if key, ok, err := b.latestWith(ctx, in.Source, in.Project, in.Model, info.Fingerprint); err != nil {
		return res, err
	} else if ok {
		// Reused only if it is sound: metadata alone would let a damaged
		// backup stand in for every later run.
		good, warning, err := b.catalog().CheckReuse(ctx, key, "run "+in.RunID+" (backup step)")
		if err != nil {
			return res, err
		}
		if good {
			res.Key = key
			b.rememberRead(res.Key, seen)
			return res, nil
		}
		res.Warnings = append(res.Warnings, warning)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	res.Key, _, err = b.catalog().KeyFor(ctx, in.Source, in.Project, now(), sum)
	if err != nil {
		return res, fmt.Errorf("app: naming the backup: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return res, err
	}
	md := map[string]string{MetaSHA256: sum, MetaFingerprint: info.Fingerprint, MetaProject: in.Project, MetaSource: in.Source,
		MetaModel: in.Model, MetaDocuments: strconv.Itoa(info.Documents), MetaRun: in.RunID}
	if !in.SourceState.LastModified.IsZero() {
		md[MetaSourceMod] = in.SourceState.LastModified.UTC().Format(time.RFC3339)
	}
	_, err = b.Store.Put(ctx, b.Container, res.Key, tmp, &blobstore.PutOptions{IfNoneMatch: true, Metadata: md, ContentType: "application/gzip"})
	if errors.Is(err, blobstore.ErrConflict) {
		// The same archive was uploaded by a retry of this step.
		err = nil
	}
	if err != nil {
		return res, fmt.Errorf("app: uploading backup %s: %w", res.Key, err)
	}
	res.Created = true
	if b.OnWritten != nil {
		if size, err := tmp.Seek(0, io.SeekEnd); err == nil {
			b.OnWritten(in.Source, in.Project, size)
		}
	}
	if !export.overflow {
		b.remember(res.Key, export.buf.Bytes())
	}
	b.rememberRead(res.Key, seen)
	return res, nil
}

// Times returns when each backup in the container was written, oldest
// first (the status page's chart).
func (b *Backups) Times(ctx context.Context) ([]time.Time, error) {
	infos, err := b.Store.List(ctx, b.Container, "")
	if err != nil {
		return nil, fmt.Errorf("app: listing backups: %w", err)
	}
	out := make([]time.Time, 0, len(infos))
	for _, in := range infos {
		out = append(out, in.LastModified)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out, nil
}

// latestWith reports the project's newest backup of the model that is not
// quarantined, and whether it has the fingerprint.
func (b *Backups) latestWith(ctx context.Context, source, project, model, fp string) (string, bool, error) {
	infos, err := b.Store.List(ctx, b.Container, langsync.BackupPrefix(source, project))
	if err != nil {
		return "", false, fmt.Errorf("app: listing backups: %w", err)
	}
	quarantined := map[string]bool{}
	if len(infos) > 0 {
		qs, err := b.catalog().Quarantined(ctx, source, project)
		if err != nil {
			return "", false, fmt.Errorf("app: %w", err)
		}
		for _, q := range qs {
			quarantined[q.Key] = true
		}
	}
	for i := len(infos) - 1; i >= 0; i-- {
		if quarantined[infos[i].Key] {
			continue
		}
		md := infos[i].Metadata
		if md == nil {
			st, err := b.Store.Stat(ctx, b.Container, infos[i].Key)
			if err != nil {
				continue
			}
			md = st.Metadata
		}
		if md[MetaModel] != model {
			continue
		}
		return infos[i].Key, md[MetaFingerprint] == fp, nil
	}
	return "", false, nil
}

// Quarantined lists the quarantined backups of a source's project
// (pipeline.BackupQuarantine).
func (b *Backups) Quarantined(ctx context.Context, source, project string) ([]pipeline.QuarantinedBackup, error) {
	refs, err := b.catalog().Quarantined(ctx, source, project)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	out := make([]pipeline.QuarantinedBackup, 0, len(refs))
	for _, r := range refs {
		out = append(out, pipeline.QuarantinedBackup{Key: r.Key, Model: r.Model, Reason: r.Quarantine.Reason, Time: r.Quarantine.Time})
	}
	return out, nil
}

// Usable reports whether a backup of the model with the fingerprint exists
// that is not quarantined (pipeline.BackupQuarantine).
func (b *Backups) Usable(ctx context.Context, source, project, model, fingerprint string) (bool, error) {
	refs, err := b.catalog().Quarantined(ctx, source, project)
	if err != nil {
		return false, fmt.Errorf("app: %w", err)
	}
	quarantined := map[string]bool{}
	for _, r := range refs {
		quarantined[r.Key] = true
	}
	infos, err := b.Store.List(ctx, b.Container, langsync.BackupPrefix(source, project))
	if err != nil {
		return false, fmt.Errorf("app: listing backups: %w", err)
	}
	for _, i := range infos {
		m := i.Metadata[MetaModel]
		if u, err := url.QueryUnescape(m); err == nil {
			m = u // backup.Catalog escapes the label; this writer does not
		}
		if !quarantined[i.Key] && m == model && i.Metadata[MetaFingerprint] == fingerprint {
			return true, nil
		}
	}
	return false, nil
}

// OpenExport returns the export JSON held in a backup.
func (b *Backups) OpenExport(ctx context.Context, key string) (io.ReadCloser, error) {
	b.mu.Lock()
	cached, ok := b.recent[key]
	b.mu.Unlock()
	if ok {
		return io.NopCloser(bytes.NewReader(cached)), nil
	}
	ar, err := b.archiver()
	if err != nil {
		return nil, err
	}
	rc, _, err := b.Store.Get(ctx, b.Container, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := ar.Export(ctx, rc)
	if err != nil {
		return nil, fmt.Errorf("app: backup %s: %w", key, err)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// EnsureDocumentContainer creates the document container in the target
// resource's linked storage (pipeline.DocumentContainers); nothing when the
// resource has none.
func (b *Backups) EnsureDocumentContainer(ctx context.Context, target, container string) error {
	if b.Documents == nil {
		return nil
	}
	dst, err := b.Documents(ctx, target)
	if err != nil || dst == nil {
		return err
	}
	if err := dst.EnsureContainer(ctx, container); err != nil {
		return fmt.Errorf("app: target storage container %s: %w", container, err)
	}
	return nil
}

// CopyDocuments writes the backup's documents into the target resource's
// storage container, skipping those already there with the same content.
func (b *Backups) CopyDocuments(ctx context.Context, key, target, container string) (int, error) {
	ar, err := b.archiver()
	if err != nil {
		return 0, err
	}
	if b.Documents == nil {
		return 0, nil
	}
	dst, err := b.Documents(ctx, target)
	if err != nil || dst == nil {
		return 0, err
	}
	if err := dst.EnsureContainer(ctx, container); err != nil {
		return 0, fmt.Errorf("app: target storage container %s: %w", container, err)
	}
	// Documents a mirror copied at the ETag the backup read them at hold
	// the backup's bytes already (mirror.go).
	done := b.mirrored(key, target, container)
	b.mu.Lock()
	read := b.reads[key]
	b.mu.Unlock()
	if done != nil && len(done) == read.len() {
		return 0, nil
	}
	rc, _, err := b.Store.Get(ctx, b.Container, key)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	// Documents are many and small: write them with a few workers, since
	// each write is a round trip (or an fsync, for a directory).
	type doc struct {
		container, name string
		body            []byte
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan doc)
	var (
		mu      sync.Mutex
		n       int
		firstEr error
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstEr == nil {
			firstEr = err
			cancel()
		}
		mu.Unlock()
	}
	for range copyWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				if done[d.name] && d.container == container || same(ctx, dst, d.container, d.name, d.body) {
					continue
				}
				if _, err := dst.Put(ctx, d.container, d.name, bytes.NewReader(d.body), &blobstore.PutOptions{ContentType: "text/plain; charset=utf-8"}); err != nil {
					fail(fmt.Errorf("writing %s/%s: %w", d.container, d.name, err))
					continue
				}
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	err = ar.Documents(ctx, rc, func(c, name string, body []byte) error {
		if c == "" {
			c = container
		}
		select {
		case work <- doc{c, name, body}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(work)
	wg.Wait()
	if firstEr != nil {
		return n, firstEr
	}
	return n, err
}

// copyWorkers bounds concurrent document writes.
const copyWorkers = 8

func same(ctx context.Context, s blobstore.Store, container, name string, body []byte) bool {
	rc, info, err := s.Get(ctx, container, name)
	if err != nil {
		return false
	}
	defer rc.Close()
	if info.Size != int64(len(body)) {
		return false
	}
	have, err := io.ReadAll(rc)
	return err == nil && bytes.Equal(have, body)
}

// documents returns the linked storage of a resource (nil when none), one
// store per resource.
func (a *App) documents(ctx context.Context, resource string) (blobstore.Store, error) {
	res, ok := a.Config.Resource(resource)
	if !ok {
		return nil, fmt.Errorf("app: resource %q is not configured", resource)
	}
	if res.Storage.IsZero() {
		return nil, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := a.docStores[resource]; ok {
		return s, nil
	}
	s, err := storeopen.Open(ctx, res.Storage.Reveal(), a.blobOptions())
	if err != nil {
		return nil, fmt.Errorf("app: storage of resource %q: %w", resource, scrub(err, res.Storage.Reveal()))
	}
	a.docStores[resource] = s
	return s, nil
}

// scrub removes a secret from an error message.
func scrub(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "[REDACTED]"))
}
