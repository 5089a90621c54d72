package customhandler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/customhandler"
	"github.com/langsync/langsync/shared/customhandler/customhandlertest"
	"github.com/langsync/langsync/shared/entry/entrytest"
	"github.com/langsync/langsync/shared/langsync"
)

var testNow = time.Date(2026, 12, 1, 2, 30, 5, 0, time.UTC)

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	h      *customhandler.Handler
	p      *entrytest.Pipeline
	sender *customhandlertest.Sender
	keeper *entrytest.Keeper
	logs   *syncBuffer
}

func newFixture(t *testing.T, p *entrytest.Pipeline) *fixture {
	t.Helper()
	if p == nil {
		p = &entrytest.Pipeline{}
	}
	f := &fixture{p: p, sender: &customhandlertest.Sender{}, keeper: &entrytest.Keeper{}, logs: &syncBuffer{}}
	h, err := customhandler.New(customhandler.Options{
		Runs: p, Starts: p, Status: p, Wakes: f.sender, Failed: f.keeper,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
		Now:    func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// invoke posts body to /<function> as the host does and decodes the answer.
func (f *fixture) invoke(t *testing.T, function string, body []byte) (int, customhandler.InvokeResponse) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/"+function, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Azure-Functions-InvocationId", "9e2b6a4c-1d3f-4e5a-8b7c-6d5e4f3a2b1c")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	var resp customhandler.InvokeResponse
	if rec.Code/100 == 2 {
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("Content-Type=%q, want application/json (the host rejects other media types)", ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("response is not an InvokeResponse: %v: %s", err, rec.Body)
		}
	}
	return rec.Code, resp
}

func TestProtocolPayloads(t *testing.T) {
	tests := []struct {
		file, function string
		check          func(t *testing.T, f *fixture, resp customhandler.InvokeResponse)
	}{
		{"timer.json", "sync", func(t *testing.T, f *fixture, _ customhandler.InvokeResponse) {
			c := f.p.CallsOf("Sync")
			if len(c) != 1 {
				t.Fatalf("Sync calls=%d, want 1", len(c))
			}
			want := langsync.Tick{
				Scheduled: time.Date(2026, 12, 1, 2, 30, 0, 0, time.UTC),
				Last:      time.Date(2026, 11, 30, 2, 30, 0, 9603500, time.UTC),
			}
			if !c[0].Tick.Scheduled.Equal(want.Scheduled) || !c[0].Tick.Last.Equal(want.Last) || c[0].Tick.PastDue {
				t.Fatalf("tick=%+v, want %+v", c[0].Tick, want)
			}
		}},
		{"timer-nomonitor.json", "sync", func(t *testing.T, f *fixture, _ customhandler.InvokeResponse) {
			c := f.p.CallsOf("Sync")
			if len(c) != 1 || !c[0].Tick.PastDue || !c[0].Tick.Scheduled.Equal(testNow) {
				t.Fatalf("calls=%+v, want one past-due tick scheduled now", c)
			}
		}},
		{"servicebus-string.json", "train", checkAdvance(langsync.Wakeup{V: 1, Run: "r-20261201-0230", Step: "train", Seq: 7})},
		{"servicebus-binary.json", "train", checkAdvance(langsync.Wakeup{V: 1, Run: "r-20261201-0230", Step: "train", Seq: 7})},
		{"servicebus-replicate.json", "export", func(t *testing.T, f *fixture, _ customhandler.InvokeResponse) {
			c := f.p.CallsOf("Replicate")
			if len(c) != 1 || c[0].Replicate.Project != "Tickets" || strings.Join(c[0].Replicate.Targets, ",") != "secondary" {
				t.Fatalf("calls=%+v, want Replicate Tickets -> secondary", f.p.Calls())
			}
		}},
		{"servicebus-restore.json", "import", func(t *testing.T, f *fixture, _ customhandler.InvokeResponse) {
			c := f.p.CallsOf("Restore")
			want := langsync.RestoreRequest{Backup: "primary/Tickets/20261120T020000Z-0123456789ab.tar.gz", Target: "secondary", As: "TicketsRestored"}
			if len(c) != 1 || fmt.Sprint(c[0].Restore) != fmt.Sprint(want) {
				t.Fatalf("calls=%+v, want Restore %+v", f.p.Calls(), want)
			}
		}},
		{"blob.json", "restore", func(t *testing.T, f *fixture, _ customhandler.InvokeResponse) {
			c := f.p.CallsOf("Restore")
			if len(c) != 1 || c[0].Restore.Drop != "restore/myProject-20261201.tar.gz" || c[0].Restore.Target != "" {
				t.Fatalf("calls=%+v, want Restore of the dropped blob", f.p.Calls())
			}
		}},
		{"http.json", "status", func(t *testing.T, f *fixture, resp customhandler.InvokeResponse) {
			c := f.p.CallsOf("Status")
			if len(c) != 1 || c[0].Status.Pair != "primary" || c[0].Status.Query["verbose"] != "1" {
				t.Fatalf("calls=%+v, want Status pair=primary verbose=1", f.p.Calls())
			}
			res := httpOutput(t, resp)
			if res.StatusCode != 200 || res.Headers["Content-Type"] != "application/json" || res.Body != `{"pairs":[]}` {
				t.Fatalf("res=%+v, want 200 JSON {\"pairs\":[]}", res)
			}
		}},
		{"http-oldquery.json", "status", func(t *testing.T, f *fixture, resp customhandler.InvokeResponse) {
			c := f.p.CallsOf("Status")
			if len(c) != 1 || c[0].Status.Pair != "" {
				t.Fatalf("calls=%+v, want one Status for every pair", f.p.Calls())
			}
			if res := httpOutput(t, resp); res.StatusCode != 200 {
				t.Fatalf("status=%d, want 200", res.StatusCode)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := newFixture(t, nil)
			code, resp := f.invoke(t, tt.function, readTestdata(t, tt.file))
			if code != http.StatusOK {
				t.Fatalf("code=%d, want 200", code)
			}
			if resp.Outputs == nil || resp.Logs == nil {
				t.Fatalf("response %+v lacks Outputs or Logs", resp)
			}
			if keys := f.keeper.Keys(); len(keys) != 0 {
				t.Fatalf("kept %v for a valid input", keys)
			}
			tt.check(t, f, resp)
		})
	}
}

func checkAdvance(want langsync.Wakeup) func(*testing.T, *fixture, customhandler.InvokeResponse) {
	return func(t *testing.T, f *fixture, _ customhandler.InvokeResponse) {
		t.Helper()
		c := f.p.CallsOf("Advance")
		if len(c) != 1 || c[0].Wakeup != want {
			t.Fatalf("calls=%+v, want Advance %+v", f.p.Calls(), want)
		}
	}
}

func httpOutput(t *testing.T, resp customhandler.InvokeResponse) customhandler.HTTPResponse {
	t.Helper()
	b, err := json.Marshal(resp.Outputs["res"])
	if err != nil {
		t.Fatal(err)
	}
	var res customhandler.HTTPResponse
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("Outputs.res %s: %v", b, err)
	}
	return res
}

// TestMalformedMessageIsKeptNotRetried: a message that can never be
// processed answers 2xx (so the host completes it), is kept under failed/,
// marks its run failed when it names one, and reaches no pipeline step.
func TestMalformedMessageIsKeptNotRetried(t *testing.T) {
	tests := []struct {
		file, function string
		wantRun        string
		wantReason     string
	}{
		{"servicebus-malformed.json", "export", "", "not a JSON object"},
		{"servicebus-unknown-version.json", "deploy", "r-20261201-0230", "schema version 2 is unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := newFixture(t, nil)
			code, resp := f.invoke(t, tt.function, readTestdata(t, tt.file))
			if code != http.StatusOK {
				t.Fatalf("code=%d, want 200 (a retry cannot help)", code)
			}
			if n := len(f.p.CallsOf("Advance")) + len(f.p.CallsOf("Replicate")); n != 0 {
				t.Fatalf("pipeline was called %d times for a malformed message", n)
			}
			keys := f.keeper.Keys()
			if len(keys) != 1 || !strings.HasPrefix(keys[0], "failed/20261201T023005Z-") || !strings.HasSuffix(keys[0], ".json") {
				t.Fatalf("kept %v, want one failed/<time>-<id>.json", keys)
			}
			doc, _ := f.keeper.Doc(keys[0])
			if !strings.Contains(doc.Reason, tt.wantReason) || doc.Function != tt.function || doc.DeliveryCount != 1 {
				t.Fatalf("kept doc %+v, want reason containing %q", doc, tt.wantReason)
			}
			if len(doc.Body) == 0 && doc.BodyText == "" {
				t.Fatalf("kept doc %+v does not keep the input", doc)
			}
			fails := f.p.CallsOf("Fail")
			if tt.wantRun == "" && len(fails) != 0 {
				t.Fatalf("Fail called %+v for a message without a run", fails)
			}
			if tt.wantRun != "" && (len(fails) != 1 || fails[0].Run != tt.wantRun || !doc.RunMarked) {
				t.Fatalf("Fail calls %+v (doc.RunMarked=%v), want run %s marked failed", fails, doc.RunMarked, tt.wantRun)
			}
			if len(resp.Logs) == 0 || !strings.Contains(resp.Logs[0], "kept as failed/") {
				t.Fatalf("Logs=%q, want a line naming the kept blob", resp.Logs)
			}
			if len(f.sender.Sent()) != 0 {
				t.Fatalf("sent %+v for a malformed message", f.sender.Sent())
			}
		})
	}
}

