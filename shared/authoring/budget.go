package authoring

import (
	"context"
	"sync"
	"time"
)

// Default authoring limits per resource
// (docs/reference/language-rest.md#throttling-and-limits): 10 POST and 100 GET
// a minute.
const (
	DefaultWritesPerMinute = 10
	DefaultReadsPerMinute  = 100
)

// BudgetOptions configures a RateBudget. Zero fields take the defaults.
type BudgetOptions struct {
	// Writes is the number of non-GET requests (POST, PUT, PATCH, DELETE)
	// allowed per Per. The service documents 10 POST a minute; counting
	// every write against it is the safe reading.
	Writes int
	// Reads is the number of GET requests allowed per Per.
	Reads int
	// Per is the window; default one minute.
	Per time.Duration
	// Now and Sleep replace the clock in tests. Sleep must return early
	// with ctx.Err() when ctx is done.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// RateBudget spaces requests so that all clients sharing it stay within the
// service's per-resource limits. It keeps one token bucket for writes and
// one for reads per scheme://host, each starting full (a burst of the whole
// allowance) and refilling evenly over the window. A 429 or 503 with
// Retry-After pauses the host for every client sharing the budget.
type RateBudget struct {
	opts  BudgetOptions
	mu    sync.Mutex
	hosts map[string]*hostBudget
}

type hostBudget struct {
	reads, writes bucket
	pausedUntil   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// DefaultBudget is shared by every Client in the process whose options do
// not name another budget, so all callers respect one limit per resource.
var DefaultBudget = NewRateBudget(BudgetOptions{})

// NewRateBudget returns a budget with the given limits.
func NewRateBudget(opts BudgetOptions) *RateBudget {
	if opts.Writes <= 0 {
		opts.Writes = DefaultWritesPerMinute
	}
	if opts.Reads <= 0 {
		opts.Reads = DefaultReadsPerMinute
	}
	if opts.Per <= 0 {
		opts.Per = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	return &RateBudget{opts: opts, hosts: make(map[string]*hostBudget)}
}

// Wait blocks until the host's budget allows one request (a write when
// write is true), or ctx is done.
func (b *RateBudget) Wait(ctx context.Context, host string, write bool) error {
	for {
		d := b.take(host, write)
		if d <= 0 {
			return nil
		}
		if err := b.opts.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// take consumes a token and returns 0, or returns how long to wait.
func (b *RateBudget) take(host string, write bool) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.opts.Now()
	h := b.hostLocked(host, now)
	if now.Before(h.pausedUntil) {
		return h.pausedUntil.Sub(now)
	}
	bk, limit := &h.reads, b.opts.Reads
	if write {
		bk, limit = &h.writes, b.opts.Writes
	}
	perToken := b.opts.Per / time.Duration(limit)
	if el := now.Sub(bk.last); el > 0 {
		bk.tokens = min(float64(limit), bk.tokens+float64(el)/float64(perToken))
	}
	bk.last = now
	if bk.tokens >= 1 {
		bk.tokens--
		return 0
	}
	d := time.Duration((1 - bk.tokens) * float64(perToken))
	return max(d, time.Millisecond)
}

// Pause stops requests to host until the given time (the service asked for
// it with Retry-After). A later pause wins over an earlier one.
func (b *RateBudget) Pause(host string, until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.hostLocked(host, b.opts.Now())
	if until.After(h.pausedUntil) {
		h.pausedUntil = until
	}
}

// hostLocked returns the host's buckets, creating them full. b.mu is held.
func (b *RateBudget) hostLocked(host string, now time.Time) *hostBudget {
	h := b.hosts[host]
	if h == nil {
		h = &hostBudget{
			reads:  bucket{tokens: float64(b.opts.Reads), last: now},
			writes: bucket{tokens: float64(b.opts.Writes), last: now},
		}
		b.hosts[host] = h
	}
	return h
}

func (b *RateBudget) now() time.Time { return b.opts.Now() }

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
