package queue

import (
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
