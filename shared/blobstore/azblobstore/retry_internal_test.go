package azblobstore

import (
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// The client options carry the documented retry bounds: defaults when
// nothing is set, the caller's values otherwise, and "no retries" is not
// read by azcore as "its default of 3".
func TestClientOptionsRetry(t *testing.T) {
	tests := []struct {
		name string
		in   *Options
		want policy.RetryOptions
	}{
		{"Defaults", nil, policy.RetryOptions{MaxRetries: 3, TryTimeout: 10 * time.Second, RetryDelay: time.Second, MaxRetryDelay: 4 * time.Second}},
		{"Set", &Options{Retry: RetryOptions{MaxRetries: 1, TryTimeout: time.Second, RetryDelay: time.Millisecond, MaxRetryDelay: 2 * time.Millisecond}},
			policy.RetryOptions{MaxRetries: 1, TryTimeout: time.Second, RetryDelay: time.Millisecond, MaxRetryDelay: 2 * time.Millisecond}},
		{"NoRetries", &Options{Retry: RetryOptions{MaxRetries: -1}}, policy.RetryOptions{MaxRetries: -1, TryTimeout: 10 * time.Second, RetryDelay: time.Second, MaxRetryDelay: 4 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			co := clientOptions(tt.in)
			got := co.Retry
			if got.MaxRetries != tt.want.MaxRetries || got.TryTimeout != tt.want.TryTimeout || got.RetryDelay != tt.want.RetryDelay || got.MaxRetryDelay != tt.want.MaxRetryDelay {
				t.Errorf("Retry = %+v, want %+v", got, tt.want)
			}
			if len(co.PerCallPolicies) != 1 || len(co.PerRetryPolicies) != 1 {
				t.Fatalf("policies: %d per call, %d per retry; want 1 and 1", len(co.PerCallPolicies), len(co.PerRetryPolicies))
			}
			if cp := co.PerCallPolicies[0].(callPolicy); cp.r.TransferTryTimeout == 0 {
				t.Errorf("transfer try timeout not resolved: %+v", cp.r)
			}
		})
	}
	if d := (RetryOptions{}).resolved().TransferTryTimeout; d != DefaultTransferTryTimeout {
		t.Errorf("default transfer try timeout %s, want %s", d, DefaultTransferTryTimeout)
	}
}
