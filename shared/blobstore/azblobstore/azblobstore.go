// Package azblobstore is the blobstore.Store over Azure Blob storage (or
// Azurite): the only package that imports azblob. It is apart from
// blobstore so that the contract, the directory store and everything built
// only on them (shared/backup) do not link the Azure SDK; storeopen picks
// it from a locator.
package azblobstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/langsync"
)

// Store is a blobstore.Store in an Azure Blob storage account (or Azurite).
type Store struct {
	client *azblob.Client
	opts   *Options
	// auth is how ReadURL signs (copy.go).
	auth auth
	// mu guards the user delegation key ReadURL reuses (Entra ID).
	mu        sync.Mutex
	udc       *service.UserDelegationCredential
	udcExpiry time.Time
}

var _ blobstore.Store = (*Store)(nil)

// Options configure the constructors; nil means defaults.
type Options struct {
	// Credential for an account URL; default DefaultAzureCredential.
	Credential azcore.TokenCredential
	// HTTPClient for Azure requests (tests); default the SDK's.
	HTTPClient *http.Client
	// BlockSize and Concurrency bound a streamed upload's memory to about
	// BlockSize*Concurrency (defaults 4 MiB and 4).
	BlockSize   int64
	Concurrency int
	// Now is the clock used for lock expiry; default time.Now.
	Now func() time.Time
	// Logger records lock takeovers; default discard.
	Logger *slog.Logger
	// Retry bounds the store's tries (docs/backup.md); zero fields take
	// the defaults (DefaultTryTimeout and the others).
	Retry RetryOptions
	// OnRetry, if set, is told of every try that failed and is retried,
	// before the retry's backoff (the CLI prints a line per retry).
	OnRetry func(RetryEvent)
}

