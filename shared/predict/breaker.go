package predict

import (
	"fmt"
	"time"
)

// BreakerOptions configure the circuit breaker kept for each endpoint. A
// "request" here is one whole request on one endpoint, after its retries on
// that endpoint: a single failed attempt that a retry fixes is not a failure.
type BreakerOptions struct {
	// ConsecutiveFailures opens the breaker after this many failed requests
	// in a row. Default 5; negative disables this rule.
	ConsecutiveFailures int
	// FailureRatio opens the breaker when at least this share of the last
	// Window requests failed (and at least MinRequests were seen). Default
	// 0.5; negative disables this rule.
	FailureRatio float64
	// Window is the number of recent requests the ratio is computed over.
	// Default 20.
	Window int
	// MinRequests is how many requests the window must hold before the ratio
	// rule applies. Default 10.
	MinRequests int
	// OpenFor is the minimum time the breaker stays open before the first
	// half-open probe. Default 30s.
	OpenFor time.Duration
	// MaxOpenFor caps the open time, which doubles after each failed probe
	// and after each re-trip within MaxOpenFor of closing (no flapping).
	// Default 5m.
	MaxOpenFor time.Duration
	// ProbeJitter adds up to this fraction of the open time to each probe
	// time, so that many clients do not probe in step. Default 0.2; negative
	// disables.
	ProbeJitter float64
}

func (o BreakerOptions) withDefaults() BreakerOptions {
	if o.ConsecutiveFailures == 0 {
		o.ConsecutiveFailures = 5
	}
	if o.FailureRatio == 0 {
		o.FailureRatio = 0.5
	}
	if o.Window <= 0 {
		o.Window = 20
	}
	if o.MinRequests <= 0 {
		o.MinRequests = 10
	}
	if o.MinRequests > o.Window {
		o.MinRequests = o.Window
	}
	if o.OpenFor <= 0 {
		o.OpenFor = 30 * time.Second
	}
	if o.MaxOpenFor <= 0 {
		o.MaxOpenFor = 5 * time.Minute
	}
	if o.MaxOpenFor < o.OpenFor {
		o.MaxOpenFor = o.OpenFor
	}
	if o.ProbeJitter == 0 {
		o.ProbeJitter = 0.2
	}
	return o
}

// BreakerState is the state of one endpoint's circuit breaker.
type BreakerState string

// Breaker states.
const (
	// BreakerClosed: the endpoint takes traffic.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen: the endpoint failed consistently and gets no traffic until
	// its next probe time.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen: one probe request is in flight to the endpoint.
	BreakerHalfOpen BreakerState = "half-open"
)

// breaker is one endpoint's circuit breaker. It is not safe for concurrent
// use; the Client guards it with its mutex.
type breaker struct {
	opts  BreakerOptions
	rand  func() float64
	state BreakerState

	consecutive int
	window      []bool // ring of recent outcomes, true = failed
	wpos, wlen  int
	wfail       int

	openedAt  time.Time
	openFor   time.Duration
	nextProbe time.Time
	closedAt  time.Time
	reason    string // why it opened, or last transition
	lastErr   string
}

func newBreaker(opts BreakerOptions, rnd func() float64) *breaker {
	return &breaker{opts: opts, rand: rnd, state: BreakerClosed, window: make([]bool, opts.Window)}
}

// allow reports whether a request may go to the endpoint now and whether it
// is the half-open probe. At most one probe is in flight.
func (b *breaker) allow(now time.Time) (ok, probe bool) {
	switch b.state {
	case BreakerClosed:
		return true, false
	case BreakerOpen:
		if !now.Before(b.nextProbe) {
			b.state = BreakerHalfOpen
			return true, true
		}
	}
	return false, false
}

// success records a served request. A successful probe closes the breaker.
func (b *breaker) success(now time.Time, probe bool) (changed bool) {
	if probe || b.state != BreakerClosed {
		b.close(now, "probe succeeded")
		return true
	}
	b.consecutive = 0
	b.push(false)
	return false
}

