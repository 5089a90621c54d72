package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
)

// TestBlobDocumentsAzurite reads documents through the --storage adapter
// from Azurite over the wire.
func TestBlobDocumentsAzurite(t *testing.T) {
	ctx := context.Background()
	conn := azuritetest.Start(t)
	st, err := blobstore.Open(ctx, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureContainer(ctx, "docs"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "docs", "a.txt", strings.NewReader("charged twice"), nil); err != nil {
		t.Fatal(err)
	}
	docs, err := openStorageDocuments(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := docs.Open(ctx, "docs", "a.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "charged twice" {
		t.Fatalf("read %q", b)
	}
	if _, err := docs.Open(ctx, "docs", "missing.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing document: err = %v, want fs.ErrNotExist", err)
	}
	cc := docs.(blobDocuments)
	for container, want := range map[string]bool{"docs": true, "nodocs": false} {
		got, err := cc.ContainerExists(ctx, container)
		if err != nil || got != want {
			t.Fatalf("ContainerExists(%s) = %v, %v; want %v", container, got, err, want)
		}
	}
	if strings.Contains(err2s(docs.Open(ctx, "docs", "missing.txt")), azuritetest.AccountKey) {
		t.Fatal("an error shows the account key")
	}
}

func err2s(_ io.ReadCloser, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
