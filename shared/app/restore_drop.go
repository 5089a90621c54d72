package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

// DroppedSource is the source name recorded for a dropped plain export
// whose project is not configured (so no source is known).
const DroppedSource = "dropped"

// RestoreDropped starts the restore of a backup dropped under restore/ in
// the state container (key is the full key, "restore/<name>"). Where it
// goes follows the path:
//
//	restore/<file>                     the configured targets of the backup's project (its replicas, replaced)
//	restore/<resource>/<file>          that resource, under the backup's project name
//	restore/<resource>/<as>/<file>     that resource, under the name <as>
//
// The drop is verified first, streamed from the store (backup.OpenSize:
// the same checks and limits as `backups verify`, names included), with
// nothing written anywhere. Only a configured replica is replaced without
// asking; into a named resource an existing project is refused. A valid
// drop is then kept in the backup catalog (so the run reads a verified,
// write-once backup), the run is started, and the drop is removed. A drop
// that is refused for any reason (not a valid backup, a bad name, a
// blocker) is moved to failed/ with a .reason.json beside it, once, and the
// returned error is a *RefusedError; only failures to read or write storage
// are returned for a retry. A drop that no longer exists was handled
// already: nothing happens. It implements the local host's Restorer.
func (a *App) RestoreDropped(ctx context.Context, key string) ([]pipeline.Next, error) {
	state := a.Config.Containers.State
	name, ok := strings.CutPrefix(key, langsync.RestorePrefix)
	if !ok || name == "" || strings.Contains(name, "..") {
		return nil, refuse(nil, "%q is not under %s", key, langsync.RestorePrefix)
	}
	log := a.Logger.With("blob", key)
	drop, err := a.openDrop(ctx, state, key)
	if errors.Is(err, blobstore.ErrNotFound) {
		log.Info("dropped backup already handled (gone)")
		return nil, nil
	}
	if err != nil {
		if errors.Is(err, ErrRefused) {
			return nil, a.moveAside(ctx, key, drop.info.ETag, err)
		}
		return nil, err
	}
	ar := drop.ar
	defer ar.Close()

	reqs, err := a.dropTargets(name, ar)
	if err != nil {
		return nil, a.moveAside(ctx, key, drop.info.ETag, err)
	}
	source := reqs[0].source
	// A drop of an archive the catalog already holds (downloaded, then
	// dropped) keeps the model facts of the run that wrote it.
	runID := ""
	if ar.Kind == backup.KindArchive {
		if ref, ok := a.catalogCopy(ctx, drop.sum, ar.Manifest.Project); ok {
			if info, err := a.Store.Stat(ctx, a.Config.Containers.Backups, ref.Key); err == nil {
				runID = info.Metadata[MetaRun]
			}
		}
	}
	var plans []*RestorePlan
	for _, rq := range reqs {
		p, err := a.plan(ctx, rq.req, langsync.BackupRef{Source: source, Project: ar.Manifest.Project}, ar, runID)
		if err != nil {
			if errors.Is(err, ErrRefused) || errors.Is(err, langsync.ErrInvalidName) {
				return nil, a.moveAside(ctx, key, drop.info.ETag, err)
			}
			return nil, err
		}
		if p.blocker != nil {
			return nil, a.moveAside(ctx, key, drop.info.ETag, p.blocker)
		}
		plans = append(plans, p)
	}
	ref, err := a.keepDrop(ctx, key, drop, source)
	if err != nil {
		return nil, err
	}
	var nexts []pipeline.Next
	for _, p := range plans {
		p.Backup = ref
		p.run.Models[0].Backup = ref.Key
		p.run.Reason = "restore of dropped " + key + " (kept as backup " + ref.Key + ")"
		t, err := a.start(ctx, p)
		if err != nil {
			if len(nexts) > 0 {
				// Some runs started: keep the drop for the retry, which
				// finds those pairs busy until their runs end.
				log.Error("restore of a dropped backup started only partly", "err", err)
			}
			return nexts, err
		}
		nexts = append(nexts, t.Next)
	}
	if err := a.Store.Delete(ctx, state, key, drop.info.ETag); err != nil && !errors.Is(err, blobstore.ErrNotFound) {
		log.Warn("could not remove the dropped backup after starting its restore", "err", err)
	}
	log.Info("restore of dropped backup started", "backup", ref.Key, "runs", len(nexts))
	return nexts, nil
}

// openedDrop is a dropped file that verified: what it holds, its blob
// properties, and the sha256 of its bytes.
type openedDrop struct {
	ar   *backup.Archive
	info blobstore.Info
	sum  string
}

