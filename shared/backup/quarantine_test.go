package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/langsync"
)

func day(d int) time.Time { return time.Date(2026, 11, d, 2, 0, 0, 0, time.UTC) }

// damage rewrites a backup with one byte flipped and its metadata kept
// (what bit rot or a tampering writer leaves): a new ETag, same name.
func damage(t *testing.T, s blobstore.Store, c *backup.Catalog, key string) {
	t.Helper()
	ctx := context.Background()
	rc, info, err := s.Get(ctx, c.Container, key)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	body[len(body)/2] ^= 0xff
	if _, err := s.Put(ctx, c.Container, key, bytes.NewReader(body), &blobstore.PutOptions{IfMatch: info.ETag, Metadata: info.Metadata}); err != nil {
		t.Fatal(err)
	}
}

func refsByKey(refs []langsync.BackupRef) map[string]langsync.BackupRef {
	out := map[string]langsync.BackupRef{}
	for _, r := range refs {
		out[r.Key] = r
	}
	return out
}

// TestReuseVerifiesTheBackup: an unchanged export would reuse the newest
// backup; when that backup is damaged it is quarantined (kept, marked) and
// a fresh one written, instead of being trusted by its metadata.
func TestReuseVerifiesTheBackup(t *testing.T) {
	stores(t, func(t *testing.T, s blobstore.Store) {
		ctx := context.Background()
		c := newCatalog(t, s)
		first := save(t, c, variant(t, "1"), studioDocs(), day(1), nil)
		damage(t, s, c, first.Ref.Key)

		// The same second and the same bytes: the fresh backup must not
		// land on the damaged blob's name.
		again := save(t, c, variant(t, "1"), studioDocs(), day(1), &backup.SaveOptions{SkipIfUnchanged: true})
		if !again.Created || again.Ref.Key == first.Ref.Key {
			t.Fatalf("save over a damaged backup = %+v; want a fresh backup", again.Ref)
		}
		if len(again.Warnings) != 1 || !strings.Contains(again.Warnings[0], first.Ref.Key) || !strings.Contains(again.Warnings[0], "quarantined") {
			t.Errorf("warnings = %q, want one naming %s", again.Warnings, first.Ref.Key)
		}
		refs, err := c.List(ctx, "Tickets")
		if err != nil || len(refs) != 2 {
			t.Fatalf("List = %v, %v", keys(refs), err)
		}
		q := refsByKey(refs)[first.Ref.Key].Quarantine
		if q == nil || !strings.Contains(q.Reason, "failed verification") || q.Time.IsZero() {
			t.Fatalf("damaged backup's quarantine = %+v", q)
		}
		if latest, err := c.Latest(ctx, "Tickets"); err != nil || latest.Key != again.Ref.Key {
			t.Errorf("Latest = %s, %v; want the fresh backup", latest.Key, err)
		}
		// The fresh backup is sound: the next unchanged save reuses it.
		third := save(t, c, variant(t, "1"), studioDocs(), day(3), &backup.SaveOptions{SkipIfUnchanged: true})
		if third.Created || third.Ref.Key != again.Ref.Key || len(third.Warnings) != 0 {
			t.Errorf("third save = %+v, want the fresh backup reused", third)
		}
		// The damaged backup is still there: quarantine never deletes.
		if _, err := s.Stat(ctx, c.Container, first.Ref.Key); err != nil {
			t.Errorf("quarantined backup gone: %v", err)
		}
	})
}

// brokenReads fails every backup download half way, as a dropped
// connection would.
type brokenReads struct {
	blobstore.Store
	container string
}

