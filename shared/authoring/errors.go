package authoring

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// Sentinels for errors.Is. A *ResponseError matches the one its status
// code maps to. ErrNotFound and ErrConflict wrap the domain's, so a 404 is
// langsync.ErrNotFound to callers that do not know this package.
var (
	// ErrNotFound: 404 (project, model, deployment or job not found).
	ErrNotFound = fmt.Errorf("authoring: %w", langsync.ErrNotFound)
	// ErrConflict: 409 (a job is already running, or a name clash).
	ErrConflict = fmt.Errorf("authoring: %w", langsync.ErrConflict)
	// ErrThrottled: 429 (rate limit or quota) after the retries ran out.
	ErrThrottled = errors.New("authoring: throttled")
	// ErrUnauthorized: 401 (missing or wrong key or token).
	ErrUnauthorized = errors.New("authoring: unauthorized")
	// ErrForbidden: 403 (valid identity without the role, or quota).
	ErrForbidden = errors.New("authoring: forbidden")
	// ErrForeignHost: a URL from the service (operation-location,
	// resultUrl, nextLink) names another scheme or host than the
	// configured endpoint. Nothing was sent there.
	ErrForeignHost = errors.New("authoring: URL is not on the configured endpoint")
	// ErrMaybeStarted: a request that starts a job failed in a way that
	// leaves open whether the service accepted it (the request was sent,
	// then the connection broke, the try timed out, or a 5xx other than
	// 503 came back). It is not re-sent; look for the job (for example
	// ListTrainingJobs, GetProject's timestamps) before starting another.
	ErrMaybeStarted = errors.New("authoring: the job may have started")
	// ErrInvalidName: a project, model or deployment name breaks the rules.
	ErrInvalidName = errors.New("authoring: invalid name")
	// ErrUnsupported: the operation or option needs a newer API version.
	ErrUnsupported = errors.New("authoring: not supported by this api-version")
	// ErrUnsupportedAPIVersion: a 400 refusing the request's api-version
	// (error code or inner code naming ApiVersion, or a message naming the
	// api-version as unsupported): the resource, or its region, does not
	// serve that version. The *ResponseError's APIVersion is the one sent.
	ErrUnsupportedAPIVersion = errors.New("authoring: api-version not served by the resource")
	// ErrUnreachable: no answer came from the resource at all: the
	// connection was refused, the name did not resolve, the TLS handshake
	// failed (an untrusted or wrong certificate), or the connection was
	// closed or reset before any byte of an answer. The error is returned
	// after the client's own retries.
	ErrUnreachable = errors.New("authoring: resource unreachable")
	// ErrPartiallyCompleted: a job ended partiallyCompleted, a terminal
	// status that is not a success (part of the work failed; the
	// *JobError lists what the service reported). Nothing langsync starts
	// is meant to end so, and it is never taken for a success.
	ErrPartiallyCompleted = errors.New("authoring: job partially completed")
	// ErrUnknownJobStatus: Wait gave up on a job that kept reporting a
	// status none of the documented values for longer than
	// ClientOptions.UnknownStatusTimeout. The job may still be running
	// on the service.
	ErrUnknownJobStatus = errors.New("authoring: unknown job status")
)

// ResponseError is an error response from the service. Error() names the
// method and scheme://host/path; never the query string or a credential.
type ResponseError struct {
	StatusCode int
	// Code is error.code as sent (a string; the gateway sends "401", "429").
	Code       string
	Message    string
	Target     string
	Details    ErrorDetails
	InnerError *InnerError
	// RequestID is the apim-request-id header, for support requests.
	RequestID string
	Method    string
	// URL is scheme://host/path of the request, without the query.
	URL string
	// RetryAfter is the service's Retry-After, when it sent one.
	RetryAfter time.Duration
	// APIVersion is the api-version sent, set when the answer refused it
	// (ErrUnsupportedAPIVersion).
	APIVersion string
	// Hint says what to change, when the client knows (the setting that
	// chose a refused api-version); it ends Error().
	Hint string
	// maybeStarted marks a failed job-starting request whose outcome is
	// unknown (see ErrMaybeStarted).
	maybeStarted bool
}