func (o *Options) logger() *slog.Logger {
	if o != nil && o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (o *Options) now() time.Time {
	if o != nil && o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

const (
	defaultBlockSize   = 4 << 20
	defaultConcurrency = 4
	// smallPut: blobs up to this size go up in one Put Blob request.
	smallPut = 1 << 20
	// lockExpiresMeta records, on the lock blob, when an infinite lease
	// taken for a TTL above 60 s lapses.
	lockExpiresMeta = "langsync_lock_expires"
)

// clientOptions sets azcore's retry policy from opts.Retry, so that an
// endpoint that does not answer fails in bounded time (see retry.go), and
// adds the policies that pick a transfer's try timeout, keep the SAS out of
// transport errors and report retries.
func clientOptions(opts *Options) *azblob.ClientOptions {
	co := &azblob.ClientOptions{}
	var r RetryOptions
	var onRetry func(RetryEvent)
	if opts != nil {
		if opts.HTTPClient != nil {
			co.Transport = opts.HTTPClient
		}
		r, onRetry = opts.Retry, opts.OnRetry
	}
	r = r.resolved()
	co.Retry = r.azcore(r.TryTimeout)
	co.PerCallPolicies = []policy.Policy{callPolicy{r: r}}
	co.PerRetryPolicies = []policy.Policy{tryPolicy{r: r, onRetry: onRetry}}
	return co
}

// NewFromConnectionString returns a store for a Blob connection string
// (account key or SAS). The error never repeats the string.
func NewFromConnectionString(conn string, opts *Options) (*Store, error) {
	c, err := azblob.NewClientFromConnectionString(conn, clientOptions(opts))
	if err != nil {
		return nil, errors.New("blobstore: the Blob connection string is malformed: want DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net (or BlobEndpoint=...)")
	}
	return &Store{client: c, opts: opts}, nil
}

// NewFromURL returns a store for an account URL such as
// https://<account>.blob.core.windows.net, authenticated with
// opts.Credential or else DefaultAzureCredential (managed identity, az login).
func NewFromURL(ctx context.Context, accountURL string, opts *Options) (*Store, error) {
	var cred azcore.TokenCredential
	if opts != nil && opts.Credential != nil {
		cred = opts.Credential
	} else {
		c, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("blobstore: no Entra ID credential for %s (sign in with `az login` or use a managed identity): %w", redactURL(accountURL), err)
		}
		cred = c
	}
	c, err := azblob.NewClient(accountURL, cred, clientOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("blobstore: account URL %s: %w", redactURL(accountURL), err)
	}
	return &Store{client: c, opts: opts, auth: authEntra}, nil
}

// NewFromSASURL returns a store for an account URL whose query is a shared
// access signature. Errors never repeat the SAS.
func NewFromSASURL(accountURL string, opts *Options) (*Store, error) {
	c, err := azblob.NewClientWithNoCredential(accountURL, clientOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("blobstore: account URL %s is not usable", redactURL(accountURL))
	}
	return &Store{client: c, opts: opts, auth: authSAS}, nil
}

// redactURL drops a query string (a SAS token) and user info from a URL
// for messages.
func redactURL(u string) string { return langsync.RedactURL(u) }

func (a *Store) blockSize() int64 {
	if a.opts != nil && a.opts.BlockSize > 0 {
		return a.opts.BlockSize
	}
	return defaultBlockSize
}

func (a *Store) concurrency() int {
	if a.opts != nil && a.opts.Concurrency > 0 {
		return a.opts.Concurrency
	}
	return defaultConcurrency
}

func (a *Store) blob(c, key string) *blockblob.Client {
	return a.client.ServiceClient().NewContainerClient(c).NewBlockBlobClient(key)
}

// azErr is a storage service error reduced to one line: the sentinel it
// maps to (if any), the service's error code and the HTTP status.
type azErr struct {
	sentinel error
	code     string
	status   int
	cause    error
}

func (e *azErr) Error() string {
	msg := fmt.Sprintf("storage service error %s (HTTP %d)", e.code, e.status)
	if e.sentinel != nil {
		msg = strings.TrimPrefix(e.sentinel.Error(), "blobstore: ") + ": " + e.code
	}
	return msg
}

func (e *azErr) Unwrap() []error {
	if e.sentinel != nil {
		return []error{e.sentinel, e.cause}
	}
	return []error{e.cause}
}

// mapErr turns an azblob error into one that matches our sentinels.
func mapErr(err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	e := &azErr{code: re.ErrorCode, status: re.StatusCode, cause: err}
	switch {
	case bloberror.HasCode(err, bloberror.LeaseIDMissing, bloberror.LeaseAlreadyPresent, bloberror.LeaseIDMismatchWithBlobOperation, bloberror.LeaseIsBreakingAndCannotBeAcquired):
		e.sentinel = blobstore.ErrLocked
	case bloberror.HasCode(err, bloberror.LeaseIDMismatchWithLeaseOperation, bloberror.LeaseNotPresentWithLeaseOperation, bloberror.LeaseLost, bloberror.LeaseIsBrokenAndCannotBeRenewed, bloberror.LeaseIsBreakingAndCannotBeChanged, bloberror.LeaseNotPresentWithBlobOperation):
		e.sentinel = blobstore.ErrLockLost
	case bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound, bloberror.ResourceNotFound) || re.StatusCode == http.StatusNotFound:
		e.sentinel = blobstore.ErrNotFound
	case bloberror.HasCode(err, bloberror.ConditionNotMet, bloberror.BlobAlreadyExists, bloberror.TargetConditionNotMet) || re.StatusCode == http.StatusPreconditionFailed:
		e.sentinel = blobstore.ErrConflict
	}
	if e.code == "" {
		e.code = http.StatusText(re.StatusCode)
	}
	return e
}

func (a *Store) check(op, c, key string) error {
	if err := blobstore.CheckContainer(c); err != nil {
		return blobstore.OpError(op, c, key, err)
	}
	if err := blobstore.CheckKey(key); err != nil {
		return blobstore.OpError(op, c, key, err)
	}
	return nil
}

func fromPtrMap(m map[string]*string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v != nil {
			out[strings.ToLower(k)] = *v
		}
	}
	return out
}

func toPtrMap(m map[string]string) map[string]*string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = to.Ptr(v)
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Get implements Store; the body is a retrying reader that resumes at the
// failed offset. A body read longer than the try timeout is such a failure
// (the try's context ends), so any size of blob downloads in segments of
// at most TryTimeout each.
func (a *Store) Get(ctx context.Context, c, key string) (io.ReadCloser, blobstore.Info, error) {
	if err := a.check("get", c, key); err != nil {
		return nil, blobstore.Info{}, err
	}
	resp, err := a.blob(c, key).DownloadStream(ctx, nil)
	if err != nil {
		return nil, blobstore.Info{}, blobstore.OpError("get", c, key, mapErr(err))
	}
	info := blobstore.Info{
		Key: key, Size: deref(resp.ContentLength), ETag: string(deref(resp.ETag)),
		LastModified: deref(resp.LastModified), ContentType: deref(resp.ContentType),
		Metadata: fromPtrMap(resp.Metadata),
	}
	body := resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: 5})
	return body, info, nil
}

