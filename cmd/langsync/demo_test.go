package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/sample"
)

// TestDemo runs the `langsync demo` scenario (the same demo.run the command
// calls) and checks what every step observed, that keys stay out of the
// output, and that everything it started is stopped at the end.
func TestDemo(t *testing.T) {
	t.Parallel()
	ctx, cancel := testContext(t)
	defer cancel()
	out := &localLogs{}
	env := &Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: out, Getenv: os.Getenv}
	d, err := parseDemo(env, []string{"--train-duration", "500ms"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.run(ctx)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}

	if len(rep.Steps) != 8 {
		t.Fatalf("%d steps reported, want 8: %+v", len(rep.Steps), rep.Steps)
	}
	for _, s := range rep.Steps {
		want := "passed"
		if strings.HasPrefix(s.Name, "4/5") && !hasCommand("restore") {
			want = "skipped"
		}
		if s.Status != want {
			t.Errorf("step %q %s (%s), want %s", s.Name, s.Status, s.Detail, want)
		}
	}
	if len(rep.Fingerprints) != 2 || rep.Fingerprints[0] == rep.Fingerprints[1] {
		t.Errorf("fingerprints after steps 1 and 3: %v, want two different ones", rep.Fingerprints)
	}
	if len(rep.SyncLines) != 2 || !strings.Contains(rep.SyncLines[0], ": replicate (source changed") || !strings.Contains(rep.SyncLines[1], ": none (up to date") {
		t.Errorf("sync decisions %q, want replicate (source changed) then none (up to date)", rep.SyncLines)
	}
	if rep.SecondSyncWrites != 0 {
		t.Errorf("the skipping sync sent %d writes to the secondary", rep.SecondSyncWrites)
	}
	if hasCommand("restore") && rep.Restored != "TicketsOld" {
		t.Errorf("restored %q, want TicketsOld", rep.Restored)
	}
	probes := sample.Tickets().Probes
	if len(rep.Up) != len(probes) || len(rep.Down) != len(probes) {
		t.Fatalf("predictions up %d, down %d; want %d each", len(rep.Up), len(rep.Down), len(probes))
	}
	for i, p := range probes {
		up, down := rep.Up[i], rep.Down[i]
		if up.Endpoint != "primary" || down.Endpoint != "secondary" || up.Label != p.Want[0] || down.Label != p.Want[0] || up.Text != p.Text {
			t.Errorf("probe %q: up %+v, down %+v; want %s from primary then secondary", p.Text, up, down, p.Want[0])
		}
	}
	travel := sample.Travel().Probes
	if len(rep.TravelUp) != len(travel) || len(rep.TravelDown) != len(travel) {
		t.Fatalf("Travel predictions up %d, down %d; want %d each", len(rep.TravelUp), len(rep.TravelDown), len(travel))
	}
	for i, p := range travel {
		up, down := rep.TravelUp[i], rep.TravelDown[i]
		if up.Endpoint != "primary" || down.Endpoint != "secondary" || up.Label != p.Want[0] || down.Label != p.Want[0] {
			t.Errorf("Travel probe %q: up %+v, down %+v; want top intent %s from primary then secondary", p.Text, up, down, p.Want[0])
		}
	}
	text := out.String()
	for _, want := range []string{"==> 1/5", "==> 2/5", "==> 3/5", "==> 4/5", "==> 5/5", "$ langsync replicate --config langsync.yaml", "Demo finished"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, k := range []string{d.primary.key, d.secondary.key} {
		if strings.Contains(text, k) {
			t.Fatal("a subscription key appears in the demo output")
		}
	}
	if strings.Contains(text, azuriteAccountKey) {
		t.Error("the storage account key appears in the demo output")
	}
	// Everything the demo started is stopped.
	client := &http.Client{Timeout: 2 * time.Second}
	for _, u := range []string{d.primary.url, d.secondary.url, strings.TrimSuffix(strings.SplitN(strings.SplitN(d.storeConn, "BlobEndpoint=", 2)[1], "/devstoreaccount1", 2)[0], "/")} {
		if resp, err := client.Get(u); err == nil {
			resp.Body.Close()
			t.Errorf("%s still answers after the demo", u)
		}
	}
	if _, err := os.Stat(d.dir); !os.IsNotExist(err) {
		t.Errorf("work directory %s left behind (%v)", d.dir, err)
	}
}

// TestDemoFailsLoudly: a step that fails stops the demo with its name in
// the error and a DEMO FAILED line, and exit code 1.
func TestDemoFailsLoudly(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "demo", "--azurite", "/nonexistent/azurite-blob")
	if code != exitFailed {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stdout, `DEMO FAILED at step "setup: start Azurite`) || !strings.Contains(stderr, `demo step "setup: start Azurite`) || !strings.Contains(stderr, "make deps") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}
