package emulator_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// raw sends a request with the key and returns the status, or 0 when the
// connection was dropped.
func raw(t *testing.T, r *emulatortest.Resource, method, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, r.URL+path, bodyReader(t, body))
	req.Header.Set("Ocp-Apim-Subscription-Key", r.Key)
	// A fresh connection per request, so a dropped one does not poison the pool.
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil
	}
	return resp.StatusCode, resp.Header, b
}

func TestFaultRateLimit(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{Faults: emulator.Faults{RateLimit: true}})
	create := map[string]any{"projectKind": "CustomSingleLabelClassification", "storageInputContainerName": "docs", "language": "en"}
	for i := 0; i < 10; i++ {
		if code, _, b := raw(t, r, "PATCH", projects+"/P"+v23, create); code != 200 && code != 201 {
			t.Fatalf("write %d: %d %s", i, code, b)
		}
		r.Advance(time.Second)
	}
	code, h, b := raw(t, r, "PATCH", projects+"/P"+v23, create)
	if code != 429 {
		t.Fatalf("11th write in a minute: %d, want 429", code)
	}
	if c, _, msg := errorOf(t, b); c != "429" || !strings.Contains(msg, "retry after 50 seconds") {
		t.Fatalf("429 body %s", b)
	}
	if h.Get("Retry-After") != "50" {
		t.Fatalf("Retry-After %q, want 50 (the first write leaves the window then)", h.Get("Retry-After"))
	}
	// GETs have their own budget of 100.
	for i := 0; i < 100; i++ {
		if code, _, _ := raw(t, r, "GET", projects+"/P"+v23, nil); code != 200 {
			t.Fatalf("GET %d: %d", i, code)
		}
	}
	if code, _, _ := raw(t, r, "GET", projects+"/P"+v23, nil); code != 429 {
		t.Fatalf("101st GET: %d, want 429", code)
	}
	r.Advance(time.Minute)
	if code, _, _ := raw(t, r, "PATCH", projects+"/P"+v23, create); code != 200 {
		t.Fatalf("write after a minute: %d, want 200", code)
	}
	if n := r.Server.CountRequests("PATCH", "/P"); n != 12 {
		t.Fatalf("request log counts %d PATCHes, want 12", n)
	}
}

// TestFaultRateWindow: a scaled window frees its slots after its own span,
// not after a minute.
func TestFaultRateWindow(t *testing.T) {
	clock := emulator.NewFakeClock(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	r := emulatortest.Start(t, &emulator.Options{Clock: clock, Faults: emulator.Faults{RateLimit: true, PostPerMinute: 1, RateWindow: emulator.Duration(4 * time.Second)}})
	var got []int
	for _, step := range []time.Duration{0, 3 * time.Second, time.Second} {
		clock.Advance(step)
		code, _, _ := raw(t, r, "POST", projects+"/Nope/:train"+v23, map[string]any{})
		got = append(got, code)
	}
	if fmt.Sprint(got) != "[404 429 404]" {
		t.Fatalf("statuses %v, want the second POST refused within 4 s and the third let through after it", got)
	}
}

func TestFaultCustomLimits(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{Faults: emulator.Faults{RateLimit: true, PostPerMinute: 2, GetPerMinute: 3}})
	var got []int
	for i := 0; i < 3; i++ {
		code, _, _ := raw(t, r, "POST", projects+"/Nope/:train"+v23, map[string]any{})
		got = append(got, code)
	}
	for i := 0; i < 4; i++ {
		code, _, _ := raw(t, r, "GET", projects+v23, nil)
		got = append(got, code)
	}
	if fmt.Sprint(got) != "[404 404 429 200 200 200 429]" {
		t.Fatalf("statuses %v, want two POSTs and three GETs before 429s", got)
	}
}

func TestFaultThrottleRatio(t *testing.T) {
	seq := func() string {
		r := emulatortest.Start(t, &emulator.Options{Faults: emulator.Faults{ThrottleRatio: 0.5, RetryAfter: 7, Seed: 42}})
		var s strings.Builder
		for i := 0; i < 60; i++ {
			code, h, _ := raw(t, r, "GET", projects+v23, nil)
			switch code {
			case 429:
				if h.Get("Retry-After") != "7" {
					t.Fatalf("Retry-After %q, want 7", h.Get("Retry-After"))
				}
				s.WriteByte('T')
			case 200:
				s.WriteByte('.')
			default:
				t.Fatalf("status %d", code)
			}
		}
		return s.String()
	}
	a, b := seq(), seq()
	if a != b {
		t.Fatalf("same seed, different faults:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "T"); n < 15 || n > 45 {
		t.Fatalf("%d of 60 throttled at ratio 0.5: %s", n, a)
	}
}

func TestFaultServerErrors(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{Faults: emulator.Faults{ErrorRatio: 1, ErrorStatus: 503}})
	code, _, b := raw(t, r, "GET", projects+v23, nil)
	if c, _, _ := errorOf(t, b); code != 503 || c != "ServiceUnavailable" {
		t.Fatalf("got %d %s, want 503 ServiceUnavailable", code, b)
	}
	if err := r.Server.SetFaults(emulator.Faults{ErrorRatio: 1}); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for i := 0; i < 40; i++ {
		code, _, b := raw(t, r, "GET", projects+v23, nil)
		c, _, _ := errorOf(t, b)
		if (code == 500) != (c == "InternalServerError") || (code == 503) != (c == "ServiceUnavailable") {
			t.Fatalf("%d with code %s", code, c)
		}
		seen[code] = true
	}
	if !seen[500] || !seen[503] || len(seen) != 2 {
		t.Fatalf("statuses %v, want both 500 and 503", seen)
	}
}

