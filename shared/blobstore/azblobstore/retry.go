package azblobstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Retry defaults of the Azure store. A storage endpoint that accepts
// connections but never answers fails a request after DefaultMaxRetries+1
// tries of DefaultTryTimeout with azcore's backoff between them ((2^n-1) x
// RetryDelay with jitter x0.8..1.3, capped at MaxRetryDelay: about 1 s,
// 3 s, 4 s): at most about 50 s. An endpoint that refuses connections
// fails after the backoff alone, 7-10 s.
const (
	DefaultMaxRetries = 3
	// DefaultTryTimeout bounds one try of a request without blob data
	// (properties, lists, leases, containers, an empty lock blob), and one
	// segment of a download (see RetryOptions.TryTimeout).
	DefaultTryTimeout = 10 * time.Second
	// DefaultTransferTryTimeout bounds one try of a request carrying blob
	// data: a one-request Put (up to 1 MiB) or one staged block (BlockSize,
	// 4 MiB by default, Concurrency of them at once). 5 minutes lets 4
	// blocks of 4 MiB through an uplink of about 55 kB/s.
	DefaultTransferTryTimeout = 5 * time.Minute
	DefaultRetryDelay         = 1 * time.Second
	DefaultMaxRetryDelay      = 4 * time.Second
)

// RetryOptions tune the Azure store's retries (azcore's retry policy); zero
// fields take the defaults above.
type RetryOptions struct {
	// MaxRetries is the number of tries after the first; negative: none.
	MaxRetries int32
	// TryTimeout bounds one try of a request without blob data. A download
	// is not cut by it: its body is read under the try that fetched it, and
	// when that try times out the SDK's retrying reader asks again from the
	// byte reached (If-Match on the ETag), so only a stalled segment costs
	// a try.
	TryTimeout time.Duration
	// TransferTryTimeout bounds one try of a request carrying blob data.
	TransferTryTimeout time.Duration
	// RetryDelay is the first backoff; azcore grows it ((2^n-1) x
	// RetryDelay, with jitter) up to MaxRetryDelay.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
}

// RetryEvent describes a retry the store is about to make.
type RetryEvent struct {
	// Endpoint is the storage endpoint's host[:port]; never a URL with its
	// query (a SAS).
	Endpoint string
	// Attempt is the try about to start (2 for the first retry) of Attempts.
	Attempt, Attempts int
	// Err is why the previous try failed, without the request URL.
	Err error
}

// resolved returns r with the defaults filled in.
func (r RetryOptions) resolved() RetryOptions {
	if r.MaxRetries == 0 {
		r.MaxRetries = DefaultMaxRetries
	} else if r.MaxRetries < 0 {
		r.MaxRetries = 0
	}
	if r.TryTimeout <= 0 {
		r.TryTimeout = DefaultTryTimeout
	}
	if r.TransferTryTimeout <= 0 {
		r.TransferTryTimeout = DefaultTransferTryTimeout
	}
	if r.RetryDelay <= 0 {
		r.RetryDelay = DefaultRetryDelay
	}
	if r.MaxRetryDelay <= 0 {
		r.MaxRetryDelay = DefaultMaxRetryDelay
	}
	return r
}

// azcore returns the SDK's options for tries of tryTimeout.
func (r RetryOptions) azcore(tryTimeout time.Duration) policy.RetryOptions {
	n := r.MaxRetries
	if n == 0 {
		n = -1 // azcore reads 0 as "its default", -1 as "no retries"
	}
	return policy.RetryOptions{MaxRetries: n, TryTimeout: tryTimeout, RetryDelay: r.RetryDelay, MaxRetryDelay: r.MaxRetryDelay}
}

// retryStatus is azcore's default list of retried HTTP statuses (its
// RetryOptions.StatusCodes), which the store keeps.
var retryStatus = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

// transferKey marks a context whose requests carry blob data.
type transferKey struct{}

func withTransfer(ctx context.Context) context.Context {
	return context.WithValue(ctx, transferKey{}, true)
}