// failure records a failed request and reports whether the breaker opened
// (or stayed open after a failed probe).
func (b *breaker) failure(now time.Time, probe bool, err error) (changed bool) {
	if err != nil {
		b.lastErr = err.Error()
	}
	if probe || b.state != BreakerClosed {
		b.openFor = min(b.openFor*2, b.opts.MaxOpenFor)
		b.reopen(now, fmt.Sprintf("probe failed (next open period %s)", b.openFor))
		return true
	}
	b.consecutive++
	b.push(true)
	switch {
	case b.opts.ConsecutiveFailures > 0 && b.consecutive >= b.opts.ConsecutiveFailures:
		b.trip(now, fmt.Sprintf("%d consecutive failed requests", b.consecutive))
		return true
	case b.opts.FailureRatio > 0 && b.wlen >= b.opts.MinRequests &&
		float64(b.wfail) >= b.opts.FailureRatio*float64(b.wlen):
		b.trip(now, fmt.Sprintf("%d of the last %d requests failed", b.wfail, b.wlen))
		return true
	}
	return false
}

// abandon puts a probe that ended without a verdict (the caller's context
// ended) back to open, probe-able at once: it was not the endpoint's fault.
func (b *breaker) abandon(now time.Time) {
	if b.state == BreakerHalfOpen {
		b.state = BreakerOpen
		b.nextProbe = now
	}
}

func (b *breaker) push(failed bool) {
	if b.wlen == len(b.window) {
		if b.window[b.wpos] {
			b.wfail--
		}
	} else {
		b.wlen++
	}
	b.window[b.wpos] = failed
	if failed {
		b.wfail++
	}
	b.wpos = (b.wpos + 1) % len(b.window)
}

func (b *breaker) trip(now time.Time, why string) {
	// Re-tripping soon after closing keeps growing the open period instead
	// of starting over: an endpoint that keeps coming and going is kept out
	// longer each time rather than flapping.
	if b.openFor > 0 && !b.closedAt.IsZero() && now.Sub(b.closedAt) < b.opts.MaxOpenFor {
		b.openFor = min(b.openFor*2, b.opts.MaxOpenFor)
	} else {
		b.openFor = b.opts.OpenFor
	}
	b.openedAt = now
	b.reopen(now, why)
}

func (b *breaker) reopen(now time.Time, why string) {
	b.state = BreakerOpen
	b.reason = why
	wait := b.openFor
	if b.opts.ProbeJitter > 0 {
		wait += time.Duration(b.opts.ProbeJitter * b.rand() * float64(b.openFor))
	}
	b.nextProbe = now.Add(wait)
}

func (b *breaker) close(now time.Time, why string) {
	b.state = BreakerClosed
	b.reason = why
	b.closedAt = now
	b.consecutive = 0
	b.wpos, b.wlen, b.wfail = 0, 0, 0
	clear(b.window)
}

// failureNote says where the breaker stands right after a failed request,
// for Attempt.Breaker: still closed (and how far from opening), or open and
// until when.
func (b *breaker) failureNote(now time.Time) string {
	if b.state != BreakerClosed {
		return fmt.Sprintf("open (%s), next probe in %s", b.reason, b.untilProbe(now))
	}
	n := b.consecutive
	s := fmt.Sprintf("still closed after %d consecutive failed request%s", n, plural(n))
	if b.opts.ConsecutiveFailures > 0 {
		s += fmt.Sprintf(" (it opens at %d)", b.opts.ConsecutiveFailures)
	}
	return s
}

// skipNote says why the breaker kept a request from the endpoint, for
// Attempt.Breaker of a skipped endpoint.
func (b *breaker) skipNote(now time.Time) string {
	if b.state == BreakerHalfOpen {
		return "half-open (another request is the probe)"
	}
	s := fmt.Sprintf("open since %s (%s", b.openedAt.UTC().Format(time.RFC3339), b.reason)
	if b.lastErr != "" {
		s += ", last error: " + b.lastErr
	}
	return s + fmt.Sprintf("), next probe in %s", b.untilProbe(now))
}

// untilProbe is the wait for the next probe, in whole seconds: jitter makes
// finer digits noise.
func (b *breaker) untilProbe(now time.Time) time.Duration {
	return max(b.nextProbe.Sub(now), 0).Round(time.Second)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