// permanentErr is how a pipeline marks an error a retry cannot cure.
type permanentErr struct{ msg string }

func (e permanentErr) Error() string   { return e.msg }
func (e permanentErr) Permanent() bool { return true }

func TestPipelineErrors(t *testing.T) {
	transient := errors.New("authoring: GET https://primary/...: connection reset")
	tests := []struct {
		name          string
		err           error
		deliveryCount string
		wantCode      int
		wantKept      bool
		wantFail      bool
	}{
		{"TransientRetries", transient, "1", 500, false, false},
		{"TransientOnLastDeliveryKept", transient, "10", 200, true, false},
		{"PermanentFailsRun", fmt.Errorf("pipeline: run r-20261201-0230: %w", permanentErr{"backup is corrupt"}), "1", 200, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, &entrytest.Pipeline{
				OnAdvance: func(context.Context, langsync.Wakeup) ([]langsync.Wake, error) { return nil, tt.err },
			})
			body := bytes.Replace(readTestdata(t, "servicebus-binary.json"), []byte(`"DeliveryCount": "1"`), []byte(`"DeliveryCount": "`+tt.deliveryCount+`"`), 1)
			code, _ := f.invoke(t, "train", body)
			if code != tt.wantCode {
				t.Fatalf("code=%d, want %d", code, tt.wantCode)
			}
			if got := len(f.keeper.Keys()) == 1; got != tt.wantKept {
				t.Fatalf("kept=%v (%v), want %v", got, f.keeper.Keys(), tt.wantKept)
			}
			if got := len(f.p.CallsOf("Fail")) == 1; got != tt.wantFail {
				t.Fatalf("run marked failed=%v, want %v", got, tt.wantFail)
			}
		})
	}
}

