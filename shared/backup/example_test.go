package backup_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
)

// Back up an export and its documents into a directory store, then find
// and restore-open it.
func ExampleCatalog() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	store, _ := blobstore.NewDir(dir, nil)
	store.EnsureContainer(ctx, "langsync-backups")

	export, _ := os.ReadFile("testdata/studio-export.json")
	docs := studioDocs() // any DocumentSource; backup.StoreDocuments(store) for Blob storage
	cat := backup.NewCatalog(store, "langsync-backups")
	res, err := cat.Save(ctx, bytes.NewReader(export), docs, backup.ManifestInfo{
		Source: "primary", Endpoint: "https://contoso.cognitiveservices.azure.com", APIVersion: "2023-04-01",
		ExportedAt: time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC),
	}, &backup.SaveOptions{SkipIfUnchanged: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Created, res.Ref.Key[:len("primary/Tickets/20261120T020000Z")], res.Ref.Documents)

	ref, _ := cat.FindAt(ctx, "Tickets", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	a, err := cat.Open(ctx, ref.Key) // verified before it returns
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	fmt.Println(a.Kind, a.Manifest.Project, len(a.Documents()), bytes.Equal(a.Export(), export))
	// Output:
	// true primary/Tickets/20261120T020000Z 4
	// langsync-backup Tickets 4 true
}
