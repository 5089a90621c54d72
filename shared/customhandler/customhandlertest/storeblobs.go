package customhandlertest

import (
	"context"
	"fmt"
	"io"

	"github.com/langsync/langsync/shared/blobstore"
)

// StoreBlobs is a BlobSource over a blobstore.Store (Azurite, a real
// account, or a directory), so blob triggers fire for real blobs.
type StoreBlobs struct {
	Store blobstore.Store
	// AccountURL is the account's blob endpoint for Metadata.Uri.
	AccountURL string
}

var _ BlobSource = StoreBlobs{}

// List implements BlobSource.
func (s StoreBlobs) List(ctx context.Context, container, prefix string) ([]Blob, error) {
	infos, err := s.Store.List(ctx, container, prefix)
	if err != nil {
		return nil, fmt.Errorf("customhandlertest: listing %s/%s: %w", container, prefix, err)
	}
	out := make([]Blob, 0, len(infos))
	for _, in := range infos {
		out = append(out, Blob{
			Container: container, Name: in.Key, ETag: in.ETag, LastModified: in.LastModified,
			ContentType: in.ContentType, Metadata: in.Metadata, AccountURL: s.AccountURL,
		})
	}
	return out, nil
}

// Read implements BlobSource.
func (s StoreBlobs) Read(ctx context.Context, container, name string) ([]byte, error) {
	rc, _, err := s.Store.Get(ctx, container, name)
	if err != nil {
		return nil, fmt.Errorf("customhandlertest: reading %s/%s: %w", container, name, err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
