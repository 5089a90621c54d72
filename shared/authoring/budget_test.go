package authoring

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

func TestRateBudgetLimits(t *testing.T) {
	clock := newFakeClock()
	b := NewRateBudget(BudgetOptions{Now: clock.Now, Sleep: clock.Sleep})
	ctx := context.Background()
	// The full allowance passes at once.
	for i := 0; i < DefaultWritesPerMinute; i++ {
		if err := b.Wait(ctx, "https://a:443", true); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < DefaultReadsPerMinute; i++ {
		if err := b.Wait(ctx, "https://a:443", false); err != nil {
			t.Fatal(err)
		}
	}
	if clock.slept() != 0 {
		t.Fatalf("slept %v within the allowance", clock.slept())
	}
	// The next write waits for the first to leave the sliding window, as
	// the service counts: a token bucket's 6 s would be answered 429.
	if err := b.Wait(ctx, "https://a:443", true); err != nil {
		t.Fatal(err)
	}
	if got := clock.slept(); got != time.Minute {
		t.Fatalf("11th write waited %v, want 1m", got)
	}
	// Another host has its own budget.
	before := clock.slept()
	if err := b.Wait(ctx, "https://b:443", true); err != nil || clock.slept() != before {
		t.Fatalf("other host waited %v (err %v)", clock.slept()-before, err)
	}
}

func TestRateBudgetPauseAndCancel(t *testing.T) {
	clock := newFakeClock()
	b := NewRateBudget(BudgetOptions{Now: clock.Now, Sleep: clock.Sleep})
	b.Pause("h", clock.Now().Add(30*time.Second))
	b.Pause("h", clock.Now().Add(10*time.Second)) // an earlier pause does not shorten it
	if err := b.Wait(context.Background(), "h", false); err != nil {
		t.Fatal(err)
	}
	if clock.slept() != 30*time.Second {
		t.Fatalf("waited %v, want 30s", clock.slept())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.Pause("h", clock.Now().Add(time.Minute))
	if err := b.Wait(ctx, "h", false); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
}

// TestBudgetSharedByClients: two clients of one host share the budget, so
// the eleventh job start across both waits for the window.
func TestBudgetSharedByClients(t *testing.T) {
	rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("operation-location", "http://"+r.Host+base+"/P/export/jobs/x?api-version=2023-04-01")
		w.WriteHeader(202)
	})
	a := newTestClient(t, url, nil)
	b := newTestClient(t, url, func(o *ClientOptions) { o.Budget = a.client.budget })
	ctx := context.Background()
	for i := 0; i < 11; i++ {
		c := a.client
		if i%2 == 1 {
			c = b.client
		}
		if _, err := c.BeginExport(ctx, "P", nil); err != nil {
			t.Fatal(err)
		}
	}
	if rec.count() != 11 || a.clock.slept() != time.Minute {
		t.Fatalf("%d requests, budget slept %v; want 11 and 1m", rec.count(), a.clock.slept())
	}
}

