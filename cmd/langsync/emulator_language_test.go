package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestEmulatorLanguageUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"Help", []string{"emulator", "language", "--help"}, exitOK, ""},
		{"NoKey", []string{"emulator", "language"}, exitUsage, "--key is required"},
		{"BadDuration", []string{"emulator", "language", "--key", "k", "--job-duration", "train=fast"}, exitUsage, "--job-duration"},
		{"UnknownKind", []string{"emulator", "language", "--key", "k", "--job-duration", "bake=1s"}, exitUsage, "unknown kind"},
		{"BothStorages", []string{"emulator", "language", "--key", "k", "--docs-dir", "d", "--storage", "s"}, exitUsage, "not both"},
		{"BadFault", []string{"emulator", "language", "--key", "k", "--faults", "throttle=2"}, exitUsage, "want 0..1"},
		{"BadVersions", []string{"emulator", "language", "--key", "k", "--training-config-versions", "2022-05-01=soon"}, exitUsage, "--training-config-versions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tt.args...)
			if code != tt.want {
				t.Fatalf("exit=%d, want %d (stderr %q)", code, tt.want, stderr)
			}
			if tt.msg != "" && !strings.Contains(stderr, tt.msg) {
				t.Fatalf("stderr %q lacks %q", stderr, tt.msg)
			}
			if tt.want == exitOK && !strings.Contains(stdout, "Usage: langsync emulator language") {
				t.Fatalf("stdout %q lacks the usage line", stdout)
			}
		})
	}
}

// TestEmulatorLanguageServes starts the command on a free port, talks to it
// over HTTP, and stops it with the context.
func TestEmulatorLanguageServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	done := make(chan error, 1)
	dataDir := t.TempDir()
	go func() {
		done <- runLanguageEmulator(ctx, env, []string{"--addr", "127.0.0.1:0", "--key", "k1", "--key", "k2", "--data-dir", dataDir, "--docs-dir", t.TempDir(), "--job-duration", "train=1s"})
	}()
	re := regexp.MustCompile(`listening on (http://\S+)`)
	var url string
	deadline := time.Now().Add(10 * time.Second)
	for url == "" {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("emulator exited early: %v (stderr %s)", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line; stdout %q stderr %q", stdout.String(), stderr.String())
		}
	}
	get := func(key string) (int, string) {
		req, _ := http.NewRequest("GET", url+"/language/authoring/analyze-text/projects?api-version=2023-04-01", nil)
		req.Header.Set("Ocp-Apim-Subscription-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("k2"); code != 200 || !strings.Contains(body, `"value":[]`) {
		t.Fatalf("GET projects with the second key: %d %s", code, body)
	}
	if code, body := get("wrong"); code != 401 || !strings.Contains(body, `"code":"401"`) {
		t.Fatalf("GET projects with a wrong key: %d %s", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("emulator returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulator did not stop")
	}
	if strings.Contains(stdout.String()+stderr.String(), "k1") {
		t.Fatalf("output shows a key: %s %s", stdout.String(), stderr.String())
	}
}
