package app

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/pipeline"
)

var _ pipeline.DocumentMirror = (*Backups)(nil)

// sourceETagMeta records, on a document written into a target's storage by
// MirrorDocuments, the ETag of the source blob it is a copy of: the next
// mirror skips it while the source is unchanged.
const sourceETagMeta = "langsync_source_etag"

// sasTTL is how long a read URL handed to the target's storage for one
// server-side copy is valid: the copy is a single synchronous request.
const sasTTL = 15 * time.Minute

// mirrorWorkers bounds the copies in flight: each is one round trip (or,
// for a directory, a file written and synced), so concurrency is what makes
// thousands of documents fast.
const mirrorWorkers = 32

// MirrorDocuments copies the documents of the source's linked storage
// container into the target's (pipeline.DocumentMirror), as the run's
// export starts, when both storages are Azure Blob: the storage service
// copies each blob account to account (Copy Blob From URL with a
// short-lived read-only SAS of the source, Entra user delegation or account
// key), so no byte passes through this process. Other stores copy nothing
// here (the documents step writes them from the backup) unless
// StreamMirror is set; then each document is streamed. Every copy is of the source blob listed (guarded by its ETag)
// and records that ETag on the copy; a document the target already holds at
// that ETag is skipped. What was copied, by ETag, is remembered so that the
// documents step (CopyDocuments) writes only what the backup read
// differently.
func (b *Backups) MirrorDocuments(ctx context.Context, source, target, container string) (int, error) {
	if b.Documents == nil {
		return 0, nil
	}
	src, err := b.Documents(ctx, source)
	if err != nil || src == nil {
		return 0, err
	}
	dst, err := b.Documents(ctx, target)
	if err != nil || dst == nil {
		return 0, err
	}
	if err := dst.EnsureContainer(ctx, container); err != nil {
		return 0, fmt.Errorf("app: target storage container %s: %w", container, err)
	}
	reader, canSign := src.(blobstore.URLReader)
	copier, canCopy := dst.(blobstore.URLCopier)
	if !(canSign && canCopy) && !b.StreamMirror {
		// Streamed, a mirror reads every document once more beside the
		// backup, on the same cores: measured slower than writing them
		// once from the backup (docs/pipeline.md#overlap-and-server-side-document-copy).
		return 0, nil
	}
	docs, err := src.List(ctx, container, "")
	if err != nil {
		return 0, fmt.Errorf("app: listing the source's documents in %s: %w", container, err)
	}
	have, err := dst.List(ctx, container, "")
	if err != nil {
		return 0, fmt.Errorf("app: listing the target's documents in %s: %w", container, err)
	}
	held := make(map[string]string, len(have))
	for _, h := range have {
		held[h.Key] = h.Metadata[sourceETagMeta]
	}
	serverSide := canSign && canCopy
	copied := newETagSet()
	var (
		mu    sync.Mutex
		n     int
		first error
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan blobstore.Info)
	workers := b.MirrorWorkers
	if workers <= 0 {
		workers = mirrorWorkers
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				etag, err := mirrorOne(ctx, src, dst, reader, copier, serverSide, container, d)
				mu.Lock()
				if err != nil && first == nil {
					first = err
					cancel()
				}
				if err == nil {
					n++
				}
				mu.Unlock()
				if err == nil {
					copied.add(d.Key, etag)
				}
			}
		}()
	}
	for _, d := range docs {
		if d.ETag != "" && held[d.Key] == d.ETag {
			copied.add(d.Key, d.ETag)
			continue
		}
		select {
		case work <- d:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	b.rememberMirror(target, container, copied)
	if first != nil {
		return n, first
	}
	return n, ctx.Err()
}

// mirrorOne copies one document and returns the source ETag it copied.
func mirrorOne(ctx context.Context, src, dst blobstore.Store, reader blobstore.URLReader, copier blobstore.URLCopier, serverSide bool, container string, d blobstore.Info) (string, error) {
	if serverSide {
		u, err := reader.ReadURL(ctx, container, d.Key, sasTTL)
		if err != nil {
			return "", fmt.Errorf("app: signing a read of document %s: %w", d.Key, err)
		}
		if _, err := copier.CopyFromURL(ctx, container, d.Key, u, d.ETag, &blobstore.PutOptions{Metadata: map[string]string{sourceETagMeta: d.ETag}}); err != nil {
			return "", fmt.Errorf("app: copying document %s between storages: %w", d.Key, err)
		}
		return d.ETag, nil
	}
	rc, info, err := src.Get(ctx, container, d.Key)
	if err != nil {
		return "", fmt.Errorf("app: reading document %s: %w", d.Key, err)
	}
	defer rc.Close()
	if _, err := dst.Put(ctx, container, d.Key, rc, &blobstore.PutOptions{Metadata: map[string]string{sourceETagMeta: info.ETag}, ContentType: "text/plain; charset=utf-8"}); err != nil {
		return "", fmt.Errorf("app: writing document %s: %w", d.Key, err)
	}
	return info.ETag, nil
}

// etagSet maps document names to the source ETag they were read or copied
// at; safe for concurrent use.
type etagSet struct {
	mu sync.Mutex
	m  map[string]string
}

func newETagSet() *etagSet { return &etagSet{m: map[string]string{}} }

func (s *etagSet) add(name, etag string) {
	s.mu.Lock()
	s.m[name] = etag
	s.mu.Unlock()
}

func (s *etagSet) get(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[name]
	return e, ok
}

func (s *etagSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Bounds of what Backups remembers in process about documents: the
// source ETags a backup read and a mirror copied (a few runs' worth).
const etagCacheEntries = 16

func (b *Backups) rememberMirror(target, container string, s *etagSet) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mirrors = putBounded(b.mirrors, &b.mirrorOrder, target+"\x00"+container, s)
}

func (b *Backups) rememberRead(key string, s *etagSet) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reads = putBounded(b.reads, &b.readOrder, key, s)
}

