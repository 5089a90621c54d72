package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/langsync/langsync/shared/blobstore"
)

// BlobReader is the part of a blob store that reads documents
// (blobstore.Store satisfies it).
type BlobReader interface {
	Get(ctx context.Context, container, key string) (io.ReadCloser, blobstore.Info, error)
}

// StoreDocuments adapts a blob store (a resource's linked storage) to a
// DocumentSource whose readers report their size, so Write streams them
// without spooling.
func StoreDocuments(s BlobReader) DocumentSource { return storeDocs{s} }

type storeDocs struct{ s BlobReader }

func (d storeDocs) Open(ctx context.Context, container, name string) (io.ReadCloser, error) {
	rc, info, err := d.s.Get(ctx, container, name)
	if err != nil {
		return nil, err
	}
	return sizedReadCloser{rc, info.Size}, nil
}

type sizedReadCloser struct {
	io.ReadCloser
	size int64
}

func (s sizedReadCloser) Size() int64 { return s.size }

// DocumentStore is the part of a blob store WriteDocuments needs
// (blobstore.Store satisfies it).
type DocumentStore interface {
	Stat(ctx context.Context, container, key string) (blobstore.Info, error)
	Get(ctx context.Context, container, key string) (io.ReadCloser, blobstore.Info, error)
	Put(ctx context.Context, container, key string, r io.Reader, opts *blobstore.PutOptions) (blobstore.Info, error)
}

// DocumentStats counts what WriteDocuments did.
type DocumentStats struct {
	Written      int   `json:"written"`
	Unchanged    int   `json:"unchanged"`
	BytesWritten int64 `json:"bytesWritten"`
}

// shaMeta is the metadata key under which a document's sha256 is kept, so
// the next comparison needs no download.
const shaMeta = "sha256"

// WriteDocuments writes an archive's documents into a target resource's
// linked container, only those missing there or different (by size and
// sha256: from blob metadata when present, else by reading the blob).
// Replacements are guarded by the ETag that was compared. The documents are
// read in one second pass over the archive (EachDocument), each checked
// against the verified manifest before it is written.
func WriteDocuments(ctx context.Context, a *Archive, dst DocumentStore, container string) (DocumentStats, error) {
	var st DocumentStats
	err := a.EachDocument(ctx, func(f File, body []byte) error {
		loc := f.Document()
		opts := &blobstore.PutOptions{Metadata: map[string]string{shaMeta: f.SHA256}, ContentType: "text/plain; charset=utf-8"}
		cur, err := dst.Stat(ctx, container, loc)
		switch {
		case errors.Is(err, blobstore.ErrNotFound):
			opts.IfNoneMatch = true
		case err != nil:
			return fmt.Errorf("backup: checking document %q in %s: %w", loc, container, err)
		default:
			same, err := sameContent(ctx, dst, container, cur, f)
			if err != nil {
				return err
			}
			if same {
				st.Unchanged++
				return nil
			}
			opts.IfMatch = cur.ETag
		}
		if _, err := dst.Put(ctx, container, loc, bytes.NewReader(body), opts); err != nil {
			return fmt.Errorf("backup: writing document %q to %s: %w", loc, container, err)
		}
		st.Written++
		st.BytesWritten += f.Size
		return nil
	})
	return st, err
}

func sameContent(ctx context.Context, dst DocumentStore, container string, cur blobstore.Info, f File) (bool, error) {
	if cur.Size != f.Size {
		return false, nil
	}
	if sum := cur.Metadata[shaMeta]; sum != "" {
		return sum == f.SHA256, nil
	}
	rc, _, err := dst.Get(ctx, container, cur.Key)
	if err != nil {
		return false, fmt.Errorf("backup: reading document %q in %s: %w", cur.Key, container, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return false, fmt.Errorf("backup: reading document %q in %s: %w", cur.Key, container, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == f.SHA256, nil
}
