package predict

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/langsync/langsync/shared/langsync"
)

const (
	primaryKey   = "primary-SECRET-key-0001"
	secondaryKey = "secondary-SECRET-key-0002"
)

type pair struct {
	primary, secondary *fakeLang
	clock              *fakeClock
	client             *Client
	logs               *bytes.Buffer
}

// newPair builds a client over two fake regions with a fake clock, no
// jitter and a small breaker (3 consecutive failures, 30s open).
func newPair(t *testing.T, tweak func(*Options)) *pair {
	t.Helper()
	p := &pair{primary: newFakeLang(t, primaryKey), secondary: newFakeLang(t, secondaryKey), clock: newFakeClock(), logs: &bytes.Buffer{}}
	o := &Options{
		Clock:          p.clock,
		Rand:           func() float64 { return 0 },
		Logger:         slog.New(slog.NewJSONHandler(&lockedWriter{w: p.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Breaker:        BreakerOptions{ConsecutiveFailures: 3, OpenFor: 30 * time.Second, MaxOpenFor: 4 * time.Minute},
		AttemptTimeout: 2 * time.Second,
	}
	if tweak != nil {
		tweak(o)
	}
	c, err := New([]Endpoint{
		{Name: "primary", URL: p.primary.URL(), Key: primaryKey},
		{Name: "secondary", URL: p.secondary.URL(), Key: secondaryKey},
	}, o)
	if err != nil {
		t.Fatal(err)
	}
	p.client = c
	return p
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *pair) classify(t *testing.T, texts ...string) *Result {
	t.Helper()
	res, err := p.client.Classify(context.Background(), "Tickets", "production", texts)
	if err != nil {
		t.Fatalf("Classify: %v", err)
	}
	return res
}

func TestClassifyFromPrimary(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	res := p.classify(t, "Billing: charged twice", "Outage: site down")
	if res.Endpoint != "primary" || res.Failover {
		t.Fatalf("served by %q (failover %v), want primary", res.Endpoint, res.Failover)
	}
	if len(res.Documents) != 2 || res.Documents[0].Labels()[0] != "Billing" || res.Documents[1].Labels()[0] != "Outage" {
		t.Fatalf("documents = %+v", res.Documents)
	}
	if res.Documents[0].Classes[0].ConfidenceScore < res.Documents[0].Classes[1].ConfidenceScore {
		t.Errorf("classes not sorted best first: %+v", res.Documents[0].Classes)
	}
	body := p.primary.bodies[0]
	task := body.Tasks[0]
	if task.Kind != langsync.SingleLabelClassification || task.Parameters.ProjectName != "Tickets" ||
		task.Parameters.DeploymentName != "production" || task.Parameters.StringIndexType != "" {
		t.Errorf("task = %+v", task)
	}
	if d := body.AnalysisInput.Documents; len(d) != 2 || d[0].ID != "1" || d[1].ID != "2" || d[0].Language != "en-us" {
		t.Errorf("documents sent = %+v", d)
	}
	if got := p.primary.headers[0].Get("Ocp-Apim-Subscription-Key"); got != primaryKey {
		t.Errorf("key header = %q", got)
	}
	if posts, _ := p.secondary.counts(); posts != 0 {
		t.Errorf("secondary got %d requests, want 0", posts)
	}
	if s := p.client.State(); s.Active != "primary" || !s.OnPrimary || s.Endpoints[0].Served != 1 {
		t.Errorf("state = %+v", s)
	}
}

func TestKinds(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	ctx := context.Background()
	res, err := p.client.Analyze(ctx, Request{Kind: langsync.EntityRecognition, Project: "Orders", Deployment: "prod", Texts: []string{"Where is A-123?"}})
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Documents[0].Entities; len(e) != 1 || e[0].Category != "OrderNumber" || e[0].Text != "A-123" || e[0].Offset != 9 {
		t.Fatalf("entities = %+v", e)
	}
	if sit := p.primary.bodies[0].Tasks[0].Parameters.StringIndexType; sit != "Utf16CodeUnit" {
		t.Errorf("NER stringIndexType = %q, want Utf16CodeUnit", sit)
	}
	if _, err := p.client.Analyze(ctx, Request{Kind: langsync.MultiLabelClassification, Project: "Reviews", Deployment: "prod", Texts: []string{"Price: cheap"}, Language: "de"}); err != nil {
		t.Fatal(err)
	}
	if b := p.primary.bodies[1]; b.Tasks[0].Kind != langsync.MultiLabelClassification || b.AnalysisInput.Documents[0].Language != "de" {
		t.Errorf("multi-label request = %+v", b)
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	many := make([]string, MaxDocuments+1)
	for i := range many {
		many[i] = "x"
	}
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"NoTexts", Request{Project: "P", Deployment: "d"}, "no texts"},
		{"TooMany", Request{Project: "P", Deployment: "d", Texts: many}, "at most 25"},
		{"TooLong", Request{Project: "P", Deployment: "d", Texts: []string{strings.Repeat("a", MaxChars+1)}}, "at most 125000"},
		{"Empty", Request{Project: "P", Deployment: "d", Texts: []string{"ok", " "}}, "text 2 is empty"},
		{"NoProject", Request{Deployment: "d", Texts: []string{"x"}}, "project and deployment"},
		{"BadKind", Request{Kind: "Sentiment", Project: "P", Deployment: "d", Texts: []string{"x"}}, "unknown kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.client.Analyze(context.Background(), tt.req)
			if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrBadRequest mentioning %q", err, tt.want)
			}
		})
	}
	if posts, _ := p.primary.counts(); posts != 0 {
		t.Errorf("%d requests sent for invalid input", posts)
	}
}

