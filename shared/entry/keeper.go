package entry

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/langsync/langsync/shared/blobstore"
)

// StateKeeper keeps failed inputs in the state container, write-once: the
// hosts' Keeper over a blobstore.Store.
type StateKeeper struct {
	Store     blobstore.Store
	Container string
}

// Keep writes doc as key unless it is there already (a redelivery of the
// same invocation): a .json key as JSON, any other as raw bytes.
func (k StateKeeper) Keep(ctx context.Context, key string, doc []byte) error {
	ct := "application/json"
	if !strings.HasSuffix(key, ".json") {
		// The raw bytes of a large refused input, kept as they came.
		ct = "application/octet-stream"
	}
	_, err := k.Store.Put(ctx, k.Container, key, bytes.NewReader(doc), &blobstore.PutOptions{IfNoneMatch: true, ContentType: ct})
	if errors.Is(err, blobstore.ErrConflict) {
		return nil // already kept (a redelivery of the same invocation)
	}
	return err
}