func TestWakesAreSentOrScheduled(t *testing.T) {
	later := testNow.Add(5 * time.Minute)
	f := newFixture(t, &entrytest.Pipeline{
		OnAdvance: func(_ context.Context, w langsync.Wakeup) ([]langsync.Wake, error) {
			return []langsync.Wake{
				{Wakeup: langsync.Wakeup{Run: w.Run, Step: "train", Seq: 8}, Project: "Tickets", At: later},
				{Wakeup: langsync.Wakeup{Run: "r-2", Step: "verify", Seq: 3}, Project: "Other"},
			}, nil
		},
	})
	if code, _ := f.invoke(t, "train", readTestdata(t, "servicebus-binary.json")); code != 200 {
		t.Fatalf("code=%d, want 200", code)
	}
	want := []customhandlertest.Sent{
		{Queue: "langsync-train", Body: []byte(`{"v":1,"run":"r-20261201-0230","step":"train","seq":8}`), MessageID: "r-20261201-0230/train/8", At: later},
		{Queue: "langsync-deploy", Body: []byte(`{"v":1,"run":"r-2","step":"verify","seq":3}`), MessageID: "r-2/verify/3"},
	}
	got := f.sender.Sent()
	if fmt.Sprintf("%s", got) != fmt.Sprintf("%s", want) {
		t.Fatalf("sent\n%s\nwant\n%s", got, want)
	}
	// Logs carry run, project and step.
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "wake-up scheduled" && m["run"] == "r-20261201-0230" && m["project"] == "Tickets" && m["step"] == "train" && m["function"] == "train" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no wake-up log line with run, project, step:\n%s", f.logs)
	}
}

