package authoring

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// BenchmarkWait measures the orchestration overhead of waiting for a job
// with the default poll settings: the wall time from BeginTrain to Wait's
// return divided by the job's true duration (the server finishes the job
// exactly that long after it accepted it). 1.0 would be no overhead.
func BenchmarkWait(b *testing.B) {
	for _, d := range []time.Duration{200 * time.Millisecond, 2 * time.Second} {
		b.Run(d.String(), func(b *testing.B) {
			var mu sync.Mutex
			started := map[string]time.Time{}
			var polls int
			srv := newServer(b, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				if r.Method == http.MethodPost {
					id := fmt.Sprint(len(started))
					started[id] = time.Now()
					w.Header().Set("operation-location", "http://"+r.Host+base+"/P/train/jobs/"+id+"?api-version=2023-04-01")
					w.WriteHeader(202)
					return
				}
				polls++
				id := r.URL.Path[len(base+"/P/train/jobs/"):]
				status := "running"
				if time.Since(started[id]) >= d {
					status = "succeeded"
				}
				writeJSON(w, 200, `{"jobId":"`+id+`","createdDateTime":"2026-12-01T08:00:00Z","lastUpdatedDateTime":"2026-12-01T08:00:00Z","status":"`+status+`"}`)
			})
			// Default settings, but a fresh budget per benchmark so that
			// runs do not borrow each other's allowance.
			c, err := NewKeyClient(srv.URL, langsync.Secret(testKey), &ClientOptions{Budget: NewRateBudget(BudgetOptions{})})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var total time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				job, err := c.BeginTrain(ctx, "P", TrainOptions{ModelLabel: "m"})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Wait(ctx, job, nil); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(total)/float64(time.Duration(b.N)*d), "wall/job")
			b.ReportMetric(float64(polls)/float64(b.N), "polls/job")
		})
	}
}
