package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// Retry defaults of ServiceBus.
//
// azservicebus retries the errors it sees (a refused connection, a dropped
// link, a busy namespace) and recovers the connection between tries, but it
// has no per-try timeout: on a namespace that accepts the connection and
// never answers, a send waits for ever. So each send is also bounded from
// outside: one attempt (connect, authorize, send, with the SDK's own retries
// inside it) gets DefaultTryTimeout, and an attempt that times out is made
// again, up to DefaultTries attempts, after RetryDelay doubling up to
// MaxRetryDelay (1 s, 2 s, 2 s). A namespace that does not answer fails a
// send after at most 4 x 10 s + 5 s = 45 s; one that refuses connections
// fails after the SDK's own backoff, 4-6 s.
const (
	DefaultTries      = 4
	DefaultTryTimeout = 10 * time.Second
)

// DefaultRetry is the SDK's retry policy unless Options.Retry is set. Its
// backoff ((2^n-1) x RetryDelay with jitter x0.8..1.3, capped: about 1 s,
// 2 s, 2 s, at most 5.3 s in all) leaves most of one DefaultTryTimeout for
// the tries themselves, so an error the SDK retries is reported as itself
// rather than as a timed-out attempt.
var DefaultRetry = azservicebus.RetryOptions{MaxRetries: 3, RetryDelay: time.Second, MaxRetryDelay: 2 * time.Second}

// RetryEvent describes an attempt ServiceBus is about to make again.
type RetryEvent struct {
	// Endpoint is the namespace's host:port; never the connection string.
	Endpoint string
	// Attempt is the attempt about to start (2 for the first retry) of
	// Attempts.
	Attempt, Attempts int
	// Err is why the previous attempt failed.
	Err error
}

// errNoAnswer is the cause of an attempt's context when its time is up.
var errNoAnswer = errors.New("attempt timed out")

// NoAnswerError is a send whose every attempt timed out: the namespace (or
// whatever listens at its address) never completed a send. It names the
// namespace host and what to check.
type NoAnswerError struct {
	Endpoint   string
	Tries      int
	TryTimeout time.Duration
}

func (e *NoAnswerError) Error() string {
	tries := "1 try"
	if e.Tries != 1 {
		tries = fmt.Sprintf("%d tries", e.Tries)
	}
	return fmt.Sprintf("Service Bus %s did not answer within %s (%s): %s", e.Endpoint, e.TryTimeout, tries, checkHint)
}

const checkHint = "check that LANGSYNC_SERVICEBUS (or --servicebus) names the right namespace, and that it, or the emulator, is running and reachable on its AMQP port (5671; 5672 for the emulator)"

// attempt runs send with a timeout per attempt, making a timed-out attempt
// again after a backoff; errors other than the timeout come from the SDK,
// which has retried them already, and are returned as they are.
func (b *ServiceBus) attempt(ctx context.Context, send func(context.Context) error) error {
	for n := 1; ; n++ {
		deadline := time.Now().Add(b.tryTimeout)
		actx, cancel := context.WithDeadlineCause(ctx, deadline, errNoAnswer)
		err := send(actx)
		// A dial bounded by actx's deadline fails with its own "i/o
		// timeout" on the network poller's timer, which may fire before
		// the context's: a failure at or past the deadline is the
		// attempt's timeout either way.
		timedOut := err != nil && ctx.Err() == nil && (errors.Is(context.Cause(actx), errNoAnswer) || !time.Now().Before(deadline))
		cancel()
		if !timedOut {
			return err
		}
		if n >= b.tries {
			return &NoAnswerError{Endpoint: b.endpoint, Tries: n, TryTimeout: b.tryTimeout}
		}
		if b.onRetry != nil {
			b.onRetry(RetryEvent{Endpoint: b.endpoint, Attempt: n + 1, Attempts: b.tries, Err: fmt.Errorf("no answer within %s", b.tryTimeout)})
		}
		t := time.NewTimer(b.backoff(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff is the wait after attempt n: RetryDelay doubled per attempt, at
// most MaxRetryDelay (the SDK's schedule without its jitter).
func (b *ServiceBus) backoff(n int) time.Duration {
	d := b.retry.RetryDelay
	for i := 1; i < n && d < b.retry.MaxRetryDelay; i++ {
		d *= 2
	}
	return max(min(d, b.retry.MaxRetryDelay), 0)
}

// endpointOf returns the host:port a setting connects to: the connection
// string's Endpoint (as azservicebus reads it) or the namespace, with the
// AMQP port filled in. It never returns a key.
func endpointOf(setting string, kind SettingKind) string {
	host, emulator := strings.TrimSpace(setting), false
	if kind == SettingConnectionString {
		host = ""
		for _, kv := range strings.Split(setting, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			switch {
			case strings.EqualFold(k, "Endpoint"):
				if u, err := url.Parse(strings.TrimSpace(v)); err == nil {
					host = u.Host
				}
			case strings.EqualFold(k, "UseDevelopmentEmulator"):
				emulator = strings.EqualFold(strings.TrimSpace(v), "true")
			}
		}
	}
	if host == "" {
		return "(unknown host)"
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	if emulator {
		return net.JoinHostPort(host, "5672")
	}
	return net.JoinHostPort(host, "5671")
}
