package app_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/azblobstore"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
)

// TestMirrorDocumentsServerSide mirrors a container between two accounts
// of Azurite: every document arrives with the source's bytes, a second
// mirror copies nothing, a changed document is copied again, and a
// directory target (no server-side copy) is left to the documents step.
func TestMirrorDocumentsServerSide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := azuritetest.Shared(t)
	src, err := azblobstore.NewFromConnectionString(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := azblobstore.NewFromConnectionString(azuritetest.SecondConnectionString(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := blobstore.NewDir(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	container := fmt.Sprintf("mirror-%d", containerSeq.Add(1))
	if err := src.EnsureContainer(ctx, container); err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{"a.txt": "charged twice", "b/c.txt": "site down", "d.txt": "parcel late"}
	putAll(t, src, container, docs)
	stores := map[string]blobstore.Store{"primary": src, "secondary": tgt, "local": dir}
	bk := &app.Backups{Documents: func(_ context.Context, r string) (blobstore.Store, error) { return stores[r], nil }}
	for i, want := range []int{3, 0} {
		n, err := bk.MirrorDocuments(ctx, "primary", "secondary", container)
		if err != nil || n != want {
			t.Fatalf("mirror %d: copied %d, %v; want %d", i+1, n, err, want)
		}
	}
	for name, body := range docs {
		rc, _, err := tgt.Get(ctx, container, name)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != body {
			t.Fatalf("%s on the target: %q, want %q", name, got, body)
		}
	}
	if _, err := src.Put(ctx, container, "d.txt", strings.NewReader("parcel lost"), nil); err != nil {
		t.Fatal(err)
	}
	if n, err := bk.MirrorDocuments(ctx, "primary", "secondary", container); err != nil || n != 1 {
		t.Fatalf("after a change: copied %d, %v; want 1", n, err)
	}
	if n, err := bk.MirrorDocuments(ctx, "primary", "local", container); err != nil || n != 0 {
		t.Fatalf("to a directory: copied %d, %v; want 0 (the documents step writes them from the backup)", n, err)
	}
}
