// Package blobstore is langsync's contract for Blob storage: the Store
// interface (streamed get, ETag-guarded put and delete, sorted listing and
// a per-key lock), Info, PutOptions, the errors, the key, container and
// metadata rules every store enforces, and one implementation over a local
// directory (Dir).
//
// It imports no Azure SDK, so that code written against the contract (the
// backup format in shared/backup) does not link it. The Azure Blob store is
// azblobstore, the only importer of azblob; storeopen.Open picks one of the
// two from a locator string. The layout follows litestream's: the core
// package defines what a replica is, each backend lives in its own package,
// and only the composition root sees them all.
//
// Both implementations satisfy Store and pass the same contract suite,
// blobstoretest.Run, which runs over Dir and over Azurite in `make test`.
// Failures come back as *Error values that match the sentinels ErrNotFound
// (and fs.ErrNotExist), ErrConflict and ErrLocked with errors.Is, and
// through them the domain's langsync.ErrNotFound, ErrConflict and ErrLocked.
//
// Metadata keys are case-insensitive on Azure and must be C# identifiers;
// Put rejects any other key, and every Info carries them lowercased.
package blobstore
