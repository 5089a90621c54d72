package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/langsync"
)

// A quarantined backup is kept where it is: the backup container may be
// write-once (WORM), so it can be neither moved nor marked. The mark is a
// record in the state container, langsync.QuarantineKey(backup key), that
// the catalog, retention, reuse and restore consult.

// QuarantinedError is returned for a backup that was set aside.
type QuarantinedError struct {
	Key        string
	Quarantine langsync.Quarantine
}

func (e *QuarantinedError) Error() string {
	return fmt.Sprintf("backup: %s is quarantined since %s (%s); unquarantine it first if it is sound (langsync backups unquarantine ID)",
		e.Key, e.Quarantine.Time.UTC().Format(time.RFC3339), e.Quarantine.Reason)
}

// Is makes a *QuarantinedError match ErrQuarantined.
func (e *QuarantinedError) Is(target error) bool { return target == ErrQuarantined }

// ErrQuarantined: the backup was set aside (see *QuarantinedError).
var ErrQuarantined = errors.New("backup: quarantined")

// maxReason bounds a recorded reason (an error text can be long).
const maxReason = 2000

// quarantineDoc is the record in the state container.
type quarantineDoc struct {
	Backup string    `json:"backup"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
	By     string    `json:"by,omitempty"`
	// ETag and SHA256 of the backup blob when it was set aside.
	ETag   string `json:"etag,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

func (c *Catalog) needState() error {
	if c.StateContainer == "" {
		return errors.New("backup: no state container configured: quarantine records live there")
	}
	return nil
}

// Quarantine sets a backup aside with the reason: it stays in the backup
// container, listed and marked, but is no longer reused, restored by time
// or counted by retention, and retention never deletes it. Setting aside
// a backup that already is returns the existing record (created false).
func (c *Catalog) Quarantine(ctx context.Context, key, reason, by string) (q langsync.Quarantine, created bool, err error) {
	if err := c.needState(); err != nil {
		return q, false, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return q, false, errors.New("backup: a quarantine needs a reason")
	}
	if len(reason) > maxReason {
		reason = reason[:maxReason] + "…"
	}
	info, err := c.Store.Stat(ctx, c.Container, key)
	if err != nil {
		return q, false, fmt.Errorf("backup: quarantining %s: %w", key, err)
	}
	if _, ok := refOf(info); !ok {
		return q, false, fmt.Errorf("backup: %s is not a complete langsync backup (name or sha256 metadata does not match)", key)
	}
	doc := quarantineDoc{Backup: key, Reason: reason, Time: c.now().UTC(), By: by, ETag: info.ETag, SHA256: info.Metadata[metaSHA256]}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return q, false, err
	}
	_, err = c.Store.Put(ctx, c.StateContainer, langsync.QuarantineKey(key), bytes.NewReader(b), &blobstore.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	if errors.Is(err, blobstore.ErrConflict) {
		cur, err := c.quarantineOf(ctx, key)
		if err != nil || cur == nil {
			return q, false, fmt.Errorf("backup: reading the quarantine record of %s: %w", key, err)
		}
		return *cur, false, nil
	}
	if err != nil {
		return q, false, fmt.Errorf("backup: recording the quarantine of %s: %w", key, err)
	}
	c.logger().Warn("backup quarantined", "key", key, "reason", reason, "by", by)
	return langsync.Quarantine{Reason: doc.Reason, Time: doc.Time, By: doc.By}, true, nil
}

// Unquarantine removes a backup's quarantine record, so that it counts as
// a backup again (it is verified again before it is relied on).
func (c *Catalog) Unquarantine(ctx context.Context, key string) error {
	if err := c.needState(); err != nil {
		return err
	}
	err := c.Store.Delete(ctx, c.StateContainer, langsync.QuarantineKey(key), "")
	if errors.Is(err, blobstore.ErrNotFound) {
		return fmt.Errorf("backup: %s is not quarantined: %w", key, err)
	}
	if err != nil {
		return fmt.Errorf("backup: removing the quarantine record of %s: %w", key, err)
	}
	c.logger().Info("backup unquarantined", "key", key)
	return nil
}

// Quarantined returns the quarantined backups of a source's project (of
// project from every source when source is ""; of everything when both
// are ""), newest first.
func (c *Catalog) Quarantined(ctx context.Context, source, project string) ([]langsync.BackupRef, error) {
	prefix := ""
	if source != "" {
		prefix = langsync.BackupPrefix(source, project)
	}
	// The records first: usually there are none, and then the backups
	// need not be listed (sync asks for every pair).
	qs, err := c.quarantines(ctx, prefix)
	if err != nil || len(qs) == 0 {
		return nil, err
	}
	refs, err := c.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	refs = slices.DeleteFunc(refs, func(r langsync.BackupRef) bool { return r.Quarantine == nil || project != "" && r.Project != project })
	slices.Reverse(refs)
	return refs, nil
}

// quarantineOf returns a backup's quarantine, nil when it has none.
func (c *Catalog) quarantineOf(ctx context.Context, key string) (*langsync.Quarantine, error) {
	if c.StateContainer == "" {
		return nil, nil
	}
	rc, _, err := c.Store.Get(ctx, c.StateContainer, langsync.QuarantineKey(key))
	if errors.Is(err, blobstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup: reading the quarantine record of %s: %w", key, err)
	}
	defer rc.Close()
	q := decodeQuarantine(rc)
	return &q, nil
}

// decodeQuarantine reads a record; an unreadable one still quarantines
// (the safe side), with a reason saying so.
func decodeQuarantine(r io.Reader) langsync.Quarantine {
	var d quarantineDoc
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err == nil {
		err = json.Unmarshal(b, &d)
	}
	if err != nil || d.Reason == "" {
		return langsync.Quarantine{Reason: fmt.Sprintf("unreadable quarantine record (%v)", err)}
	}
	return langsync.Quarantine{Reason: d.Reason, Time: d.Time, By: d.By}
}

// quarantines returns the quarantine records under a backup key prefix.
func (c *Catalog) quarantines(ctx context.Context, prefix string) (map[string]langsync.Quarantine, error) {
	out := map[string]langsync.Quarantine{}
	if c.StateContainer == "" {
		return out, nil
	}
	infos, err := c.Store.List(ctx, c.StateContainer, langsync.QuarantinePrefix+prefix)
	if errors.Is(err, blobstore.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup: listing quarantine records: %w", err)
	}
	for _, i := range infos {
		key, ok := strings.CutSuffix(strings.TrimPrefix(i.Key, langsync.QuarantinePrefix), ".json")
		if !ok {
			continue
		}
		rc, _, err := c.Store.Get(ctx, c.StateContainer, i.Key)
		if errors.Is(err, blobstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("backup: reading quarantine record %s: %w", i.Key, err)
		}
		out[key] = decodeQuarantine(rc)
		rc.Close()
	}
	return out, nil
}

// KeyFor returns the name for a new backup of an archive with that sha256
// taken at t: langsync.BackupKey, moved on a second at a time while another
// backup of the project holds that second or the name belongs to a
// quarantined backup. Two backups in one second would otherwise order by
// their hashes, so "latest" could be the older one; and an identical
// archive written in the same second would land on a set-aside blob, which
// a write-once container cannot replace.
func (c *Catalog) KeyFor(ctx context.Context, source, project string, t time.Time, sum string) (string, time.Time, error) {
	refs, err := c.list(ctx, langsync.BackupPrefix(source, project))
	if err != nil {
		return "", t, err
	}
	return c.keyFor(ctx, refs, source, project, t, sum)
}

// keyFor is KeyFor with the project's backups (under its source) already
// listed.
func (c *Catalog) keyFor(ctx context.Context, refs []langsync.BackupRef, source, project string, t time.Time, sum string) (string, time.Time, error) {
	t = t.UTC().Truncate(time.Second)
	taken := map[time.Time]langsync.BackupRef{}
	for _, r := range refs {
		taken[r.Time] = r
	}
	for range 3600 {
		key := langsync.BackupKey(source, project, t, sum)
		if r, ok := taken[t]; ok {
			if r.Key == key && r.Quarantine == nil {
				// This very archive, stored by an earlier try.
				return key, t, nil
			}
			t = t.Add(time.Second)
			continue
		}
		q, err := c.quarantineOf(ctx, key)
		if err != nil {
			return "", t, err
		}
		if q == nil {
			return key, t, nil
		}
		t = t.Add(time.Second)
	}
	return "", t, fmt.Errorf("backup: every name for %s/%s within an hour of %s is taken or quarantined", source, project, t.Format(time.RFC3339))
}

// IsCorrupt reports whether a verification error condemns the backup (it
// is damaged, unreadable as a backup, or over a limit), as opposed to a
// failure to read it that says nothing about its content.
func IsCorrupt(err error) bool {
	return errors.Is(err, ErrCorrupt) || errors.Is(err, ErrFormat) || errors.Is(err, ErrLimit) || errors.Is(err, ErrUnsafePath)
}

// TrackedReader reads R and remembers in Err its first error other than
// EOF, so that a broken download (a storage fault) is not mistaken for a
// damaged backup when the archive reader above it fails.
type TrackedReader struct {
	R   io.Reader
	Err error
}

func (t *TrackedReader) Read(p []byte) (int, error) {
	n, err := t.R.Read(p)
	if err != nil && err != io.EOF && t.Err == nil {
		t.Err = err
	}
	return n, err
}

// Inspect downloads a backup and checks it exactly as restore reads it
// (see Check): a langsync archive is verified completely, a plain or
// legacy export JSON kept in the catalog is checked as an export. The
// blob's sha256 must match its metadata either way. It returns what the
// backup is. A failure that condemns the content satisfies IsCorrupt; a
// failed download does not. Success is remembered in the verification
// cache (see Prune).
func (c *Catalog) Inspect(ctx context.Context, key string) (Kind, *Manifest, error) {
	rc, info, err := c.Store.Get(ctx, c.Container, key)
	if err != nil {
		return "", nil, fmt.Errorf("backup: reading %s: %w", key, err)
	}
	defer rc.Close()
	src := &TrackedReader{R: rc}
	h := sha256.New()
	tee := io.TeeReader(src, h)
	kind, m, err := Check(tee, c.Limits)
	if err == nil {
		_, err = io.Copy(io.Discard, tee)
	}
	if src.Err != nil {
		return "", nil, fmt.Errorf("backup: reading %s: %w", key, src.Err)
	}
	if err != nil {
		return "", nil, fmt.Errorf("backup: %s: %w", key, err)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), info.Metadata[metaSHA256]; got != want {
		return "", nil, fmt.Errorf("backup: %s: %w", key, &VerifyError{File: key, Reason: fmt.Sprintf("archive sha256 %s, metadata says %q", got, want)})
	}
	c.rememberVerified(ctx, info, kind)
	return kind, m, nil
}

// verifiedDoc caches one successful verification, valid while the blob
// keeps its ETag, size and sha256 metadata.
type verifiedDoc struct {
	Backup string    `json:"backup"`
	Kind   Kind      `json:"kind"`
	ETag   string    `json:"etag"`
	Size   int64     `json:"size"`
	SHA256 string    `json:"sha256"`
	Time   time.Time `json:"time"`
	// Checker is bumped when verification gets stricter, voiding the cache.
	Checker int `json:"checker"`
}

const checkerVersion = 1

func (c *Catalog) rememberVerified(ctx context.Context, info blobstore.Info, kind Kind) {
	if c.StateContainer == "" || info.ETag == "" {
		return
	}
	d := verifiedDoc{Backup: info.Key, Kind: kind, ETag: normETag(info.ETag), Size: info.Size, SHA256: info.Metadata[metaSHA256], Time: c.now().UTC(), Checker: checkerVersion}
	b, _ := json.Marshal(d)
	if _, err := c.Store.Put(ctx, c.StateContainer, langsync.VerifiedKey(info.Key), bytes.NewReader(b), &blobstore.PutOptions{ContentType: "application/json"}); err != nil {
		// Only a cache: the next prune verifies again.
		c.logger().Warn("could not cache a verification", "key", info.Key, "err", err)
	}
}

// cachedVerified reports whether the blob as listed was verified before.
func (c *Catalog) cachedVerified(ctx context.Context, info blobstore.Info) bool {
	if c.StateContainer == "" || info.ETag == "" {
		return false
	}
	rc, _, err := c.Store.Get(ctx, c.StateContainer, langsync.VerifiedKey(info.Key))
	if err != nil {
		return false
	}
	defer rc.Close()
	var d verifiedDoc
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&d); err != nil {
		return false
	}
	return d.Checker == checkerVersion && d.ETag == normETag(info.ETag) && d.Size == info.Size && d.SHA256 == info.Metadata[metaSHA256]
}