// openDrop verifies a drop streamed from the store, hashing its bytes on
// the way; nothing is written. An input that fails verification or a limit
// is a *RefusedError (info is still set, for moving it aside); a failure to
// read the blob is returned as it is, for a retry.
func (a *App) openDrop(ctx context.Context, container, key string) (openedDrop, error) {
	rc, info, err := a.Store.Get(ctx, container, key)
	if err != nil {
		return openedDrop{}, err
	}
	defer rc.Close()
	d := openedDrop{info: info}
	src := &backup.TrackedReader{R: rc}
	h := sha256.New()
	tee := io.TeeReader(src, h)
	ar, err := backup.OpenSize(tee, info.Size, a.opts.Limits)
	if err == nil {
		// Hash what follows the archive too (the drop is kept byte for
		// byte); Open already bounded the input by the archive limit.
		_, err = io.Copy(io.Discard, tee)
	}
	if src.Err != nil {
		return d, fmt.Errorf("app: reading %s: %w", key, src.Err)
	}
	if err != nil {
		return d, refuse(err, "%s is not a valid backup", key)
	}
	d.ar, d.sum = ar, hex.EncodeToString(h.Sum(nil))
	return d, nil
}

type dropRequest struct {
	req    RestoreRequest
	source string
}

func (a *App) dropTargets(name string, ar *backup.Archive) ([]dropRequest, error) {
	m := ar.Manifest
	source := m.Source.Name
	parts := strings.Split(name, "/")
	reason := "dropped under " + langsync.RestorePrefix + name
	if len(parts) == 1 {
		var out []dropRequest
		for _, pair := range a.Config.Pairs() {
			if pair.Project != m.Project {
				continue
			}
			if source == "" {
				// A plain export names no source: take the project's
				// (first) configured one.
				source = pair.Source
			}
			if pair.Source != source {
				continue
			}
			out = append(out, dropRequest{req: RestoreRequest{To: pair.Target, As: pair.TargetProject, Deployments: pair.Deployments, Replace: true, Reason: reason}})
		}
		if len(out) == 0 {
			return nil, refuse(nil, "project %q has no configured target to restore into; drop the file under %s<resource>/ (or %s<resource>/<project name>/) to choose one", m.Project, langsync.RestorePrefix, langsync.RestorePrefix)
		}
		for i := range out {
			out[i].source = source
		}
		return out, nil
	}
	if len(parts) > 3 {
		return nil, refuse(nil, "%s%s is nested too deep; use %s<file>, %s<resource>/<file> or %s<resource>/<project name>/<file>", langsync.RestorePrefix, name, langsync.RestorePrefix, langsync.RestorePrefix, langsync.RestorePrefix)
	}
	req := RestoreRequest{To: parts[0], Reason: reason}
	if len(parts) == 3 {
		req.As = parts[1]
	}
	if err := a.checkRequest(RestoreRequest{To: req.To, As: req.As, Backup: "dropped"}); err != nil {
		return nil, err
	}
	if source == "" {
		for _, pair := range a.Config.Pairs() {
			if pair.Project == m.Project {
				source = pair.Source
				break
			}
		}
	}
	if source == "" {
		source = DroppedSource
	}
	return []dropRequest{{req: req, source: source}}, nil
}

