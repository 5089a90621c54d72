package lambdahandler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/langsync/langsync/shared/entry/entrytest"
	"github.com/langsync/langsync/shared/lambdahandler"
	"github.com/langsync/langsync/shared/langsync"
)

var now = time.Date(2026, 12, 1, 2, 30, 0, 0, time.UTC)

func event(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type fixture struct {
	h      *lambdahandler.Handler
	p      *entrytest.Pipeline
	keeper *entrytest.Keeper
	logs   interface {
		io.Writer
		String() string
	}
}

func newFixture(t *testing.T, p *entrytest.Pipeline) *fixture {
	t.Helper()
	if p == nil {
		p = &entrytest.Pipeline{}
	}
	f := &fixture{p: p, keeper: &entrytest.Keeper{}, logs: &bytes.Buffer{}}
	h, err := lambdahandler.New(lambdahandler.Options{
		Runs: p, Starts: p, Status: p, Failed: f.keeper, URLKey: "url-key-1",
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
		Now:    func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

func lambdaCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	t.Cleanup(cancel)
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
}

func TestEvents(t *testing.T) {
	tests := []struct {
		file   string
		method string // pipeline method expected
		check  func(t *testing.T, c entrytest.Call, out []byte)
	}{
		{"eventbridge-scheduled.json", "Sync", func(t *testing.T, c entrytest.Call, out []byte) {
			if !c.Tick.Scheduled.Equal(time.Date(2016, 12, 30, 18, 44, 49, 0, time.UTC)) || !c.Tick.PastDue {
				t.Fatalf("tick %+v, want the event time, past due", c.Tick)
			}
			wantJSON(t, out, `{"kind":"sync","advanced":0}`)
		}},
		{"scheduler-sync.json", "Sync", func(t *testing.T, c entrytest.Call, _ []byte) {
			if !c.Tick.Scheduled.Equal(now) {
				t.Fatalf("tick %+v, want now", c.Tick)
			}
		}},
		{"direct-replicate.json", "Replicate", func(t *testing.T, c entrytest.Call, out []byte) {
			if c.Replicate.Project != "Tickets" {
				t.Fatalf("replicate %+v", c.Replicate)
			}
			wantJSON(t, out, `{"kind":"replicate","advanced":0}`)
		}},
		{"direct-restore.json", "Restore", func(t *testing.T, c entrytest.Call, _ []byte) {
			if c.Restore.Project != "Tickets" || c.Restore.As != "TicketsOld" || !c.Restore.At.Equal(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("restore %+v", c.Restore)
			}
		}},
		{"direct-wakeup.json", "Advance", func(t *testing.T, c entrytest.Call, out []byte) {
			if c.Wakeup != (langsync.Wakeup{V: 1, Run: "r-1", Step: "train", Seq: 3}) {
				t.Fatalf("wakeup %+v", c.Wakeup)
			}
			wantJSON(t, out, `{"kind":"wakeup","advanced":1}`)
		}},
		{"direct-status.json", "Status", func(t *testing.T, c entrytest.Call, out []byte) {
			if c.Status.Pair != "primary" {
				t.Fatalf("status %+v", c.Status)
			}
			wantJSON(t, out, `{"kind":"status","advanced":0,"report":{"pairs":[]}}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := newFixture(t, nil)
			out, err := f.h.Invoke(lambdaCtx(t), event(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			calls := f.p.Calls()
			if len(calls) != 1 || calls[0].Method != tt.method {
				t.Fatalf("calls %+v, want one %s", calls, tt.method)
			}
			tt.check(t, calls[0], out)
		})
	}
}

func wantJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("output %s: %v", got, err)
	}
	_ = json.Unmarshal([]byte(want), &w)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("output %s, want %s", gb, wb)
	}
}

func TestFunctionURL(t *testing.T) {
	tests := []struct {
		file     string
		mutate   func(*events.LambdaFunctionURLRequest)
		wantCode int
		method   string
	}{
		{"function-url-status.json", nil, 200, "Status"},
		{"function-url-replicate.json", nil, 202, "Replicate"},
		{"function-url-restore-base64.json", nil, 202, "Restore"},
		{"function-url-unknown.json", nil, 404, ""},
		{"function-url-status.json", func(r *events.LambdaFunctionURLRequest) { r.Headers["x-langsync-key"] = "wrong" }, 401, ""},
		{"function-url-status.json", func(r *events.LambdaFunctionURLRequest) { delete(r.Headers, "x-langsync-key") }, 401, ""},
		{"function-url-status.json", func(r *events.LambdaFunctionURLRequest) { r.RequestContext.HTTP.Method = "DELETE" }, 405, ""},
		{"function-url-replicate.json", func(r *events.LambdaFunctionURLRequest) { r.Body = `{"project":"a/b"}` }, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := newFixture(t, nil)
			payload := event(t, tt.file)
			if tt.mutate != nil {
				var req events.LambdaFunctionURLRequest
				if err := json.Unmarshal(payload, &req); err != nil {
					t.Fatal(err)
				}
				tt.mutate(&req)
				payload, _ = json.Marshal(req)
			}
			out, err := f.h.Invoke(lambdaCtx(t), payload)
			if err != nil {
				t.Fatal(err)
			}
			var resp events.LambdaFunctionURLResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantCode || resp.Headers["Content-Type"] != "application/json" || !json.Valid([]byte(resp.Body)) {
				t.Fatalf("response %+v, want %d with a JSON body", resp, tt.wantCode)
			}
			calls := f.p.Calls()
			if tt.method == "" && len(calls) != 0 || tt.method != "" && (len(calls) != 1 || calls[0].Method != tt.method) {
				t.Fatalf("calls %+v, want %q", calls, tt.method)
			}
			if strings.Contains(string(out)+f.logs.String(), "url-key-1") {
				t.Fatal("the URL key leaked into the response or logs")
			}
		})
	}
}

// TestInlineDriving: due wake-ups are advanced in the same invocation,
// later ones are left for the sweep, permanent failures mark the run failed.
func TestInlineDriving(t *testing.T) {
	later := now.Add(10 * time.Minute)
	p := &entrytest.Pipeline{
		OnReplicate: func(context.Context, langsync.ReplicateRequest) ([]langsync.Wake, error) {
			return []langsync.Wake{{Wakeup: langsync.Wakeup{Run: "a", Step: "export", Seq: 1}}, {Wakeup: langsync.Wakeup{Run: "b", Step: "export", Seq: 1}}}, nil
		},
		OnAdvance: func(_ context.Context, w langsync.Wakeup) ([]langsync.Wake, error) {
			switch {
			case w.Run == "a" && w.Step == "export":
				return []langsync.Wake{{Wakeup: langsync.Wakeup{Run: "a", Step: "import", Seq: 2}}}, nil
			case w.Run == "a" && w.Step == "import":
				return []langsync.Wake{{Wakeup: langsync.Wakeup{Run: "a", Step: "train", Seq: 3}, At: later}}, nil
			case w.Run == "b":
				return nil, permanent{"export is corrupt"}
			}
			return nil, nil
		},
	}
	f := newFixture(t, p)
	out, err := f.h.Invoke(lambdaCtx(t), []byte(`{"project":"Tickets"}`))
	if err != nil {
		t.Fatal(err)
	}
	var res lambdahandler.Result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if res.Advanced != 2 || len(res.Pending) != 1 || res.Pending[0].Step != "train" || !res.Pending[0].At.Equal(later) {
		t.Fatalf("result %+v, want 2 advanced and the train wake-up pending", res)
	}
	if fails := p.CallsOf("Fail"); len(fails) != 1 || fails[0].Run != "b" || len(res.Failed) != 1 {
		t.Fatalf("fail calls %+v result.Failed %v, want run b marked failed", fails, res.Failed)
	}
}

func TestNearDeadlineLeavesWakesPending(t *testing.T) {
	p := &entrytest.Pipeline{
		OnSync: func(context.Context, langsync.Tick) ([]langsync.Wake, error) {
			return []langsync.Wake{{Wakeup: langsync.Wakeup{Run: "a", Step: "export", Seq: 1}}}, nil
		},
	}
	f := newFixture(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := f.h.Invoke(ctx, []byte(`{"action":"sync"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.CallsOf("Advance")) != 0 || !strings.Contains(string(out), `"pending":[`) {
		t.Fatalf("advanced with 10s left (margin 30s): %s", out)
	}
}

type permanent struct{ msg string }

func (e permanent) Error() string   { return e.msg }
func (e permanent) Permanent() bool { return true }

func TestBadInput(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		wantErr string
		kept    bool
	}{
		{"Empty", ``, "not a JSON object", false},
		{"Array", `[]`, "not a JSON object", false},
		{"Unknown", `{"hello":"world"}`, "unknown event", true},
		{"BadAction", `{"action":"dance"}`, `unknown action "dance"`, false},
		{"OtherEventBridge", string(event(t, "eventbridge-other.json")), "not a scheduled rule event", false},
		{"BadWakeup", `{"v":9,"run":"r-7","step":"train","seq":1}`, "schema version 9", true},
		{"RestoreNoTarget", `{"backup":"x.tar.gz"}`, `no "target"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			_, err := f.h.Invoke(lambdaCtx(t), []byte(tt.payload))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err=%v, want %q", err, tt.wantErr)
			}
			if !errors.Is(err, langsync.ErrMalformed) {
				t.Fatalf("err=%v is not ErrMalformed", err)
			}
			if got := len(f.keeper.Keys()) == 1; got != tt.kept {
				t.Fatalf("kept=%v (%v), want %v", got, f.keeper.Keys(), tt.kept)
			}
			if tt.name == "BadWakeup" {
				if fails := f.p.CallsOf("Fail"); len(fails) != 1 || fails[0].Run != "r-7" {
					t.Fatalf("fail calls %+v, want r-7", fails)
				}
			}
		})
	}
}

// TestThroughLambdaLibrary runs the handler through aws-lambda-go's own
// handler wrapper (docs/reference/aws-lambda.md#in-process-tests-without-the-emulator), as lambda.Start will.
func TestThroughLambdaLibrary(t *testing.T) {
	f := newFixture(t, nil)
	lh := lambda.NewHandler(func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		return f.h.Invoke(ctx, in)
	})
	out, err := lh.Invoke(lambdaCtx(t), event(t, "direct-replicate.json"))
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, out, `{"kind":"replicate","advanced":0}`)
	if _, err := lh.Invoke(lambdaCtx(t), nil); err == nil {
		t.Fatal("empty payload accepted")
	}
	// The Handler is itself a lambda.Handler.
	var _ lambda.Handler = f.h
}

func TestDetect(t *testing.T) {
	if lambdahandler.Detect(func(string) string { return "" }) {
		t.Fatal("detected Lambda without AWS_LAMBDA_RUNTIME_API")
	}
	if !lambdahandler.Detect(func(k string) string {
		if k == "AWS_LAMBDA_RUNTIME_API" {
			return "127.0.0.1:9001"
		}
		return ""
	}) {
		t.Fatal("did not detect Lambda")
	}
}

// A start-up failure is what every invoke answers with, wrapped.
func TestInitErrorAnswersEveryInvoke(t *testing.T) {
	cause := errors.New("LANGSYNC_CONFIG: bad YAML")
	for _, payload := range []string{`{"action":"sync"}`, `{"project":"P"}`, `not json`} {
		out, err := lambdahandler.InitError(cause).Invoke(context.Background(), []byte(payload))
		if out != nil || !errors.Is(err, cause) || !strings.Contains(err.Error(), "could not start") {
			t.Fatalf("invoke %s: out=%s err=%v", payload, out, err)
		}
	}
}
