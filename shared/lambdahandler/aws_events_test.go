package lambdahandler_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/langsync/langsync/shared/entry/entrytest"
	"github.com/langsync/langsync/shared/lambdahandler"
	"github.com/langsync/langsync/shared/langsync"
)

// sender records the wake-ups put on the wake-up queue.
type sender struct {
	mu    sync.Mutex
	sent  []langsync.Wake
	delay []time.Duration
	err   error
}

func (s *sender) SendWake(_ context.Context, w langsync.Wake, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.sent = append(s.sent, w)
	s.delay = append(s.delay, d)
	return nil
}

// seqPipeline advances like the real pipeline as far as sequence numbers
// go: a wake-up for the run's current seq moves it on and asks for the
// next step; a wake-up with an older seq (a duplicate delivery) is stale
// and does nothing.
func seqPipeline() *entrytest.Pipeline {
	var mu sync.Mutex
	seq := map[string]int{"r-1": 3}
	return &entrytest.Pipeline{
		OnAdvance: func(_ context.Context, w langsync.Wakeup) ([]langsync.Wake, error) {
			mu.Lock()
			defer mu.Unlock()
			if w.Seq != seq[w.Run] {
				return nil, nil
			}
			seq[w.Run]++
			return []langsync.Wake{{Wakeup: langsync.Wakeup{Run: w.Run, Step: "deploy", Seq: seq[w.Run]}, At: now.Add(5 * time.Minute)}}, nil
		},
	}
}

type awsFixture struct {
	*fixture
	send *sender
}

// newAWSFixture is a handler as the SAM template deploys it: a wake-up
// queue, and a Function URL with AWS_IAM (no x-langsync-key) unless key.
func newAWSFixture(t *testing.T, p *entrytest.Pipeline, key langsync.Secret) *awsFixture {
	t.Helper()
	if p == nil {
		p = &entrytest.Pipeline{}
	}
	f := &awsFixture{fixture: &fixture{p: p, keeper: &entrytest.Keeper{}, logs: &strings.Builder{}}, send: &sender{}}
	h, err := lambdahandler.New(lambdahandler.Options{
		Runs: p, Starts: p, Status: p, Failed: f.keeper, URLKey: key, Wakes: f.send,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
		Now:    func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

func batchFailures(t *testing.T, out []byte) []string {
	t.Helper()
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("SQS answer %s: %v", out, err)
	}
	if resp.BatchItemFailures == nil || !strings.Contains(string(out), `"batchItemFailures":[`) {
		t.Fatalf("SQS answer %s has no batchItemFailures list", out)
	}
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// TestSQSEvents: aws-lambda-go's SQS example and langsync bodies in the
// same envelope. Every record is handled; a duplicate wake-up does
// nothing; malformed bodies are kept and not failed; transient failures,
// and malformed bodies that could not be kept, are batch item failures.
func TestSQSEvents(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		pipeline   func() *entrytest.Pipeline
		keeperErr  error
		wantFailed []string
		wantKept   int
		wantCalls  []string
		wantSent   int
	}{
		{name: "UpstreamExample", file: "aws-lambda-go/sqs-event.json", wantKept: 1},
		{name: "LangsyncBodies", file: "sqs-langsync.json", pipeline: seqPipeline,
			wantKept: 2, wantCalls: []string{"Advance", "Advance", "Replicate"}, wantSent: 1},
		{name: "Transient", file: "sqs-langsync.json", pipeline: func() *entrytest.Pipeline {
			return &entrytest.Pipeline{OnAdvance: func(context.Context, langsync.Wakeup) ([]langsync.Wake, error) {
				return nil, errors.New("storage: 503")
			}}
		}, wantFailed: []string{"m-wake", "m-dup"}, wantKept: 2, wantCalls: []string{"Advance", "Advance", "Replicate"}},
		{name: "KeeperDown", file: "sqs-langsync.json", pipeline: seqPipeline, keeperErr: errors.New("blob: 403"),
			wantFailed: []string{"m-bad", "m-unknown"}, wantCalls: []string{"Advance", "Advance", "Replicate"}, wantSent: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p *entrytest.Pipeline
			if tt.pipeline != nil {
				p = tt.pipeline()
			}
			f := newAWSFixture(t, p, "")
			f.keeper.Err = tt.keeperErr
			out, err := f.h.Invoke(lambdaCtx(t), event(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := batchFailures(t, out); !slices.Equal(got, tt.wantFailed) {
				t.Fatalf("batch item failures %v, want %v\n%s", got, tt.wantFailed, f.logs)
			}
			if got := len(f.keeper.Keys()); got != tt.wantKept {
				t.Fatalf("kept %v, want %d", f.keeper.Keys(), tt.wantKept)
			}
			var methods []string
			for _, c := range f.p.Calls() {
				methods = append(methods, c.Method)
			}
			if !slices.Equal(methods, tt.wantCalls) {
				t.Fatalf("calls %v, want %v", methods, tt.wantCalls)
			}
			if len(f.send.sent) != tt.wantSent {
				t.Fatalf("sent %+v, want %d", f.send.sent, tt.wantSent)
			}
			if tt.wantSent > 0 && (f.send.sent[0].Seq != 4 || f.send.delay[0] != 5*time.Minute) {
				t.Fatalf("sent %+v after %v, want seq 4 in 5m", f.send.sent[0], f.send.delay[0])
			}
			for _, k := range f.keeper.Keys() {
				doc, _ := f.keeper.Doc(k)
				if doc.Function != "lambda-sqs" || doc.MessageID == "" || !strings.Contains(k, doc.MessageID) {
					t.Fatalf("kept %s as %+v, want the message id in key and doc", k, doc)
				}
			}
		})
	}
}

// TestDuplicateWakeupIsIdempotent: SQS standard queues deliver at least
// once; the same wake-up twice advances the run once and sends one next
// wake-up (the second is stale by the run's sequence number).
func TestDuplicateWakeupIsIdempotent(t *testing.T) {
	f := newAWSFixture(t, seqPipeline(), "")
	body := `{"v":1,"run":"r-1","step":"train","seq":3}`
	ev, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "a", Body: body, EventSource: "aws:sqs"}}})
	for range 2 {
		out, err := f.h.Invoke(lambdaCtx(t), ev)
		if err != nil || len(batchFailures(t, out)) != 0 {
			t.Fatalf("out=%s err=%v", out, err)
		}
	}
	if len(f.p.CallsOf("Advance")) != 2 || len(f.send.sent) != 1 {
		t.Fatalf("advance calls %d, sent %+v; want 2 calls and one next wake-up", len(f.p.CallsOf("Advance")), f.send.sent)
	}
}

