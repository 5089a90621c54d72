package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/queue"
)

func TestEmulatorServiceBusUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"Help", []string{"--help"}, exitOK, "Usage: langsync emulator servicebus"},
		{"BadMaxDelivery", []string{"--max-delivery-count", "0"}, exitUsage, "--max-delivery-count must be at least 1"},
		{"ShortLock", []string{"--lock-duration", "10ms"}, exitUsage, "--lock-duration must be at least 1s"},
		{"NoQueues", []string{"--queues", " , "}, exitUsage, "--queues is empty"},
		{"EmptyQueueName", []string{"--queues", "a,,b"}, exitUsage, "has an empty name"},
		{"TwiceQueue", []string{"--queues", "a,a"}, exitUsage, `names "a" twice`},
		{"BadQueueName", []string{"--addr", "127.0.0.1:0", "--queues", "a$b"}, exitFailed, "invalid queue name"},
		{"BadFlag", []string{"--nope"}, exitUsage, "unknown flag --nope"},
		{"ConfigAndQueues", []string{"--config", "x.json", "--queues", "a", "--lock-duration", "2m"}, exitUsage, "--config sets the queues; drop --lock-duration, --queues"},
		{"ConfigMissing", []string{"--config", "testdata/does-not-exist.json"}, exitUsage, "--config: open testdata/does-not-exist.json"},
		{"ConfigLoadedBadAddr", []string{"--config", "../../shared/sbemulator/testdata/Config.json", "--addr", "256.0.0.1:0"}, exitFailed, "listening on 256.0.0.1:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, append([]string{"emulator", "servicebus"}, tt.args...)...)
			if code != tt.want || !strings.Contains(stdout+stderr, tt.msg) {
				t.Fatalf("exit=%d (want %d), output %q %q lacks %q", code, tt.want, stdout, stderr, tt.msg)
			}
		})
	}
}

// TestEmulatorServiceBusServes starts the command on a free port, sends a
// wake-up through shared/queue (the real azservicebus client), and stops it
// with the context.
func TestEmulatorServiceBusServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	done := make(chan error, 1)
	go func() {
		done <- runServiceBusEmulator(ctx, env, []string{"--addr", "127.0.0.1:0", "--queues", "langsync-train,extra", "--lock-duration", "5s"})
	}()
	re := regexp.MustCompile(`LANGSYNC_SERVICEBUS=(\S+)`)
	var conn string
	deadline := time.After(10 * time.Second)
	for conn == "" {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			conn = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("emulator exited early: %v (stderr %s)", err, stderr.String())
		case <-deadline:
			t.Fatalf("no connection string printed; stdout %q", stdout.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if !strings.Contains(stdout.String(), "queues: extra, langsync-train") {
		t.Fatalf("stdout %q does not list the queues", stdout.String())
	}
	sb, err := queue.NewServiceBus(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := queue.SendWakeup(sctx, sb, langsync.QueueTrain, langsync.Wakeup{Run: "r1", Step: "train", Seq: 1}, time.Time{}); err != nil {
		t.Fatalf("SendWakeup to the emulator: %v", err)
	}
	if err := sb.Send(sctx, langsync.QueueExport, []byte("{}"), "x"); !errors.Is(err, queue.ErrUnknownQueue) {
		t.Fatalf("send to a queue not in --queues = %v, want ErrUnknownQueue", err)
	}
	sb.Close(sctx)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("emulator returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulator did not stop")
	}
}

func TestEmulatorServiceBusBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Config.json")
	if err := os.WriteFile(path, []byte(`{"UserConfig":{"Namespaces":[{"Name":"ns","Queues":[{"Name":"q","Properties":{"RequiresSession":true}}]}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, nil, "emulator", "servicebus", "--config", path)
	if code != exitUsage || !strings.Contains(stderr, "RequiresSession is not supported") {
		t.Fatalf("exit=%d stderr=%q", code, stderr)
	}
}
