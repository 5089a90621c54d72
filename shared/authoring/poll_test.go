package authoring

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

func TestPollIntervalAdapts(t *testing.T) {
	pc := newPollConfig(&ClientOptions{PollIntervals: map[langsync.JobKind]time.Duration{langsync.JobDeploy: 2 * time.Second}})
	tests := []struct {
		kind    langsync.JobKind
		elapsed time.Duration
		want    time.Duration
	}{
		{langsync.JobExport, 0, DefaultMinPollInterval},
		{langsync.JobExport, 100 * time.Millisecond, DefaultMinPollInterval},
		{langsync.JobExport, time.Second, 200 * time.Millisecond},
		{langsync.JobExport, 10 * time.Second, 2 * time.Second},
		{langsync.JobExport, time.Hour, 10 * time.Second},
		{langsync.JobTrain, time.Hour, 30 * time.Second},
		{langsync.JobDeploy, time.Hour, 2 * time.Second}, // configured cap
		{"", time.Hour, defaultPollCap},
	}
	for _, tt := range tests {
		if got := pc.interval(tt.kind, tt.elapsed); got != tt.want {
			t.Errorf("interval(%s, %v) = %v, want %v", tt.kind, tt.elapsed, got, tt.want)
		}
	}
}

// TestPollBudgetForLongJobs counts the polls an hour of training costs
// with the default settings: it must stay far below 100 GETs a minute.
func TestPollBudgetForLongJobs(t *testing.T) {
	pc := newPollConfig(&ClientOptions{})
	var elapsed time.Duration
	perMinute := map[int]int{}
	for elapsed < time.Hour {
		perMinute[int(elapsed/time.Minute)]++
		elapsed += pc.interval(langsync.JobTrain, elapsed)
	}
	for m, n := range perMinute {
		if n > 40 {
			t.Errorf("minute %d: %d polls", m, n)
		}
	}
	if perMinute[59] > 2 {
		t.Errorf("steady state %d polls a minute, want 2", perMinute[59])
	}
}

func TestJobKindOf(t *testing.T) {
	for loc, want := range map[string]langsync.JobKind{
		"https://h/language/authoring/analyze-text/projects/global/deletion-jobs/1?api-version=x": langsync.JobDeleteProject,
		"https://h/language/authoring/analyze-text/projects/P/export/jobs/1":                      langsync.JobExport,
		"https://h/language/authoring/analyze-text/projects/P/import/jobs/1":                      langsync.JobImport,
		"https://h/language/authoring/analyze-text/projects/P/train/jobs/1":                       langsync.JobTrain,
		"https://h/language/authoring/analyze-text/projects/P/deployments/swap/jobs/1":            langsync.JobSwap,
		"https://h/language/authoring/analyze-text/projects/P/deployments/prod/jobs/1":            langsync.JobDeploy,
		"https://h/language/authoring/analyze-text/projects/P/models/m/load-snapshot/jobs/1":      langsync.JobLoadSnapshot,
		"https://h/elsewhere": "",
	} {
		if got := JobKindOf(loc); got != want {
			t.Errorf("JobKindOf(%s) = %q, want %q", loc, got, want)
		}
	}
}

const runningJob = `{"jobId":"t1","createdDateTime":"2026-12-01T08:00:00Z","lastUpdatedDateTime":"2026-12-01T08:00:05Z","status":"running"}`

func TestPollHonoursRetryAfter(t *testing.T) {
	_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		writeJSON(w, 200, runningJob)
	})
	env := newTestClient(t, url, nil)
	st, err := env.client.Poll(context.Background(), langsync.Job{Kind: langsync.JobTrain, Location: url + base + "/P/train/jobs/t1?api-version=2023-04-01", Started: time.Now()})
	if err != nil || st.NextPoll != 7*time.Second || st.Done() {
		t.Fatalf("state %+v, err %v; want running with next poll 7s", st, err)
	}
}

