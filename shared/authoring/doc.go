// Package authoring is the client for the Azure AI Language authoring REST
// API of custom text classification (single- and multi-label) and custom
// NER projects: projects, export/import, training, models, deployments and
// the long-running jobs behind them (docs/reference/language-rest.md).
//
// It is built on the azcore pipeline of shared/internal/langhttp, which
// shared/predict shares. Requests are refused before any
// credential policy sees them unless they go to the configured endpoint's
// scheme and host (ErrForeignHost), so an operation-location, resultUrl or
// nextLink elsewhere never receives the key or token. Reads are retried on
// 408/429/5xx, timeouts and resets with capped exponential backoff and
// jitter; a request that starts a job is re-sent only when the service
// cannot have accepted it (see retryDecider), else the error is marked
// ErrMaybeStarted. All clients of a process share a per-host RateBudget
// (10 writes and 100 reads a minute by default), which a Retry-After on a
// 429 pauses for everyone.
//
// Long-running operations are resumable: Begin… returns a langsync.Job
// whose Location can be saved and polled later by another process with
// Poll (one GET, with the time of the next poll). Wait polls until the job
// ends, for the CLI.
//
// Wire types keep members they do not model (Extra) and re-encode them, and
// BeginImport sends the export bytes verbatim, so an exported project
// imported back loses nothing.
package authoring