func TestRetryWhereItHelps(t *testing.T) {
	t.Run("SendFails", func(t *testing.T) {
		f := newFixture(t, &entrytest.Pipeline{
			OnAdvance: func(context.Context, langsync.Wakeup) ([]langsync.Wake, error) {
				return []langsync.Wake{{Wakeup: langsync.Wakeup{Run: "r", Step: "deploy", Seq: 2}}}, nil
			},
		})
		f.sender.Err = errors.New("amqp: link detached")
		if code, _ := f.invoke(t, "train", readTestdata(t, "servicebus-binary.json")); code != 500 {
			t.Fatalf("code=%d, want 500", code)
		}
	})
	t.Run("KeepFails", func(t *testing.T) {
		f := newFixture(t, nil)
		f.keeper.Err = errors.New("blobstore: 503")
		if code, _ := f.invoke(t, "export", readTestdata(t, "servicebus-malformed.json")); code != 500 {
			t.Fatalf("code=%d, want 500 (a retry may reach storage)", code)
		}
	})
	t.Run("SyncFails", func(t *testing.T) {
		f := newFixture(t, &entrytest.Pipeline{
			OnSync: func(context.Context, langsync.Tick) ([]langsync.Wake, error) {
				return nil, errors.New("timeout")
			},
		})
		if code, _ := f.invoke(t, "sync", readTestdata(t, "timer.json")); code != 500 {
			t.Fatalf("code=%d, want 500 (the timer retry policy re-runs it)", code)
		}
	})
	t.Run("Panic", func(t *testing.T) {
		f := newFixture(t, &entrytest.Pipeline{
			OnReplicate: func(context.Context, langsync.ReplicateRequest) ([]langsync.Wake, error) { panic("boom") },
		})
		if code, _ := f.invoke(t, "export", readTestdata(t, "servicebus-replicate.json")); code != 500 {
			t.Fatalf("code=%d, want 500", code)
		}
	})
}

func TestNotAnEnvelope(t *testing.T) {
	f := newFixture(t, nil)
	code, _ := f.invoke(t, "export", []byte(`<html>`))
	if code != 200 || len(f.keeper.Keys()) != 1 {
		t.Fatalf("code=%d kept=%v, want 200 and the input kept", code, f.keeper.Keys())
	}
	if doc, _ := f.keeper.Doc(f.keeper.Keys()[0]); doc.Invocation != "<html>" {
		t.Fatalf("kept %+v, want the raw invocation", doc)
	}
	// An HTTP invocation may carry a function key: only the reason is kept.
	f = newFixture(t, nil)
	code, resp := f.invoke(t, "status", []byte(`{"x-functions-key": "FK-SECRET"`))
	if code != 200 || httpOutput(t, resp).StatusCode != 400 {
		t.Fatalf("code=%d resp=%+v, want 200 with a 400 answer", code, resp)
	}
	if strings.Contains(f.keeper.Raw(), "FK-SECRET") {
		t.Fatalf("kept the function key: %s", f.keeper.Raw())
	}
}

