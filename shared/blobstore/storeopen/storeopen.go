// Package storeopen opens the blobstore.Store a locator string names: a
// directory (blobstore.Dir) or Azure Blob storage (azblobstore.Store).
//
// The choice needs both implementations in view, so it lives in neither:
// blobstore holds the contract and the directory store and must not link
// the Azure SDK (shared/backup builds on it alone), and azblobstore is one
// implementation among others. Only the places that turn configuration
// into a store import this package: the composition root (shared/app), the
// commands and tests.
package storeopen

import (
	"context"
	"fmt"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/azblobstore"
	"github.com/langsync/langsync/shared/langsync"
)

// Options configure Open; nil means defaults. They are azblobstore's: the
// Azure store takes every field, a directory only Now and Logger.
type Options = azblobstore.Options

// Open returns the store named by locator, parsed strictly by
// langsync.ParseStoreLocator: a directory only from an explicit path
// (absolute, ./relative or file://; created if needed), a Blob connection
// string whose keys are all known (account key or SAS), or an
// https://<account>.blob.core.windows.net URL (Entra ID, or a SAS in its
// query). Errors never repeat an account key or a SAS.
func Open(ctx context.Context, locator string, opts *Options) (blobstore.Store, error) {
	loc, err := langsync.ParseStoreLocator(locator)
	if err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	switch loc.Kind {
	case langsync.StoreConnectionString:
		return store(azblobstore.NewFromConnectionString(loc.ConnectionString, opts))
	case langsync.StoreAccountURL:
		if loc.SAS {
			return store(azblobstore.NewFromSASURL(loc.AccountURL, opts))
		}
		return store(azblobstore.NewFromURL(ctx, loc.AccountURL, opts))
	default:
		var dir *blobstore.DirOptions
		if opts != nil {
			dir = &blobstore.DirOptions{Now: opts.Now, Logger: opts.Logger}
		}
		return store(blobstore.NewDir(loc.Path, dir))
	}
}

// store returns a nil interface on error, not one holding a nil pointer.
func store[S blobstore.Store](s S, err error) (blobstore.Store, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}
