package backup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/blobstore/blobstoretest"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/langsync"
)

func TestMain(m *testing.M) { os.Exit(azuritetest.Main(m)) }

// stores runs fn over the directory store and over Azurite.
func stores(t *testing.T, fn func(t *testing.T, s blobstore.Store)) {
	t.Run("Dir", func(t *testing.T) {
		s, err := blobstore.NewDir(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		fn(t, s)
	})
	t.Run("Azurite", func(t *testing.T) {
		s, err := storeopen.Open(context.Background(), azuritetest.Shared(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		fn(t, s)
	})
}

func newCatalog(t *testing.T, s blobstore.Store) *backup.Catalog {
	t.Helper()
	c := backup.NewCatalog(s, blobstoretest.ContainerName(t))
	c.StateContainer = c.Container + "-state"
	for _, name := range []string{c.Container, c.StateContainer} {
		if err := s.EnsureContainer(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	c.TempDir = t.TempDir()
	return c
}

func save(t *testing.T, c *backup.Catalog, export []byte, docs backup.DocumentSource, at time.Time, opts *backup.SaveOptions) backup.SaveResult {
	t.Helper()
	res, err := c.Save(context.Background(), bytes.NewReader(export), docs, backup.ManifestInfo{Source: "primary", APIVersion: "2023-04-01", ExportedAt: at}, opts)
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	return res
}

// variant returns the fixture export with a different description, so it
// has a different fingerprint.
func variant(t *testing.T, n string) []byte {
	return bytes.Replace(readFixture(t, "studio-export.json"), []byte("Exported from Language Studio"), []byte("variant "+n), 1)
}

func TestCatalog(t *testing.T) {
	stores(t, func(t *testing.T, s blobstore.Store) {
		ctx := context.Background()
		c := newCatalog(t, s)
		day := func(d int) time.Time { return time.Date(2026, 11, d, 2, 0, 0, 0, time.UTC) }

		first := save(t, c, variant(t, "1"), studioDocs(), day(1), nil)
		if !first.Created || first.Ref.Documents != 4 || first.Ref.Project != "Tickets" || first.Ref.Source != "primary" {
			t.Fatalf("first save = %+v", first)
		}
		if !strings.HasPrefix(first.Ref.Key, "primary/Tickets/20261101T020000Z-"+first.Ref.SHA256[:12]) {
			t.Fatalf("key %s does not follow the layout", first.Ref.Key)
		}
		info, err := s.Stat(ctx, c.Container, first.Ref.Key)
		if err != nil || info.Metadata["sha256"] != first.Ref.SHA256 || info.Metadata["fingerprint"] != first.Manifest.Fingerprint || info.Metadata["apiversion"] != "2023-04-01" {
			t.Fatalf("blob metadata = %v, %v", info.Metadata, err)
		}

		// Same content again: same key, nothing rewritten.
		again := save(t, c, variant(t, "1"), studioDocs(), day(1), nil)
		if again.Created || again.Ref.Key != first.Ref.Key {
			t.Fatalf("second identical save = %+v", again)
		}
		// Unchanged project later: skipped with SkipIfUnchanged.
		skipped := save(t, c, variant(t, "1"), studioDocs(), day(2), &backup.SaveOptions{SkipIfUnchanged: true})
		if skipped.Created || skipped.Ref.Key != first.Ref.Key {
			t.Fatalf("unchanged save = %+v, want the existing backup", skipped)
		}
		second := save(t, c, variant(t, "2"), studioDocs(), day(5), &backup.SaveOptions{SkipIfUnchanged: true})
		third := save(t, c, variant(t, "3"), nil, day(9), nil)
		if !second.Created || !third.Created || third.Ref.Documents != 0 {
			t.Fatalf("later saves: %+v %+v", second, third)
		}
		// A stray blob and a backup-like name without metadata are ignored.
		blobstoretest.MustPut(t, s, c.Container, "primary/Tickets/notes.txt", "x", nil)
		blobstoretest.MustPut(t, s, c.Container, "primary/Tickets/20261110T000000Z-aaaaaaaaaaaa.tar.gz", "x", nil)

		refs, err := c.List(ctx, "Tickets")
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != 3 || refs[0].Key != first.Ref.Key || refs[2].Key != third.Ref.Key {
			t.Fatalf("List = %v", keys(refs))
		}
		if other, _ := c.List(ctx, "Other"); len(other) != 0 {
			t.Fatalf("List(Other) = %v", keys(other))
		}
		latest, err := c.Latest(ctx, "Tickets")
		if err != nil || latest.Key != third.Ref.Key {
			t.Fatalf("Latest = %v, %v", latest.Key, err)
		}
		if _, err := c.Latest(ctx, "Other"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Latest(Other) = %v, want not found", err)
		}

		// Find by full key and by bare id.
		for _, id := range []string{second.Ref.Key, strings.TrimSuffix(second.Ref.Key[len("primary/Tickets/"):], ".tar.gz"), second.Ref.Key[len("primary/Tickets/"):]} {
			got, err := c.Find(ctx, "Tickets", id)
			if err != nil || got.Key != second.Ref.Key {
				t.Errorf("Find(%q) = %v, %v", id, got.Key, err)
			}
		}
		if _, err := c.Find(ctx, "Tickets", "20990101T000000Z-000000000000"); !errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("Find(unknown) = %v", err)
		}

		// FindAt: newest verified at or before t.
		at, err := c.FindAt(ctx, "Tickets", day(7))
		if err != nil || at.Key != second.Ref.Key {
			t.Fatalf("FindAt(day 7) = %v, %v; want %s", at.Key, err, second.Ref.Key)
		}
		if _, err := c.FindAt(ctx, "Tickets", day(1).Add(-time.Hour)); !errors.Is(err, blobstore.ErrNotFound) {
			t.Fatalf("FindAt before the first backup = %v", err)
		}

		// Verify and Open round trip through the store.
		m, err := c.Verify(ctx, second.Ref.Key)
		if err != nil || m.Fingerprint != second.Manifest.Fingerprint {
			t.Fatalf("Verify = %v, %v", m, err)
		}
		a, err := c.Open(ctx, second.Ref.Key)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Export(), variant(t, "2")) || len(a.Documents()) != 4 {
			t.Fatalf("Open: export equal %v, %d documents", bytes.Equal(a.Export(), variant(t, "2")), len(a.Documents()))
		}
		a.Close()
	})
}

func TestFindAtSkipsCorruptBackups(t *testing.T) {
	stores(t, func(t *testing.T, s blobstore.Store) {
		ctx := context.Background()
		c := newCatalog(t, s)
		good := save(t, c, variant(t, "1"), studioDocs(), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), nil)
		bad := save(t, c, variant(t, "2"), studioDocs(), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), nil)
		// Damage the newer backup in place, keeping its metadata (what bit rot
		// or a tampering writer would leave).
		rc, info, err := s.Get(ctx, c.Container, bad.Ref.Key)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(rc)
		rc.Close()
		body[len(body)/2] ^= 0xff
		if err := s.Delete(ctx, c.Container, bad.Ref.Key, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, c.Container, bad.Ref.Key, bytes.NewReader(body), &blobstore.PutOptions{Metadata: info.Metadata}); err != nil {
			t.Fatal(err)
		}

		if _, err := c.Verify(ctx, bad.Ref.Key); !errors.Is(err, backup.ErrCorrupt) {
			t.Fatalf("Verify(damaged) = %v, want ErrCorrupt", err)
		}
		got, err := c.FindAt(ctx, "Tickets", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
		if err != nil || got.Key != good.Ref.Key {
			t.Fatalf("FindAt = %v, %v; want the older good backup %s", got.Key, err, good.Ref.Key)
		}
		if a, err := c.Open(ctx, bad.Ref.Key); err == nil {
			a.Close()
			t.Fatal("Open(damaged) succeeded")
		}
	})
}

func TestPrune(t *testing.T) {
	stores(t, func(t *testing.T, s blobstore.Store) {
		ctx := context.Background()
		c := newCatalog(t, s)
		now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		c.Now = func() time.Time { return now }
		var all []string
		for i := range 6 { // days 30-i*5: 30, 25, 20, 15, 10, 5
			r := save(t, c, variant(t, string(rune('a'+i))), nil, now.AddDate(0, 0, -i*5), nil)
			all = append([]string{r.Ref.Key}, all...) // oldest first
		}
		other := save(t, c, bytes.Replace(variant(t, "x"), []byte(`"Tickets"`), []byte(`"Other"`), 1), nil, now.AddDate(0, -6, 0), nil)
		// A trained model's export is its own retention group: the newest of it stays.
		model, err := c.Save(ctx, bytes.NewReader(variant(t, "m")), nil, backup.ManifestInfo{Source: "primary", TrainedModelLabel: "v1", ExportedAt: now.AddDate(0, -3, 0)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if model.Ref.Model != "v1" {
			t.Fatalf("Save ref model = %q", model.Ref.Model)
		}

		tests := []struct {
			name   string
			policy backup.Retention
			gone   []string
		}{
			{"keep last 2", backup.Retention{KeepLast: 2}, all[:4]},
			{"keep 12 days", backup.Retention{KeepDays: 12}, all[:3]},
			{"keep last 1 or 12 days", backup.Retention{KeepLast: 1, KeepDays: 12}, all[:3]},
			{"keep 1 day still keeps the newest", backup.Retention{KeepDays: 1}, all[:5]},
			{"no policy keeps everything", backup.Retention{}, nil},
		}
		for _, tt := range tests {
			res, err := c.Prune(ctx, "Tickets", tt.policy, &backup.PruneOptions{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(keys(res.Deleted), ","), strings.Join(tt.gone, ","); got != want {
				t.Errorf("%s: dry run would remove\n%s\nwant\n%s", tt.name, got, want)
			}
		}
		if refs, _ := c.List(ctx, ""); len(refs) != 8 {
			t.Fatalf("dry runs deleted something: %d left", len(refs))
		}
		// Every project: the lone old Other backup is its newest, so it stays.
		res, err := c.Prune(ctx, "", backup.Retention{KeepLast: 2}, nil)
		if err != nil || len(res.Deleted) != 4 || res.Kept != 4 {
			t.Fatalf("Prune = %+v, %v", res, err)
		}
		refs, _ := c.List(ctx, "")
		if refs[1].Model != "v1" {
			t.Fatalf("listed model = %q, want v1", refs[1].Model)
		}
		if got := strings.Join(keys(refs), ","); got != strings.Join([]string{other.Ref.Key, model.Ref.Key, all[4], all[5]}, ",") {
			t.Fatalf("left after prune: %s", got)
		}
	})
}

func TestWriteDocuments(t *testing.T) {
	stores(t, func(t *testing.T, s blobstore.Store) {
		ctx := context.Background()
		archive, _ := mustWrite(t, readFixture(t, "studio-export.json"), studioDocs())
		a, err := backup.Open(bytes.NewReader(archive), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		target := blobstoretest.ContainerName(t)
		if err := s.EnsureContainer(ctx, target); err != nil {
			t.Fatal(err)
		}
		// Pre-existing: one identical plain blob (no metadata), one different.
		blobstoretest.MustPut(t, s, target, "t01.txt", studioDocs()["tickets-docs"]["t01.txt"], nil)
		blobstoretest.MustPut(t, s, target, "t02.txt", "The website is up, thanks", nil)

		st, err := backup.WriteDocuments(ctx, a, s, target)
		if err != nil {
			t.Fatal(err)
		}
		if st.Written != 3 || st.Unchanged != 1 {
			t.Fatalf("first WriteDocuments = %+v, want 3 written (2 missing, 1 different), 1 unchanged", st)
		}
		for name, content := range studioDocs()["tickets-docs"] {
			if got, _ := blobstoretest.MustGet(t, s, target, name); got != content {
				t.Errorf("%s = %q, want %q", name, got, content)
			}
		}
		st, err = backup.WriteDocuments(ctx, a, s, target)
		if err != nil || st.Written != 0 || st.Unchanged != 4 {
			t.Fatalf("second WriteDocuments = %+v, %v; want nothing written", st, err)
		}
		// Same size, different bytes, stale sha256 metadata absent: detected by content.
		blobstoretest.MustPut(t, s, target, "t03.txt", strings.Repeat("x", len(studioDocs()["tickets-docs"]["t03.txt"])), nil)
		st, err = backup.WriteDocuments(ctx, a, s, target)
		if err != nil || st.Written != 1 {
			t.Fatalf("after changing t03 = %+v, %v; want 1 written", st, err)
		}
	})
}

func TestStoreDocumentsBacksUpFromLinkedStorage(t *testing.T) {
	stores(t, func(t *testing.T, s blobstore.Store) {
		ctx := context.Background()
		if err := s.EnsureContainer(ctx, "tickets-docs"); err != nil {
			t.Fatal(err)
		}
		for name, content := range studioDocs()["tickets-docs"] {
			blobstoretest.MustPut(t, s, "tickets-docs", name, content, nil)
		}
		archive, m := mustWrite(t, readFixture(t, "studio-export.json"), backup.StoreDocuments(s))
		if m.Counts.DocumentsStored != 4 {
			t.Fatalf("stored %d documents", m.Counts.DocumentsStored)
		}
		_, want := mustWrite(t, readFixture(t, "studio-export.json"), studioDocs())
		if m.Fingerprint != want.Fingerprint {
			t.Fatal("fingerprint differs between document sources with the same content")
		}
		if _, err := backup.Verify(bytes.NewReader(archive), nil); err != nil {
			t.Fatal(err)
		}
	})
}

func keys(refs []langsync.BackupRef) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.Key)
	}
	return out
}

// TestSameSecondBackupsOrderAsWritten: names carry whole seconds, so two
// different backups of one project in the same second used to order by
// their hashes, and Latest could return the older one. The second one now
// takes the next free second; saving the same archive again keeps its name.
func TestSameSecondBackupsOrderAsWritten(t *testing.T) {
	stores(t, func(t *testing.T, s blobstore.Store) {
		ctx := context.Background()
		c := newCatalog(t, s)
		at := time.Date(2026, 12, 6, 2, 41, 35, 0, time.UTC)
		var written []string
		for i := range 4 {
			r := save(t, c, variant(t, string(rune('a'+i))), nil, at.Add(time.Duration(i)*100*time.Millisecond), nil)
			written = append(written, r.Ref.Key)
			if want := at.Add(time.Duration(i) * time.Second); !r.Ref.Time.Equal(want) {
				t.Errorf("backup %d named for %s, want %s", i, r.Ref.Time, want)
			}
		}
		refs, err := c.List(ctx, "Tickets")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(keys(refs), ","), strings.Join(written, ","); got != want {
			t.Errorf("listed\n%s\nwant the order written\n%s", got, want)
		}
		latest, err := c.Latest(ctx, "Tickets")
		if err != nil || latest.Key != written[3] {
			t.Errorf("Latest = %s, %v; want %s", latest.Key, err, written[3])
		}
		again := save(t, c, variant(t, "a"), nil, at, nil)
		if again.Ref.Key != written[0] || again.Created {
			t.Errorf("saving the first archive again: %s created=%v, want %s reused", again.Ref.Key, again.Created, written[0])
		}
	})
}
