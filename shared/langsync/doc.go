// Package langsync is the domain vocabulary shared by every other package:
// resources, projects, pairs, jobs, backups, runs, secrets and the blob key
// layout. It imports only the standard library so that adapters (authoring,
// blobstore, queue, ...) and the pipeline can all point inward to it.
package langsync