// TestAnswers drives one request through a scripted primary and checks who
// served it, what counted as a failure and what came back.
func TestAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		script        []fault
		wantEndpoint  string // "" = error
		wantErr       error
		wantPrimary   int // POSTs the primary saw
		wantSecondary int
		wantFailed    int64 // failures recorded on the primary's breaker
		wantSlept     time.Duration
	}{
		{name: "OneServerErrorRetriedOnPrimary", script: []fault{status(503, "ServiceUnavailable", 0)},
			wantEndpoint: "primary", wantPrimary: 2},
		{name: "TwoErrorsStillPrimary", script: []fault{status(500, "InternalServerError", 0), down()},
			wantEndpoint: "primary", wantPrimary: 3},
		{name: "ThreeErrorsFallBackForThisRequest", script: []fault{down(), down(), status(502, "", 0)},
			wantEndpoint: "secondary", wantPrimary: 3, wantSecondary: 1, wantFailed: 1},
		{name: "PollErrorRepolledNotResubmitted", script: []fault{nil, onlyGet(status(503, "", 0))},
			wantEndpoint: "primary", wantPrimary: 1},
		{name: "ThrottledWithinBudget", script: []fault{status(429, "429", 2)},
			wantEndpoint: "primary", wantPrimary: 2, wantSlept: 2 * time.Second},
		{name: "ThrottledBeyondBudget", script: []fault{status(429, "429", 60)},
			wantEndpoint: "secondary", wantPrimary: 1, wantSecondary: 1, wantFailed: 1},
		{name: "BadRequestNotRetried", script: []fault{status(400, "InvalidRequest", 0)},
			wantErr: ErrBadRequest, wantPrimary: 1},
		{name: "UnauthorizedNotFailedOver", script: []fault{status(401, "401", 0)},
			wantErr: ErrUnauthorized, wantPrimary: 1},
		{name: "NotFoundOnPrimaryIsNotHidden", script: []fault{status(404, "ProjectNotFound", 0)},
			wantErr: ErrNotFound, wantPrimary: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t, nil)
			p.primary.push(tt.script...)
			res, err := p.client.Classify(context.Background(), "Tickets", "production", []string{"Billing: refund"})
			switch {
			case tt.wantEndpoint != "":
				if err != nil || res.Endpoint != tt.wantEndpoint {
					t.Fatalf("got %v, %v; want served by %s", res, err, tt.wantEndpoint)
				}
				if res.Documents[0].Labels()[0] != "Billing" {
					t.Errorf("labels = %v", res.Documents[0].Labels())
				}
			case !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			case errors.Is(err, ErrNotReplicated):
				t.Fatalf("err = %v: a primary's 404 is not 'not replicated'", err)
			}
			pp, _ := p.primary.counts()
			sp, _ := p.secondary.counts()
			if pp != tt.wantPrimary || sp != tt.wantSecondary {
				t.Errorf("POSTs primary=%d secondary=%d, want %d and %d", pp, sp, tt.wantPrimary, tt.wantSecondary)
			}
			s := p.client.State()
			if s.Endpoints[0].Failed != tt.wantFailed || s.Active != "primary" {
				t.Errorf("primary failed=%d active=%s, want %d and primary (one request never fails over)", s.Endpoints[0].Failed, s.Active, tt.wantFailed)
			}
			var slept time.Duration
			for _, d := range p.clock.Slept() {
				if d >= time.Second {
					slept += d
				}
			}
			if slept != tt.wantSlept {
				t.Errorf("waited %s for Retry-After, want %s", slept, tt.wantSlept)
			}
		})
	}
}

