package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/langsync/langsync/shared/emulator"
)

// line is one line a child process wrote, with the time it was read.
type line struct {
	T      time.Time
	Stderr bool
	Text   string
}

// proc is a running child: langsync (a driver, a local host, an emulator)
// or Azurite. Every line it writes is kept with its time.
type proc struct {
	Name string
	cmd  *exec.Cmd

	mu    sync.Mutex
	lines []line
	// watch, if set, is called for every line (under mu).
	watch func(line)

	done    chan struct{}
	exitErr error
	killed  bool
}

// start runs name with args and env, capturing its output.
func start(name, bin string, args, env []string, dir string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	p := &proc{Name: name, cmd: cmd, done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	var wg sync.WaitGroup
	read := func(r io.Reader, isErr bool) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			l := line{T: time.Now(), Stderr: isErr, Text: sc.Text()}
			p.mu.Lock()
			p.lines = append(p.lines, l)
			if p.watch != nil {
				p.watch(l)
			}
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, r) // never block the child on a full pipe
	}
	wg.Add(2)
	go read(stdout, false)
	go read(stderr, true)
	go func() {
		wg.Wait()
		p.exitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Lines returns a copy of the lines so far.
func (p *proc) Lines() []line {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]line(nil), p.lines...)
}

// kill sends SIGKILL: the process gets no chance to save anything.
func (p *proc) kill() {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	_ = p.cmd.Process.Kill()
}

// stop asks the process to stop (SIGTERM) and kills it after grace.
func (p *proc) stop(grace time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.kill()
		<-p.done
	}
}

// exited reports whether the process ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// failure returns why a process that was not killed by the harness failed
// (its exit status and last error line), or "".
func (p *proc) failure() string {
	p.mu.Lock()
	killed := p.killed
	p.mu.Unlock()
	if killed || p.exitErr == nil {
		return ""
	}
	last := ""
	for _, l := range p.Lines() {
		if t := strings.TrimSpace(l.Text); t != "" && !strings.HasPrefix(t, "Try:") && l.Stderr {
			last = t
		}
	}
	return fmt.Sprintf("%s: %v: %s", p.Name, p.exitErr, last)
}

// waitLine waits until a line matches re and returns the first submatch.
func (p *proc) waitLine(ctx context.Context, re *regexp.Regexp, timeout time.Duration) (string, error) {
	found := make(chan string, 1)
	p.mu.Lock()
	for _, l := range p.lines {
		if m := re.FindStringSubmatch(l.Text); m != nil {
			p.mu.Unlock()
			return m[1], nil
		}
	}
	p.watch = func(l line) {
		if m := re.FindStringSubmatch(l.Text); m != nil {
			select {
			case found <- m[1]:
			default:
			}
		}
	}
	p.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case m := <-found:
		return m, nil
	case <-p.done:
		return "", fmt.Errorf("%s exited before it was ready: %v: %s", p.Name, p.exitErr, lastLines(p.Lines(), 5))
	case <-t.C:
		return "", fmt.Errorf("%s not ready within %s: %s", p.Name, timeout, lastLines(p.Lines(), 5))
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func lastLines(ls []line, n int) string {
	var out []string
	for _, l := range ls[max(0, len(ls)-n):] {
		out = append(out, l.Text)
	}
	return strings.Join(out, " | ")
}

// emu is one Language emulator process (`langsync emulator language`) and
// its admin API.
type emu struct {
	Name, URL, Key, DocsDir string
	proc                    *proc
	http                    *http.Client
}

func (e *emu) admin(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.URL+path, body)
	if err != nil {
		return err
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return fmt.Errorf("emulator %s: %s %s: %w", e.Name, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("emulator %s: %s %s: %w", e.Name, method, path, err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("emulator %s: %s %s: %s: %s", e.Name, method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("emulator %s: %s %s: %w", e.Name, method, path, err)
		}
	}
	return nil
}

func (e *emu) setFaults(ctx context.Context, f emulator.Faults) error {
	return e.admin(ctx, http.MethodPost, "/emulator/faults", f, nil)
}

func (e *emu) jobs(ctx context.Context) ([]emulator.JobInfo, error) {
	var list struct {
		Value []emulator.JobInfo `json:"value"`
	}
	err := e.admin(ctx, http.MethodGet, "/emulator/jobs", nil, &list)
	return list.Value, err
}

// takeRequests returns the request log and empties it.
func (e *emu) takeRequests(ctx context.Context) ([]emulator.Request, error) {
	var list struct {
		Value []emulator.Request `json:"value"`
	}
	if err := e.admin(ctx, http.MethodGet, "/emulator/requests", nil, &list); err != nil {
		return nil, err
	}
	return list.Value, e.admin(ctx, http.MethodDelete, "/emulator/requests", nil, nil)
}

var (
	emulatorListening = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	azuriteListening  = regexp.MustCompile(`successfully listens on (http://127\.0\.0\.1:\d+)`)
)

// azuriteAccountKey is Azurite's published development key (not a secret).
const azuriteAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// startAzurite runs an in-memory Azurite on a free port and returns the
// process and a connection string.
func startAzurite(ctx context.Context, bin, dir string) (*proc, string, error) {
	p, err := start("azurite", bin, []string{"--inMemoryPersistence", "--blobHost", "127.0.0.1", "--blobPort", "0", "--skipApiVersionCheck", "--loose"}, os.Environ(), dir)
	if err != nil {
		return nil, "", fmt.Errorf("%w (is Node.js installed? `make deps` installs Azurite)", err)
	}
	ep, err := p.waitLine(ctx, azuriteListening, 60*time.Second)
	if err != nil {
		p.kill()
		return nil, "", err
	}
	conn := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;BlobEndpoint=%s/devstoreaccount1;", azuriteAccountKey, ep)
	return p, conn, nil
}
