package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/pipeline"
)

// StateStore adapts a blobstore container to pipeline.StateStore. The
// store's errors pass through as they are: they already match the domain
// errors (langsync.ErrNotFound, ErrConflict, ErrLocked) the port speaks of.
type StateStore struct {
	Store     blobstore.Store
	Container string
}

var _ pipeline.StateStore = (*StateStore)(nil)

// Get returns a state document and its ETag.
func (s *StateStore) Get(ctx context.Context, key string) ([]byte, string, error) {
	rc, info, err := s.Store.Get(ctx, s.Container, key)
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	// State documents are small; 16 MiB guards against a wrong blob.
	data, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, "", fmt.Errorf("app: reading state %s: %w", key, err)
	}
	return data, info.ETag, nil
}

// Put writes a state document under the condition.
func (s *StateStore) Put(ctx context.Context, key string, data []byte, cond pipeline.Condition) (string, error) {
	info, err := s.Store.Put(ctx, s.Container, key, bytes.NewReader(data), &blobstore.PutOptions{IfMatch: cond.IfMatch, IfNoneMatch: cond.IfNoneMatch, ContentType: "application/json"})
	if err != nil {
		return "", err
	}
	return info.ETag, nil
}

// Lock takes the blobstore lock on key.
func (s *StateStore) Lock(ctx context.Context, key string, ttl time.Duration) (func(context.Context) error, error) {
	l, err := s.Store.Lock(ctx, s.Container, key, ttl)
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}