// TestThrottlingDoesNotUseUpTries: 429s waited out within the Retry-After
// budget do not count against MaxAttempts; the failures between them do.
func TestThrottlingDoesNotUseUpTries(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	p.primary.push(status(429, "429", 1), status(503, "", 0), status(429, "429", 1), status(503, "", 0))
	if res := p.classify(t, "Billing: x"); res.Endpoint != "primary" {
		t.Fatalf("served by %s, want primary (2 failures of 3 tries)", res.Endpoint)
	}
	if posts, _ := p.primary.counts(); posts != 5 {
		t.Errorf("primary POSTs = %d, want 5", posts)
	}
	if got := p.clock.Slept(); len(got) != 2 || got[0] != time.Second || got[1] != time.Second {
		t.Errorf("waits = %v, want [1s 1s] from Retry-After on the client's clock", got)
	}
}

func TestJobPollingHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	p.primary.running = 2
	res := p.classify(t, "Account: locked out")
	if res.Endpoint != "primary" || res.JobID == "" {
		t.Fatalf("result = %+v", res)
	}
	if got := p.clock.Slept(); len(got) != 2 || got[0] != 2*time.Second || got[1] != 2*time.Second {
		t.Errorf("poll waits = %v, want [2s 2s] from Retry-After", got)
	}
}

func TestJobTimeoutIsAFailure(t *testing.T) {
	t.Parallel()
	p := newPair(t, func(o *Options) { o.JobTimeout = 10 * time.Second; o.MaxAttempts = 1 })
	p.primary.running = 1000
	res := p.classify(t, "Account: locked out")
	if res.Endpoint != "secondary" {
		t.Fatalf("served by %s, want secondary after the primary's job timed out", res.Endpoint)
	}
	if len(res.Attempts) != 1 || !errors.Is(res.Attempts[0].Err, ErrJobTimeout) {
		t.Errorf("attempts = %+v, want the primary's job timeout", res.Attempts)
	}
}

func TestFailedJob(t *testing.T) {
	t.Parallel()
	t.Run("Transient", func(t *testing.T) {
		p := newPair(t, func(o *Options) { o.MaxAttempts = 2 })
		p.primary.jobFail = &apiError{Code: "InternalServerError", Message: "boom"}
		if res := p.classify(t, "Billing: x"); res.Endpoint != "secondary" {
			t.Fatalf("served by %s, want secondary", res.Endpoint)
		}
		if posts, _ := p.primary.counts(); posts != 2 {
			t.Errorf("primary POSTs = %d, want 2 (a failed job is retried)", posts)
		}
	})
	t.Run("InvalidRequest", func(t *testing.T) {
		p := newPair(t, nil)
		p.primary.jobFail = &apiError{Code: "InvalidArgument", Message: "language not supported"}
		_, err := p.client.Classify(context.Background(), "Tickets", "production", []string{"x"})
		var re *ResponseError
		if !errors.As(err, &re) || re.JobStatus != "failed" || !strings.Contains(err.Error(), "language not supported") {
			t.Fatalf("err = %v, want the job's error", err)
		}
		if posts, _ := p.secondary.counts(); posts != 0 {
			t.Errorf("a request error was sent to the secondary")
		}
	})
}

