package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/emulator"
)

// blobDocuments reads an emulated resource's labelled documents from a Blob
// account (container = storageInputContainerName, blob = location), the way
// the real service reads its linked storage.
type blobDocuments struct{ store blobstore.Store }

var (
	_ emulator.DocumentSource   = blobDocuments{}
	_ emulator.ContainerChecker = blobDocuments{}
)

// openStorageDocuments opens the store given to --storage (a connection
// string, an account URL or a directory) as the emulator's document source.
func openStorageDocuments(ctx context.Context, locator string) (emulator.DocumentSource, error) {
	st, err := storeopen.Open(ctx, locator, nil)
	if err != nil {
		return nil, err
	}
	return blobDocuments{store: st}, nil
}

func (b blobDocuments) Open(ctx context.Context, container, name string) (io.ReadCloser, error) {
	rc, _, err := b.store.Get(ctx, container, name)
	if err != nil {
		return nil, fmt.Errorf("reading document %s/%s: %w", container, name, err)
	}
	return rc, nil
}

// ContainerExists lists a prefix that matches nothing: an existing container
// answers with an empty list, a missing one with not-found.
func (b blobDocuments) ContainerExists(ctx context.Context, container string) (bool, error) {
	_, err := b.store.List(ctx, container, "langsync-emulator-probe/")
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking container %s: %w", container, err)
	}
	return true, nil
}
