// Package blobstoretest is the contract every blobstore.Store must meet,
// run over the directory store and over Azurite (and over real Azure when
// someone points it there).
package blobstoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/langsync"
)

// Clock is a fake clock that the suite advances to expire locks.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the fake time forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// NewStore returns a fresh store whose lock expiry uses now.
type NewStore func(t *testing.T, now func() time.Time) blobstore.Store

// Run runs the contract suite. Every subtest uses its own container.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blobstore.Store, c string, clock *Clock)
	}{
		{"PutGetRoundTrip", testPutGet},
		{"MetadataKeysAreCaseInsensitive", testMetadataCase},
		{"BadMetadataRejected", testBadMetadata},
		{"NotFound", testNotFound},
		{"MissingContainer", testMissingContainer},
		{"IfNoneMatchCreatesOnce", testIfNoneMatch},
		{"IfMatchGuardsUpdates", testIfMatch},
		{"ConcurrentCreatorsOneWins", testConcurrentCreate},
		{"ConcurrentUpdatersOneWins", testConcurrentUpdate},
		{"ListSortedByPrefix", testList},
		{"DeleteWithETag", testDelete},
		{"LargeStreamedPut", testLarge},
		{"EnsureContainerIdempotent", testEnsure},
		{"BadKeysRejected", testBadKeys},
		{"LockExclusive", testLock},
		{"LockExpiredIsTakenOver", testLockExpiry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &Clock{t: time.Now()}
			s := newStore(t, clock.Now)
			c := ContainerName(t)
			if err := s.EnsureContainer(context.Background(), c); err != nil {
				t.Fatalf("EnsureContainer(%q): %v", c, err)
			}
			tt.fn(t, s, c, clock)
		})
	}
}

// ContainerName returns a fresh valid container name for a test.
func ContainerName(tb testing.TB) string {
	tb.Helper()
	var b [6]byte
	rand.Read(b[:])
	return "t-" + hex.EncodeToString(b[:])
}

// MustPut writes a blob or fails the test.
func MustPut(tb testing.TB, s blobstore.Store, c, key, body string, opts *blobstore.PutOptions) blobstore.Info {
	tb.Helper()
	info, err := s.Put(context.Background(), c, key, strings.NewReader(body), opts)
	if err != nil {
		tb.Fatalf("Put(%s): %v", key, err)
	}
	return info
}