func (b brokenReads) Get(ctx context.Context, c, key string) (io.ReadCloser, blobstore.Info, error) {
	rc, info, err := b.Store.Get(ctx, c, key)
	if err != nil || c != b.container {
		return rc, info, err
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	return io.NopCloser(io.MultiReader(bytes.NewReader(body[:len(body)/2]), errReader{})), info, nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

// TestFailedDownloadIsNotCorruption: a broken download says nothing about
// the backup, so it is neither quarantined nor counted, and nothing is
// deleted on its account.
func TestFailedDownloadIsNotCorruption(t *testing.T) {
	s, err := blobstore.NewDir(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := newCatalog(t, s)
	old := save(t, c, variant(t, "1"), studioDocs(), day(1), nil)
	newest := save(t, c, variant(t, "2"), studioDocs(), day(2), nil)

	broken := *c
	broken.Store = brokenReads{Store: s, container: c.Container}
	ok, warning, err := broken.CheckReuse(ctx, newest.Ref.Key, "test")
	if ok || warning != "" || err == nil || backup.IsCorrupt(err) || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("CheckReuse over a broken download = %v, %q, %v", ok, warning, err)
	}
	res, err := broken.Prune(ctx, "Tickets", backup.Retention{KeepLast: 1}, nil)
	if err == nil || len(res.Deleted) != 0 || len(res.Quarantined) != 0 || len(res.Unverified) != 2 {
		t.Fatalf("Prune over broken downloads = %+v, %v; want nothing deleted or quarantined", res, err)
	}
	refs, _ := c.List(ctx, "Tickets")
	for _, r := range refs {
		if r.Quarantine != nil {
			t.Errorf("%s quarantined after a broken download", r.Key)
		}
	}
	if len(refs) != 2 || refs[0].Key != old.Ref.Key {
		t.Errorf("left: %v", keys(refs))
	}
}

// TestPruneCountsOnlyVerifiedBackups is the --keep-last 1 case of the
// issue: with a damaged newest backup, retention must keep the newest one
// that verifies and set the damaged one aside, not delete down to it.
func TestPruneCountsOnlyVerifiedBackups(t *testing.T) {
	stores(t, func(t *testing.T, s blobstore.Store) {
		ctx := context.Background()
		c := newCatalog(t, s)
		a := save(t, c, variant(t, "a"), studioDocs(), day(1), nil)
		b := save(t, c, variant(t, "b"), studioDocs(), day(5), nil)
		cc := save(t, c, variant(t, "c"), studioDocs(), day(9), nil)
		damage(t, s, c, cc.Ref.Key)

		dry, err := c.Prune(ctx, "Tickets", backup.Retention{KeepLast: 1}, &backup.PruneOptions{DryRun: true})
		if err != nil || strings.Join(keys(dry.Deleted), ",") != a.Ref.Key || strings.Join(keys(dry.Quarantined), ",") != cc.Ref.Key {
			t.Fatalf("dry run = %+v, %v", dry, err)
		}
		if q, _ := c.Quarantined(ctx, "primary", "Tickets"); len(q) != 0 {
			t.Fatalf("a dry run quarantined %v", keys(q))
		}

		res, err := c.Prune(ctx, "Tickets", backup.Retention{KeepLast: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(keys(res.Deleted), ","); got != a.Ref.Key {
			t.Errorf("deleted %s, want only %s", got, a.Ref.Key)
		}
		if len(res.Quarantined) != 1 || res.Quarantined[0].Key != cc.Ref.Key || res.Quarantined[0].Quarantine == nil {
			t.Errorf("quarantined %+v, want %s", res.Quarantined, cc.Ref.Key)
		}
		refs, _ := c.List(ctx, "Tickets")
		if got := strings.Join(keys(refs), ","); got != b.Ref.Key+","+cc.Ref.Key {
			t.Fatalf("left %s", got)
		}
		// Again: the newest verified backup and the quarantined one stay.
		res, err = c.Prune(ctx, "Tickets", backup.Retention{KeepLast: 1}, nil)
		if err != nil || len(res.Deleted) != 0 || len(res.Quarantined) != 0 || res.Kept != 2 {
			t.Fatalf("second prune = %+v, %v", res, err)
		}
		if _, err := c.Verify(ctx, b.Ref.Key); err != nil {
			t.Fatalf("the kept backup does not verify: %v", err)
		}
	})
}

// countingStore counts downloads of one container.
type countingStore struct {
	blobstore.Store
	container string
	mu        sync.Mutex
	gets      int
}

func (s *countingStore) Get(ctx context.Context, c, key string) (io.ReadCloser, blobstore.Info, error) {
	if c == s.container {
		s.mu.Lock()
		s.gets++
		s.mu.Unlock()
	}
	return s.Store.Get(ctx, c, key)
}

func (s *countingStore) reset() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.gets
	s.gets = 0
	return n
}

// TestPruneVerificationCache: a prune reads each backup once; later prunes
// trust the cache while the blob is unchanged.
func TestPruneVerificationCache(t *testing.T) {
	stores(t, func(t *testing.T, st blobstore.Store) {
		ctx := context.Background()
		c := newCatalog(t, st)
		s := &countingStore{Store: st, container: c.Container}
		c.Store = s
		var saved []backup.SaveResult
		for i, dd := range []int{1, 3, 5, 7} {
			saved = append(saved, save(t, c, variant(t, string(rune('a'+i))), nil, day(dd), nil))
		}
		s.reset()
		if _, err := c.Prune(ctx, "Tickets", backup.Retention{KeepLast: 4}, nil); err != nil {
			t.Fatal(err)
		}
		if n := s.reset(); n != 4 {
			t.Errorf("first prune read %d backups, want 4", n)
		}
		if _, err := c.Prune(ctx, "Tickets", backup.Retention{KeepLast: 4}, nil); err != nil {
			t.Fatal(err)
		}
		if n := s.reset(); n != 0 {
			t.Errorf("a prune with a warm cache and nothing to delete read %d backups, want 0", n)
		}
		if _, err := c.Prune(ctx, "Tickets", backup.Retention{KeepLast: 4}, &backup.PruneOptions{Reverify: true}); err != nil {
			t.Fatal(err)
		}
		if n := s.reset(); n != 4 {
			t.Errorf("--reverify read %d backups, want 4", n)
		}
		// A rewritten blob has a new ETag: the cache no longer vouches for it.
		damage(t, st, c, saved[1].Ref.Key)
		res, err := c.Prune(ctx, "Tickets", backup.Retention{KeepLast: 4}, nil)
		if err != nil || len(res.Quarantined) != 1 || res.Quarantined[0].Key != saved[1].Ref.Key {
			t.Errorf("prune after a rewrite = %+v, %v", res, err)
		}
		if n := s.reset(); n != 1 {
			t.Errorf("read %d backups, want only the rewritten one", n)
		}
	})
}

// TestPruneRereadsTheBackupItKeeps: the newest verified backup is read
// again before anything of its group goes, whatever the cache says, so a
// backup changed in place without a new ETag (a directory store allows
// it) cannot let retention delete the last good one.
func TestPruneRereadsTheBackupItKeeps(t *testing.T) {
	dir := t.TempDir()
	d, err := blobstore.NewDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := newCatalog(t, d)
	s := &countingStore{Store: d, container: c.Container}
	c.Store = s
	var saved []backup.SaveResult
	for i, dd := range []int{1, 3, 5, 7} {
		saved = append(saved, save(t, c, variant(t, string(rune('a'+i))), nil, day(dd), nil))
	}
	if _, err := c.Prune(ctx, "Tickets", backup.Retention{KeepLast: 4}, nil); err != nil {
		t.Fatal(err)
	}
	s.reset()
	newest := saved[3].Ref.Key
	p := filepath.Join(dir, c.Container, filepath.FromSlash(newest))
	body, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	body[len(body)/2] ^= 0xff // same size: the directory store keeps the ETag
	if err := os.WriteFile(p, body, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := c.Prune(ctx, "Tickets", backup.Retention{KeepLast: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Quarantined) != 1 || res.Quarantined[0].Key != newest {
		t.Errorf("quarantined %v, want the damaged newest", keys(res.Quarantined))
	}
	if got, want := strings.Join(keys(res.Deleted), ","), saved[0].Ref.Key; got != want {
		t.Errorf("deleted %s, want %s", got, want)
	}
	if n := s.reset(); n != 2 {
		t.Errorf("read %d backups, want 2 (the damaged newest, then the next newest)", n)
	}
}

func TestRetentionValidate(t *testing.T) {
	tests := []struct {
		name   string
		policy backup.Retention
		want   []string // "" when valid
	}{
		{"defaults", backup.Retention{KeepLast: 30, KeepDays: 90}, nil},
		{"both off", backup.Retention{}, nil},
		{"negative keepLast", backup.Retention{KeepLast: -5}, []string{"keepLast -5", "0 (rule off) to 100000"}},
		{"negative keepDays", backup.Retention{KeepDays: -1}, []string{"keepDays -1", "0 (rule off) to 36500"}},
		{"overflowing keepDays", backup.Retention{KeepDays: 200000}, []string{"keepDays 200000"}},
		{"both bad", backup.Retention{KeepLast: -1, KeepDays: -1}, []string{"keepLast -1", "keepDays -1"}},
	}
	s, err := blobstore.NewDir(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newCatalog(t, s)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Validate()
			if (err == nil) != (tt.want == nil) {
				t.Fatalf("Validate = %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if tt.want != nil {
				if _, err := c.Prune(context.Background(), "", tt.policy, nil); !errors.Is(err, backup.ErrRetention) {
					t.Errorf("Prune = %v, want ErrRetention", err)
				}
			}
		})
	}
}

// wormStore refuses to change or delete an existing blob of the backup
// container, as an immutability policy does.
type wormStore struct {
	blobstore.Store
	container string
}

var errWORM = errors.New("this blob is immutable (write-once container)")

func (w wormStore) Put(ctx context.Context, c, key string, r io.Reader, opts *blobstore.PutOptions) (blobstore.Info, error) {
	if c == w.container && (opts == nil || !opts.IfNoneMatch) {
		return blobstore.Info{}, errWORM
	}
	return w.Store.Put(ctx, c, key, r, opts)
}

func (w wormStore) Delete(ctx context.Context, c, key, ifMatch string) error {
	if c == w.container {
		return errWORM
	}
	return w.Store.Delete(ctx, c, key, ifMatch)
}

// TestQuarantineByHand: an operator sets a sound backup aside; it stays,
// marked, is not restored, reused or deleted by retention, and can be
// released or deleted only on purpose. It works on a write-once container.
func TestQuarantineByHand(t *testing.T) {
	stores(t, func(t *testing.T, s blobstore.Store) {
		ctx := context.Background()
		c := newCatalog(t, s)
		old := save(t, c, variant(t, "1"), nil, day(1), nil)
		mid := save(t, c, variant(t, "2"), nil, day(2), nil)
		newest := save(t, c, variant(t, "2"), nil, day(3), nil) // same content as mid, a later key
		worm := *c
		worm.Store = wormStore{Store: s, container: c.Container}

		q, created, err := worm.Quarantine(ctx, old.Ref.Key, "labels poisoned by a bad import", "ops")
		if err != nil || !created || q.Reason != "labels poisoned by a bad import" || q.By != "ops" {
			t.Fatalf("Quarantine = %+v, %v, %v", q, created, err)
		}
		if again, created, err := worm.Quarantine(ctx, old.Ref.Key, "another reason", "ops"); err != nil || created || again.Reason != q.Reason {
			t.Fatalf("second Quarantine = %+v, %v, %v; want the first record", again, created, err)
		}
		if _, _, err := worm.Quarantine(ctx, old.Ref.Key, "  ", "ops"); err == nil {
			t.Error("a quarantine without a reason was accepted")
		}
		if _, _, err := worm.Quarantine(ctx, "primary/Tickets/20200101T000000Z-000000000000.tar.gz", "x", "ops"); !errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("quarantining an unknown backup = %v", err)
		}
		if _, err := worm.Open(ctx, old.Ref.Key); !errors.Is(err, backup.ErrQuarantined) || !strings.Contains(err.Error(), "labels poisoned") {
			t.Errorf("Open(quarantined) = %v", err)
		}
		if _, err := worm.FindAt(ctx, "Tickets", day(1).Add(time.Hour)); !errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("FindAt found the quarantined backup: %v", err)
		}
		found, err := worm.Find(ctx, "Tickets", old.Ref.Key)
		if err != nil || found.Quarantine == nil {
			t.Errorf("Find = %+v, %v; want it marked", found, err)
		}
		ql, err := worm.Quarantined(ctx, "primary", "Tickets")
		if err != nil || len(ql) != 1 || ql[0].Key != old.Ref.Key {
			t.Errorf("Quarantined = %v, %v", keys(ql), err)
		}

		// Retention passes the quarantined backup by; on WORM the delete of
		// mid fails and is reported, the rest carries on.
		res, err := worm.Prune(ctx, "Tickets", backup.Retention{KeepLast: 1}, nil)
		if !errors.Is(err, errWORM) || len(res.Deleted) != 0 {
			t.Errorf("Prune on WORM = %+v, %v", res, err)
		}
		res, err = c.Prune(ctx, "Tickets", backup.Retention{KeepLast: 1}, nil)
		if err != nil || strings.Join(keys(res.Deleted), ",") != mid.Ref.Key {
			t.Fatalf("Prune = %+v, %v; want only %s deleted", res, err, mid.Ref.Key)
		}

		// The guarded delete: the newest verified backup stays unless forced.
		if _, err := c.Remove(ctx, newest.Ref.Key, nil); !errors.Is(err, backup.ErrNewestVerified) {
			t.Fatalf("Remove(newest verified) = %v", err)
		}
		if _, err := c.Remove(ctx, old.Ref.Key, nil); err != nil {
			t.Fatalf("Remove(quarantined) = %v", err)
		}
		if ql, _ := c.Quarantined(ctx, "primary", "Tickets"); len(ql) != 0 {
			t.Errorf("quarantine record outlived its backup: %v", keys(ql))
		}
		if _, err := c.Remove(ctx, newest.Ref.Key, &backup.RemoveOptions{Force: true}); err != nil {
			t.Fatalf("forced Remove = %v", err)
		}
		if refs, _ := c.List(ctx, ""); len(refs) != 0 {
			t.Errorf("left: %v", keys(refs))
		}
	})
}

func TestUnquarantine(t *testing.T) {
	s, err := blobstore.NewDir(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := newCatalog(t, s)
	b := save(t, c, variant(t, "1"), nil, day(1), nil)
	if err := c.Unquarantine(ctx, b.Ref.Key); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Unquarantine(not quarantined) = %v", err)
	}
	if _, _, err := c.Quarantine(ctx, b.Ref.Key, "suspect", "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Latest(ctx, "Tickets"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Latest with only a quarantined backup = %v", err)
	}
	if err := c.Unquarantine(ctx, b.Ref.Key); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Latest(ctx, "Tickets"); err != nil || got.Key != b.Ref.Key || got.Quarantine != nil {
		t.Fatalf("Latest after unquarantine = %+v, %v", got, err)
	}
	noState := backup.NewCatalog(s, c.Container)
	if _, _, err := noState.Quarantine(ctx, b.Ref.Key, "x", "ops"); err == nil || !strings.Contains(err.Error(), "no state container") {
		t.Errorf("Quarantine without a state container = %v", err)
	}
}

// putExport stores an export JSON in the catalog as a backup would be: a
// backup name and sha256 metadata.
func putExport(t *testing.T, s blobstore.Store, c *backup.Catalog, body []byte, at time.Time) string {
	t.Helper()
	sum := sha256.Sum256(body)
	hexsum := hex.EncodeToString(sum[:])
	key := langsync.BackupKey("primary", "Tickets", at, hexsum)
	if _, err := s.Put(context.Background(), c.Container, key, bytes.NewReader(body), &blobstore.PutOptions{IfNoneMatch: true, Metadata: map[string]string{"sha256": hexsum}}); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestExportJSONInCatalog is the one answer for an export JSON kept in the
// catalog: restore reads it (a plain Language Studio export restores), so
// verify accepts it and says what it is, and list and prune count it as a
// backup. A damaged one fails all of them alike.
func TestExportJSONInCatalog(t *testing.T) {
	tests := []struct {
		fixture string
		kind    backup.Kind
	}{
		{"studio-export.json", backup.KindProjectJSON},
		{"legacy-2021-11-01-preview-single.json", backup.KindLegacy},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			stores(t, func(t *testing.T, s blobstore.Store) {
				ctx := context.Background()
				c := newCatalog(t, s)
				older := save(t, c, variant(t, "1"), studioDocs(), day(1), nil)
				plain := putExport(t, s, c, readFixture(t, tt.fixture), day(2))

				refs, err := c.List(ctx, "")
				if err != nil || len(refs) != 2 || refs[1].Key != plain {
					t.Fatalf("List = %v, %v", keys(refs), err)
				}
				kind, m, err := c.Inspect(ctx, plain)
				if err != nil || kind != tt.kind || m.Counts.DocumentsStored != 0 {
					t.Fatalf("Inspect = %s, %+v, %v", kind, m, err)
				}
				a, err := c.Open(ctx, plain)
				if err != nil || a.Kind != tt.kind {
					t.Fatalf("Open = %v, %v", a, err)
				}
				a.Close()
				if at, err := c.FindAt(ctx, "Tickets", day(3)); err != nil || at.Key != plain {
					t.Errorf("FindAt = %s, %v; want the export", at.Key, err)
				}
				// It verifies, so it is the newest verified backup of its group.
				res, err := c.Prune(ctx, "", backup.Retention{KeepLast: 1}, nil)
				if err != nil || len(res.Quarantined) != 0 {
					t.Fatalf("Prune = %+v, %v", res, err)
				}
				if got := strings.Join(keys(res.Deleted), ","); got != older.Ref.Key {
					t.Errorf("Prune deleted %q, want %q", got, older.Ref.Key)
				}

				// A damaged export: every reader says no, retention sets it aside.
				bad := readFixture(t, tt.fixture)
				bad = bad[:len(bad)/2]
				badKey := putExport(t, s, c, bad, day(4))
				if _, _, err := c.Inspect(ctx, badKey); !backup.IsCorrupt(err) {
					t.Errorf("Inspect(truncated export) = %v", err)
				}
				if _, err := c.Open(ctx, badKey); err == nil {
					t.Errorf("Open(truncated export) succeeded")
				}
				res, err = c.Prune(ctx, "", backup.Retention{KeepLast: 1}, nil)
				if err != nil || len(res.Quarantined) != 1 || res.Quarantined[0].Key != badKey || len(res.Deleted) != 0 {
					t.Errorf("Prune with a truncated export = %+v, %v", res, err)
				}
			})
		})
	}
}
