package authoring

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// testKey is the subscription key used by every test; no error or log line
// may contain it.
const testKey = "k3y-5ecret-0123456789abcdef"

// example is one spec example file (autorest x-ms-examples format).
type example struct {
	Parameters map[string]json.RawMessage `json:"parameters"`
	Responses  map[string]struct {
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"responses"`
}

func loadExample(tb testing.TB, name string) example {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	var ex example
	if err := json.Unmarshal(b, &ex); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return ex
}

// param returns a string parameter of the example.
func (ex example) param(tb testing.TB, name string) string {
	tb.Helper()
	raw, ok := ex.Parameters[name]
	if !ok {
		tb.Fatalf("example has no parameter %q", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(raw) // a number such as maxpagesize
	}
	return s
}

// jsonEqual compares two JSON documents semantically (numbers exactly).
func jsonEqual(tb testing.TB, got, want []byte) bool {
	tb.Helper()
	var g, w any
	dg := json.NewDecoder(bytes.NewReader(got))
	dg.UseNumber()
	if err := dg.Decode(&g); err != nil {
		tb.Fatalf("got is not JSON: %v: %s", err, got)
	}
	dw := json.NewDecoder(bytes.NewReader(want))
	dw.UseNumber()
	if err := dw.Decode(&w); err != nil {
		tb.Fatalf("want is not JSON: %v: %s", err, want)
	}
	return reflect.DeepEqual(normalizeNumbers(g), normalizeNumbers(w))
}

// normalizeNumbers makes 1.0 and 1 compare equal (Go re-encodes 1.0 as 1).
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
	}
	return v
}

// seen is one request a test server received.
type seen struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// recorder records the requests a test server receives.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (r *recorder) add(req *http.Request) seen {
	body, _ := io.ReadAll(req.Body)
	s := seen{Method: req.Method, Path: req.URL.Path, RawQuery: req.URL.RawQuery, Header: req.Header.Clone(), Body: body}
	r.mu.Lock()
	r.reqs = append(r.reqs, s)
	r.mu.Unlock()
	return s
}

func (r *recorder) all() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.reqs...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// fakeClock is a budget clock whose Sleep advances time at once and records
// the requested durations.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t time.Duration
	for _, d := range c.sleeps {
		t += d
	}
	return t
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testEnv is a client wired for tests: fast retries, a budget on a fake
// clock, debug logs captured.
type testEnv struct {
	client *Client
	clock  *fakeClock
	logs   *logBuffer
}

func newTestClient(tb testing.TB, endpoint string, mod func(*ClientOptions)) *testEnv {
	tb.Helper()
	return newTestClientKey(tb, endpoint, testKey, mod)
}

func newTestClientKey(tb testing.TB, endpoint, key string, mod func(*ClientOptions)) *testEnv {
	tb.Helper()
	clock := newFakeClock()
	logs := &logBuffer{}
	opts := &ClientOptions{
		Retry:           RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond, TryTimeout: 5 * time.Second},
		Budget:          NewRateBudget(BudgetOptions{Now: clock.Now, Sleep: clock.Sleep}),
		Logger:          slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MinPollInterval: time.Millisecond,
	}
	if mod != nil {
		mod(opts)
	}
	c, err := NewKeyClient(endpoint, langsync.Secret(key), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return &testEnv{client: c, clock: clock, logs: logs}
}

// noKey fails the test when s contains the test key.
func noKey(tb testing.TB, what, s string) {
	tb.Helper()
	if strings.Contains(s, testKey) {
		tb.Fatalf("%s contains the key: %s", what, s)
	}
}

// newServer starts an httptest server closed at the end of the test.
func newServer(tb testing.TB, h http.HandlerFunc) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	switch b := v.(type) {
	case []byte:
		w.Write(b)
	case string:
		io.WriteString(w, b)
	default:
		json.NewEncoder(w).Encode(v)
	}
}