// MustGet reads a whole blob or fails the test.
func MustGet(tb testing.TB, s blobstore.Store, c, key string) (string, blobstore.Info) {
	tb.Helper()
	rc, info, err := s.Get(context.Background(), c, key)
	if err != nil {
		tb.Fatalf("Get(%s): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("reading %s: %v", key, err)
	}
	return string(b), info
}

func testPutGet(t *testing.T, s blobstore.Store, c string, _ *Clock) {
	before := time.Now().Add(-time.Minute)
	put := MustPut(t, s, c, "a/b/doc.json", `{"x":1}`, &blobstore.PutOptions{
		Metadata: map[string]string{"sha256": "abc", "project": "Tickets"}, ContentType: "application/json",
	})
	if put.ETag == "" || put.Size != 7 || put.Key != "a/b/doc.json" {
		t.Fatalf("Put info = %+v, want key, size 7 and an ETag", put)
	}
	body, info := MustGet(t, s, c, "a/b/doc.json")
	if body != `{"x":1}` {
		t.Fatalf("Get body = %q", body)
	}
	if info.ETag != put.ETag || info.Size != 7 || info.ContentType != "application/json" {
		t.Fatalf("Get info = %+v, want ETag %s size 7 content type json", info, put.ETag)
	}
	if info.Metadata["sha256"] != "abc" || info.Metadata["project"] != "Tickets" {
		t.Fatalf("Get metadata = %v", info.Metadata)
	}
	if info.LastModified.Before(before) {
		t.Fatalf("LastModified %v is not recent", info.LastModified)
	}
	st, err := s.Stat(context.Background(), c, "a/b/doc.json")
	if err != nil || st.ETag != put.ETag || st.Size != 7 || st.Metadata["sha256"] != "abc" {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	// An unconditional put replaces the blob and its metadata.
	put2 := MustPut(t, s, c, "a/b/doc.json", "replaced", nil)
	if put2.ETag == put.ETag {
		t.Fatalf("ETag unchanged after overwrite: %s", put2.ETag)
	}
	body, info = MustGet(t, s, c, "a/b/doc.json")
	if body != "replaced" || len(info.Metadata) != 0 {
		t.Fatalf("after overwrite: body %q metadata %v", body, info.Metadata)
	}
	// Empty blobs are blobs.
	MustPut(t, s, c, "empty", "", nil)
	if body, info := MustGet(t, s, c, "empty"); body != "" || info.Size != 0 {
		t.Fatalf("empty blob: %q size %d", body, info.Size)
	}
}

func testMetadataCase(t *testing.T, s blobstore.Store, c string, _ *Clock) {
	MustPut(t, s, c, "k", "v", &blobstore.PutOptions{Metadata: map[string]string{"SourceLastModified": "2026-01-02T03:04:05Z"}})
	_, info := MustGet(t, s, c, "k")
	if info.Metadata["sourcelastmodified"] != "2026-01-02T03:04:05Z" {
		t.Fatalf("metadata after Get = %v, want lowercase key sourcelastmodified", info.Metadata)
	}
	list, err := s.List(context.Background(), c, "k")
	if err != nil || len(list) != 1 || list[0].Metadata["sourcelastmodified"] == "" {
		t.Fatalf("List = %+v, %v; want lowercase metadata", list, err)
	}
}

func testBadMetadata(t *testing.T, s blobstore.Store, c string, _ *Clock) {
	for _, md := range []map[string]string{
		{"has-dash": "x"},
		{"1starts": "x"},
		{"ok": "caf\u00e9"},
		{"Dup": "a", "dup": "b"},
	} {
		_, err := s.Put(context.Background(), c, "k", strings.NewReader("v"), &blobstore.PutOptions{Metadata: md})
		if err == nil || !strings.Contains(err.Error(), "metadata") {
			t.Errorf("Put with metadata %v: err = %v, want a metadata error", md, err)
		}
	}
	if _, err := s.Stat(context.Background(), c, "k"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("a rejected put wrote something: Stat err = %v", err)
	}
}

func testNotFound(t *testing.T, s blobstore.Store, c string, _ *Clock) {
	ctx := context.Background()
	_, _, err := s.Get(ctx, c, "missing")
	if !errors.Is(err, blobstore.ErrNotFound) || !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, langsync.ErrNotFound) {
		t.Fatalf("Get missing: %v, want ErrNotFound, fs.ErrNotExist and langsync.ErrNotFound", err)
	}
	var be *blobstore.Error
	if !errors.As(err, &be) || be.Key != "missing" || be.Op != "get" {
		t.Fatalf("Get missing: %#v, want *blobstore.Error naming op and key", err)
	}
	if _, err := s.Stat(ctx, c, "missing"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Stat missing: %v", err)
	}
	if err := s.Delete(ctx, c, "missing", ""); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Delete missing: %v", err)
	}
	list, err := s.List(ctx, c, "")
	if err != nil || len(list) != 0 {
		t.Fatalf("List empty container = %v, %v", list, err)
	}
}

func testMissingContainer(t *testing.T, s blobstore.Store, _ string, _ *Clock) {
	ctx := context.Background()
	c := ContainerName(t)
	if _, _, err := s.Get(ctx, c, "k"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Get in missing container: %v", err)
	}
	if _, err := s.Put(ctx, c, "k", strings.NewReader("v"), nil); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Put in missing container: %v", err)
	}
	if _, err := s.List(ctx, c, ""); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("List missing container: %v", err)
	}
}