// Error implements error.
func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "authoring: %s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		fmt.Fprintf(&b, ": %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	for ie := e.InnerError; ie != nil; ie = ie.InnerError {
		fmt.Fprintf(&b, " (inner %s: %s)", ie.Code, ie.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [apim-request-id %s]", e.RequestID)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, ": %s", e.Hint)
	}
	return b.String()
}

// refusesAPIVersion reports whether a 400 is about the api-version: a
// code naming it (UnsupportedApiVersion, InvalidApiVersionParameter, as
// Azure services send) or a message saying it is not supported.
func (e *ResponseError) refusesAPIVersion() bool {
	if e.StatusCode != http.StatusBadRequest {
		return false
	}
	codes, msgs := []string{e.Code}, []string{e.Message}
	for ie := e.InnerError; ie != nil; ie = ie.InnerError {
		codes, msgs = append(codes, string(ie.Code)), append(msgs, ie.Message)
	}
	for _, code := range codes {
		if strings.Contains(strings.ToLower(code), "apiversion") {
			return true
		}
	}
	for _, m := range msgs {
		m = strings.ToLower(m)
		if (strings.Contains(m, "api-version") || strings.Contains(m, "api version")) &&
			(strings.Contains(m, "unsupported") || strings.Contains(m, "not support") || strings.Contains(m, "not valid") || strings.Contains(m, "invalid")) {
			return true
		}
	}
	return false
}

// Is maps the status code to the package's sentinels and the domain's.
func (e *ResponseError) Is(target error) bool {
	switch target {
	case ErrNotFound, langsync.ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict, langsync.ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrThrottled:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrMaybeStarted:
		return e.maybeStarted
	case ErrUnsupportedAPIVersion:
		return e.refusesAPIVersion()
	}
	return false
}

// JobError is a job that ended failed, cancelled or partiallyCompleted. One
// that ended partiallyCompleted matches ErrPartiallyCompleted.
type JobError struct {
	Kind     langsync.JobKind
	JobID    string
	Status   langsync.JobStatus
	Errors   []ErrorDetail
	Warnings []ErrorDetail
}

// Error implements error.
func (e *JobError) Error() string {
	var b strings.Builder
	kind := string(e.Kind)
	if kind == "" {
		kind = "job"
	} else {
		kind += " job"
	}
	fmt.Fprintf(&b, "authoring: %s %s ended %s", kind, e.JobID, e.Status)
	if e.Status == langsync.JobPartiallyCompleted {
		b.WriteString(" (part of it failed: not a success)")
	}
	for i, d := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", d.Code, d.Message)
		for ie := d.InnerError; ie != nil; ie = ie.InnerError {
			fmt.Fprintf(&b, " (inner %s: %s)", ie.Code, ie.Message)
		}
	}
	return b.String()
}

// Is matches ErrPartiallyCompleted for a job that ended partiallyCompleted.
func (e *JobError) Is(target error) bool {
	return target == ErrPartiallyCompleted && e.Status == langsync.JobPartiallyCompleted
}

// requestError is a failure to get a response at all (connection refused or
// reset, a try timeout, a body cut short). Its text names method and
// scheme://host/path, never the query; the underlying net/http error (which
// quotes the whole URL) is unwrapped first.
type requestError struct {
	method, url  string
	err          error
	maybeStarted bool
	unreachable  bool
}

func (e *requestError) Error() string {
	s := fmt.Sprintf("authoring: %s %s: %v", e.method, e.url, e.err)
	if e.maybeStarted {
		s += " (the request was sent: the job may have started; check before starting it again)"
	}
	return s
}

func (e *requestError) Unwrap() error { return e.err }

func (e *requestError) Is(target error) bool {
	return target == ErrMaybeStarted && e.maybeStarted || target == ErrUnreachable && e.unreachable
}
