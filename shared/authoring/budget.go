package authoring

import (
	"context"
	"fmt"
	"slices"
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
	// Per is the window; default one minute. A benchmark scales it (with
	// the emulator's rateWindow fault) to run a fleet in seconds.
	Per time.Duration
	// Now and Sleep replace the clock in tests. Sleep must return early
	// with ctx.Err() when ctx is done.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// RateBudget spaces requests so that all clients sharing it stay within the
// service's per-resource limits, without a 429 the process could have
// avoided and without starving anyone:
//
//   - It mirrors the service's rule, a sliding window (at most Writes
//     writes and Reads reads in any span of Per), rather than a token
//     bucket: a bucket that starts full and refills lets a burst and the
//     refill into one window (20 writes in a minute), which the service
//     answers with 429s. Each request holds its slot from the moment it is
//     granted until Per after its answer arrived (the service saw it no
//     later than that), so the two windows never disagree, whatever the
//     network's delay.
//   - Waiters are served oldest first, per host and kind: a request that
//     has waited longest gets the next free slot, so under a long queue
//     every run advances in turn. A waiter that gives up (its context ends)
//     and comes back with the same key keeps its place (see Reserve).
//   - A 429 or 503 with Retry-After pauses the host for every client
//     sharing the budget.
type RateBudget struct {
	opts  BudgetOptions
	mu    sync.Mutex
	hosts map[string]*hostBudget
}

type hostBudget struct {
	reads, writes window
	pausedUntil   time.Time
}

// window is the sliding window of one host and kind: the slots held and
// the queue of waiters.
type window struct {
	held  []*slot
	queue []*waiter
	// pruneAt is the number of held slots at which expired ones are
	// dropped even below the limit (amortized: it doubles with the
	// slots that stay), so a roomy budget does not grow without bound.
	pruneAt int
	// since remembers when a keyed waiter that gave up started waiting,
	// so that it keeps its place when it comes back.
	since map[string]time.Time
}

// slot is one granted request. It counts until Per after at; while the
// request is in flight its end is not known and it counts as if it ended
// now.
type slot struct {
	at       time.Time
	inflight bool
}

type waiter struct {
	since time.Time
	key   string
	// urgent: a read on behalf of a write slot already held (see
	// Client.ReserveWrite); it goes ahead of the other reads.
	urgent  bool
	granted *slot
}

// ahead reports whether a is served before b: urgent first, then oldest.
func (a *waiter) ahead(b *waiter) bool {
	if a.urgent != b.urgent {
		return a.urgent
	}
	return !a.since.After(b.since)
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
// write is true), or ctx is done. The request is taken as sent at once
// and answered now; use Reserve to count it from its real answer.
func (b *RateBudget) Wait(ctx context.Context, host string, write bool) error {
	p, err := b.Reserve(ctx, host, write, "")
	if err != nil {
		return err
	}
	p.Sent()()
	return nil
}

// Permit is a slot of the budget granted ahead of the request that uses
// it: Sent marks the request on its way, and the function it returns marks
// it answered; Release gives back a slot that was never used.
type Permit struct {
	b     *RateBudget
	host  string
	write bool
	s     *slot
	mu    sync.Mutex
	used  bool
	done  bool
}

// Reserve waits, oldest waiter first, until the host's budget has a slot
// for one request (a write when write is true) and holds it for the
// caller. key (may be empty) names the waiter across calls: one that gave
// up (ctx done) and comes back with the same key is queued as of its first
// call, so a caller that waits in bounded turns (a pipeline step that must
// return within its poll budget) keeps its place in line.
func (b *RateBudget) Reserve(ctx context.Context, host string, write bool, key string) (*Permit, error) {
	return b.reserve(ctx, host, write, key, false)
}

func (b *RateBudget) reserve(ctx context.Context, host string, write bool, key string, urgent bool) (*Permit, error) {
	b.mu.Lock()
	h := b.hostLocked(host)
	w := h.window(write)
	now := b.opts.Now()
	me := &waiter{since: now, key: key, urgent: urgent}
	if key != "" {
		if t, ok := w.since[key]; ok {
			me.since = t
			delete(w.since, key)
		}
	}
	// Oldest first (urgent reads before all others); a waiter coming
	// back goes ahead of later ones.
	i := len(w.queue)
	for i > 0 && !w.queue[i-1].ahead(me) {
		i--
	}
	w.queue = append(w.queue, nil)
	copy(w.queue[i+1:], w.queue[i:])
	w.queue[i] = me
	b.mu.Unlock()
	for {
		b.mu.Lock()
		now := b.opts.Now()
		b.assignLocked(h, w, b.limit(write), now)
		if me.granted != nil {
			b.mu.Unlock()
			return &Permit{b: b, host: host, write: write, s: me.granted}, nil
		}
		d := b.waitLocked(h, w, b.limit(write), me, now)
		b.mu.Unlock()
		if err := b.opts.Sleep(ctx, d); err != nil {
			b.mu.Lock()
			if me.granted != nil {
				// Granted while giving up: the slot was never used.
				w.drop(me.granted)
			} else {
				w.remove(me)
			}
			if key != "" {
				if w.since == nil {
					w.since = map[string]time.Time{}
				}
				w.since[key] = me.since
			}
			b.mu.Unlock()
			return nil, err
		}
	}
}

// Sent marks the permit's request as sent: its slot now counts until Per
// after the answer. It returns the function to call when the answer
// arrives (or the request failed). Only the first call counts.
func (p *Permit) Sent() (answered func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used || p.done {
		return func() {}
	}
	p.used = true
	p.b.mu.Lock()
	p.s.inflight = true
	p.b.mu.Unlock()
	return func() {
		p.b.mu.Lock()
		defer p.b.mu.Unlock()
		p.s.at, p.s.inflight = p.b.opts.Now(), false
	}
}

// Release gives the slot back if the permit's request was never sent.
func (p *Permit) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used || p.done {
		return
	}
	p.done = true
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	p.b.hostLocked(p.host).window(p.write).drop(p.s)
}

type permitKey struct{}

// WithPermit returns a context whose next request to the permit's host of
// the permit's kind uses the permit instead of waiting for the budget.
func WithPermit(ctx context.Context, p *Permit) context.Context {
	return context.WithValue(ctx, permitKey{}, p)
}

// urgentRead reports whether ctx carries an unused write permit for
// host: a read sent with it prepares that write and goes first.
func urgentRead(ctx context.Context, host string) bool {
	return permitFor(ctx, host, true) != nil
}

// permitFor returns the unused permit ctx carries for host and kind, or
// nil.
func permitFor(ctx context.Context, host string, write bool) *Permit {
	p, _ := ctx.Value(permitKey{}).(*Permit)
	if p == nil || p.host != host || p.write != write {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used || p.done {
		return nil
	}
	return p
}

// ReserveWrite waits, oldest waiter first, for a write slot of the
// client's resource, until ctx ends or until (a zero until: no bound),
// and returns ctx carrying the slot to the next write sent with it (see
// RateBudget.Reserve for key). release gives the slot back when no write
// was sent; calling it after the write does nothing.
func (c *Client) ReserveWrite(ctx context.Context, key string, until time.Time) (context.Context, func(), error) {
	rctx := ctx
	if !until.IsZero() {
		var cancel context.CancelFunc
		rctx, cancel = context.WithDeadline(ctx, until)
		defer cancel()
	}
	p, err := c.budget.Reserve(rctx, c.origin, true, key)
	if err != nil {
		return ctx, func() {}, fmt.Errorf("waiting for a write slot of %s: %w", c.origin, err)
	}
	return WithPermit(ctx, p), p.Release, nil
}

func (b *RateBudget) limit(write bool) int {
	if write {
		return b.opts.Writes
	}
	return b.opts.Reads
}

// assignLocked gives free slots to the oldest waiters. b.mu is held.
func (b *RateBudget) assignLocked(h *hostBudget, w *window, limit int, now time.Time) {
	if now.Before(h.pausedUntil) {
		return
	}
	if len(w.held) >= limit || len(w.held) >= w.pruneAt {
		w.prune(now, b.opts.Per)
		w.pruneAt = max(64, 2*len(w.held))
	}
	for len(w.held) < limit && len(w.queue) > 0 {
		s := &slot{at: now}
		w.held = append(w.held, s)
		w.queue[0].granted = s
		w.queue = w.queue[1:]
	}
}

// waitLocked is how long me sleeps before looking again: until the slot
// it is in line for frees (or the pause ends). b.mu is held.
func (b *RateBudget) waitLocked(h *hostBudget, w *window, limit int, me *waiter, now time.Time) time.Duration {
	if now.Before(h.pausedUntil) {
		return h.pausedUntil.Sub(now)
	}
	pos := 0
	for pos < len(w.queue) && w.queue[pos] != me {
		pos++
	}
	// The held slots free in the order they end; me is in line for the
	// pos-th of them (a slot in flight ends no sooner than now).
	ends := make([]time.Time, 0, len(w.held))
	for _, s := range w.held {
		end := s.at
		if s.inflight {
			end = now
		}
		ends = append(ends, end.Add(b.opts.Per))
	}
	if len(ends) == 0 {
		return time.Millisecond // nothing held: the next look grants
	}
	slices.SortFunc(ends, time.Time.Compare)
	next := ends[min(pos, len(ends)-1)]
	if pos >= limit {
		// Beyond one window's worth of waiters: look again once the
		// first ones have been served.
		next = ends[len(ends)-1]
	}
	return max(next.Sub(now), time.Millisecond)
}

// prune drops the slots that ended at least per ago.
func (w *window) prune(now time.Time, per time.Duration) {
	kept := w.held[:0]
	for _, s := range w.held {
		if s.inflight || now.Sub(s.at) < per {
			kept = append(kept, s)
		}
	}
	clear(w.held[len(kept):])
	w.held = kept
	for k, t := range w.since {
		// A waiter that has not come back within a few windows has gone.
		if now.Sub(t) > 10*per {
			delete(w.since, k)
		}
	}
}

func (w *window) drop(s *slot) {
	for i, x := range w.held {
		if x == s {
			w.held = append(w.held[:i], w.held[i+1:]...)
			return
		}
	}
}

func (w *window) remove(me *waiter) {
	for i, x := range w.queue {
		if x == me {
			w.queue = append(w.queue[:i], w.queue[i+1:]...)
			return
		}
	}
}

func (h *hostBudget) window(write bool) *window {
	if write {
		return &h.writes
	}
	return &h.reads
}

// Pause stops requests to host until the given time (the service asked for
// it with Retry-After). A later pause wins over an earlier one.
func (b *RateBudget) Pause(host string, until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.hostLocked(host)
	if until.After(h.pausedUntil) {
		h.pausedUntil = until
	}
}

// hostLocked returns the host's windows, creating them empty. b.mu is held.
func (b *RateBudget) hostLocked(host string) *hostBudget {
	h := b.hosts[host]
	if h == nil {
		h = &hostBudget{}
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