func TestFaultLatency(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{Faults: emulator.Faults{Latency: emulator.Duration(80 * time.Millisecond)}})
	start := time.Now()
	if code, _, _ := raw(t, r, "GET", projects+v23, nil); code != 200 {
		t.Fatalf("status %d", code)
	}
	if el := time.Since(start); el < 80*time.Millisecond {
		t.Fatalf("answered in %v, want at least the 80ms latency", el)
	}
}

func TestFaultDroppedConnections(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{Faults: emulator.Faults{DropRatio: 1}})
	if code, _, _ := raw(t, r, "GET", projects+v23, nil); code != 0 {
		t.Fatalf("got status %d, want a dropped connection", code)
	}
	reqs := r.Server.Requests()
	if len(reqs) != 1 || reqs[0].Status != 0 || reqs[0].Path != projects {
		t.Fatalf("request log %+v, want one dropped request", reqs)
	}
}

func TestFaultFailingJobs(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{Faults: emulator.Faults{JobFailureRatio: 1}})
	p := emulatortest.SingleLabelProject("P", "docs", 3)
	r.WriteDocs(p.Container, p.Docs)
	st := r.Wait(r.Start202("POST", projects+"/P/:import"+v23, p.Export), time.Second)
	if st["status"] != "failed" || !strings.Contains(string(mustJSON(t, st["errors"])), "InternalServerError") {
		t.Fatalf("job %v, want failed with an InternalServerError", st)
	}
	if code, _, _ := r.Do("GET", projects+"/P"+v23, nil); code != 404 {
		t.Fatalf("a failed import created the project (%d)", code)
	}
}

// TestFaultRegionDown: every request is refused until the admin endpoint
// brings the region back; the admin endpoint needs no key.
func TestFaultRegionDown(t *testing.T) {
	r := emulatortest.Start(t, nil)
	admin := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, r.URL+path, strings.NewReader(body))
		code, _, b := send(t, req)
		return code, b
	}
	if code, b := admin("POST", "/emulator/faults", `{"down":true}`); code != 200 {
		t.Fatalf("POST /emulator/faults: %d %s", code, b)
	}
	for _, p := range []string{projects + v23, "/language/analyze-text/jobs/x" + v23, "/anything"} {
		if code, _, _ := raw(t, r, "GET", p, nil); code != 0 {
			t.Fatalf("GET %s while down: %d, want a refused connection", p, code)
		}
	}
	if code, _ := admin("POST", "/emulator/faults", `{"down":true,"downStatus":503}`); code != 200 {
		t.Fatal("switching to 503 failed")
	}
	if code, _, _ := raw(t, r, "GET", projects+v23, nil); code != 503 {
		t.Fatalf("down with 503: %d", code)
	}
	if code, b := admin("POST", "/emulator/faults", `{"dwon":true}`); code != 400 {
		t.Fatalf("a misspelt fault was accepted: %d %s", code, b)
	}
	if code, b := admin("POST", "/emulator/faults", `{"errorRatio":3}`); code != 400 {
		t.Fatalf("a bad ratio was accepted: %d %s", code, b)
	}
	if code, _ := admin("POST", "/emulator/faults", `{}`); code != 200 {
		t.Fatal("clearing faults failed")
	}
	if code, _, _ := raw(t, r, "GET", projects+v23, nil); code != 200 {
		t.Fatalf("back up: %d", code)
	}
	_, b := admin("GET", "/emulator/faults", "")
	if string(b) != "{}" {
		t.Fatalf("GET /emulator/faults = %s, want {}", b)
	}
}

