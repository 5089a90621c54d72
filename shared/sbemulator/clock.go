package sbemulator

import (
	"sync"
	"time"
)

// Clock tells the broker the time: lock expiry, scheduled delivery and the
// duplicate-detection window all read it.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// FakeClock is a Clock that moves only when told to. Advancing it makes the
// server expire locks and activate scheduled messages at once, so tests need
// no sleeps.
type FakeClock struct {
	mu   sync.Mutex
	now  time.Time
	subs []func()
}

// NewFakeClock returns a clock standing at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and lets every server using it catch up
// before returning.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	subs := append([]func(){}, c.subs...)
	c.mu.Unlock()
	for _, f := range subs {
		f()
	}
}

// subscribe registers f to run after every Advance.
func (c *FakeClock) subscribe(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subs = append(c.subs, f)
}
