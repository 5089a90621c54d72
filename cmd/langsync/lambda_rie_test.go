package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/pipeline"
)

// rieVersion pins the AWS Lambda Runtime Interface Emulator (its tags are
// not semver, so the module proxy only serves pseudo-versions;
// docs/reference/aws-lambda.md#getting-the-emulator).
const rieVersion = "v0.0.0-20261030222936-bef5c4ba774d"

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

// TestLambdaRuntimeInterfaceEmulator runs langsync under the real AWS Lambda
// Runtime Interface Emulator (built from the Go module proxy at a pinned
// version): lambda.Start is reached through AWS_LAMBDA_RUNTIME_API
// detection in main's path, and invocations go over the Runtime API.
func TestLambdaRuntimeInterfaceEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := t.TempDir()
	build := exec.CommandContext(ctx, "go", "install", "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@"+rieVersion)
	build.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0", "GOFLAGS=")
	build.Dir = bin // outside the module: go install pkg@version
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the Runtime Interface Emulator (needs the Go module proxy): %v\n%s", err, out)
	}
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bootstrap := filepath.Join(bin, "bootstrap")
	script := "#!/bin/sh\nexec " + shellQuote(self) + " -test.run='^TestHelperLambda$'\n"
	if err := os.WriteFile(bootstrap, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	r := newE2ERig(t, 300*time.Millisecond)
	front, api := freePort(t), freePort(t)
	rie := exec.Command(filepath.Join(bin, "aws-lambda-rie"), "--runtime-interface-emulator-address", front, "--runtime-api-address", api, bootstrap)
	rie.Dir = bin
	rie.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LANGSYNC_HELPER_LAMBDA=1",
		"AWS_LAMBDA_FUNCTION_NAME=langsync-test", "AWS_LAMBDA_FUNCTION_TIMEOUT=120", "AWS_REGION=us-east-1"}
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
	url := "http://" + front + "/2015-03-31/functions/function/invocations"
	invoke := func(payload string) map[string]any {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(payload))
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

	if m := invoke(`{"project":"` + r.p.Name + `"}`); m["kind"] != "replicate" {
		t.Fatalf("direct invoke answered %v", m)
	}
	sched := `{"version":"0","id":"890abcde-f123-4567-890a-bcdef1234567","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2016-12-30T18:44:49Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/SampleRule"],"detail":{}}`
	for {
		st := invoke(`{"action":"status","pair":"` + r.p.Name + `"}`)
		b, _ := json.Marshal(st)
		if strings.Contains(string(b), `"lastRunPhase":"succeeded"`) {
			break
		}
		if strings.Contains(string(b), `"lastRunPhase":"failed"`) {
			t.Fatalf("run failed: %s", b)
		}
		if m := invoke(sched); m["kind"] != "sync" {
			t.Fatalf("scheduled event answered %v", m)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("replication did not finish: %s\n%s", b, tail(logs.String(), 20))
		case <-tick.C:
		}
	}
	// A bad event comes back as a Lambda error naming the problem.
	if m := invoke(`{"hello":"world"}`); !strings.Contains(fmt.Sprint(m["errorMessage"]), "unknown event") {
		t.Fatalf("bad event answered %v", m)
	}
	if n := r.targetWrites(":train"); n != 1 {
		t.Fatalf("%d training jobs on the target, want 1", n)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
