package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/sqswake/sqswaketest"
)

// rieVersion pins the AWS Lambda Runtime Interface Emulator (its tags are
// not semver, so the module proxy only serves pseudo-versions;
// docs/reference/aws-lambda.md#getting-the-emulator).
// The Makefile reads this line to build the same version in `make deps`.
const rieVersion = "v0.0.0-20261030222936-bef5c4ba774d"

// envRIE names the variable holding a prebuilt aws-lambda-rie: `make deps`
// builds it once into .ci/bin (rebuilt only when rieVersion changes) and
// `make test` sets it, as LANGSYNC_AZURITE is set for Azurite.
const envRIE = "LANGSYNC_RIE"

// rieBinary returns the Runtime Interface Emulator at rieVersion:
// $LANGSYNC_RIE, or, for a plain `go test`, a copy built once per user and
// version under the user cache directory. Building it takes about two
// minutes on a cold build cache, so it is never built per run; and it is
// never skipped.
func rieBinary(ctx context.Context, t *testing.T) string {
	t.Helper()
	if p := os.Getenv(envRIE); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v (run `make deps`, which builds it into .ci/bin, or unset %s to build it into the user cache)", envRIE, err, envRIE)
		}
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no cache directory for the Runtime Interface Emulator (set %s to a built aws-lambda-rie, e.g. via `make test`): %v", envRIE, err)
	}
	root := filepath.Join(cache, "langsync")
	p := filepath.Join(root, "aws-lambda-rie-"+rieVersion)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// Build into a private directory and rename into place, so a
	// concurrent run never sees a half-written binary.
	tmp, err := os.MkdirTemp(root, "rie-build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	build := exec.CommandContext(ctx, "go", "install", "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@"+rieVersion)
	build.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0", "GOFLAGS=")
	build.Dir = tmp // outside the module: go install pkg@version
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the Runtime Interface Emulator (needs the Go module proxy; `make deps` builds it too): %v\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(tmp, "aws-lambda-rie"), p); err != nil {
		t.Fatal(err)
	}
	t.Logf("built the Runtime Interface Emulator into %s (reused by later runs)", p)
	return p
}

// TestHelperLambda is not a test: TestLambdaRuntimeInterfaceEmulator runs the
// test binary as the Lambda bootstrap with LANGSYNC_HELPER_LAMBDA=1.
func TestHelperLambda(t *testing.T) {
	if os.Getenv("LANGSYNC_HELPER_LAMBDA") != "1" {
		t.Log("helper process for TestLambdaRuntimeInterfaceEmulator; nothing to do on its own")
		return
	}
	e := &Env{Stdin: strings.NewReader(""), Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, appOptions: func(o *app.Options) {
		e2eAppOptions(o)
		inner := o.Pipeline
		o.Pipeline = func(po *pipeline.Options) {
			inner(po)
			po.PollBudget = 5 * time.Second
		}
	}}
	code, ok := runLambda(context.Background(), e)
	if !ok {
		fmt.Fprintln(os.Stderr, "helper: AWS_LAMBDA_RUNTIME_API is not set")
		os.Exit(3)
	}
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runtimeRecorder sits between the bootstrap and the emulator's Runtime
// API and records where each invocation's answer was posted: .../response,
// or .../error, which real Lambda turns into X-Amz-Function-Error:
// Unhandled on the Invoke API (the emulator does not set that header).
type runtimeRecorder struct {
	mu     sync.Mutex
	errors map[string]string // request id -> Lambda-Runtime-Function-Error-Type
}

func (rr *runtimeRecorder) errorType(id string) (string, bool) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	typ, ok := rr.errors[id]
	return typ, ok
}

