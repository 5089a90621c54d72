// Package predict is a client for the runtime prediction API of Azure AI
// Language custom projects (custom single- and multi-label classification and
// custom NER: POST /language/analyze-text/jobs, then poll the job; CLU and
// orchestration workflow projects: the synchronous POST
// /language/:analyze-conversations, conversations.go) that fails over
// between regions.
//
// A Client takes a primary endpoint and one or more secondaries that serve the
// same project and deployment names. It sends every request to the first
// endpoint whose circuit breaker is closed. A single error is retried on the
// same endpoint; only consistent failure (N consecutive failed requests, or a
// failure ratio over a window of recent requests) opens the breaker and moves
// traffic to the next endpoint. After a minimum open time (growing while the
// endpoint keeps failing, with jitter) one real request is sent to the open
// endpoint as a half-open probe; when it succeeds, traffic returns there.
// Connection errors, timeouts, 5xx and 429 beyond their Retry-After budget
// count as failures; 400, 401 and 403 do not (they are returned as they are).
//
// A 404 from a secondary means the project or deployment was never replicated
// there: the client says exactly that with a *NotReplicatedError instead of
// hiding it behind a generic failure.
//
// Each endpoint has the azcore pipeline that shared/authoring uses too
// (shared/internal/langhttp): host pin, azcore's retry policy, key or
// bearer token credential policy, per-try timeout and logging; this package
// adds its Retry-After budget and the decisions what to retry.
//
// Every Result names the endpoint that served it and State reports which
// endpoint is active and why, for logs and metrics. Keys and tokens are sent
// only to the scheme and host of the endpoint they belong to: an
// operation-location on another host is refused before anything is sent.
package predict