func testIfNoneMatch(t *testing.T, s blobstore.Store, c string, _ *Clock) {
	ctx := context.Background()
	first := MustPut(t, s, c, "once", "first", &blobstore.PutOptions{IfNoneMatch: true})
	_, err := s.Put(ctx, c, "once", strings.NewReader("second"), &blobstore.PutOptions{IfNoneMatch: true})
	if !errors.Is(err, blobstore.ErrConflict) || !errors.Is(err, langsync.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict and langsync.ErrConflict", err)
	}
	body, info := MustGet(t, s, c, "once")
	if body != "first" || info.ETag != first.ETag {
		t.Fatalf("after refused create: %q %s", body, info.ETag)
	}
	// Large bodies take the staged path; the condition must hold there too.
	big := bytes.Repeat([]byte("x"), 3<<20)
	if _, err := s.Put(ctx, c, "once", bytes.NewReader(big), &blobstore.PutOptions{IfNoneMatch: true}); !errors.Is(err, blobstore.ErrConflict) {
		t.Fatalf("large second create: %v, want ErrConflict", err)
	}
	if body, _ := MustGet(t, s, c, "once"); body != "first" {
		t.Fatalf("large refused create changed the blob")
	}
}

func testIfMatch(t *testing.T, s blobstore.Store, c string, _ *Clock) {
	ctx := context.Background()
	v1 := MustPut(t, s, c, "state.json", `{"v":1}`, nil)
	v2 := MustPut(t, s, c, "state.json", `{"v":2}`, &blobstore.PutOptions{IfMatch: v1.ETag})
	if v2.ETag == v1.ETag {
		t.Fatal("ETag unchanged by a conditional update")
	}
	_, err := s.Put(ctx, c, "state.json", strings.NewReader(`{"v":"stale"}`), &blobstore.PutOptions{IfMatch: v1.ETag})
	if !errors.Is(err, blobstore.ErrConflict) {
		t.Fatalf("stale IfMatch: %v, want ErrConflict", err)
	}
	if body, _ := MustGet(t, s, c, "state.json"); body != `{"v":2}` {
		t.Fatalf("stale write landed: %s", body)
	}
	_, err = s.Put(ctx, c, "gone.json", strings.NewReader("x"), &blobstore.PutOptions{IfMatch: v1.ETag})
	if !errors.Is(err, blobstore.ErrConflict) {
		t.Fatalf("IfMatch on missing blob: %v, want ErrConflict", err)
	}
}

func testConcurrentCreate(t *testing.T, s blobstore.Store, c string, _ *Clock) {
	const n = 8
	var wins, conflicts int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.Put(context.Background(), c, "race", strings.NewReader(strings.Repeat("x", i+1)), &blobstore.PutOptions{IfNoneMatch: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, blobstore.ErrConflict):
				conflicts++
			default:
				t.Errorf("racing create: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != n-1 {
		t.Fatalf("%d creators: %d won, %d conflicted; want exactly one winner", n, wins, conflicts)
	}
}

func testConcurrentUpdate(t *testing.T, s blobstore.Store, c string, _ *Clock) {
	base := MustPut(t, s, c, "run.json", "v0", nil)
	const n = 8
	var wins int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := s.Put(context.Background(), c, "run.json", strings.NewReader("v1"), &blobstore.PutOptions{IfMatch: base.ETag})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
			} else if !errors.Is(err, blobstore.ErrConflict) {
				t.Errorf("racing update: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d updaters from one ETag: %d won, want 1", n, wins)
	}
}

