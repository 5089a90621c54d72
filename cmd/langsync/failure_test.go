package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

// TestProgressPrinterShowsEveryRetry: each retry is a line of its own with
// its reason, number and delay (identical events are still printed once).
func TestProgressPrinterShowsEveryRetry(t *testing.T) {
	var out bytes.Buffer
	p := &progressPrinter{w: &out, last: map[string]string{}}
	imp := langsync.Step{Name: langsync.StepImport, Target: "secondary", Model: "model1", Error: "resource unreachable: ..."}
	for _, ev := range []pipeline.Progress{
		{Run: "r", Step: imp, Event: "start"},
		{Run: "r", Step: imp, Event: "retry", Message: "secondary unreachable (connection refused), retry 1 in 10s; gives up 2m0s after the first failure"},
		{Run: "r", Step: imp, Event: "retry", Message: "secondary unreachable (connection refused), retry 2 in 20s; gives up 2m0s after the first failure"},
		{Run: "r", Step: imp, Event: "retry", Message: "secondary unreachable (connection refused), retry 2 in 20s; gives up 2m0s after the first failure"},
		{Run: "r", Step: imp, Event: "retry", Message: "secondary unreachable (connection refused), retry 3 in 40s; gives up 2m0s after the first failure", Elapsed: 31 * time.Second},
		{Run: "r", Step: langsync.Step{Name: langsync.StepTrain, Target: "secondary", Model: "model1", Status: langsync.StepSkipped, Note: "not run: import/secondary/model1 failed"}, Event: "skip"},
	} {
		p.print(ev)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"import/secondary/model1            start",
		"import/secondary/model1            retry   secondary unreachable (connection refused), retry 1 in 10s;",
		"import/secondary/model1            retry   secondary unreachable (connection refused), retry 2 in 20s;",
		"import/secondary/model1            retry   secondary unreachable (connection refused), retry 3 in 40s;",
		"train/secondary/model1             skip    not run: import/secondary/model1 failed",
	}
	if len(lines) != len(want) {
		t.Fatalf("printed:\n%s\nwant %d lines", out.String(), len(want))
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %q, want it to contain %q", i, lines[i], w)
		}
	}
	if !strings.HasPrefix(lines[3], "[     31s]") {
		t.Errorf("line %q lacks the elapsed time", lines[3])
	}
}

// TestReplicateWithAnUnreachableTarget: `langsync replicate` to two targets,
// one of them a closed port: the other is replicated, the command exits 1
// naming the unreachable resource and lists each target's outcome, and
// status shows both.
func TestReplicateWithAnUnreachableTarget(t *testing.T) {
	src := emulatortest.Start(t, &emulator.Options{Name: "primary", Clock: emulator.RealClock()})
	tgt := emulatortest.Start(t, &emulator.Options{Name: "secondary", Clock: emulator.RealClock()})
	src.Load(emulatortest.SingleLabelProject("Tickets", "tickets", 12))
	src.TrainAndDeploy("Tickets", "model1", "production")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "langsync.yaml")
	cfg := fmt.Sprintf(`resources:
  primary: {endpoint: %q, key: "${SRC_KEY}", storage: %q}
  secondary: {endpoint: %q, key: "${TGT_KEY}", storage: %q}
  dead: {endpoint: %q, key: "${TGT_KEY}"}
projects:
  - {name: Tickets, source: primary, targets: [secondary, dead], deployments: [production]}
store: %q
unreachableBudget: 1s
`, src.URL, src.DocsDir, tgt.URL, tgt.DocsDir, dead, filepath.Join(dir, "store"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SRC_KEY": src.Key, "TGT_KEY": tgt.Key}
	code, stdout, stderr := runCLI(t, env, "replicate", "--config", cfgPath)
	if code != exitFailed {
		t.Fatalf("replicate exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFailed, stdout, stderr)
	}
	for _, want := range []string{
		"1 of 2 targets failed: dead/Tickets failed at import/dead/model1: dead unreachable for",
		"  dead/Tickets: failed at import/dead/model1",
		"  secondary/Tickets: succeeded",
		"verify/secondary",
		"skip    not run: import/dead/model1 failed",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("replicate output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = runCLI(t, env, "status", "--config", cfgPath)
	if code != exitOK {
		t.Fatalf("status exit %d", code)
	}
	for _, line := range strings.Split(stdout, "\n") {
		switch {
		case strings.HasPrefix(line, "primary/Tickets -> dead"):
			if !strings.Contains(line, " failed") || !strings.Contains(line, "dead unreachable") {
				t.Errorf("status row %q, want the failed run and its reason", line)
			}
		case strings.HasPrefix(line, "primary/Tickets -> secondary"):
			if !strings.Contains(line, " succeeded") {
				t.Errorf("status row %q, want the succeeded run", line)
			}
		}
	}
	for _, s := range []string{stdout, stderr} {
		if strings.Contains(s, src.Key) || strings.Contains(s, tgt.Key) {
			t.Errorf("output contains a key")
		}
	}
}
