package authoring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

const projectJSON = `{"createdDateTime":"2022-04-18T13:53:03Z","lastModifiedDateTime":"2022-04-18T13:53:03Z","projectKind":"CustomSingleLabelClassification","storageInputContainerName":"docs","projectName":"Tickets","language":"en-us"}`

// scripted answers the n-th request (0-based) with step(n, w, r).
func scripted(tb testing.TB, step func(n int, w http.ResponseWriter, r *http.Request)) (*recorder, string) {
	rec := &recorder{}
	var n atomic.Int32
	srv := newServer(tb, func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		step(int(n.Add(1)-1), w, r)
	})
	return rec, srv.URL
}

func TestRetries(t *testing.T) {
	throttled := func(w http.ResponseWriter, retryAfter string) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeJSON(w, 429, `{"error":{"code":"429","message":"Requests to the Authoring API have exceeded call rate limit. Please retry after 2 seconds."}}`)
	}
	tests := []struct {
		name string
		// fail answers the first failures requests.
		fail     func(w http.ResponseWriter)
		failures int
		// minBudgetWait is the least the shared budget must have waited
		// (the Retry-After, on the fake clock).
		minBudgetWait time.Duration
		maxBudgetWait time.Duration
	}{
		{name: "429WithRetryAfter", fail: func(w http.ResponseWriter) { throttled(w, "2") }, failures: 1, minBudgetWait: 2 * time.Second, maxBudgetWait: 2 * time.Second},
		{name: "429WithLongRetryAfter", fail: func(w http.ResponseWriter) { throttled(w, "90") }, failures: 2, minBudgetWait: 180 * time.Second, maxBudgetWait: 180 * time.Second},
		{name: "429WithoutRetryAfter", fail: func(w http.ResponseWriter) { throttled(w, "") }, failures: 2},
		{name: "500ThenSuccess", fail: func(w http.ResponseWriter) {
			writeJSON(w, 500, `{"error":{"code":"InternalServerError","message":"oops"}}`)
		}, failures: 1},
		{name: "503ThenSuccess", fail: func(w http.ResponseWriter) {
			writeJSON(w, 503, `{"error":{"code":"ServiceUnavailable","message":"later"}}`)
		}, failures: 3},
		{name: "502ThenSuccess", fail: func(w http.ResponseWriter) { w.WriteHeader(502) }, failures: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n < tt.failures {
					tt.fail(w)
					return
				}
				writeJSON(w, 200, projectJSON)
			})
			env := newTestClient(t, url, nil)
			p, err := env.client.GetProject(context.Background(), "Tickets")
			if err != nil {
				t.Fatal(err)
			}
			if p.ProjectName != "Tickets" || rec.count() != tt.failures+1 {
				t.Fatalf("project %q after %d requests, want Tickets after %d", p.ProjectName, rec.count(), tt.failures+1)
			}
			if w := env.clock.slept(); w < tt.minBudgetWait || w > tt.maxBudgetWait {
				t.Fatalf("budget waited %v, want %v..%v", w, tt.minBudgetWait, tt.maxBudgetWait)
			}
		})
	}
}

func TestRetriesRunOut(t *testing.T) {
	rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("apim-request-id", "req-42")
		writeJSON(w, 429, `{"error":{"code":"429","message":"rate limit"}}`)
	})
	env := newTestClient(t, url, func(o *ClientOptions) { o.Retry.MaxRetries = 2 })
	_, err := env.client.GetProject(context.Background(), "Tickets")
	var re *ResponseError
	if !errors.As(err, &re) || !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v, want a throttled *ResponseError", err)
	}
	if re.Code != "429" || re.RetryAfter != time.Second || re.RequestID != "req-42" || rec.count() != 3 {
		t.Fatalf("code %q retry-after %v id %q after %d requests", re.Code, re.RetryAfter, re.RequestID, rec.count())
	}
	for _, want := range []string{"GET", "/projects/Tickets", "429", "rate limit", "req-42"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "api-version") {
		t.Errorf("error shows the query: %v", err)
	}
}