// TestWakeQueueDelays: with a wake-up queue nothing is advanced inline;
// SQS delays a message by at most 15 minutes, so later wake-ups and failed
// sends are pending for the sweep.
func TestWakeQueueDelays(t *testing.T) {
	wakes := []langsync.Wake{
		{Wakeup: langsync.Wakeup{Run: "due", Step: "train", Seq: 1}},
		{Wakeup: langsync.Wakeup{Run: "past", Step: "train", Seq: 1}, At: now.Add(-time.Hour)},
		{Wakeup: langsync.Wakeup{Run: "soon", Step: "train", Seq: 1}, At: now.Add(10 * time.Minute)},
		{Wakeup: langsync.Wakeup{Run: "edge", Step: "train", Seq: 1}, At: now.Add(lambdahandler.MaxDelay)},
		{Wakeup: langsync.Wakeup{Run: "late", Step: "train", Seq: 1}, At: now.Add(20 * time.Minute)},
	}
	p := &entrytest.Pipeline{OnSync: func(context.Context, langsync.Tick) ([]langsync.Wake, error) { return wakes, nil }}
	f := newAWSFixture(t, p, "")
	out, err := f.h.Invoke(lambdaCtx(t), []byte(`{"action":"sync"}`))
	if err != nil {
		t.Fatal(err)
	}
	var res lambdahandler.Result
	_ = json.Unmarshal(out, &res)
	if len(f.p.CallsOf("Advance")) != 0 || res.Sent != 4 || len(res.Pending) != 1 || res.Pending[0].Run != "late" {
		t.Fatalf("result %s, want 4 sent, late pending, nothing inline", out)
	}
	if want := []time.Duration{0, 0, 10 * time.Minute, 15 * time.Minute}; !slices.Equal(f.send.delay, want) {
		t.Fatalf("delays %v, want %v", f.send.delay, want)
	}
	f = newAWSFixture(t, p, "")
	f.send.err = errors.New("sqs: throttled")
	out, _ = f.h.Invoke(lambdaCtx(t), []byte(`{"action":"sync"}`))
	res = lambdahandler.Result{}
	_ = json.Unmarshal(out, &res)
	if res.Sent != 0 || len(res.Pending) != 5 {
		t.Fatalf("result %s, want every wake-up pending when sending fails", out)
	}
}

