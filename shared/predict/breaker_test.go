package predict

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBreakerRules(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name     string
		opts     BreakerOptions
		outcomes string // f = failed request, s = served
		wantOpen bool
		reason   string
	}{
		{"ConsecutiveTrips", BreakerOptions{ConsecutiveFailures: 3, FailureRatio: -1}, "sfff", true, "3 consecutive"},
		{"SuccessResetsRun", BreakerOptions{ConsecutiveFailures: 3, FailureRatio: -1}, "ffsffsffs", false, ""},
		{"RatioTrips", BreakerOptions{ConsecutiveFailures: -1, FailureRatio: 0.5, Window: 10, MinRequests: 10}, "sfsfsfsfsf", true, "5 of the last 10"},
		{"RatioBelowThreshold", BreakerOptions{ConsecutiveFailures: -1, FailureRatio: 0.5, Window: 10, MinRequests: 10}, "fsssfsssfsssfsssfsss", false, ""},
		{"RatioNeedsMinRequests", BreakerOptions{ConsecutiveFailures: -1, FailureRatio: 0.5, Window: 10, MinRequests: 10}, "ffsff", false, ""},
		{"WindowSlides", BreakerOptions{ConsecutiveFailures: -1, FailureRatio: 0.5, Window: 4, MinRequests: 4}, "ffsssssfsf", true, "2 of the last 4"},
		{"BothRulesOff", BreakerOptions{ConsecutiveFailures: -1, FailureRatio: -1}, "ffffffffffffffffffff", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBreaker(tt.opts.withDefaults(), func() float64 { return 0 })
			now := time.Unix(0, 0)
			for _, o := range tt.outcomes {
				if o == 'f' {
					b.failure(now, false, boom)
				} else {
					b.success(now, false)
				}
				if b.state == BreakerOpen {
					break
				}
			}
			if got := b.state == BreakerOpen; got != tt.wantOpen {
				t.Fatalf("open = %v, want %v (reason %q)", got, tt.wantOpen, b.reason)
			}
			if tt.wantOpen && !strings.Contains(b.reason, tt.reason) {
				t.Fatalf("reason %q, want %q", b.reason, tt.reason)
			}
		})
	}
}

func TestBreakerProbeTimes(t *testing.T) {
	t.Parallel()
	opts := BreakerOptions{ConsecutiveFailures: 1, OpenFor: 10 * time.Second, MaxOpenFor: 40 * time.Second, ProbeJitter: 0.5}.withDefaults()
	r := 1.0
	b := newBreaker(opts, func() float64 { return r })
	now := time.Unix(0, 0)
	b.failure(now, false, errors.New("x"))
	// Jitter only ever adds: the minimum open time holds.
	if got := b.nextProbe.Sub(now); got != 15*time.Second {
		t.Fatalf("first probe after %s, want 15s (10s + 50%% jitter)", got)
	}
	if ok, _ := b.allow(now.Add(14 * time.Second)); ok {
		t.Fatal("allowed before the probe time")
	}
	ok, probe := b.allow(now.Add(15 * time.Second))
	if !ok || !probe || b.state != BreakerHalfOpen {
		t.Fatalf("allow at probe time = %v,%v state %s", ok, probe, b.state)
	}
	if ok, _ := b.allow(now.Add(15 * time.Second)); ok {
		t.Fatal("a second probe was allowed while one is in flight")
	}
	// Failed probes double the open time up to MaxOpenFor.
	r = 0
	want := []time.Duration{20 * time.Second, 40 * time.Second, 40 * time.Second}
	for i, w := range want {
		now = b.nextProbe
		b.allow(now)
		b.failure(now, true, errors.New("x"))
		if got := b.nextProbe.Sub(now); got != w {
			t.Fatalf("after failed probe %d: open for %s, want %s", i+1, got, w)
		}
	}
	// An abandoned probe may be retried at once.
	now = b.nextProbe
	b.allow(now)
	b.abandon(now)
	if ok, probe := b.allow(now); !ok || !probe {
		t.Fatal("abandoned probe not retried")
	}
	b.success(now, true)
	if b.state != BreakerClosed || b.consecutive != 0 || b.wlen != 0 {
		t.Fatalf("after a good probe: state %s, consecutive %d, window %d", b.state, b.consecutive, b.wlen)
	}
	// Long after recovery, a new trip starts from OpenFor again.
	now = now.Add(time.Hour)
	b.failure(now, false, errors.New("x"))
	if got := b.nextProbe.Sub(now); got != 10*time.Second {
		t.Fatalf("trip an hour after recovery: open for %s, want 10s", got)
	}
}
