package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// TestBlobDocumentsAzurite reads documents through the --storage adapter
// from Azurite over the wire.
func TestBlobDocumentsAzurite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := azuritetest.Start(t)
	st, err := storeopen.Open(ctx, conn, nil)
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

// TestEmulatorTrainsFromAzurite: an emulated resource whose linked storage
// is Azurite trains from the blobs, and fails naming a blob that is missing
// (the DR pitfall of a secondary whose storage lacks the files).
func TestEmulatorTrainsFromAzurite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := azuritetest.Start(t)
	st, err := storeopen.Open(ctx, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := emulatortest.SingleLabelProject("Tickets", "tickets", 5)
	if err := st.EnsureContainer(ctx, p.Container); err != nil {
		t.Fatal(err)
	}
	for name, text := range p.Docs {
		if _, err := st.Put(ctx, p.Container, name, strings.NewReader(text), nil); err != nil {
			t.Fatal(err)
		}
	}
	docs, err := openStorageDocuments(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	r := emulatortest.Start(t, &emulator.Options{Documents: docs})
	const projects = "/language/authoring/analyze-text/projects/Tickets"
	loc := r.Start202("POST", projects+"/:import?api-version=2023-04-01", p.Export)
	if got := r.Wait(loc, time.Second); got["status"] != "succeeded" {
		t.Fatalf("import: %v", got)
	}
	train := func() map[string]any {
		loc := r.Start202("POST", projects+"/:train?api-version=2023-04-01", map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"})
		return r.Wait(loc, time.Second)
	}
	if got := train(); got["status"] != "succeeded" {
		t.Fatalf("training from Azurite: %v", got)
	}
	if err := st.Delete(ctx, p.Container, "billing-003.txt", ""); err != nil {
		t.Fatal(err)
	}
	got := train()
	if got["status"] != "failed" || !strings.Contains(fmt.Sprint(got["errors"]), "billing-003.txt") {
		t.Fatalf("training with a missing blob: %v", got)
	}
}

func err2s(_ io.ReadCloser, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
