// Package blobstore is langsync's only door to Blob storage: streamed get,
// ETag-guarded put and delete, sorted listing and a per-key lock, over Azure
// Blob storage (Azure, the only importer of azblob) or a local directory (Dir).
//
// Both implementations satisfy Store and pass the same contract suite,
// blobstoretest.Run, which runs over Dir and over Azurite in `make test`.
// Failures come back as *Error values that match the sentinels ErrNotFound
// (and fs.ErrNotExist), ErrConflict and ErrLocked with errors.Is.
//
// Metadata keys are case-insensitive on Azure and must be C# identifiers;
// Put rejects any other key, and every Info carries them lowercased.
package blobstore