func TestFailoverOnConsistentFailureAndBack(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	// Before: the primary answers.
	before := p.classify(t, "Shipping: late parcel").Documents[0].Labels()
	p.primary.setAlways(down())

	// Every request is answered (by the secondary) while the breaker counts
	// the primary's failed requests; the third opens it.
	for i := 1; i <= 3; i++ {
		res := p.classify(t, "Shipping: late parcel")
		if res.Endpoint != "secondary" || !res.Failover {
			t.Fatalf("request %d served by %s", i, res.Endpoint)
		}
		if got := res.Documents[0].Labels(); got[0] != before[0] {
			t.Fatalf("secondary labels %v, primary gave %v", got, before)
		}
		s := p.client.State()
		if (i < 3) != s.OnPrimary {
			t.Fatalf("after %d failed requests OnPrimary=%v", i, s.OnPrimary)
		}
		if want := fmt.Sprintf("primary is active but failing: %d consecutive", i); i < 3 && !strings.HasPrefix(s.Reason, want) {
			t.Fatalf("reason %q, want %q...", s.Reason, want)
		}
	}
	s := p.client.State()
	if s.Active != "secondary" || s.Failovers != 1 || s.Endpoints[0].Breaker != BreakerOpen ||
		!strings.Contains(s.Reason, "3 consecutive failed requests") || !strings.Contains(s.Reason, "primary is open") {
		t.Fatalf("state after failover = %+v", s)
	}
	if !s.Endpoints[0].NextProbe.Equal(s.Endpoints[0].OpenedAt.Add(30 * time.Second)) {
		t.Errorf("next probe %v, want opened+30s (%v)", s.Endpoints[0].NextProbe, s.Endpoints[0].OpenedAt)
	}

	// While open, the primary is not called at all.
	posts, _ := p.primary.counts()
	p.clock.Advance(29 * time.Second)
	p.classify(t, "Shipping: late parcel")
	if now, _ := p.primary.counts(); now != posts {
		t.Fatalf("primary called %d times while its breaker was open", now-posts)
	}

	// The probe fails: the request is still answered, the open time doubles.
	p.clock.Advance(time.Second)
	if res := p.classify(t, "Shipping: late parcel"); res.Endpoint != "secondary" || len(res.Attempts) != 1 {
		t.Fatalf("failed probe: served by %s, attempts %+v", res.Endpoint, res.Attempts)
	}
	if now, _ := p.primary.counts(); now != posts+1 {
		t.Fatalf("probe sent %d requests to the primary, want exactly 1", now-posts)
	}
	s = p.client.State()
	if got := s.Endpoints[0].NextProbe.Sub(p.clock.Now()); got != 60*time.Second {
		t.Fatalf("after a failed probe the next probe is in %s, want 60s", got)
	}

	// The primary recovers; traffic returns only after the probe.
	p.primary.setAlways(nil)
	p.clock.Advance(59 * time.Second)
	if res := p.classify(t, "Shipping: late parcel"); res.Endpoint != "secondary" {
		t.Fatalf("before the probe time served by %s", res.Endpoint)
	}
	p.clock.Advance(time.Second)
	res := p.classify(t, "Shipping: late parcel")
	if res.Endpoint != "primary" || res.Failover {
		t.Fatalf("probe request served by %s, want primary", res.Endpoint)
	}
	s = p.client.State()
	if !s.OnPrimary || s.Failbacks != 1 || s.Endpoints[0].Breaker != BreakerClosed || !strings.Contains(s.Reason, "probe succeeded") {
		t.Fatalf("state after recovery = %+v", s)
	}
	if !strings.Contains(p.logs.String(), `"msg":"failover"`) || !strings.Contains(p.logs.String(), `"msg":"failback"`) {
		t.Errorf("logs lack failover/failback:\n%s", p.logs)
	}
}