// TestJobStartIsNotResent checks the duplicate-job rule: a job-starting
// request is retried only when the service cannot have accepted it.
func TestJobStartIsNotResent(t *testing.T) {
	accepted := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("operation-location", "http://"+r.Host+base+"/Tickets/train/jobs/j1?api-version=2023-04-01")
		w.WriteHeader(202)
	}
	tests := []struct {
		name         string
		first        func(w http.ResponseWriter, r *http.Request)
		wantRequests int
		wantErr      error
	}{
		{"429Retried", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 429, `{"error":{"code":"429","message":"slow down"}}`)
		}, 2, nil},
		{"503Retried", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 503, `{"error":{"code":"ServiceUnavailable","message":"down"}}`)
		}, 2, nil},
		{"500NotRetried", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 500, `{"error":{"code":"InternalServerError","message":"oops"}}`)
		}, 1, ErrMaybeStarted},
		{"504NotRetried", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(504) }, 1, ErrMaybeStarted},
		{"ResetAfterWriteNotRetried", func(w http.ResponseWriter, r *http.Request) {
			// The whole request arrived; the connection dies before
			// any response.
			io.Copy(io.Discard, r.Body)
			resetConn(t, w)
		}, 1, ErrMaybeStarted},
		{"409NotRetried", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 409, `{"error":{"code":"Conflict","message":"a training job is running"}}`)
		}, 1, ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 0 {
					tt.first(w, r)
					return
				}
				accepted(w, r)
			})
			env := newTestClient(t, url, nil)
			job, err := env.client.BeginTrain(context.Background(), "Tickets", TrainOptions{ModelLabel: "m1"})
			if rec.count() != tt.wantRequests {
				t.Fatalf("%d requests, want %d", rec.count(), tt.wantRequests)
			}
			if tt.wantErr == nil {
				if err != nil || job.Kind != langsync.JobTrain || !strings.HasSuffix(job.Location, "/train/jobs/j1?api-version=2023-04-01") {
					t.Fatalf("job %+v, err %v", job, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != ErrMaybeStarted && errors.Is(err, ErrMaybeStarted) {
				t.Fatalf("err = %v is marked maybe-started", err)
			}
			noKey(t, "error", err.Error())
		})
	}
}

// TestJobStartRetriedWhenNotWritten: a connection that fails before the
// request is written (here: the first dial is refused) is safe to retry.
func TestJobStartRetriedWhenNotWritten(t *testing.T) {
	rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("operation-location", "http://"+r.Host+base+"/Tickets/export/jobs/e1?api-version=2023-04-01")
		w.WriteHeader(202)
	})
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	env := newTestClient(t, url, func(o *ClientOptions) { o.Transport = &http.Client{Transport: tr} })
	job, err := env.client.BeginExport(context.Background(), "Tickets", nil)
	if err != nil || job.Kind != langsync.JobExport {
		t.Fatalf("job %+v, err %v", job, err)
	}
	if dials.Load() != 2 || rec.count() != 1 {
		t.Fatalf("%d dials and %d requests, want 2 and 1", dials.Load(), rec.count())
	}
}

// resetConn closes the connection with a TCP reset.
func resetConn(tb testing.TB, w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		tb.Errorf("hijack: %v", err)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func TestConnectionResetMidBody(t *testing.T) {
	rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			// Promise the whole body, send half, then reset.
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", fmt.Sprint(len(projectJSON)))
			w.WriteHeader(200)
			io.WriteString(w, projectJSON[:len(projectJSON)/2])
			w.(http.Flusher).Flush()
			resetConn(t, w)
			return
		}
		writeJSON(w, 200, projectJSON)
	})
	env := newTestClient(t, url, nil)
	p, err := env.client.GetProject(context.Background(), "Tickets")
	if err != nil || p.ProjectName != "Tickets" || rec.count() != 2 {
		t.Fatalf("project %+v, err %v after %d requests", p, err, rec.count())
	}
}

// TestSlowResponse: a try that outlives TryTimeout is abandoned and
// retried. The slow handler blocks until the client gives up (its request
// context ends), so no test waits on a sleep.
func TestSlowResponse(t *testing.T) {
	t.Run("ReadRetried", func(t *testing.T) {
		rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 0 {
				<-r.Context().Done()
				return
			}
			writeJSON(w, 200, projectJSON)
		})
		env := newTestClient(t, url, func(o *ClientOptions) { o.Retry.TryTimeout = 50 * time.Millisecond })
		p, err := env.client.GetProject(context.Background(), "Tickets")
		if err != nil || p.ProjectName != "Tickets" || rec.count() != 2 {
			t.Fatalf("project %+v, err %v after %d requests", p, err, rec.count())
		}
	})
	t.Run("JobStartNotRetried", func(t *testing.T) {
		rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		})
		env := newTestClient(t, url, func(o *ClientOptions) { o.Retry.TryTimeout = 50 * time.Millisecond })
		_, err := env.client.BeginDeploy(context.Background(), "Tickets", "production", "m1")
		if !errors.Is(err, ErrMaybeStarted) || !errors.Is(err, context.DeadlineExceeded) || rec.count() != 1 {
			t.Fatalf("err = %v after %d requests, want a maybe-started timeout after 1", err, rec.count())
		}
	})
	t.Run("CallerDeadlineWins", func(t *testing.T) {
		_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		env := newTestClient(t, url, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := env.client.GetProject(ctx, "Tickets")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
	})
}