// TestAdminRequestsAndClock: the request list has method, path, status and
// time, never a key or a query; DELETE empties it; the clock moves.
func TestAdminRequestsAndClock(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := emulatortest.Start(t, &emulator.Options{Logger: logger})
	raw(t, r, "GET", projects+v23+"&top=1", nil)
	req, _ := http.NewRequest("GET", r.URL+projects+v23, nil)
	req.Header.Set("Ocp-Apim-Subscription-Key", "wrong-secret-key")
	send(t, req)
	get, _ := http.NewRequest("GET", r.URL+"/emulator/requests", nil)
	code, _, b := send(t, get)
	if code != 200 {
		t.Fatalf("GET /emulator/requests: %d", code)
	}
	var list struct {
		Value []emulator.Request `json:"value"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Value) != 2 || list.Value[0].Status != 200 || list.Value[1].Status != 401 || list.Value[0].Method != "GET" ||
		list.Value[0].Path != projects || !list.Value[0].Time.Equal(emulatortest.Epoch) {
		t.Fatalf("requests %s", b)
	}
	mu.Lock()
	logged := logs.String()
	mu.Unlock()
	if !strings.Contains(logged, "status=401") {
		t.Fatalf("debug log lacks the requests: %s", logged)
	}
	for _, secret := range []string{r.Key, "wrong-secret-key", "api-version", "top="} {
		if strings.Contains(string(b), secret) || strings.Contains(logged, secret) {
			t.Fatalf("request list or log shows %q: %s %s", secret, b, logged)
		}
	}
	del, _ := http.NewRequest("DELETE", r.URL+"/emulator/requests", nil)
	if code, _, _ := send(t, del); code != 204 {
		t.Fatalf("DELETE /emulator/requests: %d", code)
	}
	if n := len(r.Server.Requests()); n != 0 {
		t.Fatalf("%d requests after reset", n)
	}
	adv, _ := http.NewRequest("POST", r.URL+"/emulator/clock", strings.NewReader(`{"advance":"90s"}`))
	if code, _, b := send(t, adv); code != 200 || !strings.Contains(string(b), "09:01:30") {
		t.Fatalf("POST /emulator/clock: %d %s", code, b)
	}
	if got := r.Clock.Now(); !got.Equal(emulatortest.Epoch.Add(90 * time.Second)) {
		t.Fatalf("clock at %v", got)
	}
}

func TestParseFaults(t *testing.T) {
	f, err := emulator.ParseFaults("ratelimit,throttle=0.25,retryafter=3,errors=0.1,status=503,latency=20ms,drop=0.05,jobfail=0.5,docfail=0.2,down,seed=9,post=5,get=50,window=4s")
	if err != nil {
		t.Fatal(err)
	}
	want := emulator.Faults{RateLimit: true, ThrottleRatio: 0.25, RetryAfter: 3, ErrorRatio: 0.1, ErrorStatus: 503, Latency: emulator.Duration(20 * time.Millisecond),
		DropRatio: 0.05, JobFailureRatio: 0.5, DocumentFailureRatio: 0.2, Down: true, Seed: 9, PostPerMinute: 5, GetPerMinute: 50, RateWindow: emulator.Duration(4 * time.Second)}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got %+v\nwant %+v", f, want)
	}
	for _, bad := range []string{"explode", "throttle=x", "errors=1.5", "status=404", "docfail=2"} {
		if _, err := emulator.ParseFaults(bad); err == nil {
			t.Errorf("ParseFaults(%q) accepted", bad)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBearerTokens: an Entra token given in Options.Tokens is accepted; any
// other gets the gateway's 401.
func TestBearerTokens(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{Tokens: []string{"good-token"}, ForbiddenTokens: []string{"no-role"}})
	for tok, want := range map[string]int{"good-token": 200, "bad-token": 401, "no-role": 403} {
		req, _ := http.NewRequest("GET", r.URL+projects+v23, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		code, _, b := send(t, req)
		if code != want {
			t.Fatalf("token %s: %d %s, want %d", tok, code, b, want)
		}
		if want == 403 && !strings.Contains(string(b), `"code":"Forbidden"`) {
			t.Fatalf("403 body %s", b)
		}
	}
}

// TestProjectQuota: the 501st project is refused with 403 QuotaExceeded.
func TestProjectQuota(t *testing.T) {
	r := emulatortest.Start(t, nil)
	body := map[string]any{"projectKind": "CustomSingleLabelClassification", "storageInputContainerName": "docs", "language": "en"}
	for i := 0; i < 500; i++ {
		if code, _, b := r.Do("PATCH", fmt.Sprintf("%s/P%03d%s", projects, i, v23), body); code != 201 {
			t.Fatalf("project %d: %d %s", i, code, b)
		}
	}
	code, _, b := r.Do("PATCH", projects+"/OneTooMany"+v23, body)
	if c, _, _ := errorOf(t, b); code != 403 || c != "QuotaExceeded" {
		t.Fatalf("501st project: %d %s", code, b)
	}
}
