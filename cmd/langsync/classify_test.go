package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
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
	t.Parallel()
	primary, _, cfg, env := classifyRegions(t)
	probes := sample.Tickets().Probes

	code, stdout, stderr := runCLI(t, env, "classify", "--config", cfg, "--project", "Tickets", probes[0].Text, probes[1].Text)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "primary") || !strings.Contains(lines[0], probes[0].Want[0]) ||
		!strings.Contains(lines[1], probes[1].Want[0]) || lines[2] != "answered by: primary (first in priority order, breaker closed)" {
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

// TestClassifyAnsweredBySecondary: with the primary down the footer names
// the endpoint that answered and why (the primary's error and its breaker),
// not the client's "active" endpoint, which is still the primary after one
// failed request; --json carries the same, as one document.
func TestClassifyAnsweredBySecondary(t *testing.T) {
	t.Parallel()
	primary, _, cfg, env := classifyRegions(t)
	if err := primary.Server.SetFaults(emulator.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	probes := sample.Tickets().Probes
	code, stdout, stderr := runCLI(t, env, "classify", "--config", cfg, "--project", "Tickets", probes[0].Text, probes[1].Text)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	footer := lines[len(lines)-1]
	wantStart := "answered by: secondary (primary failed: POST " + primary.URL + "/language/analyze-text/jobs: "
	wantEnd := "; breaker still closed after 1 consecutive failed request (it opens at 5))"
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "secondary") || !strings.HasPrefix(lines[1], "secondary") ||
		!strings.HasPrefix(footer, wantStart) || !strings.HasSuffix(footer, wantEnd) || strings.Contains(stdout, "active endpoint") {
		t.Fatalf("stdout:\n%s\nwant a footer %q…%q", stdout, wantStart, wantEnd)
	}
	t.Logf("footer: %s", footer)

	code, stdout, stderr = runCLI(t, env, "classify", "--config", cfg, "--project", "Tickets", "--json", probes[0].Text, probes[1].Text)
	if code != exitOK {
		t.Fatalf("--json: exit %d: %s", code, stderr)
	}
	assertOneJSONDocument(t, "classify --json, primary down", stdout)
	var got classifyOutput
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Requests) != 1 {
		t.Fatalf("requests = %+v", got.Requests)
	}
	r := got.Requests[0]
	if r.Endpoint != "secondary" || !r.Failover || r.FirstText != 1 || r.LastText != 2 ||
		"answered by: secondary ("+r.Reason+")" != footer || len(r.Attempts) != 1 || r.Attempts[0].Endpoint != "primary" ||
		r.Attempts[0].Breaker != "still closed after 1 consecutive failed request (it opens at 5)" {
		t.Fatalf("request = %+v\nwant it to say what the text footer says:\n%s", r, footer)
	}
	for _, key := range []string{env["PRIMARY_KEY"], env["SECONDARY_KEY"]} {
		if strings.Contains(stdout, key) || strings.Contains(stderr, key) {
			t.Fatal("a key leaked into the output")
		}
	}
}