func TestFailedJob(t *testing.T) {
	_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		status := "running"
		body := ""
		if n >= 2 {
			status = "failed"
			body = `,"errors":[{"code":"InvalidRequest","message":"Invalid document in request.","innererror":{"code":"InvalidDocument","message":"Document 07.txt not found in container docs."}}]`
		}
		writeJSON(w, 200, `{"jobId":"i1","createdDateTime":"2026-12-01T08:00:00Z","lastUpdatedDateTime":"2026-12-01T08:00:01Z","status":"`+status+`"`+body+`}`)
	})
	env := newTestClient(t, url, nil)
	job := langsync.Job{Kind: langsync.JobImport, Location: url + base + "/Tickets/import/jobs/i1?api-version=2023-04-01", Started: time.Now()}
	var seen []langsync.JobStatus
	st, err := env.client.Wait(context.Background(), job, func(s *JobState) { seen = append(seen, s.Status) })
	var je *JobError
	if !errors.As(err, &je) {
		t.Fatalf("err = %v, want *JobError", err)
	}
	if je.Status != langsync.JobFailed || je.Kind != langsync.JobImport || len(je.Errors) != 1 || je.Errors[0].InnerError.Code != "InvalidDocument" {
		t.Fatalf("job error %+v", je)
	}
	if !strings.Contains(err.Error(), "Document 07.txt not found") || st.Status != langsync.JobFailed {
		t.Fatalf("err %q, state %s", err, st.Status)
	}
	if len(seen) != 3 || seen[0] != langsync.JobRunning {
		t.Fatalf("progress saw %v", seen)
	}
}

// TestForeignHost: URLs from the service on another host are refused and
// nothing (in particular no key) reaches that host.
func TestForeignHost(t *testing.T) {
	foreign := &recorder{}
	evil := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		foreign.add(r)
		writeJSON(w, 200, `{"jobId":"x","status":"succeeded","createdDateTime":"2026-12-01T08:00:00Z","lastUpdatedDateTime":"2026-12-01T08:00:00Z","value":[]}`)
	})
	_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/:export"):
			w.Header().Set("operation-location", evil.URL+base+"/Tickets/export/jobs/e1?api-version=2023-04-01")
			w.WriteHeader(202)
		case strings.HasSuffix(r.URL.Path, "/export/jobs/e2"):
			writeJSON(w, 200, `{"jobId":"e2","status":"succeeded","createdDateTime":"2026-12-01T08:00:00Z","lastUpdatedDateTime":"2026-12-01T08:00:00Z","resultUrl":"`+evil.URL+`/result?sig=abc"}`)
		default:
			writeJSON(w, 200, `{"value":[],"nextLink":"`+evil.URL+base+`?skip=10"}`)
		}
	})
	env := newTestClient(t, url, nil)
	ctx := context.Background()

	job, err := env.client.BeginExport(ctx, "Tickets", nil)
	if !errors.Is(err, ErrForeignHost) || job.Location == "" {
		t.Fatalf("begin: job %+v, err %v; want the handle and ErrForeignHost", job, err)
	}
	_, err = env.client.Poll(ctx, job)
	if !errors.Is(err, ErrForeignHost) {
		t.Fatalf("poll: err %v, want ErrForeignHost", err)
	}
	st, err := env.client.Poll(ctx, langsync.Job{Kind: langsync.JobExport, Location: url + base + "/Tickets/export/jobs/e2?api-version=2023-04-01"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.client.OpenExportResult(ctx, st.ResultURL)
	if !errors.Is(err, ErrForeignHost) || strings.Contains(err.Error(), "sig=") {
		t.Fatalf("result: err %v, want ErrForeignHost without the query", err)
	}
	_, err = env.client.ListProjects(ctx)
	if !errors.Is(err, ErrForeignHost) {
		t.Fatalf("list: err %v, want ErrForeignHost", err)
	}
	// Same host, other scheme: also foreign.
	https := strings.Replace(url, "http://", "https://", 1)
	if _, err := env.client.Poll(ctx, langsync.Job{Location: https + base + "/Tickets/import/jobs/i?api-version=2023-04-01"}); !errors.Is(err, ErrForeignHost) {
		t.Fatalf("https poll: err %v, want ErrForeignHost", err)
	}
	if n := foreign.count(); n != 0 {
		t.Fatalf("the foreign host received %d requests", n)
	}
	noKey(t, "logs", env.logs.String())
}

func TestUnauthorizedNumericCode(t *testing.T) {
	for _, body := range []string{
		`{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}}`,
		`{"error":{"code":401,"message":"Access denied due to invalid subscription key."}}`,
	} {
		_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) { writeJSON(w, 401, body) })
		env := newTestClient(t, url, nil)
		_, err := env.client.ListProjects(context.Background())
		var re *ResponseError
		if !errors.As(err, &re) || !errors.Is(err, ErrUnauthorized) || re.Code != "401" || re.StatusCode != 401 {
			t.Fatalf("err = %#v, want 401 with code \"401\"", err)
		}
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrThrottled) {
			t.Fatalf("401 matches other sentinels")
		}
	}
}