// putBounded sets m[k] = v, dropping the oldest keys beyond etagCacheEntries.
func putBounded(m map[string]*etagSet, order *[]string, k string, v *etagSet) map[string]*etagSet {
	if m == nil {
		m = map[string]*etagSet{}
	}
	if _, ok := m[k]; !ok {
		*order = append(*order, k)
	}
	m[k] = v
	for len(*order) > etagCacheEntries {
		delete(m, (*order)[0])
		*order = (*order)[1:]
	}
	return m
}

// mirrored returns the documents of the backup key that the last mirror
// into target's container copied at the very ETag the backup read them at:
// those hold exactly the backup's bytes already. nil when this process
// wrote neither.
func (b *Backups) mirrored(key, target, container string) map[string]bool {
	b.mu.Lock()
	read, mir := b.reads[key], b.mirrors[target+"\x00"+container]
	b.mu.Unlock()
	if read == nil || mir == nil {
		return nil
	}
	out := map[string]bool{}
	read.mu.Lock()
	defer read.mu.Unlock()
	for name, etag := range read.m {
		if e, ok := mir.get(name); ok && e == etag && etag != "" {
			out[name] = true
		}
	}
	return out
}

// etagDocs is the source's linked storage as the backup reads it,
// remembering the ETag of every document read.
type etagDocs struct {
	s    blobstore.Store
	seen *etagSet
}

func (d etagDocs) Open(ctx context.Context, container, name string) (io.ReadCloser, error) {
	rc, info, err := d.s.Get(ctx, container, name)
	if err != nil {
		return nil, err
	}
	d.seen.add(name, info.ETag)
	return sizedReadCloser{rc, info.Size}, nil
}

// sizedReadCloser reports the document's size, so the archive streams it
// without spooling.
type sizedReadCloser struct {
	io.ReadCloser
	size int64
}

func (s sizedReadCloser) Size() int64 { return s.size }