// TestPollResumesSavedJob: a job handle saved as JSON by one process is
// polled by another client; without a start time the job's age comes from
// the service's own clock (Date header minus createdDateTime).
func TestPollResumesSavedJob(t *testing.T) {
	_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Date(2026, 12, 1, 8, 0, 25, 0, time.UTC).Format(http.TimeFormat))
		writeJSON(w, 200, runningJob)
	})
	saved, _ := json.Marshal(langsync.Job{Kind: langsync.JobExport, Location: url + base + "/P/export/jobs/t1?api-version=2023-04-01"})
	var job langsync.Job
	if err := json.Unmarshal(saved, &job); err != nil {
		t.Fatal(err)
	}
	other := newTestClient(t, url, func(o *ClientOptions) { o.MinPollInterval = 0 })
	st, err := other.client.Poll(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if st.NextPoll != 5*time.Second || st.Job.Kind != langsync.JobExport || st.JobID != "t1" {
		t.Fatalf("state %+v: next poll %v, want 5s (25s old / 5)", st, st.NextPoll)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		writeJSON(w, 200, runningJob)
	})
	env := newTestClient(t, url, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	polls := 0
	st, err := env.client.Wait(ctx, langsync.Job{Kind: langsync.JobTrain, Location: url + base + "/P/train/jobs/t1"}, func(*JobState) {
		polls++
		cancel() // the hour-long wait must end now
	})
	if !errors.Is(err, context.Canceled) || polls != 1 || st == nil || st.Status != langsync.JobRunning {
		t.Fatalf("state %v, err %v after %d polls; want canceled after 1", st, err, polls)
	}
}

func TestWaitUntilSucceeded(t *testing.T) {
	rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n < 3 {
			writeJSON(w, 200, runningJob)
			return
		}
		writeJSON(w, 200, `{"jobId":"t1","createdDateTime":"2026-12-01T08:00:00Z","lastUpdatedDateTime":"2026-12-01T08:00:09Z","status":"succeeded"}`)
	})
	env := newTestClient(t, url, nil)
	// The status URL lacks api-version: the client adds its own.
	st, err := env.client.Wait(context.Background(), langsync.Job{Location: url + base + "/P/deployments/prod/jobs/t1", Started: time.Now()}, nil)
	if err != nil || !st.Succeeded() || rec.count() != 4 || st.Job.Kind != langsync.JobDeploy {
		t.Fatalf("state %+v, err %v after %d polls", st, err, rec.count())
	}
	if q := rec.all()[0].RawQuery; q != "api-version=2023-04-01" {
		t.Fatalf("query %q", q)
	}
}

// TestWaitSurvivesShortOutage: polls that fail after the pipeline's
// retries do not end the wait unless they keep failing.
func TestWaitSurvivesShortOutage(t *testing.T) {
	for _, tt := range []struct {
		name     string
		failures int
		wantErr  bool
	}{{"TwoFailedPolls", 2, false}, {"FourFailedPolls", 4, true}} {
		t.Run(tt.name, func(t *testing.T) {
			// Each poll is one try (no pipeline retries), so failures
			// counts failed polls.
			rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
				switch {
				case n == 0:
					writeJSON(w, 200, runningJob)
				case n <= tt.failures:
					writeJSON(w, 503, `{"error":{"code":"ServiceUnavailable","message":"down"}}`)
				default:
					writeJSON(w, 200, `{"jobId":"t1","createdDateTime":"2026-12-01T08:00:00Z","lastUpdatedDateTime":"2026-12-01T08:00:09Z","status":"succeeded"}`)
				}
			})
			env := newTestClient(t, url, func(o *ClientOptions) { o.Retry.MaxRetries = -1 })
			st, err := env.client.Wait(context.Background(), langsync.Job{Kind: langsync.JobTrain, Location: url + base + "/P/train/jobs/t1", Started: time.Now()}, nil)
			if tt.wantErr {
				var re *ResponseError
				if !errors.As(err, &re) || re.StatusCode != 503 || rec.count() != 1+tt.failures || st == nil || st.Status != langsync.JobRunning {
					t.Fatalf("err %v after %d polls (last state %v); want the 503 after 5", err, rec.count(), st)
				}
				return
			}
			if err != nil || !st.Succeeded() || rec.count() != tt.failures+2 {
				t.Fatalf("state %v, err %v after %d polls", st, err, rec.count())
			}
		})
	}
}

