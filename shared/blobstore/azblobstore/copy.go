package azblobstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/langsync/langsync/shared/blobstore"
)

var (
	_ blobstore.URLReader = (*Store)(nil)
	_ blobstore.URLCopier = (*Store)(nil)
)

// auth is how a Store signs read URLs for a server-side copy.
type auth int

const (
	authSharedKey auth = iota // connection string with an account key: a service SAS
	authEntra                 // account URL with Entra ID: a user delegation SAS
	authSAS                   // account URL with its own SAS: the blob's URL carries it
)

// clockSkew backdates a SAS's start, so that a storage service whose clock
// is a little behind accepts it at once.
const clockSkew = 5 * time.Minute

// ReadURL returns a read-only URL of one blob valid for ttl: a service SAS
// signed with the account key, a user delegation SAS (Entra ID; the
// delegation key is fetched once and reused while it outlives ttl), or for a
// store opened with a SAS, the blob's URL with that SAS. The URL is a
// secret (see blobstore.URLReader); errors never contain it.
func (a *Store) ReadURL(ctx context.Context, c, key string, ttl time.Duration) (string, error) {
	if err := a.check("sign", c, key); err != nil {
		return "", err
	}
	bc := a.client.ServiceClient().NewContainerClient(c).NewBlobClient(key)
	now := time.Now().UTC()
	switch a.auth {
	case authSAS:
		return bc.URL(), nil
	case authEntra:
		udc, err := a.delegation(ctx, now, ttl)
		if err != nil {
			return "", blobstore.OpError("sign", c, key, err)
		}
		v := sas.BlobSignatureValues{Protocol: sas.ProtocolHTTPSandHTTP, StartTime: now.Add(-clockSkew), ExpiryTime: now.Add(ttl),
			Permissions: to.Ptr(sas.BlobPermissions{Read: true}).String(), ContainerName: c, BlobName: key}
		q, err := v.SignWithUserDelegation(udc)
		if err != nil {
			return "", blobstore.OpError("sign", c, key, errors.New("signing a user delegation SAS failed"))
		}
		return bc.URL() + "?" + q.Encode(), nil
	}
	u, err := bc.GetSASURL(sas.BlobPermissions{Read: true}, now.Add(ttl), &blob.GetSASURLOptions{StartTime: to.Ptr(now.Add(-clockSkew))})
	if err != nil && strings.Contains(bc.URL(), "sig=") {
		// A connection string with a SharedAccessSignature: it rides on
		// every URL of the store.
		return bc.URL(), nil
	}
	if err != nil {
		return "", blobstore.OpError("sign", c, key, errors.New("signing a service SAS failed (the store has no account key)"))
	}
	return u, nil
}

// delegation returns a user delegation key valid for at least ttl from now.
func (a *Store) delegation(ctx context.Context, now time.Time, ttl time.Duration) (*service.UserDelegationCredential, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.udc != nil && a.udcExpiry.After(now.Add(ttl+time.Minute)) {
		return a.udc, nil
	}
	// An hour, or ttl if longer (the service allows up to 7 days).
	expiry := now.Add(max(time.Hour, ttl+time.Minute))
	udc, err := a.client.ServiceClient().GetUserDelegationCredential(ctx, service.KeyInfo{
		Start: to.Ptr(now.Add(-clockSkew).Format(sas.TimeFormat)), Expiry: to.Ptr(expiry.Format(sas.TimeFormat)),
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("getting a user delegation key (the identity needs Storage Blob Delegator or Data Reader on the source account): %w", mapErr(err))
	}
	a.udc, a.udcExpiry = udc, expiry
	return udc, nil
}

// CopyFromURL implements blobstore.URLCopier with Copy Blob From URL (a
// synchronous copy: the service reads the source, up to 256 MiB, and
// answers when the blob is written).
func (a *Store) CopyFromURL(ctx context.Context, c, key, sourceURL, sourceETag string, opts *blobstore.PutOptions) (blobstore.Info, error) {
	if err := a.check("copy", c, key); err != nil {
		return blobstore.Info{}, err
	}
	if opts == nil {
		opts = &blobstore.PutOptions{}
	}
	md, err := blobstore.CheckMetadata(opts.Metadata)
	if err != nil {
		return blobstore.Info{}, blobstore.OpError("copy", c, key, err)
	}
	o := &blob.CopyFromURLOptions{Metadata: toPtrMap(md)}
	if sourceETag != "" {
		o.SourceModifiedAccessConditions = &blob.SourceModifiedAccessConditions{SourceIfMatch: to.Ptr(azcore.ETag(sourceETag))}
	}
	switch {
	case opts.IfNoneMatch:
		o.BlobAccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: to.Ptr(azcore.ETagAny)}}
	case opts.IfMatch != "":
		o.BlobAccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: to.Ptr(azcore.ETag(opts.IfMatch))}}
	}
	bc := a.client.ServiceClient().NewContainerClient(c).NewBlobClient(key)
	resp, err := bc.CopyFromURL(ctx, sourceURL, o)
	if err != nil {
		return blobstore.Info{}, blobstore.OpError("copy", c, key, scrubURL(mapErr(err), sourceURL))
	}
	info := blobstore.Info{Key: key, ETag: string(deref(resp.ETag)), LastModified: deref(resp.LastModified), Metadata: md}
	if opts.ContentType != "" {
		// Copy Blob From URL keeps the source's properties; set the type
		// asked for
		// (a second request: leave ContentType empty to keep the source's).
		h, err := bc.SetHTTPHeaders(ctx, blob.HTTPHeaders{BlobContentType: to.Ptr(opts.ContentType)}, nil)
		if err != nil {
			return info, blobstore.OpError("copy", c, key, mapErr(err))
		}
		info.ContentType, info.ETag = opts.ContentType, string(deref(h.ETag))
	}
	return info, nil
}

// scrubURL keeps a source URL's signature out of an error: a transport
// error may quote the request, and the copy source travels in a header.
func scrubURL(err error, sourceURL string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	u, perr := url.Parse(sourceURL)
	if perr != nil || u.RawQuery == "" || !strings.Contains(msg, u.RawQuery) && !strings.Contains(msg, sourceURL) {
		return err
	}
	msg = strings.ReplaceAll(msg, sourceURL, redactURL(sourceURL))
	msg = strings.ReplaceAll(msg, u.RawQuery, "[REDACTED]")
	return &scrubbed{msg: msg, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }

// Unwrap keeps errors.Is working (the sentinels); the wrapped error's own
// text is not printed.
func (s *scrubbed) Unwrap() error { return s.err }
