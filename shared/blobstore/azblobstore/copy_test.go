package azblobstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/azblobstore"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
)

// TestCopyFromURLBetweenAccounts copies a blob from one account to another
// of the same Azurite with a service SAS: the target store never reads the
// bytes. A stale source ETag is a conflict, and no error carries the SAS.
func TestCopyFromURLBetweenAccounts(t *testing.T) {
	ctx := context.Background()
	conn := azuritetest.Shared(t)
	src, err := azblobstore.NewFromConnectionString(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := azblobstore.NewFromConnectionString(azuritetest.SecondConnectionString(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*azblobstore.Store{src, dst} {
		if err := s.EnsureContainer(ctx, "copydocs"); err != nil {
			t.Fatal(err)
		}
	}
	put, err := src.Put(ctx, "copydocs", "a/doc1.txt", strings.NewReader("the website is down"), nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := src.ReadURL(ctx, "copydocs", "a/doc1.txt", time.Minute)
	if err != nil || !strings.Contains(u, "sig=") || !strings.Contains(u, "sp=r") {
		t.Fatalf("ReadURL = %q, %v; want a read-only SAS", u, err)
	}
	info, err := dst.CopyFromURL(ctx, "copydocs", "a/doc1.txt", u, put.ETag, &blobstore.PutOptions{Metadata: map[string]string{"srcetag": "x"}, ContentType: "text/plain; charset=utf-8"})
	if err != nil {
		t.Fatalf("CopyFromURL: %v", err)
	}
	rc, got, err := dst.Get(ctx, "copydocs", "a/doc1.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if string(body) != "the website is down" || got.ETag != info.ETag || got.Metadata["srcetag"] != "x" || got.ContentType != "text/plain; charset=utf-8" {
		t.Fatalf("copied blob %q %+v, want the source's bytes with the metadata and type asked for", body, got)
	}
	if _, err := src.Stat(ctx, "copydocs", "a/doc1.txt"); err != nil {
		t.Fatal(err)
	}
	// The source changed after it was listed: the copy is refused.
	if _, err := src.Put(ctx, "copydocs", "a/doc1.txt", strings.NewReader("changed"), nil); err != nil {
		t.Fatal(err)
	}
	_, err = dst.CopyFromURL(ctx, "copydocs", "a/doc1.txt", u, put.ETag, nil)
	if !errors.Is(err, blobstore.ErrConflict) {
		t.Fatalf("copy with a stale source ETag: %v, want ErrConflict", err)
	}
	// A missing source fails, naming neither the key nor the signature.
	u2, err := src.ReadURL(ctx, "copydocs", "missing.txt", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = dst.CopyFromURL(ctx, "copydocs", "b.txt", u2, "", nil)
	if err == nil {
		t.Fatal("copy of a missing blob succeeded")
	}
	sig := u2[strings.Index(u2, "sig="):]
	for _, secret := range []string{sig, azuritetest.AccountKey, azuritetest.SecondKey} {
		if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
			t.Fatalf("error carries a secret: %v", err)
		}
	}
}