// Stat implements Store.
func (a *Store) Stat(ctx context.Context, c, key string) (blobstore.Info, error) {
	if err := a.check("stat", c, key); err != nil {
		return blobstore.Info{}, err
	}
	p, err := a.blob(c, key).GetProperties(ctx, nil)
	if err != nil {
		return blobstore.Info{}, blobstore.OpError("stat", c, key, mapErr(err))
	}
	return blobstore.Info{
		Key: key, Size: deref(p.ContentLength), ETag: string(deref(p.ETag)),
		LastModified: deref(p.LastModified), ContentType: deref(p.ContentType),
		Metadata: fromPtrMap(p.Metadata),
	}, nil
}

var probePool = sync.Pool{New: func() any { b := make([]byte, smallPut); return &b }}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Put implements Store. A blob that fits in smallPut goes up in one
// request; anything larger is staged in blocks (memory about
// BlockSize*Concurrency) and committed with the conditions.
func (a *Store) Put(ctx context.Context, c, key string, r io.Reader, opts *blobstore.PutOptions) (blobstore.Info, error) {
	if opts == nil {
		opts = &blobstore.PutOptions{}
	}
	if err := a.check("put", c, key); err != nil {
		return blobstore.Info{}, err
	}
	md, err := blobstore.CheckMetadata(opts.Metadata)
	if err != nil {
		return blobstore.Info{}, blobstore.OpError("put", c, key, err)
	}
	mac := &blob.ModifiedAccessConditions{}
	if opts.IfNoneMatch {
		mac.IfNoneMatch = to.Ptr(azcore.ETagAny)
	}
	if opts.IfMatch != "" {
		mac.IfMatch = to.Ptr(azcore.ETag(opts.IfMatch))
	}
	ac := &blob.AccessConditions{ModifiedAccessConditions: mac}
	var headers *blob.HTTPHeaders
	if opts.ContentType != "" {
		headers = &blob.HTTPHeaders{BlobContentType: to.Ptr(opts.ContentType)}
	}
	bb := a.blob(c, key)

	probe := probePool.Get().(*[]byte)
	defer probePool.Put(probe)
	n, rerr := io.ReadFull(r, *probe)
	var etag *azcore.ETag
	var lastMod *time.Time
	size := int64(n)
	switch {
	case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
		resp, err := bb.Upload(withTransfer(ctx), nopSeekCloser{bytes.NewReader((*probe)[:n])}, &blockblob.UploadOptions{
			HTTPHeaders: headers, Metadata: toPtrMap(md), AccessConditions: ac,
		})
		if err != nil {
			return blobstore.Info{}, blobstore.OpError("put", c, key, a.putErr(err, opts))
		}
		etag, lastMod = resp.ETag, resp.LastModified
	case rerr != nil:
		return blobstore.Info{}, blobstore.OpError("put", c, key, fmt.Errorf("reading: %w", rerr))
	default:
		cr := &countingReader{r: r}
		// Each staged block (and the commit) is one request with the
		// transfer try timeout, so the size of the blob does not matter.
		resp, err := bb.UploadStream(withTransfer(ctx), io.MultiReader(bytes.NewReader(*probe), cr), &blockblob.UploadStreamOptions{
			BlockSize: a.blockSize(), Concurrency: a.concurrency(),
			HTTPHeaders: headers, Metadata: toPtrMap(md), AccessConditions: ac,
		})
		if err != nil {
			return blobstore.Info{}, blobstore.OpError("put", c, key, a.putErr(err, opts))
		}
		etag, lastMod = resp.ETag, resp.LastModified
		size += cr.n
	}
	return blobstore.Info{Key: key, Size: size, ETag: string(deref(etag)), LastModified: deref(lastMod), ContentType: opts.ContentType, Metadata: md}, nil
}

