package authoring

import (
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/langsync/langsync/shared/internal/langhttp"
)

// The pipeline is langhttp's (host pin, azcore retry, log, key or bearer,
// send), with two policies of this package on every try ahead of the log
// line:
//
//	budget    waits for the shared per-host rate budget
//	throttle  turns Retry-After on 429/503 into a pause of the shared budget
//	          (see throttlePolicy)

// budgetPolicy waits for the shared rate budget before every try, unless
// the request's context carries a permit reserved for it (the pipeline
// reserves a job-starting write before claiming the step, see
// Client.ReserveWrite). The slot counts from the answer, as the service's
// window does from its receipt.
type budgetPolicy struct {
	budget *RateBudget
	origin string
}

func (p budgetPolicy) Do(req *policy.Request) (*http.Response, error) {
	m := req.Raw().Method
	write := m != http.MethodGet && m != http.MethodHead
	ctx := req.Raw().Context()
	permit := permitFor(ctx, p.origin, write)
	if permit == nil {
		var err error
		if permit, err = p.budget.reserve(ctx, p.origin, write, "", !write && urgentRead(ctx, p.origin)); err != nil {
			return nil, fmt.Errorf("waiting for the rate budget: %w", err)
		}
	}
	answered := permit.Sent()
	defer answered()
	return req.Next()
}

// MaxRetryAfter is the longest Retry-After the client waits for. A longer
// one (a quota exhausted for hours) pauses the host this long, and the
// request fails at once with the 429 and its RetryAfter instead of hanging.
const MaxRetryAfter = 5 * time.Minute

// throttlePolicy moves the service's Retry-After on a 429 or 503 into the
// shared budget: the host is paused for every client of the process, and the
// next try (of this request or any other) waits in budgetPolicy. The header
// is hidden from azcore's retry policy so that it applies its own capped
// backoff instead of sleeping the Retry-After a second time (or giving up
// when it exceeds MaxRetryDelay). The budget's clock is injectable, which
// keeps tests of long Retry-After values instant.
type throttlePolicy struct {
	budget      *RateBudget
	origin      string
	onThrottled func()
}

func (p throttlePolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if err != nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return resp, err
	}
	if p.onThrottled != nil {
		p.onThrottled()
	}
	if d, ok := langhttp.HideRetryAfter(resp.Header, p.budget.now()); ok {
		p.budget.Pause(p.origin, p.budget.now().Add(min(d, MaxRetryAfter)))
	}
	return resp, nil
}
