package authoring

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
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
	// The next write waits for one token: a minute / 10.
	if err := b.Wait(ctx, "https://a:443", true); err != nil {
		t.Fatal(err)
	}
	if got := clock.slept(); got != 6*time.Second {
		t.Fatalf("11th write waited %v, want 6s", got)
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
// the eleventh job start across both waits.
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
	if rec.count() != 11 || a.clock.slept() != 6*time.Second {
		t.Fatalf("%d requests, budget slept %v; want 11 and 6s", rec.count(), a.clock.slept())
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
