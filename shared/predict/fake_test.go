package predict

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when the client sleeps or the test says so.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.slept = append(f.slept, d)
	f.mu.Unlock()
	return ctx.Err()
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *fakeClock) Slept() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.slept...)
}

// fault answers a request instead of the fake service; it returns false to
// let the service answer.
type fault func(w http.ResponseWriter, r *http.Request) bool

// down closes the connection without an answer, as a region that is gone.
func down() fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("no hijacker")
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
		return true
	}
}

// status answers code with an error body (and Retry-After when retry > 0).
func status(code int, errCode string, retry int) fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if retry > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(retry))
		}
		w.Header().Set("apim-request-id", "req-123")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"code":%q,"message":"injected %d"}}`, errCode, code)
		return true
	}
}

// hang answers nothing until the client gives up. It reads the body first:
// the server notices a closed connection only then.
func hang() fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
		return true
	}
}

// onlyGet applies f to polls.
func onlyGet(f fault) fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		return r.Method == http.MethodGet && f(w, r)
	}
}

// fakeLang is a scripted stand-in for the runtime prediction API. It
// classifies a text by the word before its first colon ("Billing: ...") and
// recognises "A-123"-style order numbers as entities.
type fakeLang struct {
	t   testing.TB
	srv *httptest.Server
	key string

	mu       sync.Mutex
	script   []fault // used one per request, in order
	always   fault   // used when the script is empty
	posts    int
	gets     int
	bodies   []jobRequest
	headers  []http.Header
	projects map[string]bool // known projects; nil means any
	running  int             // polls that answer "running" before "succeeded"
	jobs     map[string]jobRequest
	polls    map[string]int
	opLoc    func(id string) string // overrides the operation-location
	jobFail  *apiError              // makes jobs end failed with this error
}

func newFakeLang(t testing.TB, key string) *fakeLang {
	t.Helper()
	f := &fakeLang{t: t, key: key, jobs: map[string]jobRequest{}, polls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.srv.CloseClientConnections)
	return f
}

func (f *fakeLang) URL() string { return f.srv.URL }

func (f *fakeLang) setAlways(ft fault) {
	f.mu.Lock()
	f.always = ft
	f.mu.Unlock()
}

func (f *fakeLang) push(fs ...fault) {
	f.mu.Lock()
	f.script = append(f.script, fs...)
	f.mu.Unlock()
}

func (f *fakeLang) counts() (posts, gets int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts, f.gets
}

func (f *fakeLang) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if r.Method == http.MethodPost {
		f.posts++
	} else {
		f.gets++
	}
	f.headers = append(f.headers, r.Header.Clone())
	var ft fault
	if len(f.script) > 0 {
		ft, f.script = f.script[0], f.script[1:]
	} else {
		ft = f.always
	}
	f.mu.Unlock()
	if ft != nil && ft(w, r) {
		return
	}
	if r.Header.Get("Ocp-Apim-Subscription-Key") != f.key && r.Header.Get("Authorization") != "Bearer "+f.key {
		status(401, "401", 0)(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/language/analyze-text/jobs":
		if r.URL.Query().Get("api-version") == "" {
			status(400, "InvalidRequest", 0)(w, r)
			return
		}
		var jr jobRequest
		if err := json.NewDecoder(r.Body).Decode(&jr); err != nil || len(jr.Tasks) != 1 {
			status(400, "InvalidRequest", 0)(w, r)
			return
		}
		f.mu.Lock()
		known := f.projects == nil || f.projects[jr.Tasks[0].Parameters.ProjectName]
		f.mu.Unlock()
		if !known {
			status(404, "ProjectNotFound", 0)(w, r)
			return
		}
		f.mu.Lock()
		f.bodies = append(f.bodies, jr)
		id := fmt.Sprintf("job-%d", f.posts)
		f.jobs[id] = jr
		loc := f.srv.URL + "/language/analyze-text/jobs/" + id + "?api-version=2023-04-01"
		if f.opLoc != nil {
			loc = f.opLoc(id)
		}
		f.mu.Unlock()
		w.Header().Set("Operation-Location", loc)
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/language/analyze-text/jobs/"):
		id := strings.TrimPrefix(r.URL.Path, "/language/analyze-text/jobs/")
		f.mu.Lock()
		jr, ok := f.jobs[id]
		f.polls[id]++
		n := f.polls[id]
		running, jobFail := f.running, f.jobFail
		f.mu.Unlock()
		if !ok {
			status(404, "OperationNotFound", 0)(w, r)
			return
		}
		if n <= running {
			w.Header().Set("Retry-After", "2")
			fmt.Fprintf(w, `{"jobId":%q,"status":"running","tasks":{"completed":0,"failed":0,"inProgress":1,"total":1,"items":[]}}`, id)
			return
		}
		if jobFail != nil {
			b, _ := json.Marshal(map[string]any{"jobId": id, "status": "failed", "errors": []apiError{*jobFail}})
			w.Write(b)
			return
		}
		w.Write(f.result(id, jr))
	default:
		status(404, "NotFound", 0)(w, r)
	}
}

func (f *fakeLang) result(id string, jr jobRequest) []byte {
	type doc struct {
		ID       string   `json:"id"`
		Warnings []any    `json:"warnings"`
		Class    []Class  `json:"class,omitempty"`
		Entities []Entity `json:"entities,omitempty"`
	}
	var docs []doc
	for _, d := range jr.AnalysisInput.Documents {
		dd := doc{ID: d.ID, Warnings: []any{}}
		if jr.Tasks[0].Kind == "CustomEntityRecognition" {
			if i := strings.Index(d.Text, "A-"); i >= 0 {
				dd.Entities = []Entity{{Text: d.Text[i : i+5], Category: "OrderNumber", Offset: i, Length: 5, ConfidenceScore: 0.97}}
			}
		} else {
			cat, _, _ := strings.Cut(d.Text, ":")
			dd.Class = []Class{{Category: "Other", ConfidenceScore: 0.1}, {Category: cat, ConfidenceScore: 0.9}}
		}
		docs = append(docs, dd)
	}
	b, _ := json.Marshal(map[string]any{
		"jobId": id, "status": "succeeded", "displayName": jr.DisplayName,
		"createdDateTime": "2026-12-01T08:00:00Z", "lastUpdatedDateTime": "2026-12-01T08:00:01Z",
		"tasks": map[string]any{"completed": 1, "failed": 0, "inProgress": 0, "total": 1, "items": []any{map[string]any{
			"kind": string(jr.Tasks[0].Kind) + "LROResults", "taskName": jr.Tasks[0].TaskName,
			"lastUpdateDateTime": "2026-12-01T08:00:01Z", "status": "succeeded",
			"results": map[string]any{"projectName": jr.Tasks[0].Parameters.ProjectName,
				"deploymentName": jr.Tasks[0].Parameters.DeploymentName, "errors": []any{}, "documents": docs},
		}}},
	})
	return b
}
