package queue

import (
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

func TestEndpointOf(t *testing.T) {
	tests := []struct{ setting, want string }{
		{"Endpoint=sb://127.0.0.1:5673;SharedAccessKeyName=k;SharedAccessKey=SECRET;UseDevelopmentEmulator=true", "127.0.0.1:5673"},
		{"Endpoint=sb://localhost;SharedAccessKeyName=k;SharedAccessKey=SECRET;UseDevelopmentEmulator=true", "localhost:5672"},
		{"endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=SECRET", "x.servicebus.windows.net:5671"},
		{"Endpoint=;SharedAccessKey=SECRET", "(unknown host)"},
	}
	for _, tt := range tests {
		if got := endpointOf(tt.setting, SettingConnectionString); got != tt.want {
			t.Errorf("endpointOf(%q) = %q, want %q", tt.setting, got, tt.want)
		}
	}
	if got := endpointOf(" ns.servicebus.windows.net ", SettingNamespace); got != "ns.servicebus.windows.net:5671" {
		t.Errorf("endpointOf(namespace) = %q", got)
	}
}

// The options reach the client: the SDK's retry policy (defaults filled
// in field by field), the attempt bound and the endpoint for messages.
func TestNewServiceBusAppliesOptions(t *testing.T) {
	const conn = "Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=SECRET;UseDevelopmentEmulator=true"
	sb, err := NewServiceBus(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sb.retry != DefaultRetry || sb.tryTimeout != DefaultTryTimeout || sb.tries != DefaultTries || sb.endpoint != "127.0.0.1:1" {
		t.Errorf("defaults: retry %+v, try timeout %s, tries %d, endpoint %q", sb.retry, sb.tryTimeout, sb.tries, sb.endpoint)
	}
	sb, err = NewServiceBus(conn, &Options{Retry: &azservicebus.RetryOptions{RetryDelay: time.Millisecond}, TryTimeout: time.Second, Tries: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := azservicebus.RetryOptions{MaxRetries: DefaultRetry.MaxRetries, RetryDelay: time.Millisecond, MaxRetryDelay: DefaultRetry.MaxRetryDelay}
	if sb.retry != want || sb.tryTimeout != time.Second || sb.tries != 2 {
		t.Errorf("set: retry %+v (want %+v), try timeout %s, tries %d", sb.retry, want, sb.tryTimeout, sb.tries)
	}
	// The backoff between attempts that timed out follows RetryDelay,
	// doubling, capped at MaxRetryDelay.
	sb.retry = azservicebus.RetryOptions{RetryDelay: time.Second, MaxRetryDelay: 3 * time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 3 * time.Second, 10: 3 * time.Second} {
		if got := sb.backoff(n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
}

// A dial bounded by the attempt's deadline can fail with its own "i/o
// timeout" before the context's timer has fired (two timers, one
// deadline). Such a failure is the attempt's timeout, retried and reported
// as no answer, not a failure to reach the namespace: the case is played
// deterministically by a send that waits past the deadline without
// watching its context.
func TestAttemptTakesAnErrorAtTheDeadlineForATimeout(t *testing.T) {
	sb := &ServiceBus{endpoint: "127.0.0.1:1", tryTimeout: 20 * time.Millisecond, tries: 2,
		retry: azservicebus.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond}}
	calls := 0
	err := sb.attempt(context.Background(), func(actx context.Context) error {
		calls++
		d, _ := actx.Deadline()
		for time.Now().Before(d) {
			runtime.Gosched() // not a wait on actx: its Done may not have closed yet
		}
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	})
	var na *NoAnswerError
	if !errors.As(err, &na) || na.Tries != 2 || calls != 2 {
		t.Fatalf("attempt = %v after %d calls, want a NoAnswerError after 2", err, calls)
	}
}