func testList(t *testing.T, s blobstore.Store, c string, _ *Clock) {
	for _, k := range []string{"src/P/20260102T000000Z-bbb.tar.gz", "src/P/20260101T000000Z-aaa.tar.gz", "src/P-2/x", "src/Q/y", "src/P/sub/z", "top"} {
		MustPut(t, s, c, k, k, &blobstore.PutOptions{Metadata: map[string]string{"name": strings.ReplaceAll(k, "/", "_")}})
	}
	list, err := s.List(context.Background(), c, "src/P/")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, i := range list {
		keys = append(keys, i.Key)
		if i.Size != int64(len(i.Key)) || i.ETag == "" || i.Metadata["name"] == "" {
			t.Errorf("List item %+v lacks size, ETag or metadata", i)
		}
	}
	want := "src/P/20260101T000000Z-aaa.tar.gz,src/P/20260102T000000Z-bbb.tar.gz,src/P/sub/z"
	if got := strings.Join(keys, ","); got != want {
		t.Fatalf("List(src/P/) = %s\nwant %s", got, want)
	}
	all, err := s.List(context.Background(), c, "")
	if err != nil || len(all) != 6 {
		t.Fatalf("List all = %d items, %v; want 6", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].Key >= all[i].Key {
			t.Fatalf("List not sorted: %q before %q", all[i-1].Key, all[i].Key)
		}
	}
	partial, err := s.List(context.Background(), c, "src/P")
	if err != nil || len(partial) != 4 {
		t.Fatalf("List(src/P) = %d items, %v; want 4 (P/ and P-2)", len(partial), err)
	}
}

