// Package azuritetest starts Azurite (the Azure Blob storage emulator) for
// tests and returns a connection string to it.
//
// The binary is found through the LANGSYNC_AZURITE environment variable (set
// by `make test`) or, failing that, by walking up from the working directory
// to .ci/node_modules/.bin/azurite-blob. When it cannot be found the test
// fails with a message saying to run `make deps`: Blob tests are never
// skipped.
//
// Start gives each caller its own Azurite, stopped when the test ends.
// Shared hands every caller of one test binary the same Azurite, started on
// first use; use it with Main in TestMain so the process is stopped when the
// binary exits. Tests sharing an Azurite should use distinct container names.
package azuritetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvBinary names the environment variable holding the azurite-blob path.
const EnvBinary = "LANGSYNC_AZURITE"

// AccountName and AccountKey are Azurite's well-known development account
// (published in the Azurite README; not a secret).
const (
	AccountName = "devstoreaccount1"
	AccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// SecondAccount and SecondKey are a second storage account every Azurite
// started here also serves (a made-up key, not a secret), so that tests can
// copy between two accounts of one instance, as between a source's and a
// target's linked storage. SecondConnectionString gives its string.
const (
	SecondAccount = "langsyncsecond"
	SecondKey     = "bGFuZ3N5bmMgc2Vjb25kIHRlc3QgYWNjb3VudCBrZXkgLSBub3QgYSBzZWNyZXQhIQ=="
)

// SecondConnectionString turns a connection string of this package (the
// development account) into the second account's on the same Azurite.
func SecondConnectionString(conn string) string {
	conn = strings.ReplaceAll(conn, AccountKey, SecondKey)
	return strings.ReplaceAll(conn, AccountName, SecondAccount)
}

// startTimeout bounds how long Azurite may take to print its listening line.
const startTimeout = 60 * time.Second

var listenLine = regexp.MustCompile(`successfully listens on (http://127\.0\.0\.1:(\d+))`)

// Start starts a fresh in-memory Azurite on 127.0.0.1 with an OS-chosen port
// and returns a connection string for the devstoreaccount1 account. The
// process (and its process group) is killed when tb finishes.
func Start(tb testing.TB) string {
	tb.Helper()
	inst, err := start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(inst.stop)
	return inst.connString
}

var shared struct {
	mu   sync.Mutex
	inst *instance
	err  error
}

// Shared returns the connection string of the Azurite shared by the whole
// test binary, starting it on first use. Call Main from TestMain to stop it
// when the tests finish; without Main the process is still killed when the
// test binary exits (Linux parent-death signal), but less promptly.
func Shared(tb testing.TB) string {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.inst == nil && shared.err == nil {
		shared.inst, shared.err = start()
	}
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.inst.connString
}

// Main runs the tests and then stops the shared Azurite, if one was started.
// Use it as `func TestMain(m *testing.M) { os.Exit(azuritetest.Main(m)) }`.
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	if shared.inst != nil {
		shared.inst.stop()
		shared.inst = nil
	}
	shared.mu.Unlock()
	return code
}

// ConnectionString returns the connection string for an Azurite blob
// endpoint such as http://127.0.0.1:10000.
func ConnectionString(endpoint string) string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s/%s;",
		AccountName, AccountKey, strings.TrimSuffix(endpoint, "/"), AccountName)
}

// Binary returns the path of azurite-blob: $LANGSYNC_AZURITE, or the first
// .ci/node_modules/.bin/azurite-blob found walking up from the working
// directory.
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("azuritetest: %s=%q: %w (run `make deps` and point %s at .ci/node_modules/.bin/azurite-blob)", EnvBinary, p, err, EnvBinary)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("azuritetest: finding azurite: %w", err)
	}
	for {
		p := filepath.Join(dir, ".ci", "node_modules", ".bin", "azurite-blob")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("azuritetest: azurite-blob not found (looked for .ci/node_modules/.bin/azurite-blob above the working directory, and " + EnvBinary + " is unset): run `make deps` to install Azurite")
		}
		dir = parent
	}
}

type instance struct {
	cmd        *exec.Cmd
	connString string
	done       chan struct{}
	once       sync.Once
}

func start() (*instance, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	workDir, err := os.MkdirTemp("", "azurite-")
	if err != nil {
		return nil, fmt.Errorf("azuritetest: %w", err)
	}
	cmd := exec.Command(bin,
		"--inMemoryPersistence",
		"--blobHost", "127.0.0.1",
		"--blobPort", "0",
		"--skipApiVersionCheck",
		"--loose",
	)
	cmd.Dir = workDir
	// Naming accounts replaces the default one, so both are listed.
	cmd.Env = append(os.Environ(), "AZURITE_ACCOUNTS="+AccountName+":"+AccountKey+";"+SecondAccount+":"+SecondKey)
	setProcAttr(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("azuritetest: %w", err)
	}
	stderr := &lockedWriter{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(workDir)
		return nil, fmt.Errorf("azuritetest: starting %s: %w (is node installed? run `make deps`)", bin, err)
	}
	inst := &instance{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		os.RemoveAll(workDir)
		close(inst.done)
	}()

	found := make(chan string, 1)
	var out strings.Builder
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if m := listenLine.FindStringSubmatch(line); m != nil {
				found <- m[1]
				break
			}
			if out.Len() < 4096 {
				out.WriteString(line + "\n")
			}
		}
		close(found)
		// Keep draining so Azurite never blocks on a full pipe.
		io.Copy(io.Discard, stdout)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	select {
	case endpoint, ok := <-found:
		if !ok {
			inst.stop()
			return nil, fmt.Errorf("azuritetest: %s exited before listening: stdout %q stderr %q", bin, out.String(), stderr.String())
		}
		inst.connString = ConnectionString(endpoint)
		return inst, nil
	case <-ctx.Done():
		inst.stop()
		return nil, fmt.Errorf("azuritetest: %s did not report its port within %s", bin, startTimeout)
	}
}

func (i *instance) stop() {
	i.once.Do(func() {
		if i.cmd.Process != nil {
			killTree(i.cmd)
		}
		<-i.done
	})
}

// lockedWriter keeps the first few KiB of a stream for error messages.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 4096 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
