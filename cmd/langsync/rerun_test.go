package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/pipeline"
)

// TestHelperReplicate is not a test: TestReplicateRerunAfterKillDuringPOST
// runs the test binary with LANGSYNC_HELPER_REPLICATE=1 to get a
// `langsync replicate` process that stops right after the training POST
// (before saving the job), so that it can be killed there.
func TestHelperReplicate(t *testing.T) {
	if os.Getenv("LANGSYNC_HELPER_REPLICATE") != "1" {
		t.Log("helper process for TestReplicateRerunAfterKillDuringPOST; nothing to do on its own")
		return
	}
	e := &Env{Stdin: strings.NewReader(""), Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, appOptions: func(o *app.Options) {
		inner := o.Pipeline
		o.Pipeline = func(po *pipeline.Options) {
			inner(po)
			po.Hook = func(at string) error {
				if at == "train/secondary/v1:begun" {
					os.Stderr.WriteString("HELD " + at + "\n")
					select {} // until killed
				}
				return nil
			}
		}
	}}
	os.Exit(run(context.Background(), e, append([]string{"replicate"}, strings.Fields(os.Getenv("LANGSYNC_HELPER_ARGS"))...)))
}

// jumpClock is the real clock, moved forward by jump.
type jumpClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.off)
}

func (c *jumpClock) jump(d time.Duration) { c.mu.Lock(); c.off += d; c.mu.Unlock() }

func (c *jumpClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestReplicateRerunAfterKillDuringPOST: `langsync replicate` is killed
// (SIGKILL) after the target accepted its training POST and before it
// saved the job. A rerun joins the run and says what it waits for (the
// killed process's claim, up to the claim's deadline); once the deadline
// has passed (the rerun's clock is moved past it as soon as it reports the
// wait, instead of waiting it out) it adopts the training job found on the
// target: one training POST in all.
func TestReplicateRerunAfterKillDuringPOST(t *testing.T) {
	t.Parallel()
	r := newLocalRig(t, 500*time.Millisecond)
	ctx, cancel := testContext(t)
	defer cancel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperReplicate$")
	cmd.Env = append(os.Environ(), "LANGSYNC_HELPER_REPLICATE=1", "LANGSYNC_HELPER_ARGS=--config "+r.cfgPath)
	logs := &localLogs{}
	cmd.Stdout = logs
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	held, exited := make(chan struct{}), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "HELD ") {
				close(held)
				break
			}
			logs.Write([]byte(sc.Text() + "\n"))
		}
		_, _ = io.Copy(logs, stderr)
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	select {
	case <-held:
	case <-exited:
		t.Fatalf("the first replicate ended without reaching the training POST\n%s", tail(logs.String(), 30))
	case <-ctx.Done():
		t.Fatalf("the first replicate never reached the training POST\n%s", tail(logs.String(), 30))
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	if n := r.trainPosts(); n != 1 {
		t.Fatalf("%d training POSTs before the rerun, want 1", n)
	}

	clock := &jumpClock{}
	appOptions := func(o *app.Options) {
		inner := o.Pipeline
		o.Pipeline = func(po *pipeline.Options) {
			inner(po)
			po.Clock = clock
			print := po.OnProgress
			po.OnProgress = func(ev pipeline.Progress) {
				print(ev)
				if ev.Event == "wait" {
					clock.jump(time.Hour)
				}
			}
		}
	}
	code, stdout, stderrOut := runCLIApp(t, nil, appOptions, "replicate", "--config", r.cfgPath)
	if code != exitOK {
		t.Fatalf("rerun exit %d\n%s\n%s", code, stdout, stderrOut)
	}
	var waitLine string
	for _, line := range strings.Split(stdout, "\n") {
		if strings.Contains(line, "train/secondary/v1") && strings.Contains(line, " wait ") {
			waitLine = line
		}
	}
	t.Logf("rerun printed: %s", waitLine)
	for _, want := range []string{"another langsync is starting the train job on secondary (claimed ", "; waiting up to "} {
		if !strings.Contains(waitLine, want) {
			t.Errorf("rerun printed no wait line saying %q:\n%s", want, stdout)
		}
	}
	// The killed run had read the source before the rerun: the rerun
	// joins it, then follows it with a run that reads the source again
	// (an export; no training, as nothing changed).
	for _, want := range []string{"joined active run", "(it read the source before this request; a new run follows it)", "having read the source before this request; following with run", "target unchanged (same fingerprint)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("rerun output lacks %q:\n%s", want, stdout)
		}
	}
	if n := r.trainPosts(); n != 1 {
		t.Errorf("%d training POSTs, want 1 (the rerun adopts the job)", n)
	}
	if !r.inSync(t) {
		t.Error("pair not in sync after the rerun")
	}
	for _, k := range []string{r.src.Key, r.tgt.Key} {
		if strings.Contains(stdout+stderrOut+logs.String(), k) {
			t.Fatal("a subscription key appears in the output")
		}
	}
}