func testDelete(t *testing.T, s blobstore.Store, c string, _ *Clock) {
	ctx := context.Background()
	v1 := MustPut(t, s, c, "d/x", "1", nil)
	v2 := MustPut(t, s, c, "d/x", "2", nil)
	if err := s.Delete(ctx, c, "d/x", v1.ETag); !errors.Is(err, blobstore.ErrConflict) {
		t.Fatalf("Delete with stale ETag: %v, want ErrConflict", err)
	}
	if err := s.Delete(ctx, c, "d/x", v2.ETag); err != nil {
		t.Fatalf("Delete with current ETag: %v", err)
	}
	if _, err := s.Stat(ctx, c, "d/x"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	MustPut(t, s, c, "d/y", "y", nil)
	if err := s.Delete(ctx, c, "d/y", ""); err != nil {
		t.Fatalf("unconditional Delete: %v", err)
	}
	// Nothing left behind: a key can now be reused as a prefix and vice versa.
	MustPut(t, s, c, "d", "now a blob", nil)
	if list, _ := s.List(ctx, c, ""); len(list) != 1 || list[0].Key != "d" {
		t.Fatalf("List after deletes = %+v, want only d", list)
	}
}

func testLarge(t *testing.T, s blobstore.Store, c string, _ *Clock) {
	// 9 MiB from a reader of unknown length: more than one block.
	const size = 9<<20 + 123
	h := sha256.New()
	src := io.TeeReader(io.LimitReader(rand.Reader, size), h)
	info, err := s.Put(context.Background(), c, "big.bin", struct{ io.Reader }{src}, &blobstore.PutOptions{IfNoneMatch: true, Metadata: map[string]string{"kind": "big"}})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != size {
		t.Fatalf("Put size = %d, want %d", info.Size, size)
	}
	want := hex.EncodeToString(h.Sum(nil))
	rc, ginfo, err := s.Get(context.Background(), c, "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	gh := sha256.New()
	n, err := io.Copy(gh, rc)
	if err != nil || n != size || hex.EncodeToString(gh.Sum(nil)) != want {
		t.Fatalf("Get: %d bytes, err %v, hash match %v", n, err, hex.EncodeToString(gh.Sum(nil)) == want)
	}
	if ginfo.Size != size || ginfo.Metadata["kind"] != "big" {
		t.Fatalf("Get info %+v", ginfo)
	}
}

func testEnsure(t *testing.T, s blobstore.Store, c string, _ *Clock) {
	MustPut(t, s, c, "keep", "x", nil)
	if err := s.EnsureContainer(context.Background(), c); err != nil {
		t.Fatalf("second EnsureContainer: %v", err)
	}
	if body, _ := MustGet(t, s, c, "keep"); body != "x" {
		t.Fatal("EnsureContainer lost data")
	}
	if err := s.EnsureContainer(context.Background(), "Bad_Name"); err == nil {
		t.Fatal("EnsureContainer(Bad_Name) succeeded, want a naming error")
	}
}

func testBadKeys(t *testing.T, s blobstore.Store, c string, _ *Clock) {
	for _, k := range []string{"", "../escape", "a/../../b", "/abs", "a//b", "trailing/"} {
		if _, err := s.Put(context.Background(), c, k, strings.NewReader("x"), nil); err == nil {
			t.Errorf("Put(%q) succeeded, want an error", k)
		}
	}
}

func testLock(t *testing.T, s blobstore.Store, c string, clock *Clock) {
	ctx := context.Background()
	l, err := s.Lock(ctx, c, "locks/t/p.lock", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if l.ID() == "" || !l.Expires().After(clock.Now()) {
		t.Fatalf("lock ID %q expires %v", l.ID(), l.Expires())
	}
	if _, err := s.Lock(ctx, c, "locks/t/p.lock", 30*time.Second); !errors.Is(err, blobstore.ErrLocked) || !errors.Is(err, langsync.ErrLocked) {
		t.Fatalf("second Lock: %v, want ErrLocked and langsync.ErrLocked", err)
	}
	if _, err := s.Put(ctx, c, "locks/t/p.lock", strings.NewReader("x"), nil); !errors.Is(err, blobstore.ErrLocked) {
		t.Fatalf("Put on a locked key: %v, want ErrLocked", err)
	}
	if err := s.Delete(ctx, c, "locks/t/p.lock", ""); !errors.Is(err, blobstore.ErrLocked) {
		t.Fatalf("Delete of a locked key: %v, want ErrLocked", err)
	}
	if err := l.Renew(ctx); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	// Another key is independent.
	other, err := s.Lock(ctx, c, "locks/t/q.lock", 30*time.Second)
	if err != nil {
		t.Fatalf("Lock of another key: %v", err)
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := l.Release(ctx); err == nil {
		t.Fatal("second Release succeeded, want an error")
	}
	l2, err := s.Lock(ctx, c, "locks/t/p.lock", 30*time.Second)
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	if l2.ID() == l.ID() {
		t.Fatal("a new holding reused the old ID")
	}
	if err := l.Renew(ctx); !errors.Is(err, blobstore.ErrLockLost) {
		t.Fatalf("Renew of a released lock now held by another: %v, want ErrLockLost", err)
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock(ctx, c, "locks/t/p.lock", 0); err == nil {
		t.Fatal("Lock with zero TTL succeeded")
	}
}

func testLockExpiry(t *testing.T, s blobstore.Store, c string, clock *Clock) {
	ctx := context.Background()
	const ttl = 5 * time.Minute
	a, err := s.Lock(ctx, c, "locks/x.lock", ttl)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(ttl / 2)
	if _, err := s.Lock(ctx, c, "locks/x.lock", ttl); !errors.Is(err, blobstore.ErrLocked) {
		t.Fatalf("Lock before expiry: %v, want ErrLocked", err)
	}
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	clock.Advance(ttl - time.Second)
	if _, err := s.Lock(ctx, c, "locks/x.lock", ttl); !errors.Is(err, blobstore.ErrLocked) {
		t.Fatalf("Lock after renewal, before the renewed expiry: %v, want ErrLocked", err)
	}
	clock.Advance(2 * time.Second)
	b, err := s.Lock(ctx, c, "locks/x.lock", ttl)
	if err != nil {
		t.Fatalf("Lock after expiry: %v, want takeover", err)
	}
	if err := a.Renew(ctx); !errors.Is(err, blobstore.ErrLockLost) {
		t.Fatalf("Renew by the expired holder: %v, want ErrLockLost", err)
	}
	if err := a.Release(ctx); !errors.Is(err, blobstore.ErrLockLost) {
		t.Fatalf("Release by the expired holder: %v, want ErrLockLost", err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatalf("Release by the new holder: %v", err)
	}
}