// normETag drops the quotes Azure puts around an ETag in some responses
// (a blob read) and not in others (a listing).
func normETag(e string) string { return strings.Trim(strings.TrimPrefix(e, "W/"), `"`) }

// CheckReuse verifies a backup that is about to be reused in place of a
// new one (its fingerprint matches the export). A backup that fails is
// quarantined, by by, and ok is false with a warning naming it: the
// caller writes a fresh backup. err reports what says nothing about the
// backup (the download failed), and the caller should retry later.
func (c *Catalog) CheckReuse(ctx context.Context, key, by string) (ok bool, warning string, err error) {
	_, _, verr := c.Inspect(ctx, key)
	if verr == nil {
		return true, "", nil
	}
	if !IsCorrupt(verr) {
		return false, "", fmt.Errorf("backup: verifying %s before reusing it: %w", key, verr)
	}
	warning = fmt.Sprintf("backup %s failed verification (%v) and was quarantined; a fresh backup is written instead", key, verr)
	if _, _, qerr := c.Quarantine(ctx, key, "failed verification before reuse: "+verr.Error(), by); qerr != nil {
		// The fresh backup supersedes it anyway; say that the mark is missing.
		warning = fmt.Sprintf("backup %s failed verification (%v); a fresh backup is written instead, but quarantining it failed: %v", key, verr, qerr)
	}
	c.logger().Warn("backup failed verification before reuse", "key", key, "err", verr)
	return false, warning, nil
}
