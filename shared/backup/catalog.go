package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/langsync"
)

// Store is what the catalog needs from Blob storage (blobstore.Store
// satisfies it).
type Store interface {
	Get(ctx context.Context, container, key string) (io.ReadCloser, blobstore.Info, error)
	Stat(ctx context.Context, container, key string) (blobstore.Info, error)
	Put(ctx context.Context, container, key string, r io.Reader, opts *blobstore.PutOptions) (blobstore.Info, error)
	List(ctx context.Context, container, prefix string) ([]blobstore.Info, error)
	Delete(ctx context.Context, container, key string, ifMatch string) error
}

// Catalog is the set of backups in one container, laid out as
// <source>/<project>/<UTC time>-<sha12>.tar.gz (langsync.BackupKey).
type Catalog struct {
	Store     Store
	Container string
	// StateContainer holds the quarantine records and the verification
	// cache (langsync.QuarantineKey, langsync.VerifiedKey). The backup
	// container may be write-once, so nothing about a backup is ever
	// written beside it. Empty: no quarantine (Quarantine fails, nothing
	// is marked) and no cache.
	StateContainer string
	// Limits apply when backups are read back (Verify, Open, FindAt).
	Limits *Limits
	// TempDir holds the archive between writing and upload (its key needs
	// the archive's sha256); default os.TempDir.
	TempDir string
	// Now is the clock for retention; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// NewCatalog returns a catalog over container.
func NewCatalog(s Store, container string) *Catalog {
	return &Catalog{Store: s, Container: container}
}

func (c *Catalog) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Catalog) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Blob metadata written with every backup (keys come back lowercase).
const (
	metaSHA256      = "sha256"
	metaFormat      = "format"
	metaProject     = "project"
	metaSource      = "source"
	metaFingerprint = "fingerprint"
	metaDocuments   = "documents"
	metaAPIVersion  = "apiVersion"
	metaExportedAt  = "exportedAt"
	metaSourceMod   = "sourceLastModified"
	metaModel       = "model"
)

// SaveOptions adjust Save.
type SaveOptions struct {
	// SkipIfUnchanged: when the project's latest backup from this source
	// (of the same trained model label) has the same fingerprint, upload
	// nothing and return that backup.
	SkipIfUnchanged bool
}

// SaveResult describes a saved (or found) backup.
type SaveResult struct {
	Ref      langsync.BackupRef
	Manifest *Manifest
	// Created is false when an identical backup already existed.
	Created bool
	// Warnings: the backup that would have been reused failed verification
	// and was quarantined (a fresh one was written instead).
	Warnings []string
}

