package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/emulator"
)

// demoAzuriteEnv names the variable holding the azurite-blob path (the
// same one `make test` sets).
const demoAzuriteEnv = "LANGSYNC_AZURITE"

// findAzurite returns the azurite-blob binary: the flag, $LANGSYNC_AZURITE,
// or .ci/node_modules/.bin/azurite-blob above the working directory or the
// executable (bin/langsync in a checkout).
func findAzurite(flagPath string, getenv func(string) string) (string, error) {
	for _, p := range []string{flagPath, getenv(demoAzuriteEnv)} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("azurite-blob at %s: %w (run `make deps`, which installs it under .ci/)", p, err)
		}
		return p, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, ".ci", "node_modules", ".bin", "azurite-blob")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("azurite-blob not found (looked for .ci/node_modules/.bin/azurite-blob above the working directory and the binary; $" + demoAzuriteEnv + " is unset): run `make deps`, or `make demo` which does it")
}

var azuriteListening = regexp.MustCompile(`successfully listens on (http://127\.0\.0\.1:\d+)`)

// azuriteAccountKey is Azurite's well-known development account key
// (published in the Azurite README; not a secret).
const azuriteAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// startAzurite starts an in-memory Azurite on a free loopback port and
// returns its endpoint, a connection string and a stop function.
func startAzurite(ctx context.Context, bin, workDir string) (endpoint, conn string, stop func(), err error) {
	cmd := exec.Command(bin, "--inMemoryPersistence", "--blobHost", "127.0.0.1", "--blobPort", "0", "--skipApiVersionCheck", "--loose")
	cmd.Dir = workDir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", "", nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	if err := cmd.Start(); err != nil {
		return "", "", nil, fmt.Errorf("starting %s: %w (is Node.js installed? `make deps` needs npm)", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := azuriteListening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		close(found)
		_, _ = io.Copy(io.Discard, stdout) // never let Azurite block on a full pipe
	}()
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	select {
	case ep, ok := <-found:
		if !ok {
			stop()
			return "", "", nil, fmt.Errorf("%s exited before listening: %s", bin, strings.TrimSpace(stderr.String()))
		}
		conn = fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;BlobEndpoint=%s/devstoreaccount1;", azuriteAccountKey, ep)
		return ep, conn, stop, nil
	case <-timeout.C:
		stop()
		return "", "", nil, fmt.Errorf("%s did not report its port within 60s", bin)
	case <-ctx.Done():
		stop()
		return "", "", nil, ctx.Err()
	}
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.n -= k
		_, _ = l.w.Write(p[:k])
	}
	return len(p), nil
}

// demoEmulator is a Language emulator served on a free loopback port.
type demoEmulator struct {
	name, url, key string
	srv            *emulator.Server
	hs             *http.Server
}

func startDemoEmulator(name string, docs emulator.DocumentSource, durations map[string]time.Duration) (*demoEmulator, error) {
	key := randomHex(16)
	srv, err := emulator.New(emulator.Options{Name: name, Keys: []string{key}, Documents: docs, JobDurations: durations, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("listening on loopback: %w", err)
	}
	e := &demoEmulator{name: name, url: "http://" + ln.Addr().String(), key: key, srv: srv, hs: &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = e.hs.Serve(ln) }()
	return e, nil
}

func (e *demoEmulator) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = e.hs.Shutdown(ctx)
	_ = e.srv.Close()
}

// writes counts the requests other than GET whose path contains part.
func (e *demoEmulator) writes(part string) int {
	n := 0
	for _, r := range e.srv.Requests() {
		if r.Method != http.MethodGet && strings.Contains(r.Path, part) {
			n++
		}
	}
	return n
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