// tryState is shared by the tries of one request (an azcore operation
// value, which every clone of the request shares).
type tryState struct {
	parent  context.Context
	timeout time.Duration
	tries   int
}

// callPolicy runs once per request, before azcore's retry policy: it picks
// the try timeout (a transfer's or the default) and sets up the tryState
// that tryPolicy counts in.
type callPolicy struct{ r RetryOptions }

func (p callPolicy) Do(req *policy.Request) (*http.Response, error) {
	ctx := req.Raw().Context()
	st := &tryState{parent: ctx, timeout: p.r.TryTimeout}
	if ctx.Value(transferKey{}) != nil {
		st.timeout = p.r.TransferTryTimeout
		req = req.WithContext(policy.WithRetryOptions(ctx, p.r.azcore(st.timeout)))
	}
	req.SetOperationValue(st)
	return req.Next()
}

// tryPolicy runs once per try, inside azcore's retry policy. It replaces a
// transport error (whose text quotes the request URL, SAS included) by one
// that names only the endpoint and says what to check, and reports each
// failed try that azcore will retry to onRetry.
type tryPolicy struct {
	r       RetryOptions
	onRetry func(RetryEvent)
}

func (p tryPolicy) Do(req *policy.Request) (*http.Response, error) {
	var st *tryState
	if !req.OperationValue(&st) {
		st = &tryState{parent: context.Background(), timeout: p.r.TryTimeout}
	}
	st.tries++
	attempts := int(p.r.MaxRetries) + 1
	endpoint := req.Raw().URL.Host
	resp, err := req.Next()
	var why error
	switch {
	case err != nil:
		err = &UnreachableError{Endpoint: endpoint, Tries: st.tries, TryTimeout: st.timeout, cause: err,
			// A dial bounded by the try's deadline may fail with the
			// network poller's own timeout before the context's timer
			// fires: that is the try's timeout too.
			timedOut: (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)) && st.parent.Err() == nil}
		why = err.(*UnreachableError).reason()
	case slices.Contains(retryStatus, resp.StatusCode):
		why = fmt.Errorf("HTTP %d %s", resp.StatusCode, resp.Header.Get("x-ms-error-code"))
	}
	// azcore retries these unless the caller gave up or the tries are spent.
	if why != nil && p.onRetry != nil && st.tries < attempts && st.parent.Err() == nil {
		p.onRetry(RetryEvent{Endpoint: endpoint, Attempt: st.tries + 1, Attempts: attempts, Err: why})
	}
	return resp, err
}

// UnreachableError is a request to the storage endpoint that got no HTTP
// answer: refused, reset, no route, a DNS or TLS failure, or no answer
// within the try timeout. Its text names the endpoint (host:port only,
// never a SAS) and what to check; it unwraps to the transport's error.
type UnreachableError struct {
	Endpoint   string
	Tries      int
	TryTimeout time.Duration
	cause      error
	timedOut   bool
}

// reason is the cause without net/http's quoting of the URL.
func (e *UnreachableError) reason() error {
	if e.timedOut {
		return fmt.Errorf("no answer within %s", e.TryTimeout)
	}
	var ue *url.Error
	if errors.As(e.cause, &ue) {
		return ue.Err
	}
	return e.cause
}

func (e *UnreachableError) Error() string {
	tries := "1 try"
	if e.Tries != 1 {
		tries = fmt.Sprintf("%d tries", e.Tries)
	}
	const check = "check the store setting (BlobEndpoint, or the account URL) and that the storage account, or Azurite, is running and reachable from here"
	if e.timedOut {
		return fmt.Sprintf("blob store %s did not answer within %s (%s): %s", e.Endpoint, e.TryTimeout, tries, check)
	}
	return fmt.Sprintf("cannot reach blob store %s (%s): %v: %s", e.Endpoint, tries, e.reason(), check)
}

func (e *UnreachableError) Unwrap() error { return e.cause }
