package authoring

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

func jobBody(status string, extra string) string {
	return `{"jobId":"j1","createdDateTime":"2026-12-01T08:00:00Z","lastUpdatedDateTime":"2026-12-01T08:00:05Z","status":"` + status + `"` + extra + `}`
}

// TestWaitUnknownStatus: a status none of the documented values is
// tolerated while it lasts no longer than UnknownStatusTimeout without a
// break, and then ends the wait with an error naming it. The client's
// clock moves a minute per poll (the server advances it), so the bound is
// counted in polls; the real waits between polls are a millisecond.
func TestWaitUnknownStatus(t *testing.T) {
	tests := []struct {
		name     string
		statuses []string // answered in turn; the last one repeats
		bound    time.Duration
		want     langsync.JobStatus // final state's status
		wantErr  error
		polls    int
	}{
		{"TransientThenSucceeded", []string{"running", "paused", "paused", "paused", "succeeded"}, 10 * time.Minute, langsync.JobSucceeded, nil, 5},
		// Seen at minutes 0..4: 4 minutes > 3 on the fifth poll.
		{"UnknownTooLong", []string{"paused"}, 3 * time.Minute, "paused", ErrUnknownJobStatus, 5},
		// Two spells of two minutes each (three polls), broken by
		// "running": together they outlast the bound of 2.5 minutes,
		// neither does alone.
		{"SpellBrokenByKnownStatus", []string{"paused", "paused", "paused", "running", "Paused", "Paused", "Paused", "succeeded"}, 150 * time.Second, langsync.JobSucceeded, nil, 8},
		{"UnknownThenFailed", []string{"paused", "failed"}, time.Hour, langsync.JobFailed, &JobError{}, 2},
		// Case matters: "Succeeded" is not "succeeded".
		{"WrongCaseIsUnknown", []string{"Succeeded"}, 2 * time.Minute, "Succeeded", ErrUnknownJobStatus, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
				s := tt.statuses[min(n, len(tt.statuses)-1)]
				writeJSON(w, 200, jobBody(s, ""))
				clk.Sleep(context.Background(), time.Minute)
			})
			env := newTestClient(t, url, func(o *ClientOptions) {
				o.UnknownStatusTimeout = tt.bound
				o.PollIntervals = map[langsync.JobKind]time.Duration{langsync.JobTrain: time.Millisecond}
			})
			env.client.now = clk.Now
			st, err := env.client.Wait(context.Background(), langsync.Job{Kind: langsync.JobTrain, Location: url + base + "/P/train/jobs/j1"}, nil)
			switch want := tt.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatalf("err %v, want none", err)
				}
			case *JobError:
				if !errors.As(err, &want) {
					t.Fatalf("err %v, want a *JobError", err)
				}
			default:
				if !errors.Is(err, want) {
					t.Fatalf("err %v, want %v", err, want)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.want)) || !strings.Contains(err.Error(), "train job j1") {
					t.Fatalf("err %q does not name the status %q and the job", err, tt.want)
				}
			}
			if st == nil || st.Status != tt.want || rec.count() != tt.polls {
				t.Fatalf("state %v after %d polls, want %s after %d", st, rec.count(), tt.want, tt.polls)
			}
		})
	}
}

func TestUnknownStatusTimeoutDefault(t *testing.T) {
	env := newTestClient(t, "http://127.0.0.1:1", nil)
	if env.client.poll.unknown != DefaultUnknownStatusTimeout || DefaultUnknownStatusTimeout < time.Minute {
		t.Fatalf("bound %v, want the default %v (minutes)", env.client.poll.unknown, DefaultUnknownStatusTimeout)
	}
}

// TestJobStatesDone: every documented status is known; the terminal ones
// are Done; only succeeded is a success, and partiallyCompleted is reported
// as an error matching ErrPartiallyCompleted, never silently.
func TestJobStatesDone(t *testing.T) {
	tests := []struct {
		status          langsync.JobStatus
		known, done, ok bool
		partial         bool
	}{
		{langsync.JobNotStarted, true, false, false, false},
		{langsync.JobRunning, true, false, false, false},
		{langsync.JobCancelling, true, false, false, false},
		{langsync.JobSucceeded, true, true, true, false},
		{langsync.JobFailed, true, true, false, false},
		{langsync.JobCancelled, true, true, false, false},
		{langsync.JobPartiallyCompleted, true, true, false, true},
		{"paused", false, false, false, false},
		{"", false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.status)+"_", func(t *testing.T) {
			st := &JobState{JobID: "j1", Status: tt.status, Job: langsync.Job{Kind: langsync.JobImport}}
			if st.Status.Known() != tt.known || st.Done() != tt.done || st.Succeeded() != tt.ok {
				t.Fatalf("known %v done %v succeeded %v, want %v %v %v", st.Status.Known(), st.Done(), st.Succeeded(), tt.known, tt.done, tt.ok)
			}
			err := st.Err()
			if (err != nil) != (tt.done && !tt.ok) {
				t.Fatalf("Err() = %v", err)
			}
			if errors.Is(err, ErrPartiallyCompleted) != tt.partial {
				t.Fatalf("Err() = %v; matches ErrPartiallyCompleted: %v, want %v", err, !tt.partial, tt.partial)
			}
		})
	}
}

// TestWaitPartiallyCompleted: Wait ends at partiallyCompleted and returns
// the state with an error that says it is not a success.
func TestWaitPartiallyCompleted(t *testing.T) {
	_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			writeJSON(w, 200, jobBody("running", ""))
			return
		}
		writeJSON(w, 200, jobBody("partiallyCompleted", `,"errors":[{"code":"InvalidDocument","message":"Document 3 failed."}]`))
	})
	env := newTestClient(t, url, nil)
	st, err := env.client.Wait(context.Background(), langsync.Job{Kind: langsync.JobImport, Location: url + base + "/P/import/jobs/j1", Started: time.Now()}, nil)
	var je *JobError
	if !errors.As(err, &je) || !errors.Is(err, ErrPartiallyCompleted) || je.Status != langsync.JobPartiallyCompleted {
		t.Fatalf("err %v, want a *JobError matching ErrPartiallyCompleted", err)
	}
	if !strings.Contains(err.Error(), "not a success") || !strings.Contains(err.Error(), "Document 3 failed") {
		t.Fatalf("err %q", err)
	}
	if st == nil || !st.Done() || st.Succeeded() {
		t.Fatalf("state %v", st)
	}
}