// keepDrop puts a dropped input into the backup catalog: an archive as it
// is (unless the catalog already has the same bytes), a plain or legacy
// export as a new archive without documents. The archive is copied from
// the drop a second time, through a reader that fails unless the bytes are
// the ones that verified (same size and sha256), so the catalog never
// commits a blob that did not verify.
func (a *App) keepDrop(ctx context.Context, key string, d openedDrop, source string) (langsync.BackupRef, error) {
	cat := a.catalog()
	ar := d.ar
	if ar.Kind != backup.KindArchive {
		// SkipIfUnchanged: a retried drop finds the backup it kept before.
		res, err := cat.Save(ctx, ar.ExportReader(), nil, backup.ManifestInfo{Source: source}, &backup.SaveOptions{SkipIfUnchanged: true})
		if err != nil {
			return langsync.BackupRef{}, fmt.Errorf("app: keeping the dropped export as a backup: %w", err)
		}
		return res.Ref, nil
	}
	m := ar.Manifest
	refs, err := cat.List(ctx, m.Project)
	if err != nil {
		return langsync.BackupRef{}, err
	}
	for _, r := range refs {
		if r.SHA256 == d.sum {
			return r, nil
		}
	}
	at := m.ExportedAt
	if at.IsZero() {
		at = time.Now()
	}
	ref := langsync.BackupRef{Key: langsync.BackupKey(source, m.Project, at, d.sum), Source: source, Project: m.Project, Model: m.TrainedModelLabel,
		Time: at.UTC().Truncate(time.Second), SHA256: d.sum, Size: d.info.Size, Fingerprint: m.Fingerprint, Documents: m.Counts.DocumentsStored}
	md := map[string]string{MetaSHA256: d.sum, MetaFingerprint: m.Fingerprint, MetaProject: url.QueryEscape(m.Project), MetaSource: url.QueryEscape(source),
		MetaDocuments: strconv.Itoa(m.Counts.DocumentsStored)}
	if m.TrainedModelLabel != "" {
		md[MetaModel] = url.QueryEscape(m.TrainedModelLabel)
	}
	rc, info, err := a.Store.Get(ctx, a.Config.Containers.State, key)
	if err != nil {
		return ref, fmt.Errorf("app: reading %s again to keep it: %w", key, err)
	}
	defer rc.Close()
	if info.ETag != d.info.ETag {
		return ref, fmt.Errorf("app: %s changed while it was verified; it will be read again", key)
	}
	same := &sameBytes{r: io.LimitReader(rc, d.info.Size+1), h: sha256.New(), size: d.info.Size, sum: d.sum}
	_, err = a.Store.Put(ctx, a.Config.Containers.Backups, ref.Key, same, &blobstore.PutOptions{IfNoneMatch: true, Metadata: md, ContentType: "application/gzip"})
	if err != nil && !errors.Is(err, blobstore.ErrConflict) {
		return ref, fmt.Errorf("app: keeping the dropped backup as %s: %w", ref.Key, err)
	}
	return ref, nil
}

// errChanged: the second read of a drop did not give the verified bytes.
var errChanged = errors.New("app: the dropped file changed after it was verified")

// sameBytes passes r through and, at its end, fails instead of returning
// io.EOF unless exactly size bytes with the sha256 sum went by; a Put that
// reads it then commits nothing.
type sameBytes struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	size int64
	sum  string
}

func (s *sameBytes) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	if s.n > s.size {
		return n, errChanged
	}
	if err == io.EOF && (s.n != s.size || hex.EncodeToString(s.h.Sum(nil)) != s.sum) {
		return n, errChanged
	}
	return n, err
}

// catalogCopy finds the catalog's backup with the given sha256.
func (a *App) catalogCopy(ctx context.Context, sum, project string) (langsync.BackupRef, bool) {
	refs, err := a.catalog().List(ctx, project)
	if err != nil {
		return langsync.BackupRef{}, false
	}
	for _, r := range refs {
		if r.SHA256 == sum {
			return r, true
		}
	}
	return langsync.BackupRef{}, false
}

// moveAside moves a drop that cannot be restored to failed/ with a
// .reason.json beside it, and returns cause.
func (a *App) moveAside(ctx context.Context, key, etag string, cause error) error {
	state := a.Config.Containers.State
	flat := strings.ReplaceAll(strings.TrimPrefix(key, langsync.RestorePrefix), "/", "~")
	dst := langsync.FailedPrefix + time.Now().UTC().Format(langsync.KeyTimeFormat) + "-restore-" + flat
	log := a.Logger.With("blob", key, "movedTo", dst)
	rc, _, err := a.Store.Get(ctx, state, key)
	if err != nil {
		log.Error("moving a refused drop aside: reading it", "err", err)
		return cause
	}
	_, err = a.Store.Put(ctx, state, dst, rc, nil)
	rc.Close()
	if err != nil {
		log.Error("moving a refused drop aside: copying it", "err", err)
		return cause
	}
	doc, _ := json.MarshalIndent(map[string]any{"blob": key, "movedTo": dst, "reason": cause.Error(), "time": time.Now().UTC()}, "", "  ")
	if _, err := a.Store.Put(ctx, state, dst+".reason.json", strings.NewReader(string(doc)), &blobstore.PutOptions{ContentType: "application/json"}); err != nil {
		log.Error("moving a refused drop aside: writing the reason", "err", err)
	}
	if err := a.Store.Delete(ctx, state, key, etag); err != nil && !errors.Is(err, blobstore.ErrNotFound) {
		log.Error("moving a refused drop aside: removing it", "err", err)
	}
	log.Warn("dropped file refused and moved aside", "reason", cause.Error())
	return fmt.Errorf("%w (moved to %s in container %s)", cause, dst, state)
}
