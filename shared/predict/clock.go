package predict

import (
	"context"
	"time"
)

// Clock is the client's source of time: breaker open periods, probe times,
// poll intervals, Retry-After waits and job deadlines all go through it, so
// tests drive them with a fake clock instead of sleeping. HTTP try timeouts
// and the short backoff between tries (azcore's retry policy) use real time.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, whichever comes first.
	Sleep(ctx context.Context, d time.Duration) error
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
