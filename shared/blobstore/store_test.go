package blobstore_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/blobstoretest"
)

func TestDirContract(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T, now func() time.Time) blobstore.Store {
		d, err := blobstore.NewDir(t.TempDir(), &blobstore.DirOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
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
