package main

import (
	"context"
	"errors"

	"github.com/langsync/langsync/shared/emulator"
)

// openStorageDocuments opens the Blob account given to --storage as the
// emulator's document source.
func openStorageDocuments(ctx context.Context, conn string) (emulator.DocumentSource, error) {
	return nil, errors.New("reading documents from Blob storage needs shared/blobstore, which is not in this build yet; use --docs-dir")
}