// Save writes an archive of the export (and its documents) and uploads it
// once, under a key holding its sha256, with If-None-Match so an existing
// blob is never rewritten (a write-once container works). The archive is
// staged in a temporary file: the key and metadata need its hash before the
// upload starts. Saving the same archive twice is harmless.
func (c *Catalog) Save(ctx context.Context, export io.Reader, docs DocumentSource, info ManifestInfo, opts *SaveOptions) (SaveResult, error) {
	if info.Source == "" || strings.Contains(info.Source, "/") {
		return SaveResult{}, fmt.Errorf("backup: source name %q must be non-empty and contain no /", info.Source)
	}
	if info.TempDir == "" {
		info.TempDir = c.TempDir
	}
	tmp, err := os.CreateTemp(info.TempDir, "langsync-backup-*.tar.gz")
	if err != nil {
		return SaveResult{}, fmt.Errorf("backup: staging the archive: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	m, err := Write(ctx, io.MultiWriter(tmp, h), export, docs, info)
	if err != nil {
		return SaveResult{}, err
	}
	if m.Project == "" || strings.Contains(m.Project, "/") {
		return SaveResult{}, fmt.Errorf("backup: project name %q cannot be used in a blob name", m.Project)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return SaveResult{}, fmt.Errorf("backup: staging the archive: %w", err)
	}
	log := c.logger().With("project", m.Project, "source", info.Source)

	var warnings []string
	// One listing serves the reuse check and the new backup's name.
	listed, err := c.list(ctx, langsync.BackupPrefix(info.Source, m.Project))
	if err != nil {
		return SaveResult{}, err
	}
	if opts != nil && opts.SkipIfUnchanged {
		refs := slices.DeleteFunc(slices.Clone(listed), func(r langsync.BackupRef) bool { return r.Model != m.TrainedModelLabel || r.Quarantine != nil })
		if n := len(refs); n > 0 && refs[n-1].Fingerprint == m.Fingerprint {
			ok, warning, err := c.CheckReuse(ctx, refs[n-1].Key, "backup save of "+info.Source+"/"+m.Project)
			if err != nil {
				return SaveResult{}, err
			}
			if ok {
				log.Info("backup unchanged", "key", refs[n-1].Key, "fingerprint", m.Fingerprint)
				return SaveResult{Ref: refs[n-1], Manifest: m}, nil
			}
			warnings = append(warnings, warning)
			// It was just quarantined: list again so its name is not taken
			// for this archive's.
			if listed, err = c.list(ctx, langsync.BackupPrefix(info.Source, m.Project)); err != nil {
				return SaveResult{}, err
			}
		}
	}

	key, at, err := c.keyFor(ctx, listed, info.Source, m.Project, m.ExportedAt, sum)
	if err != nil {
		return SaveResult{}, err
	}
	ref := langsync.BackupRef{
		Key:    key,
		Source: info.Source, Project: m.Project, Time: at,
		SHA256: sum, Size: size, Fingerprint: m.Fingerprint, Documents: m.Counts.DocumentsStored,
	}
	md := map[string]string{
		metaSHA256: sum, metaFormat: FormatName + "/" + strconv.Itoa(FormatVersion),
		metaProject: url.QueryEscape(m.Project), metaSource: url.QueryEscape(info.Source),
		metaFingerprint: m.Fingerprint, metaDocuments: strconv.Itoa(m.Counts.DocumentsStored),
		metaExportedAt: m.ExportedAt.Format(time.RFC3339),
	}
	if m.APIVersion != "" {
		md[metaAPIVersion] = url.QueryEscape(m.APIVersion)
	}
	if m.TrainedModelLabel != "" {
		md[metaModel] = url.QueryEscape(m.TrainedModelLabel)
		ref.Model = m.TrainedModelLabel
	}
	if t := m.ProjectTimestamps.LastModified; t != nil {
		md[metaSourceMod] = t.UTC().Format(time.RFC3339)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return SaveResult{}, fmt.Errorf("backup: staging the archive: %w", err)
	}
	put, err := c.Store.Put(ctx, c.Container, ref.Key, tmp, &blobstore.PutOptions{IfNoneMatch: true, Metadata: md, ContentType: "application/gzip"})
	if errors.Is(err, blobstore.ErrConflict) {
		// Same key: same second and same hash prefix. Identical content is
		// a retry of this very backup; anything else is a real clash.
		cur, serr := c.Store.Stat(ctx, c.Container, ref.Key)
		if serr == nil && cur.Metadata[metaSHA256] == sum {
			log.Info("backup already stored", "key", ref.Key)
			return SaveResult{Ref: ref, Manifest: m, Warnings: warnings}, nil
		}
		return SaveResult{}, fmt.Errorf("backup: %s exists with different content: %w", ref.Key, err)
	}
	if err != nil {
		return SaveResult{}, fmt.Errorf("backup: uploading %s: %w", ref.Key, err)
	}
	if put.Size != size {
		return SaveResult{}, fmt.Errorf("backup: uploaded %s is %d bytes, wrote %d", ref.Key, put.Size, size)
	}
	log.Info("backup stored", "key", ref.Key, "size", size, "documents", ref.Documents, "fingerprint", m.Fingerprint)
	return SaveResult{Ref: ref, Manifest: m, Created: true, Warnings: warnings}, nil
}

// refOf turns a listed blob into a BackupRef; ok is false for blobs that
// are not complete backups (foreign names, or metadata that does not match
// the name, as left by a failed or foreign upload).
func refOf(info blobstore.Info) (langsync.BackupRef, bool) {
	source, project, t, sha12, err := langsync.ParseBackupKey(info.Key)
	if err != nil {
		return langsync.BackupRef{}, false
	}
	sum := info.Metadata[metaSHA256]
	if len(sum) != 64 || !strings.HasPrefix(sum, sha12) {
		return langsync.BackupRef{}, false
	}
	docs, _ := strconv.Atoi(info.Metadata[metaDocuments])
	model, err := url.QueryUnescape(info.Metadata[metaModel])
	if err != nil {
		model = info.Metadata[metaModel]
	}
	return langsync.BackupRef{
		Key: info.Key, Source: source, Project: project, Model: model, Time: t,
		SHA256: sum, Size: info.Size, Fingerprint: info.Metadata[metaFingerprint], Documents: docs,
	}, true
}

// list returns complete backups under prefix, oldest first, the
// quarantined ones marked.
func (c *Catalog) list(ctx context.Context, prefix string) ([]langsync.BackupRef, error) {
	refs, _, err := c.listInfos(ctx, prefix)
	return refs, err
}

// listInfos is list with each backup's blob properties (for the
// verification cache, which is keyed on the ETag).
func (c *Catalog) listInfos(ctx context.Context, prefix string) ([]langsync.BackupRef, map[string]blobstore.Info, error) {
	infos, err := c.Store.List(ctx, c.Container, prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("backup: listing %s: %w", c.Container, err)
	}
	var out []langsync.BackupRef
	byKey := map[string]blobstore.Info{}
	for _, i := range infos {
		if r, ok := refOf(i); ok {
			out = append(out, r)
			byKey[r.Key] = i
		}
	}
	slices.SortStableFunc(out, func(a, b langsync.BackupRef) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	if len(out) == 0 {
		return out, byKey, nil
	}
	qs, err := c.quarantines(ctx, prefix)
	if err != nil {
		return nil, nil, err
	}
	for i := range out {
		if q, ok := qs[out[i].Key]; ok {
			out[i].Quarantine = &q
		}
	}
	return out, byKey, nil
}

// List returns the backups of project (every project when ""), from every
// source, oldest first. Quarantined backups are listed, marked.
func (c *Catalog) List(ctx context.Context, project string) ([]langsync.BackupRef, error) {
	all, err := c.list(ctx, "")
	if err != nil || project == "" {
		return all, err
	}
	return slices.DeleteFunc(all, func(r langsync.BackupRef) bool { return r.Project != project }), nil
}

// Latest returns the project's newest complete backup that is not
// quarantined; ErrNotFound (from blobstore, also fs.ErrNotExist) when there
// is none.
func (c *Catalog) Latest(ctx context.Context, project string) (langsync.BackupRef, error) {
	refs, err := c.List(ctx, project)
	if err != nil {
		return langsync.BackupRef{}, err
	}
	refs = slices.DeleteFunc(refs, func(r langsync.BackupRef) bool { return r.Quarantine != nil })
	if len(refs) == 0 {
		return langsync.BackupRef{}, fmt.Errorf("backup: no backups of project %q in %s: %w", project, c.Container, blobstore.ErrNotFound)
	}
	return refs[len(refs)-1], nil
}

// Find returns a backup by id: its blob name, or the bare
// <time>-<sha12>[.tar.gz] of one of project's backups.
func (c *Catalog) Find(ctx context.Context, project, id string) (langsync.BackupRef, error) {
	if strings.Count(id, "/") == 2 {
		info, err := c.Store.Stat(ctx, c.Container, id)
		if err != nil {
			return langsync.BackupRef{}, fmt.Errorf("backup: finding %s: %w", id, err)
		}
		ref, ok := refOf(info)
		if !ok {
			return langsync.BackupRef{}, fmt.Errorf("backup: %s is not a complete langsync backup (name or sha256 metadata does not match)", id)
		}
		q, err := c.quarantineOf(ctx, ref.Key)
		if err != nil {
			return langsync.BackupRef{}, err
		}
		ref.Quarantine = q
		return ref, nil
	}
	if project == "" {
		return langsync.BackupRef{}, fmt.Errorf("backup: backup id %q needs a project (or give the full <source>/<project>/<time>-<sha>.tar.gz name)", id)
	}
	base := strings.TrimSuffix(id, ".tar.gz") + ".tar.gz"
	refs, err := c.List(ctx, project)
	if err != nil {
		return langsync.BackupRef{}, err
	}
	for i := len(refs) - 1; i >= 0; i-- {
		if strings.HasSuffix(refs[i].Key, "/"+base) {
			return refs[i], nil
		}
	}
	return langsync.BackupRef{}, fmt.Errorf("backup: no backup %q of project %q: %w", id, project, blobstore.ErrNotFound)
}

// FindAt returns the project's newest backup taken at or before t that is
// not quarantined and passes verification (each candidate is downloaded
// and checked, newest first; failures are logged and skipped).
func (c *Catalog) FindAt(ctx context.Context, project string, t time.Time) (langsync.BackupRef, error) {
	refs, err := c.List(ctx, project)
	if err != nil {
		return langsync.BackupRef{}, err
	}
	var failed []error
	for i := len(refs) - 1; i >= 0; i-- {
		if refs[i].Time.After(t) || refs[i].Quarantine != nil {
			continue
		}
		if _, err := c.Verify(ctx, refs[i].Key); err != nil {
			c.logger().Warn("backup failed verification; trying an older one", "project", project, "key", refs[i].Key, "err", err)
			failed = append(failed, err)
			continue
		}
		return refs[i], nil
	}
	err = fmt.Errorf("backup: no verified backup of project %q at or before %s: %w", project, t.UTC().Format(time.RFC3339), blobstore.ErrNotFound)
	if len(failed) > 0 {
		err = errors.Join(append([]error{err}, failed...)...)
	}
	return langsync.BackupRef{}, err
}

// Verify downloads a backup and checks it as restore reads it (see
// Inspect) and returns its manifest.
func (c *Catalog) Verify(ctx context.Context, key string) (*Manifest, error) {
	_, m, err := c.Inspect(ctx, key)
	return m, err
}

// Open downloads a backup and opens it for restore (see Open); the
// archive's sha256 is checked against the blob's metadata too. A
// quarantined backup is refused: it was set aside as not to be relied on.
func (c *Catalog) Open(ctx context.Context, key string) (*Archive, error) {
	q, err := c.quarantineOf(ctx, key)
	if err != nil {
		return nil, err
	}
	if q != nil {
		return nil, &QuarantinedError{Key: key, Quarantine: *q}
	}
	rc, info, err := c.Store.Get(ctx, c.Container, key)
	if err != nil {
		return nil, fmt.Errorf("backup: reading %s: %w", key, err)
	}
	defer rc.Close()
	h := sha256.New()
	tee := io.TeeReader(rc, h)
	a, err := Open(tee, c.Limits)
	if err != nil {
		return nil, fmt.Errorf("backup: %s: %w", key, err)
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		a.Close()
		return nil, fmt.Errorf("backup: reading %s: %w", key, err)
	}
	if want := info.Metadata[metaSHA256]; want != "" && hex.EncodeToString(h.Sum(nil)) != want {
		a.Close()
		return nil, fmt.Errorf("backup: %s: %w", key, &VerifyError{File: key, Reason: "archive sha256 differs from its metadata"})
	}
	return a, nil
}

// Delete removes one backup (fails on a write-once container while the
// blob is under its retention period).
func (c *Catalog) Delete(ctx context.Context, key string) error {
	if err := c.Store.Delete(ctx, c.Container, key, ""); err != nil {
		return fmt.Errorf("backup: deleting %s: %w", key, err)
	}
	return nil
}