func TestPollUsesEstimatedEnd(t *testing.T) {
	date := time.Date(2026, 12, 1, 8, 10, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		est  string
		want time.Duration
	}{
		// createdDateTime is in whole seconds, so the job may end up to a
		// second before est - created after Started: the earliest end.
		{"Sooner", "2026-12-01T08:10:03Z", 2 * time.Second},
		{"LaterThanAdaptive", "2026-12-01T09:00:00Z", 30 * time.Second},
		// Past the estimate the job is about to end: a twentieth of its
		// age (here the 30s cap either way).
		{"Passed", "2026-12-01T08:09:00Z", 30 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Date", date.Format(http.TimeFormat))
				writeJSON(w, 200, `{"jobId":"t1","createdDateTime":"2026-12-01T08:00:00Z","lastUpdatedDateTime":"2026-12-01T08:09:59Z","status":"running",
					"result":{"modelLabel":"m","trainingConfigVersion":"2022-05-01","estimatedEndDateTime":"`+tt.est+`","trainingStatus":{"percentComplete":90,"status":"running"}}}`)
			})
			env := newTestClient(t, url, nil)
			// Started ten minutes ago: the adaptive interval is the 30s cap.
			job := langsync.Job{Kind: langsync.JobTrain, Location: url + base + "/P/train/jobs/t1", Started: time.Now().Add(-10 * time.Minute)}
			st, err := env.client.Poll(context.Background(), job)
			// The estimate is laid on the local clock from Started, so the
			// time this test takes shortens it a little.
			if err != nil || st.NextPoll > tt.want || st.NextPoll < tt.want-time.Second {
				t.Fatalf("next poll %v (err %v), want %v", st.NextPoll, err, tt.want)
			}
		})
	}
}

// TestPollPastEstimatedEndLooksSooner: a training job past its estimated
// end is polled at a twentieth of its age, not a fifth, and a job whose
// estimate is ahead is polled at the estimate even when the Date header
// (whole seconds) would put it a second off. A createdDateTime in whole
// seconds (as the service writes it) may be up to a second before the
// job's true start, so the estimate is taken a second early; one with a
// fraction is taken as it is.
func TestPollPastEstimatedEndLooksSooner(t *testing.T) {
	for _, tt := range []struct {
		name, created, est string
		min, max           time.Duration
	}{
		{"Passed", "2026-12-01T08:00:00Z", "2026-12-01T08:01:00Z", 5 * time.Second, 5*time.Second + 100*time.Millisecond},       // age 100s: 100s/20
		{"Ahead", "2026-12-01T08:00:00.2500000Z", "2026-12-01T08:01:41.750Z", 1400 * time.Millisecond, 1500 * time.Millisecond}, // 1.5s after now
		// Whole-second creation: 0.5s after now is the earliest end.
		{"AheadWholeSecondCreated", "2026-12-01T08:00:00Z", "2026-12-01T08:01:41.500Z", 400 * time.Millisecond, 500 * time.Millisecond},
		// Within the second the creation time leaves open: a twentieth
		// of the age.
		{"WithinCreationSecond", "2026-12-01T08:00:00Z", "2026-12-01T08:01:40.500Z", 5 * time.Second, 5*time.Second + 100*time.Millisecond},
		{"FarAhead", "2026-12-01T08:00:00Z", "2026-12-01T08:10:00Z", 20 * time.Second, 20*time.Second + 500*time.Millisecond}, // the adaptive 100s/5
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
				// A Date header a second off the truth must not matter.
				w.Header().Set("Date", time.Date(2026, 12, 1, 8, 1, 39, 0, time.UTC).Format(http.TimeFormat))
				writeJSON(w, 200, `{"jobId":"t1","createdDateTime":"`+tt.created+`","lastUpdatedDateTime":"2026-12-01T08:01:40Z","status":"running",
					"result":{"modelLabel":"m","trainingConfigVersion":"2022-05-01","estimatedEndDateTime":"`+tt.est+`","trainingStatus":{"percentComplete":99,"status":"running"}}}`)
			})
			env := newTestClient(t, url, nil)
			job := langsync.Job{Kind: langsync.JobTrain, Location: url + base + "/P/train/jobs/t1", Started: time.Now().Add(-100 * time.Second)}
			st, err := env.client.Poll(context.Background(), job)
			if err != nil || st.NextPoll < tt.min || st.NextPoll > tt.max {
				t.Fatalf("next poll %v (err %v), want %v..%v", st.NextPoll, err, tt.min, tt.max)
			}
		})
	}
}
