package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sample"
)

// TestRestoreCommandConversations: through the CLI, the Travel (CLU) and
// TravelRouter (orchestration) samples replicate and back up, then each is
// restored under another name (point in time for one, by backup key for
// the other). The restored CLU project answers, and the restored
// orchestration project routes to the CLU replica on its own target.
func TestRestoreCommandConversations(t *testing.T) {
	t.Parallel()
	src := emulatortest.Start(t, &emulator.Options{Name: "primary", Clock: emulator.RealClock()})
	tgt := emulatortest.Start(t, &emulator.Options{Name: "secondary", Clock: emulator.RealClock()})
	for _, p := range sample.Conversations() {
		src.LoadConversation(p.Name, p.JSON)
		src.TrainAndDeployConversation(p.Name, "v1", "production")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "langsync.yaml")
	cfg := fmt.Sprintf(`resources:
  primary: {endpoint: %q, key: "${SRC_KEY}"}
  secondary: {endpoint: %q, key: "${TGT_KEY}"}
projects:
  - {name: Travel, source: primary, targets: [secondary], deployments: [production]}
  - {name: TravelRouter, source: primary, targets: [secondary], deployments: [production]}
store: %q
`, src.URL, tgt.URL, filepath.Join(dir, "store"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SRC_KEY": src.Key, "TGT_KEY": tgt.Key}
	// The emulators enforce no rate limit; the service's 100 reads a
	// minute would only slow the polling down.
	budget := roomyBudget()
	runCLI := func(t *testing.T, env map[string]string, args ...string) (int, string, string) {
		t.Helper()
		return runCLIApp(t, env, func(o *app.Options) { o.Authoring = &authoring.ClientOptions{Budget: budget} }, args...)
	}
	if code, stdout, stderr := runCLI(t, env, "replicate", "--config", cfgPath); code != exitOK {
		t.Fatalf("replicate exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ := runCLI(t, env, "backups", "list", "--config", cfgPath, "--project", "TravelRouter", "--json")
	var refs []langsync.BackupRef
	if code != exitOK || json.Unmarshal([]byte(stdout), &refs) != nil || len(refs) != 1 {
		t.Fatalf("backups list: %d %s", code, stdout)
	}

	at := time.Now().UTC().Add(time.Minute).Format(time.RFC3339)
	restores := [][]string{
		{"--project", "Travel", "--at", at, "--to", "secondary", "--as", "TravelOld"},
		{"--backup", refs[0].Key, "--to", "secondary", "--as", "RouterOld"},
	}
	for _, args := range restores {
		code, stdout, stderr := runCLI(t, env, append([]string{"restore", "--config", cfgPath, "--json"}, args...)...)
		if code != exitOK {
			t.Fatalf("restore %v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		var out struct{ Run langsync.Run }
		if err := json.Unmarshal([]byte(stdout), &out); err != nil || out.Run.Phase != langsync.RunSucceeded {
			t.Fatalf("restore %v: %v\n%s", args, err, stdout)
		}
		if strings.Contains(stdout+stderr, src.Key) || strings.Contains(stdout+stderr, tgt.Key) {
			t.Errorf("restore output contains a key")
		}
	}
	for _, name := range []string{"TravelOld", "RouterOld"} {
		if c, _, b := tgt.Do(http.MethodGet, "/language/authoring/analyze-conversations/projects/"+name+"/deployments/production?api-version=2023-04-01", nil); c != http.StatusOK {
			t.Errorf("deployment production of %s on the secondary: %d %s", name, c, b)
		}
	}
	if out := tgt.AnalyzeConversation("TravelOld", "production", "cancel my booking QX7781"); !strings.Contains(out, `"topIntent":"CancelBooking"`) {
		t.Errorf("TravelOld on the secondary: %s", out)
	}
	// The restored router keeps routing to the CLU replica by its name on
	// the secondary.
	out := tgt.AnalyzeConversation("RouterOld", "production", "book me a flight to Madrid")
	if !strings.Contains(out, `"topIntent":"BookFlight"`) || !strings.Contains(out, `"targetProjectKind":"Conversation"`) {
		t.Errorf("RouterOld on the secondary: %s", out)
	}
}
