// Package langsync is the domain vocabulary shared by every other package:
// resources, projects, pairs, jobs, backups, runs, secrets and the blob key
// layout, and the queue messages and entry-point shapes that every host
// (Functions, Lambda) exchanges with the pipeline (ParseMessage, Wake,
// Tick, StatusRequest, FailedInput, IsPermanent). It imports only the
// standard library so that adapters (authoring, blobstore, queue, ...), the
// pipeline and the hosts can all point inward to it.
package langsync