// TestResultSaysWhyItsEndpointAnswered: Result.Reason names why the
// endpoint that answered did, request by request: the client's State can
// still call a failing primary "active" while a secondary answers.
func TestResultSaysWhyItsEndpointAnswered(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	if res := p.classify(t, "Billing: x"); res.Reason != "first in priority order, breaker closed" || len(res.Attempts) != 0 {
		t.Fatalf("healthy primary: reason %q, attempts %+v", res.Reason, res.Attempts)
	}

	p.primary.setAlways(down())
	res := p.classify(t, "Billing: x")
	const closed = "breaker still closed after 1 consecutive failed request (it opens at 3)"
	if res.Endpoint != "secondary" || !strings.HasPrefix(res.Reason, "primary failed: POST "+p.primary.URL()+"/language/analyze-text/jobs: ") ||
		!strings.HasSuffix(res.Reason, "; "+closed) || strings.Contains(res.Reason, "predict: primary:") {
		t.Fatalf("first failed request: served by %s, reason %q", res.Endpoint, res.Reason)
	}
	if len(res.Attempts) != 1 || res.Attempts[0].Breaker != strings.TrimPrefix(closed, "breaker ") {
		t.Fatalf("attempts = %+v", res.Attempts)
	}
	if s := p.client.State(); s.Active != "primary" {
		t.Fatalf("the state should still call the primary active (that is why Reason exists): %+v", s)
	}

	p.classify(t, "Billing: x")
	res = p.classify(t, "Billing: x")
	if !strings.HasSuffix(res.Reason, "; breaker open (3 consecutive failed requests), next probe in 30s") {
		t.Fatalf("tripping request: reason %q", res.Reason)
	}

	// While open the primary is skipped, and the reason says until when.
	p.clock.Advance(10 * time.Second)
	res = p.classify(t, "Billing: x")
	if !strings.HasPrefix(res.Reason, "primary skipped: breaker open since ") ||
		!strings.Contains(res.Reason, "(3 consecutive failed requests, last error: predict: primary: POST ") ||
		!strings.HasSuffix(res.Reason, "), next probe in 20s") || len(res.Attempts) != 0 {
		t.Fatalf("skipped primary: reason %q, attempts %+v", res.Reason, res.Attempts)
	}

	// The probe that brings the primary back says so.
	p.primary.setAlways(nil)
	p.clock.Advance(20 * time.Second)
	res = p.classify(t, "Billing: x")
	if res.Endpoint != "primary" || res.Reason != "primary answered as the half-open probe, so its breaker closed" {
		t.Fatalf("probe: served by %s, reason %q", res.Endpoint, res.Reason)
	}
	for _, key := range []string{primaryKey, secondaryKey} {
		if b, _ := json.Marshal(res); strings.Contains(res.Reason, key) || strings.Contains(string(b), key) {
			t.Fatal("a key leaked into the result")
		}
	}
}

// TestRetripKeepsPrimaryOutLonger: a primary that fails again right after
// recovering is kept out for twice as long (no flapping).
func TestRetripKeepsPrimaryOutLonger(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	p.primary.setAlways(down())
	for range 3 {
		p.classify(t, "Billing: x")
	}
	p.primary.setAlways(nil)
	p.clock.Advance(30 * time.Second)
	if res := p.classify(t, "Billing: x"); res.Endpoint != "primary" {
		t.Fatalf("probe served by %s", res.Endpoint)
	}
	p.primary.setAlways(down())
	for range 3 {
		p.classify(t, "Billing: x")
	}
	s := p.client.State()
	if got := s.Endpoints[0].NextProbe.Sub(s.Endpoints[0].OpenedAt); got != 60*time.Second {
		t.Fatalf("re-trip soon after recovery: open for %s, want 60s", got)
	}
}

func TestIntermittentErrorsStayOnPrimary(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	// Every fifth exchange fails: 20% errors, always fixed by a retry.
	var mu sync.Mutex
	n := 0
	p.primary.setAlways(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		n++
		fail := n%5 == 0
		mu.Unlock()
		return fail && status(503, "ServiceUnavailable", 0)(w, r)
	})
	for i := range 50 {
		if res := p.classify(t, "Outage: down"); res.Endpoint != "primary" {
			t.Fatalf("request %d served by %s", i, res.Endpoint)
		}
	}
	if s := p.client.State(); !s.OnPrimary || s.Failovers != 0 || s.Endpoints[0].Failed != 0 {
		t.Fatalf("state = %+v", s)
	}
	if posts, _ := p.secondary.counts(); posts != 0 {
		t.Fatalf("secondary got %d requests", posts)
	}
}

func TestTimeoutCountsAsFailure(t *testing.T) {
	t.Parallel()
	p := newPair(t, func(o *Options) { o.AttemptTimeout = 50 * time.Millisecond; o.MaxAttempts = 2 })
	p.primary.setAlways(hang())
	res := p.classify(t, "Billing: x")
	if res.Endpoint != "secondary" || !strings.Contains(res.Attempts[0].Error, "no answer within 50ms") {
		t.Fatalf("served by %s, attempts %+v", res.Endpoint, res.Attempts)
	}
}

