package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/predict"
	"github.com/langsync/langsync/shared/sample"
)

// classifyRegions starts two Language emulators with the sample Tickets
// project deployed as production and writes a config naming them.
func classifyRegions(t *testing.T) (primary, secondary *emulatortest.Resource, cfgPath string, env map[string]string) {
	t.Helper()
	p := sample.Tickets()
	var export map[string]any
	if err := json.Unmarshal(p.JSON, &export); err != nil {
		t.Fatal(err)
	}
	start := func(name string) *emulatortest.Resource {
		r := emulatortest.Start(t, &emulator.Options{Name: name})
		r.Load(emulatortest.Project{Name: p.Name, Container: p.Container, Kind: string(p.Kind), Export: export, Docs: p.Docs})
		r.TrainAndDeploy(p.Name, "v1", "production")
		return r
	}
	primary, secondary = start("primary"), start("secondary")
	cfgPath = filepath.Join(t.TempDir(), "langsync.yaml")
	cfg := `resources:
  primary: { endpoint: "` + primary.URL + `", key: "${PRIMARY_KEY}" }
  secondary: { endpoint: "` + secondary.URL + `", key: "${SECONDARY_KEY}" }
projects:
  - name: Tickets
    source: primary
    targets: [secondary]
    deployments: [production]
store: ` + t.TempDir() + `
`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return primary, secondary, cfgPath, map[string]string{"PRIMARY_KEY": primary.Key, "SECONDARY_KEY": secondary.Key}
}

func TestClassifyCommand(t *testing.T) {
	primary, _, cfg, env := classifyRegions(t)
	probes := sample.Tickets().Probes

	code, stdout, stderr := runCLI(t, env, "classify", "--config", cfg, "--project", "Tickets", probes[0].Text, probes[1].Text)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "primary") || !strings.Contains(lines[0], probes[0].Want[0]) ||
		!strings.Contains(lines[1], probes[1].Want[0]) || !strings.Contains(lines[2], "active endpoint: primary") {
		t.Fatalf("stdout:\n%s", stdout)
	}

	// Region down: the answer comes from the secondary, with the same label.
	if err := primary.Server.SetFaults(emulator.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	e := &Env{Stdin: strings.NewReader(probes[0].Text + "\n\n" + probes[1].Text + "\n"), Stdout: &out, Stderr: &bytes.Buffer{},
		Getenv: func(k string) string { return env[k] }}
	if code := run(context.Background(), e, []string{"classify", "--config", cfg, "--project", "Tickets", "--deployment", "production", "--json", "-"}); code != exitOK {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	var got classifyOutput
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if len(got.Documents) != 2 || got.Kind != "CustomSingleLabelClassification" {
		t.Fatalf("output = %+v", got)
	}
	for i, d := range got.Documents {
		if d.Endpoint != "secondary" || d.Labels()[0] != probes[i].Want[0] {
			t.Errorf("document %d: served by %s as %v, want secondary and %s", i, d.Endpoint, d.Labels(), probes[i].Want[0])
		}
	}
	if strings.Contains(out.String(), env["PRIMARY_KEY"]) || strings.Contains(out.String(), env["SECONDARY_KEY"]) {
		t.Fatal("a key leaked into the output")
	}
}

// TestClassifyNotReplicated: the replica lacks the project and the primary
// is down: the command fails (exit 1) saying exactly that.
func TestClassifyNotReplicated(t *testing.T) {
	primary, _, _, env := classifyRegions(t)
	empty := emulatortest.Start(t, &emulator.Options{Name: "empty"})
	cfg := filepath.Join(t.TempDir(), "langsync.yaml")
	os.WriteFile(cfg, []byte(`resources:
  primary: { endpoint: "`+primary.URL+`", key: "${PRIMARY_KEY}" }
  empty: { endpoint: "`+empty.URL+`", key: "${EMPTY_KEY}" }
projects:
  - { name: Tickets, source: primary, targets: [empty], deployments: [production] }
store: `+t.TempDir()+"\n"), 0o644)
	env["EMPTY_KEY"] = empty.Key
	if err := primary.Server.SetFaults(emulator.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, env, "classify", "--config", cfg, "--project", "Tickets", "I was charged twice")
	if code != exitFailed || !strings.Contains(stderr, "project Tickets / deployment production was never replicated to empty") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stderr, empty.Key) || strings.Contains(stderr, primary.Key) {
		t.Fatal("a key leaked into stderr")
	}
}

func TestClassifyUsage(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "langsync.yaml")
	os.WriteFile(cfg, []byte(`resources:
  primary: { endpoint: "http://127.0.0.1:1", key: k }
  secondary: { endpoint: "http://127.0.0.1:2", key: k }
projects:
  - { name: Tickets, source: primary, targets: [secondary], deployments: [a, b] }
store: `+t.TempDir()+"\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"NoProject", []string{"classify", "--config", cfg, "x"}, "--project is required"},
		{"NoTexts", []string{"classify", "--config", cfg, "--project", "Tickets"}, "no texts"},
		{"NoConfig", []string{"classify", "--project", "Tickets", "x"}, "--config is required"},
		{"UnknownProject", []string{"classify", "--config", cfg, "--project", "Nope", "x"}, `project "Nope" is not in`},
		{"AmbiguousDeployment", []string{"classify", "--config", cfg, "--project", "Tickets", "x"}, "--deployment is required"},
		{"BadKind", []string{"classify", "--config", cfg, "--project", "Tickets", "--deployment", "a", "--kind", "x", "t"}, "want single, multi or ner"},
		{"EmptyText", []string{"classify", "--config", cfg, "--project", "Tickets", "--deployment", "a", "--kind", "single", "  "}, "text 1 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

func TestClassifyBatches(t *testing.T) {
	texts := make([]string, 60)
	for i := range texts {
		texts[i] = "t"
	}
	b := classifyBatches(texts)
	if len(b) != 3 || len(b[0]) != 25 || len(b[2]) != 10 {
		t.Fatalf("batches of %d", len(b))
	}
	big := []string{strings.Repeat("a", 100000), strings.Repeat("b", 100000)}
	if b := classifyBatches(big); len(b) != 2 {
		t.Fatalf("125,000-character limit not applied: %d batches", len(b))
	}
}

// TestClassifyStdinLineTooLong: a stdin line beyond the read limit is a usage
// error naming the limit and what to do, not bufio's "token too long".
func TestClassifyStdinLineTooLong(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "langsync.yaml")
	os.WriteFile(cfg, []byte(`resources:
  primary: { endpoint: "http://127.0.0.1:1", key: k }
  secondary: { endpoint: "http://127.0.0.1:2", key: k }
projects:
  - { name: Tickets, source: primary, targets: [secondary], deployments: [a] }
store: `+t.TempDir()+"\n"), 0o644)
	in := "short text\n" + strings.Repeat("x", predict.MaxChars*4+1) + "\n"
	var stdout, stderr bytes.Buffer
	e := &Env{Stdin: strings.NewReader(in), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	code := run(context.Background(), e, []string{"classify", "--config", cfg, "--project", "Tickets", "--kind", "single", "-"})
	want := fmt.Sprintf("text 2 on stdin (one line) is longer than %d bytes", predict.MaxChars*4)
	if code != exitUsage || !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "split it") || strings.Contains(stderr.String(), "token too long") {
		t.Fatalf("exit %d, stderr %q; want 2 and %q with what to do", code, stderr.String(), want)
	}
}
