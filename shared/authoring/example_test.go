package authoring_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/langsync"
)

// A job is started, its handle saved, and later polled to the end (here
// by Wait; a Functions handler would call Poll once and schedule a wake-up
// at NextPoll). The stand-in service finishes the job at the third poll.
func ExampleClient_Wait() {
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("operation-location", "http://"+r.Host+"/language/authoring/analyze-text/projects/Tickets/train/jobs/j1?api-version=2023-04-01")
			w.WriteHeader(http.StatusAccepted)
			return
		}
		status, pct := "running", 50
		if polls.Add(1) >= 3 {
			status, pct = "succeeded", 100
		}
		fmt.Fprintf(w, `{"jobId":"j1","createdDateTime":"2026-12-01T08:00:00Z","lastUpdatedDateTime":"2026-12-01T08:00:01Z","status":%q,
			"result":{"modelLabel":"m1","trainingConfigVersion":"2022-05-01","trainingStatus":{"percentComplete":%d,"status":%q}}}`, status, pct, status)
	}))
	defer srv.Close()

	c, err := authoring.NewKeyClient(srv.URL, langsync.Secret("0123456789abcdef"), nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	job, err := c.BeginTrain(ctx, "Tickets", authoring.TrainOptions{ModelLabel: "m1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("started", job.Kind)
	st, err := c.Wait(ctx, job, func(s *authoring.JobState) { fmt.Println(s.Status, s.Percent()) })
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("model", st.Result.ModelLabel)
	// Output:
	// started train
	// running 50
	// running 50
	// succeeded 100
	// model m1
}