func TestNotReplicatedToSecondary(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	p.primary.setAlways(down())
	p.secondary.projects = map[string]bool{"Other": true}
	_, err := p.client.Classify(context.Background(), "Tickets", "production", []string{"Billing: x"})
	var nr *NotReplicatedError
	if !errors.As(err, &nr) || nr.Endpoint != "secondary" || !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("err = %v, want unavailable with a NotReplicatedError from the secondary", err)
	}
	for _, want := range []string{"project Tickets / deployment production was never replicated to secondary", "ProjectNotFound", "primary: "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if s := p.client.State(); s.Endpoints[1].NotReplicated != 1 || s.Endpoints[1].Breaker != BreakerClosed {
		t.Errorf("secondary state = %+v (a 404 is not an outage)", s.Endpoints[1])
	}

	// The same when the job, not the submit, reports the missing deployment.
	p.secondary.projects = nil
	p.secondary.jobFail = &apiError{Code: "DeploymentNotFound", Message: "no such deployment"}
	_, err = p.client.Classify(context.Background(), "Tickets", "production", []string{"Billing: x"})
	if !errors.As(err, &nr) {
		t.Fatalf("job-level not found: err = %v", err)
	}
}

func TestRenamedReplica(t *testing.T) {
	t.Parallel()
	prim, sec := newFakeLang(t, primaryKey), newFakeLang(t, secondaryKey)
	c, err := New([]Endpoint{
		{Name: "primary", URL: prim.URL(), Key: primaryKey},
		{Name: "secondary", URL: sec.URL(), Key: secondaryKey, Projects: map[string]string{"Tickets": "TicketsDR"}},
	}, &Options{Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	prim.setAlways(down())
	res, err := c.Classify(context.Background(), "Tickets", "production", []string{"Billing: x"})
	if err != nil || res.Endpoint != "secondary" {
		t.Fatalf("%v %v", res, err)
	}
	if got := sec.bodies[0].Tasks[0].Parameters.ProjectName; got != "TicketsDR" {
		t.Fatalf("secondary asked for project %q, want TicketsDR", got)
	}
}

func TestForeignOperationLocationRefused(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	elsewhere := newFakeLang(t, "x")
	p.primary.opLoc = func(id string) string {
		return elsewhere.URL() + "/language/analyze-text/jobs/" + id + "?api-version=2023-04-01"
	}
	_, err := p.client.Classify(context.Background(), "Tickets", "production", []string{"Billing: x"})
	if !errors.Is(err, ErrForeignHost) {
		t.Fatalf("err = %v, want ErrForeignHost", err)
	}
	if posts, gets := elsewhere.counts(); posts+gets != 0 {
		t.Fatalf("%d requests reached the foreign host", posts+gets)
	}
	if posts, _ := p.secondary.counts(); posts != 0 {
		t.Fatalf("a refused URL made the client fail over")
	}
}

func TestAllEndpointsDown(t *testing.T) {
	t.Parallel()
	p := newPair(t, func(o *Options) { o.MaxAttempts = 1 })
	p.primary.setAlways(down())
	p.secondary.setAlways(down())
	for range 3 {
		if _, err := p.client.Classify(context.Background(), "Tickets", "production", []string{"x"}); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	}
	s := p.client.State()
	if s.Active != "" || !strings.Contains(s.Reason, "every endpoint is unavailable") {
		t.Fatalf("state = %+v", s)
	}
	// With every breaker open, a request still tries each endpoint once.
	p.secondary.setAlways(nil)
	res := p.classify(t, "Billing: x")
	if res.Endpoint != "secondary" || !strings.HasPrefix(res.Reason, "every endpoint's breaker was open, so each was tried once in order; primary failed: ") {
		t.Fatalf("served by %s, reason %q", res.Endpoint, res.Reason)
	}
	if s := p.client.State(); s.Active != "secondary" {
		t.Fatalf("active = %q after the secondary answered", s.Active)
	}
}

func TestConcurrentRequestsDuringFailoverLoseNothing(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		if i == 50 {
			p.primary.setAlways(down())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.client.Classify(context.Background(), "Tickets", "production", []string{"Billing: x"}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("lost request: %v", err)
	}
	if s := p.client.State(); s.Active != "secondary" {
		t.Errorf("active = %s after the primary went down", s.Active)
	}
}

func TestCallerCancelIsNotAFailure(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	p.primary.setAlways(func(w http.ResponseWriter, r *http.Request) bool {
		cancel()
		return hang()(w, r)
	})
	_, err := p.client.Classify(ctx, "Tickets", "production", []string{"x"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if s := p.client.State(); s.Endpoints[0].Failed != 0 {
		t.Fatalf("a cancelled request counted as a failure: %+v", s.Endpoints[0])
	}
	if posts, _ := p.secondary.counts(); posts != 0 {
		t.Fatal("a cancelled request went to the secondary")
	}
}

type fakeCred struct {
	mu    sync.Mutex
	calls int
	token string
}

func (f *fakeCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(o.Scopes) != 1 || o.Scopes[0] != "https://cognitiveservices.azure.com/.default" {
		return azcore.AccessToken{}, errors.New("wrong scope")
	}
	return azcore.AccessToken{Token: f.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestEntraToken(t *testing.T) {
	t.Parallel()
	srv := newFakeLang(t, "token-SECRET-abc")
	cred := &fakeCred{token: "token-SECRET-abc"}
	c, err := New([]Endpoint{{Name: "primary", URL: srv.URL(), Cred: cred}}, &Options{Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.Classify(context.Background(), "Tickets", "production", []string{"Billing: x"}); err != nil {
			t.Fatal(err)
		}
	}
	if cred.calls != 1 {
		t.Errorf("GetToken called %d times, want 1 (cached)", cred.calls)
	}
	if h := srv.headers[0]; h.Get("Authorization") != "Bearer token-SECRET-abc" || h.Get("Ocp-Apim-Subscription-Key") != "" {
		t.Errorf("headers = %v", h)
	}
}

// TestSecretsNeverLeak searches everything the client exposes for the keys.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	p.primary.setAlways(down())
	p.secondary.projects = map[string]bool{}
	var out strings.Builder
	for range 4 {
		_, err := p.client.Classify(context.Background(), "Tickets", "production", []string{"x"})
		out.WriteString(err.Error())
	}
	p.primary.setAlways(status(401, "401", 0))
	p.clock.Advance(time.Hour)
	if _, err := p.client.Classify(context.Background(), "Tickets", "production", []string{"x"}); err != nil {
		out.WriteString(err.Error())
	}
	st, _ := json.Marshal(p.client.State())
	out.Write(st)
	out.WriteString(p.logs.String())
	for _, k := range []string{primaryKey, secondaryKey} {
		if strings.Contains(out.String(), k) {
			t.Fatalf("key %q leaked into errors, state or logs", k)
		}
	}
	if !strings.Contains(out.String(), "never replicated") {
		t.Fatalf("the checked output is not what it should be:\n%s", out.String())
	}
}

func TestNewValidation(t *testing.T) {
	t.Parallel()
	ok := Endpoint{Name: "primary", URL: "https://a.cognitiveservices.azure.com", Key: "k"}
	tests := []struct {
		name string
		eps  []Endpoint
		opts *Options
		want string
	}{
		{"None", nil, nil, "no endpoints"},
		{"NoName", []Endpoint{{URL: ok.URL, Key: "k"}}, nil, "name is empty"},
		{"Duplicate", []Endpoint{ok, ok}, nil, "used twice"},
		{"PlainHTTP", []Endpoint{{Name: "p", URL: "http://a.cognitiveservices.azure.com", Key: "k"}}, nil, "plain http"},
		{"Path", []Endpoint{{Name: "p", URL: "https://a.example/language", Key: "k"}}, nil, "has a path"},
		{"NotURL", []Endpoint{{Name: "p", URL: "a.example", Key: "k"}}, nil, "not an endpoint URL"},
		{"NoCred", []Endpoint{{Name: "p", URL: ok.URL}}, nil, "no credential"},
		{"BothCreds", []Endpoint{{Name: "p", URL: ok.URL, Key: "k", Cred: &fakeCred{}}}, nil, "choose one"},
		{"BadKind", []Endpoint{ok}, &Options{Kind: "Sentiment"}, "unknown kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.eps, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := New([]Endpoint{ok, {Name: "local", URL: "http://127.0.0.1:7001/", Key: "k"}}, nil); err != nil {
		t.Fatalf("https + loopback http: %v", err)
	}
}