// TestAWSHTTPAndScheduleEvents: API Gateway REST (v1) and HTTP API (2.0)
// requests, and EventBridge Scheduler inputs.
func TestAWSHTTPAndScheduleEvents(t *testing.T) {
	tests := []struct {
		file     string
		key      langsync.Secret
		wantCode int // 0: not an HTTP answer
		method   string
		check    func(t *testing.T, c entrytest.Call)
	}{
		{file: "aws-lambda-go/apigw-request.json", wantCode: 404},
		{file: "aws-lambda-go/apigw-request.json", key: "url-key-1", wantCode: 401},
		{file: "aws-lambda-go/apigw-v2-request-iam.json", wantCode: 404},
		{file: "aws-lambda-go/lambda-urls-request.json", wantCode: 404},
		{file: "api-gateway-status.json", key: "url-key-1", wantCode: 200, method: "Status", check: func(t *testing.T, c entrytest.Call) {
			if c.Status.Pair != "primary" || c.Status.Query["name"] != "me" {
				t.Fatalf("status %+v", c.Status)
			}
		}},
		{file: "api-gateway-replicate.json", wantCode: 202, method: "Replicate", check: func(t *testing.T, c entrytest.Call) {
			if c.Replicate.Project != "Tickets" {
				t.Fatalf("replicate %+v", c.Replicate)
			}
		}},
		{file: "scheduler-default.json", method: "Sync", check: func(t *testing.T, c entrytest.Call) {
			if !c.Tick.Scheduled.Equal(now) || c.Tick.PastDue {
				t.Fatalf("tick %+v, want now", c.Tick)
			}
		}},
		{file: "scheduler-scheduled-time.json", method: "Sync", check: func(t *testing.T, c entrytest.Call) {
			if !c.Tick.Scheduled.Equal(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)) || !c.Tick.PastDue {
				t.Fatalf("tick %+v, want the scheduled time, 30 min past due", c.Tick)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := newAWSFixture(t, nil, tt.key)
			out, err := f.h.Invoke(lambdaCtx(t), event(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantCode != 0 {
				var resp events.APIGatewayProxyResponse
				if err := json.Unmarshal(out, &resp); err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tt.wantCode || resp.Headers["Content-Type"] != "application/json" || !json.Valid([]byte(resp.Body)) {
					t.Fatalf("response %s, want %d with a JSON body", out, tt.wantCode)
				}
			}
			calls := f.p.Calls()
			if tt.method == "" {
				if len(calls) != 0 {
					t.Fatalf("calls %+v, want none", calls)
				}
				return
			}
			if len(calls) != 1 || calls[0].Method != tt.method {
				t.Fatalf("calls %+v, want one %s", calls, tt.method)
			}
			tt.check(t, calls[0])
		})
	}
}

func TestAWSEventsRefused(t *testing.T) {
	tests := []struct{ name, payload, wantErr string }{
		{"SNS", string(event(t, "aws-lambda-go/sns-event.json")), `from "aws:sns"`},
		{"S3", string(event(t, "aws-lambda-go/s3-event.json")), `from "aws:s3"`},
		{"BadScheduledTime", `{"scheduledTime":"<aws.scheduler.scheduled-time>"}`, "RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAWSFixture(t, nil, "")
			_, err := f.h.Invoke(lambdaCtx(t), []byte(tt.payload))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, langsync.ErrMalformed) {
				t.Fatalf("err=%v, want malformed %q", err, tt.wantErr)
			}
			if len(f.p.Calls()) != 0 {
				t.Fatalf("calls %+v", f.p.Calls())
			}
		})
	}
}