// TestKeyNeverLeaks drives every failure path with a debug logger and
// checks that the key is in no error and no log line, even when the
// server echoes it back.
func TestKeyNeverLeaks(t *testing.T) {
	_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(KeyHeader)
		switch {
		case strings.Contains(r.URL.Path, "/echo"):
			writeJSON(w, 400, `{"error":{"code":"InvalidRequest","message":"bad header `+key+`","innererror":{"code":"InvalidParameterValue","message":"key `+key+`"}}}`)
		case strings.Contains(r.URL.Path, "/reset"):
			resetConn(t, w)
		default:
			w.Header().Set("Retry-After", "0")
			writeJSON(w, 429, `{"error":{"code":"429","message":"throttled"}}`)
		}
	})
	env := newTestClient(t, url, func(o *ClientOptions) { o.Retry.MaxRetries = 1 })
	ctx := context.Background()
	var errs []error
	_, err := env.client.GetProject(ctx, "echo")
	errs = append(errs, err)
	_, err = env.client.GetProject(ctx, "reset")
	errs = append(errs, err)
	_, err = env.client.BeginTrain(ctx, "reset", TrainOptions{ModelLabel: "m"})
	errs = append(errs, err)
	_, err = env.client.ListProjects(ctx)
	errs = append(errs, err)
	_, err = env.client.Poll(ctx, langsync.Job{Location: "http://elsewhere.invalid/x?key=" + testKey})
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d: no error", i)
		}
		noKey(t, "error", err.Error())
		noKey(t, "error %+v", fmt.Sprintf("%+v %#v", err, err))
	}
	var re *ResponseError
	if !errors.As(errs[0], &re) || !strings.Contains(re.Message, "[REDACTED]") {
		t.Fatalf("echoed key not scrubbed: %v", errs[0])
	}
	logs := env.logs.String()
	if !strings.Contains(logs, "authoring request") {
		t.Fatalf("no request was logged: %q", logs)
	}
	noKey(t, "logs", logs)
	// The client itself never prints its key either.
	noKey(t, "client", fmt.Sprintf("%v %+v", env.client, env.client))
}

// TestRedirectsNotFollowed: net/http would forward the key header to a
// redirect target on another host; the client never follows redirects,
// also with a caller's *http.Client that would.
func TestRedirectsNotFollowed(t *testing.T) {
	foreign := &recorder{}
	evil := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		foreign.add(r)
		writeJSON(w, 200, projectJSON)
	})
	_, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+"/steal?x=1", http.StatusTemporaryRedirect)
	})
	for _, tr := range []struct {
		name string
		t    any
	}{{"Default", nil}, {"CallerClient", &http.Client{}}} {
		t.Run(tr.name, func(t *testing.T) {
			env := newTestClient(t, url, func(o *ClientOptions) {
				if c, ok := tr.t.(*http.Client); ok {
					o.Transport = c
				}
			})
			_, err := env.client.GetProject(context.Background(), "Tickets")
			var re *ResponseError
			if !errors.As(err, &re) || re.StatusCode != 307 || !strings.Contains(err.Error(), "not followed") || strings.Contains(err.Error(), "x=1") {
				t.Fatalf("err = %v, want a 307 not followed", err)
			}
			if foreign.count() != 0 {
				t.Fatalf("the redirect target got %d requests", foreign.count())
			}
		})
	}
}

func TestRetryAfterTooLong(t *testing.T) {
	rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "86400")
		writeJSON(w, 429, `{"error":{"code":"QuotaExceeded","message":"Out of call volume quota."}}`)
	})
	env := newTestClient(t, url, nil)
	_, err := env.client.GetProject(context.Background(), "Tickets")
	var re *ResponseError
	if !errors.As(err, &re) || re.RetryAfter != 24*time.Hour || rec.count() != 1 {
		t.Fatalf("err %v after %d requests; want the 429 at once with its Retry-After", err, rec.count())
	}
	// The host is paused for MaxRetryAfter, not a day.
	_, _ = env.client.GetProject(context.Background(), "Tickets")
	if w := env.clock.slept(); w != MaxRetryAfter {
		t.Fatalf("budget paused %v, want %v", w, MaxRetryAfter)
	}
}