func startRuntimeRecorder(t *testing.T, api string) (addr string, rr *runtimeRecorder) {
	t.Helper()
	rr = &runtimeRecorder{errors: map[string]string{}}
	target := &url.URL{Scheme: "http", Host: api}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// POST /2018-06-01/runtime/invocation/<id>/error
		if rest, ok := strings.CutPrefix(r.URL.Path, "/2018-06-01/runtime/invocation/"); ok && r.Method == http.MethodPost {
			if id, ok := strings.CutSuffix(rest, "/error"); ok {
				rr.mu.Lock()
				rr.errors[id] = r.Header.Get("Lambda-Runtime-Function-Error-Type")
				rr.mu.Unlock()
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), rr
}

// TestLambdaRuntimeInterfaceEmulator runs langsync under the real AWS Lambda
// Runtime Interface Emulator (built once from the Go module proxy at a
// pinned version: rieBinary), deployed as the SAM template deploys it
// (infra/aws): wake-ups
// go to an SQS queue (a local stand-in) and come back as SQS events.
// lambda.Start is reached through AWS_LAMBDA_RUNTIME_API detection in
// main's path, and invocations go over the Runtime API: a direct invoke
// and an API Gateway REST request start replications, the EventBridge rule
// and Scheduler's {} sync, every sent wake-up is delivered twice (SQS
// delivers at least once) and the run still trains once, an API Gateway
// request reports status, and a bad event is an Unhandled function error.
func TestLambdaRuntimeInterfaceEmulator(t *testing.T) {
	t.Parallel()
	ctx, cancel := testContext(t)
	defer cancel()
	rieBin := rieBinary(ctx, t)
	bin := t.TempDir()
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	front, api := freePort(t), freePort(t)
	recorderAddr, recorder := startRuntimeRecorder(t, api)
	bootstrap := filepath.Join(bin, "bootstrap")
	script := "#!/bin/sh\nAWS_LAMBDA_RUNTIME_API=" + recorderAddr + " exec " + shellQuote(self) + " -test.run='^TestHelperLambda$'\n"
	if err := os.WriteFile(bootstrap, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	r := newE2ERig(t, 300*time.Millisecond)
	sqsStandIn := sqswaketest.New()
	t.Cleanup(sqsStandIn.Close)
	const queueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/langsync-wakeups"
	rie := exec.Command(rieBin, "--runtime-interface-emulator-address", front, "--runtime-api-address", api, bootstrap)
	rie.Dir = bin
	rie.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LANGSYNC_HELPER_LAMBDA=1",
		"AWS_LAMBDA_FUNCTION_NAME=langsync-test", "AWS_LAMBDA_FUNCTION_TIMEOUT=120", "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_SESSION_TOKEN=token",
		envSQSQueueURL + "=" + queueURL, envSQSEndpoint + "=" + sqsStandIn.URL}
	for k, v := range r.env {
		rie.Env = append(rie.Env, k+"="+v)
	}
	logs := &serveBuffer{}
	rie.Stdout, rie.Stderr = logs, logs
	rie.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := rie.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The emulator and the bootstrap it started share a process group.
		_ = syscall.Kill(-rie.Process.Pid, syscall.SIGKILL)
		_ = rie.Wait()
	})
	invokeURL := "http://" + front + "/2015-03-31/functions/function/invocations"
	requests := 0
	// invoke posts payload and returns the answer and the request id.
	invoke := func(payload string) (map[string]any, string, http.Header) {
		t.Helper()
		requests++
		id := fmt.Sprintf("rie-test-%d", requests)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, invokeURL, strings.NewReader(payload))
		req.Header.Set("X-Amzn-RequestId", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("invoke: %v\n%s", err, tail(logs.String(), 20))
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("invoke answered %d %q\n%s", resp.StatusCode, b, tail(logs.String(), 20))
		}
		return m, id, resp.Header
	}
	ok := func(payload string) map[string]any {
		t.Helper()
		m, id, _ := invoke(payload)
		if typ, failed := recorder.errorType(id); failed || m["errorMessage"] != nil {
			t.Fatalf("invoke %.80s failed (%s): %v\n%s", payload, typ, m, tail(logs.String(), 20))
		}
		return m
	}
	// Wait for the emulator's front end (any HTTP answer).
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := http.Get("http://" + front + "/"); err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("emulator did not start\n%s", logs)
		case <-tick.C:
		}
	}

	apigw := func(method, path, body string) map[string]any {
		t.Helper()
		b, _ := json.Marshal(events.APIGatewayProxyRequest{Resource: "/{proxy+}", Path: path, HTTPMethod: method, Body: body,
			PathParameters: map[string]string{"proxy": strings.TrimPrefix(path, "/")},
			RequestContext: events.APIGatewayProxyRequestContext{Stage: "prod", Path: "/prod" + path, HTTPMethod: method, RequestID: "apigw-1"}})
		return ok(string(b))
	}
	if m := ok(`{"project":"` + r.p.Name + `"}`); m["kind"] != "replicate" {
		t.Fatalf("direct invoke answered %v", m)
	}
	// API Gateway REST: a second request joins the same run.
	if m := apigw(http.MethodPost, "/replicate", `{"project":"`+r.p.Name+`"}`); m["statusCode"] != float64(http.StatusAccepted) {
		t.Fatalf("API Gateway replicate answered %v", m)
	}
	sched := `{"version":"0","id":"890abcde-f123-4567-890a-bcdef1234567","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2016-12-30T18:44:49Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/SampleRule"],"detail":{}}`
	if m := ok(sched); m["kind"] != "sync" {
		t.Fatalf("scheduled rule event answered %v", m)
	}
	delivered := 0
	for batch := 0; ; batch++ {
		st := apigw(http.MethodGet, "/status/"+r.p.Name, "")
		body := fmt.Sprint(st["body"])
		if st["statusCode"] != float64(http.StatusOK) {
			t.Fatalf("API Gateway status answered %v", st)
		}
		if strings.Contains(body, `"lastRunPhase":"succeeded"`) {
			break
		}
		if strings.Contains(body, `"lastRunPhase":"failed"`) {
			t.Fatalf("run failed: %s", body)
		}
		msgs := sqsStandIn.Take()
		if len(msgs) == 0 {
			// Nothing queued (a send failed, or a wake-up is far off):
			// EventBridge Scheduler's default input {} runs the sweep.
			if m := ok(`{}`); m["kind"] != "sync" {
				t.Fatalf("Scheduler {} answered %v", m)
			}
		} else {
			// Deliver every wake-up twice in one batch: the copy is stale.
			var ev events.SQSEvent
			for i, m := range msgs {
				for c := range 2 {
					ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("b%d-%d-%d", batch, i, c), Body: m.Body,
						EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:langsync-wakeups", AWSRegion: "us-east-1",
						Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
				}
			}
			b, _ := json.Marshal(ev)
			m := ok(string(b))
			if f, _ := m["batchItemFailures"].([]any); m["batchItemFailures"] == nil || len(f) != 0 {
				t.Fatalf("SQS event answered %v", m)
			}
			delivered += len(ev.Records)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("replication did not finish: %s\n%s", body, tail(logs.String(), 20))
		case <-tick.C:
		}
	}
	if delivered == 0 {
		t.Fatal("no wake-up went through the SQS stand-in")
	}
	// A bad event is a function error: the bootstrap posts it to the
	// Runtime API's .../error, which Lambda answers with
	// X-Amz-Function-Error: Unhandled; the emulator returns the same
	// errorMessage/errorType body without that header.
	m, id, hdr := invoke(`{"hello":"world"}`)
	if !strings.Contains(fmt.Sprint(m["errorMessage"]), "unknown event") || m["errorType"] == nil {
		t.Fatalf("bad event answered %v", m)
	}
	if _, failed := recorder.errorType(id); !failed {
		t.Fatalf("the bad event's answer was not posted to the Runtime API's error path (X-Amz-Function-Error: Unhandled)")
	}
	if h := hdr.Get("X-Amz-Function-Error"); h != "" && h != "Unhandled" {
		t.Fatalf("X-Amz-Function-Error: %q, want Unhandled", h)
	}
	if n := r.targetWrites(":train"); n != 1 {
		t.Fatalf("%d training jobs on the target, want 1", n)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