// putErr maps a failed conditional write; If-Match on a missing blob is a
// failed condition, not a missing container.
func (a *Store) putErr(err error, opts *blobstore.PutOptions) error {
	if opts.IfMatch != "" && bloberror.HasCode(err, bloberror.BlobNotFound) {
		return &azErr{sentinel: blobstore.ErrConflict, code: string(bloberror.BlobNotFound), status: http.StatusNotFound, cause: err}
	}
	return mapErr(err)
}

type nopSeekCloser struct{ *bytes.Reader }

func (nopSeekCloser) Close() error { return nil }

// List implements Store.
func (a *Store) List(ctx context.Context, c, prefix string) ([]blobstore.Info, error) {
	if err := blobstore.CheckContainer(c); err != nil {
		return nil, blobstore.OpError("list", c, prefix, err)
	}
	opts := &container.ListBlobsFlatOptions{Include: container.ListBlobsInclude{Metadata: true}}
	if prefix != "" {
		opts.Prefix = to.Ptr(prefix)
	}
	pager := a.client.ServiceClient().NewContainerClient(c).NewListBlobsFlatPager(opts)
	var out []blobstore.Info
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, blobstore.OpError("list", c, prefix, mapErr(err))
		}
		for _, it := range page.Segment.BlobItems {
			if it == nil || it.Name == nil {
				continue
			}
			info := blobstore.Info{Key: *it.Name, Metadata: fromPtrMap(it.Metadata)}
			if p := it.Properties; p != nil {
				info.Size, info.ETag = deref(p.ContentLength), string(deref(p.ETag))
				info.LastModified, info.ContentType = deref(p.LastModified), deref(p.ContentType)
			}
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements Store.
func (a *Store) Delete(ctx context.Context, c, key string, ifMatch string) error {
	if err := a.check("delete", c, key); err != nil {
		return err
	}
	var opts *blob.DeleteOptions
	if ifMatch != "" {
		opts = &blob.DeleteOptions{AccessConditions: &blob.AccessConditions{
			ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: to.Ptr(azcore.ETag(ifMatch))},
		}}
	}
	_, err := a.blob(c, key).Delete(ctx, opts)
	return blobstore.OpError("delete", c, key, mapErr(err))
}

// EnsureContainer implements Store.
func (a *Store) EnsureContainer(ctx context.Context, c string) error {
	if err := blobstore.CheckContainer(c); err != nil {
		return blobstore.OpError("ensure-container", c, "", err)
	}
	_, err := a.client.CreateContainer(ctx, c, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return blobstore.OpError("ensure-container", c, "", mapErr(err))
	}
	return nil
}

// Lock implements Store with a blob lease. A TTL up to 60 s becomes a
// fixed lease of that many seconds (at least 15, Azure's minimum), which
// Azure expires by itself. A longer TTL becomes an infinite lease with the
// expiry recorded in the lock blob's metadata; a contender that finds it
// past breaks the lease (guarded by the blob's ETag so that only the stale
// holding is broken) and acquires its own.
func (a *Store) Lock(ctx context.Context, c, key string, ttl time.Duration) (blobstore.Lock, error) {
	if err := a.check("lock", c, key); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, blobstore.OpError("lock", c, key, fmt.Errorf("lock TTL %s must be positive", ttl))
	}
	bb := a.blob(c, key)
	_, err := bb.Upload(ctx, nopSeekCloser{bytes.NewReader(nil)}, &blockblob.UploadOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: to.Ptr(azcore.ETagAny)}},
	})
	if err != nil && !bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.LeaseIDMissing, bloberror.ConditionNotMet) {
		return nil, blobstore.OpError("lock", c, key, mapErr(err))
	}
	l := &azureLock{a: a, c: c, key: key, ttl: ttl, id: newLeaseID()}
	lc, err := lease.NewBlobClient(bb, &lease.BlobClientOptions{LeaseID: to.Ptr(l.id)})
	if err != nil {
		return nil, blobstore.OpError("lock", c, key, err)
	}
	l.lc = lc
	if err := l.acquire(ctx); err != nil {
		return nil, blobstore.OpError("lock", c, key, err)
	}
	return l, nil
}

type azureLock struct {
	a       *Store
	lc      *lease.BlobClient
	c, key  string
	ttl     time.Duration
	id      string
	expires time.Time
}

