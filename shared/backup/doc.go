// Package backup is langsync's backup format: a self-contained, verifiable
// gzip'd tar holding an exported project, the labelled documents it names
// and a manifest of sha256 hashes; the project fingerprint used for change
// detection; the catalog of backups in a Blob container with retention; and
// the restore side, which reads our archives, plain Language Studio export
// JSON and the legacy 2021-11-01-preview export shape, within limits that
// make hostile input fail cleanly before anything is written.
//
// Archive layout, in this order, so that it can be written in one streaming
// pass in constant memory:
//
//	project.json          the export exactly as the service returned it
//	documents/<location>  one entry per labelled document (when a source is given)
//	manifest.json         last: format, project, source, times, fingerprint, per-file sha256 and size
//
// The manifest comes last because it holds every file's hash; readers
// (Verify, Open) hash entries as they stream past and compare at the end.
package backup
