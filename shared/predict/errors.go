package predict

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// Sentinel errors, matched with errors.Is. ErrNotFound wraps the domain's
// langsync.ErrNotFound, which every not-found error here matches too.
var (
	// ErrNotFound: the project or deployment does not exist on the endpoint
	// (404). On a secondary this comes as a *NotReplicatedError.
	ErrNotFound = fmt.Errorf("predict: %w", langsync.ErrNotFound)
	// ErrNotReplicated: a secondary answered 404 for the project or
	// deployment; see *NotReplicatedError.
	ErrNotReplicated = errors.New("predict: not replicated")
	// ErrThrottled: 429 beyond the Retry-After budget.
	ErrThrottled = errors.New("predict: throttled")
	// ErrUnauthorized: 401 or 403 (wrong key, missing role).
	ErrUnauthorized = errors.New("predict: unauthorized")
	// ErrBadRequest: 400, the request itself is wrong; never retried.
	ErrBadRequest = errors.New("predict: bad request")
	// ErrForeignHost: the service pointed at a URL on another scheme or
	// host than the endpoint; nothing was sent there.
	ErrForeignHost = errors.New("predict: refusing to send credentials to another host")
	// ErrUnavailable: no endpoint could serve the request; the error is an
	// *UnavailableError listing what each endpoint said.
	ErrUnavailable = errors.New("predict: no endpoint available")
	// ErrJobTimeout: a prediction job did not finish within JobTimeout.
	ErrJobTimeout = errors.New("predict: prediction job timed out")
)

// ResponseError is an error answer of the prediction API, or a failed job.
// Its text names the endpoint, method and scheme://host/path, never the
// query string or a credential.
type ResponseError struct {
	// Endpoint is the name of the endpoint that answered.
	Endpoint string
	// StatusCode is the HTTP status; 200 for a job that ended failed.
	StatusCode int
	// Code and Message come from the {"error":{...}} body or the job errors.
	Code, Message string
	// InnerCode is error.innererror.code when present.
	InnerCode string
	// RequestID is the apim-request-id header, for support requests.
	RequestID string
	Method    string
	// URL is scheme://host/path of the request, without the query.
	URL string
	// RetryAfter is the Retry-After of a 429 or 503, zero if none.
	RetryAfter time.Duration
	// JobStatus is set when a job ended failed, cancelled or partiallyCompleted.
	JobStatus string
}

func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "predict: %s: %s %s: ", e.Endpoint, e.Method, e.URL)
	if e.JobStatus != "" {
		fmt.Fprintf(&b, "job %s", e.JobStatus)
	} else {
		fmt.Fprintf(&b, "%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s", e.Code)
		if e.InnerCode != "" {
			fmt.Fprintf(&b, "/%s", e.InnerCode)
		}
		b.WriteString(")")
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [apim-request-id %s]", e.RequestID)
	}
	return b.String()
}

// Is maps the status to the package's sentinels and the domain's.
func (e *ResponseError) Is(target error) bool {
	switch target {
	case ErrNotFound, langsync.ErrNotFound:
		return e.notFound()
	case ErrThrottled:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	}
	return false
}

// notFound: a 404, or a job that failed because the project or deployment
// does not exist (the service may report it either way).
func (e *ResponseError) notFound() bool {
	if e.StatusCode == http.StatusNotFound {
		return true
	}
	return e.JobStatus != "" && strings.Contains(strings.ToLower(e.Code), "notfound")
}

// NotReplicatedError says that a secondary does not have the project or the
// deployment: it was never replicated there (or was deleted since).
type NotReplicatedError struct {
	Endpoint   string
	Project    string
	Deployment string
	// Err is the service's answer.
	Err *ResponseError
}

func (e *NotReplicatedError) Error() string {
	return fmt.Sprintf("predict: project %s / deployment %s was never replicated to %s (replicate it with `langsync replicate --project %s`): %v",
		e.Project, e.Deployment, e.Endpoint, e.Project, e.Err)
}

// Unwrap returns the service's answer.
func (e *NotReplicatedError) Unwrap() error { return e.Err }

// Is matches ErrNotReplicated and ErrNotFound (the package's and the
// domain's).
func (e *NotReplicatedError) Is(target error) bool {
	return target == ErrNotReplicated || target == ErrNotFound || target == langsync.ErrNotFound
}

// Attempt is one endpoint's failure to serve a request.
type Attempt struct {
	// Endpoint is the endpoint's name.
	Endpoint string `json:"endpoint"`
	// Err is what went wrong.
	Err error `json:"-"`
	// Error is Err's text (for JSON output).
	Error string `json:"error"`
	// Skipped is true when the endpoint was not tried because its breaker
	// was open.
	Skipped bool `json:"skipped,omitempty"`
	// Breaker says where the endpoint's breaker stood after this failure
	// ("still closed after 1 consecutive failed request (it opens at 5)",
	// "open (5 consecutive failed requests), next probe in 30s") or, for a
	// skipped endpoint, why it was skipped. Empty when the failure does not
	// count for the breaker (a secondary without the project).
	Breaker string `json:"breaker,omitempty"`
}

// UnavailableError is returned when no endpoint could serve a request.
type UnavailableError struct {
	Project, Deployment string
	Attempts            []Attempt
}

func (e *UnavailableError) Error() string {
	var parts []string
	for _, a := range e.Attempts {
		if a.Skipped {
			parts = append(parts, a.Endpoint+": skipped (breaker open)")
			continue
		}
		parts = append(parts, a.Endpoint+": "+a.Error)
	}
	return fmt.Sprintf("predict: no endpoint could serve project %s / deployment %s: %s",
		e.Project, e.Deployment, strings.Join(parts, "; "))
}

// Unwrap returns every attempt's error, so errors.As finds, for example, a
// *NotReplicatedError from a secondary.
func (e *UnavailableError) Unwrap() []error {
	var errs []error
	for _, a := range e.Attempts {
		if a.Err != nil {
			errs = append(errs, a.Err)
		}
	}
	return errs
}

// Is matches ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// failure kinds, for the decision what to do after an error.
type errKind int

const (
	// kindFailure: the endpoint is unhealthy (connection, timeout, 5xx,
	// 429 past budget): retry, count for the breaker, fail over.
	kindFailure errKind = iota
	// kindFatal: the request or the caller is wrong (400, 401/403, foreign
	// host, cancelled context): return it as it is.
	kindFatal
	// kindNotFound: 404 for the project or deployment.
	kindNotFound
)

// transientJobCodes are job error codes that say the service, not the
// request, failed.
var transientJobCodes = map[string]bool{
	"internalservererror": true, "serviceunavailable": true, "timeout": true, "toomanyrequests": true,
}

func classify(err error) errKind {
	var re *ResponseError
	if errors.As(err, &re) {
		switch {
		case re.notFound():
			return kindNotFound
		case re.JobStatus != "":
			if transientJobCodes[strings.ToLower(re.Code)] {
				return kindFailure
			}
			return kindFatal
		case re.StatusCode >= 500, re.StatusCode == http.StatusTooManyRequests,
			re.StatusCode == http.StatusRequestTimeout:
			return kindFailure
		}
		return kindFatal
	}
	if errors.Is(err, ErrForeignHost) {
		return kindFatal
	}
	return kindFailure
}
