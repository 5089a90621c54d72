package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/sample"
)

// TestClassifyConversations: classify reads the kind of the Travel (CLU)
// and TravelRouter (orchestration) samples itself, prints intents and
// entities, and fails over like for text projects.
func TestClassifyConversations(t *testing.T) {
	t.Parallel()
	start := func(name string) *emulatortest.Resource {
		r := emulatortest.Start(t, &emulator.Options{Name: name})
		for _, p := range sample.Conversations() {
			r.LoadConversation(p.Name, p.JSON)
			r.TrainAndDeployConversation(p.Name, "v1", "production")
		}
		return r
	}
	primary, secondary := start("primary"), start("secondary")
	cfg := filepath.Join(t.TempDir(), "langsync.yaml")
	body := `resources:
  primary: { endpoint: "` + primary.URL + `", key: "${PRIMARY_KEY}" }
  secondary: { endpoint: "` + secondary.URL + `", key: "${SECONDARY_KEY}" }
projects:
  - { name: Travel, source: primary, targets: [secondary], deployments: [production] }
  - { name: TravelRouter, source: primary, targets: [secondary], deployments: [production] }
store: ` + t.TempDir() + `
`
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PRIMARY_KEY": primary.Key, "SECONDARY_KEY": secondary.Key}

	code, stdout, stderr := runCLI(t, env, "classify", "--config", cfg, "--project", "Travel", "cancel my booking QX7781")
	if code != exitOK || !strings.Contains(stdout, `CancelBooking (`) || !strings.Contains(stdout, `BookingRef="QX7781"`) || !strings.HasPrefix(stdout, "primary") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, env, "classify", "--config", cfg, "--project", "TravelRouter", "book me a flight to Madrid")
	if code != exitOK || !strings.Contains(stdout, "Travel (") || !strings.Contains(stdout, "-> Conversation: BookFlight (") || !strings.Contains(stdout, `City="Madrid"`) {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	if err := primary.Server.SetFaults(emulator.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, env, "classify", "--config", cfg, "--project", "Travel", "--kind", "clu", "--json", "is flight LH4402 on time")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got classifyOutput
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Documents) != 1 || got.Documents[0].Endpoint != "secondary" || got.Documents[0].TopIntent != "FlightStatus" || got.Kind != "Conversation" {
		t.Fatalf("output = %s", stdout)
	}
}

// TestProjectCommandConversations: `langsync project` imports a CLU export
// into the conversations API (by its projectKind) and trains, deploys and
// shows it there.
func TestProjectCommandConversations(t *testing.T) {
	r := emulatortest.Start(t, nil)
	file := filepath.Join(t.TempDir(), "travel.json")
	if err := os.WriteFile(file, sample.Travel().JSON, 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LANGSYNC_ENDPOINT": r.URL, "LANGSYNC_KEY": r.Key}
	for _, args := range [][]string{
		{"project", "import", "Travel", file},
		{"project", "train", "Travel", "--model", "v1"},
		{"project", "deploy", "Travel", "production", "--model", "v1"},
	} {
		if code, stdout, stderr := runCLI(t, env, args...); code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	code, stdout, stderr := runCLI(t, env, "project", "show", "Travel", "--json")
	if code != exitOK || !strings.Contains(stdout, `"Conversation"`) {
		t.Fatalf("show: exit %d\n%s%s", code, stdout, stderr)
	}
	if n := r.Server.CountRequests("PUT", "/analyze-conversations/projects/Travel/deployments/production"); n != 1 {
		t.Errorf("%d deployments sent to the conversations API, want 1", n)
	}
}