func TestTooLargeInvocationIsKept(t *testing.T) {
	p := &entrytest.Pipeline{}
	keeper := &entrytest.Keeper{}
	h, err := customhandler.New(customhandler.Options{
		Runs: p, Starts: p, Status: p, Wakes: &customhandlertest.Sender{}, Failed: keeper,
		Logger: slog.New(slog.DiscardHandler), MaxBody: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/restore", bytes.NewReader(readTestdata(t, "blob.json"))))
	if rec.Code != 200 || len(keeper.Keys()) != 1 || len(p.Calls()) != 0 {
		t.Fatalf("code=%d kept=%v calls=%v, want 200, kept, no pipeline call", rec.Code, keeper.Keys(), p.Calls())
	}
	if doc, _ := keeper.Doc(keeper.Keys()[0]); !strings.Contains(doc.Reason, "larger than 100 bytes") {
		t.Fatalf("reason %q", doc.Reason)
	}
}

func TestStatusAnswers(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		method   string
		wantCode int
	}{
		{"NotFound", fmt.Errorf("pipeline: pair %q: %w", "nope", fs.ErrNotExist), "GET", 404},
		{"Invalid", permanentErr{"bad query"}, "GET", 400},
		{"Broken", errors.New("blobstore: 503"), "GET", 500},
		{"WrongMethod", nil, "POST", 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, &entrytest.Pipeline{
				OnStatus: func(context.Context, langsync.StatusRequest) (any, error) { return nil, tt.err },
			})
			body := bytes.Replace(readTestdata(t, "http.json"), []byte(`"Method": "GET"`), []byte(`"Method": "`+tt.method+`"`), 1)
			code, resp := f.invoke(t, "status", body)
			if code != 200 {
				t.Fatalf("invocation code=%d, want 200 (the answer is in Outputs.res)", code)
			}
			res := httpOutput(t, resp)
			if res.StatusCode != tt.wantCode {
				t.Fatalf("res.statusCode=%d, want %d (%s)", res.StatusCode, tt.wantCode, res.Body)
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(res.Body), &m); err != nil || m["error"] == "" {
				t.Fatalf("body %q is not a JSON error", res.Body)
			}
		})
	}
}

// TestFunctionKeyNeverLogged: the status request carries x-functions-key;
// it must not reach logs, responses or kept inputs.
func TestFunctionKeyNeverLogged(t *testing.T) {
	const key = "FUNCTION-KEY-SECRET-0123456789"
	f := newFixture(t, nil)
	body := readTestdata(t, "http.json")
	if !bytes.Contains(body, []byte(key)) {
		t.Fatal("testdata lost its key")
	}
	_, resp := f.invoke(t, "status", body)
	out, _ := json.Marshal(resp)
	for what, s := range map[string]string{"logs": f.logs.String(), "response": string(out), "kept": f.keeper.Raw()} {
		if strings.Contains(s, key) {
			t.Fatalf("function key leaked into %s: %s", what, s)
		}
	}
}

func TestReadinessAndUnknownRoutes(t *testing.T) {
	f := newFixture(t, nil)
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", 200},
		{"POST", "/nope", 404},
		{"GET", "/sync", 405},
	} {
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.want)
		}
	}
}

func TestNewRequiresEntryPoints(t *testing.T) {
	_, err := customhandler.New(customhandler.Options{})
	if err == nil || !strings.Contains(err.Error(), "Runs, Starts, Status, Wakes, Failed") {
		t.Fatalf("err=%v, want the missing options named", err)
	}
}
