package blobstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/blobstore/blobstoretest"
)

func TestMain(m *testing.M) { os.Exit(azuritetest.Main(m)) }

func TestDirContract(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T, now func() time.Time) blobstore.Store {
		d, err := blobstore.NewDir(t.TempDir(), &blobstore.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestAzuriteContract(t *testing.T) {
	conn := azuritetest.Shared(t)
	blobstoretest.Run(t, func(t *testing.T, now func() time.Time) blobstore.Store {
		s, err := blobstore.Open(context.Background(), conn, &blobstore.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*blobstore.Azure); !ok {
			t.Fatalf("Open(connection string) = %T, want *blobstore.Azure", s)
		}
		return s
	})
}

func TestOpenPicksByLocator(t *testing.T) {
	dir := t.TempDir()
	s, err := blobstore.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := s.(*blobstore.Dir); !ok || d.Root() != dir {
		t.Fatalf("Open(%s) = %T", dir, s)
	}
	if _, err := blobstore.Open(context.Background(), "", nil); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
	if _, err := blobstore.Open(context.Background(), "s3://bucket", nil); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Fatalf("Open(s3://) = %v, want a scheme error", err)
	}
	s, err = blobstore.Open(context.Background(), "https://acct.blob.core.windows.net", &blobstore.Options{Credential: fakeCred{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*blobstore.Azure); !ok {
		t.Fatalf("Open(https URL) = %T", s)
	}
}

func TestMalformedConnectionStringNeverEchoesKey(t *testing.T) {
	const key = "c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="
	_, err := blobstore.Open(context.Background(), "AccountName=acct;AccountKey="+key+";DefaultEndpointsProtocol", nil)
	if err == nil {
		t.Fatal("malformed connection string accepted")
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("error echoes the account key: %v", err)
	}
}

func TestDirReadsPlainFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/docs/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dir+"/docs/sub/a.txt", []byte("hello"), 0o644)
	s, _ := blobstore.NewDir(dir, nil)
	body, info := blobstoretest.MustGet(t, s, "docs", "sub/a.txt")
	if body != "hello" || info.ETag == "" {
		t.Fatalf("plain file: %q etag %q", body, info.ETag)
	}
	// Its derived ETag guards an update like any other.
	if _, err := s.Put(context.Background(), "docs", "sub/a.txt", strings.NewReader("x"), &blobstore.PutOptions{IfMatch: `"nope"`}); !errors.Is(err, blobstore.ErrConflict) {
		t.Fatalf("stale IfMatch on a plain file: %v", err)
	}
	blobstoretest.MustPut(t, s, "docs", "sub/a.txt", "new", &blobstore.PutOptions{IfMatch: info.ETag})
	list, err := s.List(context.Background(), "docs", "")
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %+v, %v; sidecars must not be listed", list, err)
	}
}

type fakeCred struct{}

func TestAzureLeaseDurations(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	s, err := blobstore.Open(ctx, azuritetest.Shared(t), &blobstore.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	c := blobstoretest.ContainerName(t)
	if err := s.EnsureContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ttl, want time.Duration
	}{
		{time.Second, 15 * time.Second}, // Azure's minimum lease
		{30 * time.Second, 30 * time.Second},
		{1500 * time.Millisecond, 15 * time.Second},
		{10 * time.Minute, 10 * time.Minute}, // infinite lease, expiry in metadata
	} {
		l, err := s.Lock(ctx, c, "lock-"+tt.ttl.String(), tt.ttl)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Expires().Sub(now); got != tt.want {
			t.Errorf("Lock(ttl %s) expires after %s, want %s", tt.ttl, got, tt.want)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAzureErrorsNeverCarryTheKey(t *testing.T) {
	conn := azuritetest.Shared(t)
	s, err := blobstore.Open(context.Background(), conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(context.Background(), blobstoretest.ContainerName(t), "k", strings.NewReader("x"), nil)
	if !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Put into a missing container: %v", err)
	}
	if strings.Contains(err.Error(), azuritetest.AccountKey) || strings.Contains(fmt.Sprintf("%+v", err), azuritetest.AccountKey) {
		t.Fatalf("error carries the account key: %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error is not one line: %q", err)
	}
}

// TestOpenTypoCreatesNothing: a mistyped connection string or a bare word
// is an error, never a directory named after it (with the key in its name).
func TestOpenTypoCreatesNothing(t *testing.T) {
	const key = "c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="
	tests := []struct{ name, locator, want string }{
		{"MisspelledKey", "DefaultEndpointProtocol=https;AccountName=acct;AccountKey=" + key, "did you mean DefaultEndpointsProtocol"},
		{"AllMisspelled", "AcountName=acct;AcountKey=" + key + ";BlobEndpont=http://127.0.0.1:10000/acct", "did you mean AccountName"},
		{"KeyWithoutEquals", "AccountName=acct;AccountKey" + key, "AccountKey has no '='"},
		{"BareWord", "backups", "must start with ./"},
		{"RelativeDir", "data/store", "must start with ./"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			_, err := blobstore.Open(context.Background(), tt.locator, nil)
			if err == nil {
				t.Fatal("Open accepted a typo")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), key) {
				t.Fatalf("error %q: want it to say %q and never the key", err, tt.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("Open created %v in the working directory", ents[0].Name())
			}
		})
	}
	// An explicit relative path is a directory.
	dir := t.TempDir()
	t.Chdir(dir)
	for _, loc := range []string{"./store", "file://other"} {
		s, err := blobstore.Open(context.Background(), loc, nil)
		if err != nil {
			t.Fatalf("Open(%s): %v", loc, err)
		}
		if _, ok := s.(*blobstore.Dir); !ok {
			t.Fatalf("Open(%s) = %T", loc, s)
		}
	}
}

// TestOpenEmulatorForms: the development-storage shorthand and a copied
// emulator string with queue and table endpoints reach Azurite.
func TestOpenEmulatorForms(t *testing.T) {
	conn := azuritetest.Shared(t)
	full := conn + ";QueueEndpoint=http://127.0.0.1:1/devstoreaccount1;TableEndpoint=http://127.0.0.1:2/devstoreaccount1"
	for _, loc := range []string{full, strings.ToLower(conn[:1]) + conn[1:]} {
		s, err := blobstore.Open(context.Background(), loc, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := s.EnsureContainer(context.Background(), blobstoretest.ContainerName(t)); err != nil {
			t.Fatalf("EnsureContainer: %v", err)
		}
	}
}