// TestClassifyAnsweredByBoth: when the primary fails between two requests
// (batches) of one run, the footer says which texts each endpoint answered.
func TestClassifyAnsweredByBoth(t *testing.T) {
	t.Parallel()
	primary, secondary, _, env := classifyRegions(t)
	// A proxy in front of the primary lets its first prediction through
	// and refuses the later ones with 503 (the emulator's faults apply
	// from the moment they are set, not from the Nth request).
	target, err := url.Parse(primary.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	var submits atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/language/analyze-text/jobs") && submits.Add(1) > 1 {
			http.Error(w, `{"error":{"code":"ServiceUnavailable","message":"injected"}}`, http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	cfg := filepath.Join(t.TempDir(), "langsync.yaml")
	os.WriteFile(cfg, []byte(`resources:
  primary: { endpoint: "`+proxy.URL+`", key: "${PRIMARY_KEY}" }
  secondary: { endpoint: "`+secondary.URL+`", key: "${SECONDARY_KEY}" }
projects:
  - { name: Tickets, source: primary, targets: [secondary], deployments: [production] }
store: `+t.TempDir()+"\n"), 0o644)

	texts := make([]string, predict.MaxDocuments+1)
	for i := range texts {
		texts[i] = sample.Tickets().Probes[i%2].Text
	}
	code, stdout, stderr := runCLI(t, env, append([]string{"classify", "--config", cfg, "--project", "Tickets"}, texts...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	footer := lines[len(texts):]
	if len(footer) != 3 || footer[0] != "answered by: primary for texts 1-25, secondary for text 26" ||
		footer[1] != "  texts 1-25: primary (first in priority order, breaker closed)" ||
		!strings.HasPrefix(footer[2], "  text 26: secondary (primary failed: POST "+proxy.URL+"/language/analyze-text/jobs: 503 Service Unavailable") {
		t.Fatalf("footer:\n%s", strings.Join(footer, "\n"))
	}
	t.Logf("footer:\n%s", strings.Join(footer, "\n"))
	if !strings.HasPrefix(lines[24], "primary") || !strings.HasPrefix(lines[25], "secondary") {
		t.Fatalf("lines 25-26:\n%s\n%s", lines[24], lines[25])
	}
}

// TestClassifyKindMismatch: --kind that does not match the project is a
// usage error (exit 2) naming the project's kind and the fix, not the
// service's bare 400; --json still prints one document saying the same.
func TestClassifyKindMismatch(t *testing.T) {
	_, _, cfg, env := classifyRegions(t)
	text := sample.Tickets().Probes[0].Text
	for _, tt := range []struct{ flag, want string }{
		{"ner", "project Tickets is a single-label classification project (CustomSingleLabelClassification); --kind ner does not match: drop --kind or use --kind single"},
		{"multi", "project Tickets is a single-label classification project (CustomSingleLabelClassification); --kind multi does not match: drop --kind or use --kind single"},
	} {
		t.Run(tt.flag, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, env, "classify", "--config", cfg, "--project", "Tickets", "--kind", tt.flag, text)
			if code != exitUsage || stderr != "langsync classify: "+tt.want+"\n" || stdout != "" {
				t.Fatalf("exit %d\nstderr %q\nstdout %q\nwant exit 2 and %q", code, stderr, stdout, tt.want)
			}

			code, stdout, stderr = runCLI(t, env, "classify", "--config", cfg, "--project", "Tickets", "--kind", tt.flag, "--json", text)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Fatalf("--json: exit %d, stderr %q", code, stderr)
			}
			assertOneJSONDocument(t, "classify --json --kind "+tt.flag, stdout)
			var got classifyOutput
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatal(err)
			}
			if got.Error != tt.want || got.ProjectKind != "CustomSingleLabelClassification" || got.Kind != classifyKinds[tt.flag] || len(got.Documents) != 0 {
				t.Fatalf("--json document = %+v", got)
			}
		})
	}
	// The matching kind needs no lookup and answers.
	if code, stdout, stderr := runCLI(t, env, "classify", "--config", cfg, "--project", "Tickets", "--kind", "single", text); code != exitOK || !strings.Contains(stdout, "Billing") {
		t.Fatalf("--kind single: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestClassifyKindMismatchMessage(t *testing.T) {
	err := kindMismatch("Orders", "", langsync.SingleLabelClassification, langsync.EntityRecognition)
	want := "project Orders is a custom NER project (CustomEntityRecognition); its kind could not be read before sending, so --kind single was assumed and the service refused it: use --kind ner"
	if err.Error() != want {
		t.Errorf("assumed kind:\n got %q\nwant %q", err, want)
	}
	if err := kindMismatch("S", "single", langsync.SingleLabelClassification, "CustomTextSentiment"); !strings.Contains(err.Error(), "is a CustomTextSentiment project, which classify does not support") {
		t.Errorf("unsupported kind: %v", err)
	}
}

// TestClassifyNotReplicated: the replica lacks the project and the primary
// is down: the command fails (exit 1) saying exactly that.
func TestClassifyNotReplicated(t *testing.T) {
	t.Parallel()
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
		{"BadKind", []string{"classify", "--config", cfg, "--project", "Tickets", "--deployment", "a", "--kind", "x", "t"}, "want single, multi, ner, clu or orchestration"},
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
