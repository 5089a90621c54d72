package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/langsync/langsync/shared/blobstore/azblobstore"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/nettest"
	"github.com/langsync/langsync/shared/queue"
)

// runTuned is runCLI with the run's store and Service Bus retry bounds
// shortened to 3 tries of 200 ms (per run: nothing leaks to other tests).
func runTuned(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &Env{
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return env[k] },
		tuneBlob: func(o *storeopen.Options) {
			o.Retry = azblobstore.RetryOptions{MaxRetries: 2, TryTimeout: 200 * time.Millisecond, RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond}
		},
		tuneQueue: func(o *queue.Options) {
			o.TryTimeout, o.Tries = 200*time.Millisecond, 3
			o.Retry = &azservicebus.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond}
		},
	}
	code := run(context.Background(), e, args)
	return code, stdout.String(), stderr.String()
}

// checkRetryLines wants, in stderr, a retry line per retry naming the
// endpoint, then the failure naming it too, and no secret anywhere.
func checkRetryLines(t *testing.T, code int, stdout, stderr, service, addr, fail, secret string) {
	t.Helper()
	t.Logf("stderr:\n%s", stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFailed, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 3 {
		t.Fatalf("stderr has %d lines, want 2 retries and the failure:\n%s", len(lines), stderr)
	}
	for i, l := range lines[:2] {
		want := fmt.Sprintf("retrying %s %s (attempt %d of 3): no answer within 200ms", service, addr, i+2)
		if l != want {
			t.Errorf("stderr line %d = %q, want %q", i+1, l, want)
		}
	}
	if !strings.Contains(lines[2], fail) {
		t.Errorf("last stderr line %q does not say %q", lines[2], fail)
	}
	if strings.Contains(stdout+stderr, secret) {
		t.Fatalf("output carries the secret:\n%s\n%s", stdout, stderr)
	}
}

// A store that accepts connections and never answers: status prints a
// line per retry and then fails naming the store's host (issue 14 item 8).
func TestStatusUnansweredStore(t *testing.T) {
	const key = "c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="
	silent := nettest.NewSilent(t)
	cfg := filepath.Join(t.TempDir(), "langsync.yaml")
	store := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + key + ";BlobEndpoint=http://" + silent.Addr + "/devstoreaccount1"
	y := fmt.Sprintf("resources:\n  a: {endpoint: 'https://a.example.com', key: k}\n  b: {endpoint: 'https://b.example.com', key: k}\nprojects: [{name: P, source: a, targets: [b]}]\nstore: '%s'\n", store)
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runTuned(t, nil, "status", "--config", cfg)
	checkRetryLines(t, code, stdout, stderr, "blob store", silent.Addr,
		"langsync status: app: creating container langsync-state: blobstore: ensure-container langsync-state: blob store "+silent.Addr+" did not answer within 200ms (3 tries): check the store setting", key)
	silent.WaitAccepted(t, 3)
}

// A Service Bus that accepts connections and never answers: enqueue prints
// a line per retry and then fails naming the namespace host.
func TestEnqueueUnansweredServiceBus(t *testing.T) {
	const key = "SECRETKEY-dGhpcy1pcy10aGUta2V5"
	silent := nettest.NewSilent(t)
	env := map[string]string{"LANGSYNC_SERVICEBUS": "Endpoint=sb://" + silent.Addr + ";SharedAccessKeyName=k;SharedAccessKey=" + key + ";UseDevelopmentEmulator=true"}
	code, stdout, stderr := runTuned(t, env, "enqueue", "replicate", "--project", "Tickets")
	checkRetryLines(t, code, stdout, stderr, "Service Bus", silent.Addr,
		"to langsync-export: Service Bus "+silent.Addr+" did not answer within 200ms (3 tries): check that LANGSYNC_SERVICEBUS (or --servicebus) names the right namespace", key)
	if stdout != "" {
		t.Errorf("stdout %q, want nothing sent", stdout)
	}
	silent.WaitAccepted(t, 3)
}