func TestDefaultBudgetIsShared(t *testing.T) {
	c1, err := NewKeyClient("https://x.cognitiveservices.azure.com", "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := NewKeyClient("https://x.cognitiveservices.azure.com/", "k", nil)
	if c1.budget != DefaultBudget || c2.budget != DefaultBudget || c1.origin != c2.origin {
		t.Fatal("clients without a Budget must share DefaultBudget and one origin")
	}
}

// TestRateBudgetCountsFromTheAnswer: a slot is held from its grant until a
// window after the answer (the service saw the request by then), so a
// slow answer cannot make the two windows disagree; a permit given back
// unused frees its slot at once.
func TestRateBudgetCountsFromTheAnswer(t *testing.T) {
	clock := newFakeClock()
	b := NewRateBudget(BudgetOptions{Writes: 1, Now: clock.Now, Sleep: clock.Sleep})
	ctx := context.Background()
	p, err := b.Reserve(ctx, "h", true, "")
	if err != nil {
		t.Fatal(err)
	}
	answered := p.Sent()
	clock.advance(5 * time.Second) // the answer takes 5 s
	answered()
	p.Release() // after use: does nothing
	if err := b.Wait(ctx, "h", true); err != nil {
		t.Fatal(err)
	}
	if got := clock.slept(); got != time.Minute {
		t.Fatalf("next write waited %v after the answer, want 1m", got)
	}
	unused, err := b.Reserve(ctx, "h", true, "")
	if err != nil {
		t.Fatal(err)
	}
	unused.Release()
	before := clock.slept()
	if err := b.Wait(ctx, "h", true); err != nil {
		t.Fatal(err)
	}
	if got := clock.slept() - before; got != 0 {
		t.Fatalf("a write after a released permit waited %v, want 0", got)
	}
}

// TestRateBudgetOldestFirst: when a slot frees, the waiter that has waited
// longest gets it, and one that gave up (its Advance ended) and came back
// with its key keeps its place ahead of a later one.
func TestRateBudgetOldestFirst(t *testing.T) {
	clock := newBlockingClock()
	b := NewRateBudget(BudgetOptions{Writes: 1, Now: clock.Now, Sleep: clock.Sleep})
	ctx := context.Background()
	if err := b.Wait(ctx, "h", true); err != nil { // the window is full
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.Reserve(gone, "h", true, "run-a/train"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
	clock.advance(10 * time.Second)
	order := make(chan string, 2)
	reserve := func(key string) {
		if _, err := b.Reserve(ctx, "h", true, key); err != nil {
			t.Error(err)
		}
		order <- key
	}
	go reserve("run-b/train")
	clock.waitSleepers(1)
	go reserve("run-a/train") // back, as of its first call
	clock.waitSleepers(2)
	clock.advance(50 * time.Second) // the first write leaves the window
	if got := <-order; got != "run-a/train" {
		t.Fatalf("%s got the slot first, want run-a/train (waiting longest)", got)
	}
	clock.waitSleepers(1)
	clock.advance(time.Minute)
	if got := <-order; got != "run-b/train" {
		t.Fatalf("then %s, want run-b/train", got)
	}
}

// TestRateBudgetAvoidsEvery429: writes and reads at twice the limits through
// one client against the emulator's ratelimit fault (both on one clock):
// none is answered 429.
func TestRateBudgetAvoidsEvery429(t *testing.T) {
	clock := emulator.NewFakeClock(emulatortest.Epoch)
	r := emulatortest.Start(t, &emulator.Options{Clock: clock})
	r.Load(emulatortest.SingleLabelProject("P", "docs", 2))
	if err := r.Server.SetFaults(emulator.Faults{RateLimit: true}); err != nil {
		t.Fatal(err)
	}
	r.Server.ResetRequests()
	env := newTestClientKey(t, r.URL, r.Key, func(o *ClientOptions) {
		o.Budget = NewRateBudget(BudgetOptions{Now: clock.Now, Sleep: func(ctx context.Context, d time.Duration) error {
			clock.Advance(d)
			return ctx.Err()
		}})
	})
	ctx := context.Background()
	for range 2 * DefaultWritesPerMinute {
		job, err := env.client.BeginExport(ctx, "P", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.client.Poll(ctx, job); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 * DefaultReadsPerMinute {
		if _, err := env.client.GetProject(ctx, "P"); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, q := range r.Server.Requests() {
		if q.Status == http.StatusTooManyRequests {
			n++
		}
	}
	if n != 0 || len(r.Server.Requests()) != 2*DefaultWritesPerMinute*2+2*DefaultReadsPerMinute {
		t.Fatalf("%d requests answered 429 of %d; want none of %d", n, len(r.Server.Requests()), 2*DefaultWritesPerMinute*2+2*DefaultReadsPerMinute)
	}
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// blockingClock is a budget clock whose Sleep blocks until the test moves
// time past its end, so that several waiters can be lined up.
type blockingClock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers map[chan struct{}]time.Time
	changed  chan struct{}
}

func newBlockingClock() *blockingClock {
	return &blockingClock{now: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), sleepers: map[chan struct{}]time.Time{}, changed: make(chan struct{}, 100)}
}

func (c *blockingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *blockingClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ch := make(chan struct{})
	c.mu.Lock()
	c.sleepers[ch] = c.now.Add(d)
	c.mu.Unlock()
	c.changed <- struct{}{}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.sleepers, ch)
		c.mu.Unlock()
		return ctx.Err()
	}
}

// advance moves time and wakes the sleepers whose end has come.
func (c *blockingClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for ch, end := range c.sleepers {
		if !end.After(c.now) {
			close(ch)
			delete(c.sleepers, ch)
		}
	}
}

// waitSleepers blocks until n goroutines sleep.
func (c *blockingClock) waitSleepers(n int) {
	for {
		c.mu.Lock()
		got := len(c.sleepers)
		c.mu.Unlock()
		if got >= n {
			return
		}
		<-c.changed
	}
}

// TestRateBudgetForgetsOldSlots: a roomy budget (as tests use) keeps only
// about a window's worth of slots, not one per request ever made.
func TestRateBudgetForgetsOldSlots(t *testing.T) {
	clock := newFakeClock()
	b := NewRateBudget(BudgetOptions{Reads: 1 << 30, Now: clock.Now, Sleep: clock.Sleep})
	for range 20000 {
		if err := b.Wait(context.Background(), "h", false); err != nil {
			t.Fatal(err)
		}
		clock.advance(time.Minute / 1000) // 1,000 requests a window
	}
	if n := len(b.hosts["h"].reads.held); n > 2*1000+64 {
		t.Fatalf("%d slots held after 20 windows of 1,000 requests, want about one window's worth", n)
	}
}

// TestRateBudgetReadForAHeldWriteGoesFirst: a read sent with a write
// permit (the step's evidence before its POST) is served before reads that
// waited longer (job polls), so the held write slot is not left idle.
func TestRateBudgetReadForAHeldWriteGoesFirst(t *testing.T) {
	clock := newBlockingClock()
	b := NewRateBudget(BudgetOptions{Reads: 1, Now: clock.Now, Sleep: clock.Sleep})
	ctx := context.Background()
	if err := b.Wait(ctx, "h", false); err != nil { // the read window is full
		t.Fatal(err)
	}
	order := make(chan string, 2)
	go func() {
		if _, err := b.reserve(ctx, "h", false, "", urgentRead(ctx, "h")); err != nil {
			t.Error(err)
		}
		order <- "poll"
	}()
	clock.waitSleepers(1)
	clock.advance(time.Second)
	wp, err := b.Reserve(ctx, "h", true, "")
	if err != nil {
		t.Fatal(err)
	}
	wctx := WithPermit(ctx, wp)
	go func() {
		if _, err := b.reserve(wctx, "h", false, "", urgentRead(wctx, "h")); err != nil {
			t.Error(err)
		}
		order <- "evidence"
	}()
	clock.waitSleepers(2)
	clock.advance(time.Minute)
	if got := <-order; got != "evidence" {
		t.Fatalf("%s read first, want the read for the held write", got)
	}
	clock.waitSleepers(1)
	clock.advance(time.Minute)
	if got := <-order; got != "poll" {
		t.Fatalf("then %s, want poll", got)
	}
}