func (l *azureLock) ID() string         { return l.id }
func (l *azureLock) Expires() time.Time { return l.expires }

func (l *azureLock) infinite() bool { return l.ttl > 60*time.Second }

func (l *azureLock) leaseSeconds() int32 {
	if l.infinite() {
		return -1
	}
	s := int32((l.ttl + time.Second - 1) / time.Second)
	return max(s, 15)
}

func (l *azureLock) acquire(ctx context.Context) error {
	_, err := l.lc.AcquireLease(ctx, l.leaseSeconds(), nil)
	if err != nil && l.infinite() && bloberror.HasCode(err, bloberror.LeaseAlreadyPresent) {
		if !l.breakStale(ctx) {
			return mapErr(err)
		}
		_, err = l.lc.AcquireLease(ctx, -1, nil)
	}
	if err != nil {
		m := mapErr(err)
		if errors.Is(m, blobstore.ErrLockLost) {
			m = &azErr{sentinel: blobstore.ErrLocked, code: "lease held", cause: err}
		}
		return m
	}
	return l.stamp(ctx)
}

// breakStale breaks an infinite lease whose recorded expiry has passed.
func (l *azureLock) breakStale(ctx context.Context) bool {
	p, err := l.a.blob(l.c, l.key).GetProperties(ctx, nil)
	if err != nil || deref(p.LeaseDuration) != lease.DurationTypeInfinite {
		return false
	}
	exp, err := time.Parse(time.RFC3339Nano, fromPtrMap(p.Metadata)[lockExpiresMeta])
	if err != nil || l.a.opts.now().Before(exp) {
		return false
	}
	_, err = l.lc.BreakLease(ctx, &lease.BlobBreakOptions{
		BreakPeriod:              to.Ptr(int32(0)),
		ModifiedAccessConditions: &lease.ModifiedAccessConditions{IfMatch: p.ETag},
	})
	if err == nil {
		l.a.opts.logger().Info("expired lock taken over", "container", l.c, "key", l.key, "expired", exp)
	}
	return err == nil
}

// stamp records the expiry: in metadata for an infinite lease (where it
// matters to contenders), locally for a fixed one.
func (l *azureLock) stamp(ctx context.Context) error {
	exp := l.a.opts.now()
	if !l.infinite() {
		l.expires = exp.Add(time.Duration(l.leaseSeconds()) * time.Second)
		return nil
	}
	exp = exp.Add(l.ttl)
	_, err := l.a.blob(l.c, l.key).SetMetadata(ctx, map[string]*string{lockExpiresMeta: to.Ptr(exp.UTC().Format(time.RFC3339Nano))},
		&blob.SetMetadataOptions{AccessConditions: &blob.AccessConditions{LeaseAccessConditions: &blob.LeaseAccessConditions{LeaseID: to.Ptr(l.id)}}})
	if err != nil {
		// Broken between acquire and stamp by a contender: it holds the lock.
		return &azErr{sentinel: blobstore.ErrLocked, code: "lease broken while stamping", cause: err}
	}
	l.expires = exp
	return nil
}

func (l *azureLock) Renew(ctx context.Context) error {
	if _, err := l.lc.RenewLease(ctx, nil); err != nil {
		return blobstore.OpError("renew", l.c, l.key, lostErr(err))
	}
	if err := l.stamp(ctx); err != nil {
		return blobstore.OpError("renew", l.c, l.key, &azErr{sentinel: blobstore.ErrLockLost, code: "lease broken while stamping", cause: err})
	}
	return nil
}

func (l *azureLock) Release(ctx context.Context) error {
	if _, err := l.lc.ReleaseLease(ctx, nil); err != nil {
		return blobstore.OpError("release", l.c, l.key, lostErr(err))
	}
	return nil
}

// lostErr maps lease-operation failures to blobstore.ErrLockLost: a conflict on a
// lease operation means another holder has it.
func lostErr(err error) error {
	m := mapErr(err)
	if errors.Is(m, blobstore.ErrLocked) || errors.Is(m, blobstore.ErrConflict) {
		return &azErr{sentinel: blobstore.ErrLockLost, code: "lease held by another", cause: err}
	}
	return m
}

// newLeaseID returns a random GUID, the form Azure requires for lease IDs.
func newLeaseID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
