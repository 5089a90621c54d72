package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/sbemulator/sbemulatortest"
)

// TestEveryJSONFlagPrintsOneDocument runs every command and subcommand that
// takes --json (found from their help, so a new one cannot be missed) with
// --json against the emulators, and checks that stdout is exactly one JSON
// document — what a script piping into jq relies on (issue 14, item 1).
func TestEveryJSONFlagPrintsOneDocument(t *testing.T) {
	t.Parallel()
	fast := map[string]time.Duration{}
	for k := range emulator.DefaultJobDurations {
		fast[k] = 20 * time.Millisecond
	}
	f := newPairFixture(t, fast)
	src, tgt, dir, cfgPath := f.src, f.tgt, f.dir, f.cfgPath
	sb := sbemulatortest.Start(t, nil)
	env := map[string]string{
		"SRC_KEY": src.Key, "TGT_KEY": tgt.Key,
		"LANGSYNC_SERVICEBUS": sb.ConnectionString,
		// project subcommands drive the primary by hand (the secondary's
		// authoring POST budget is spent by the replications).
		"LANGSYNC_ENDPOINT": src.URL, "LANGSYNC_KEY": src.Key,
	}
	if code, stdout, stderr := runCLI(t, env, "replicate", "--config", cfgPath); code != exitOK {
		t.Fatalf("replicate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ := runCLI(t, env, "backups", "list", "--config", cfgPath, "--json")
	var refs []struct{ Key string }
	if err := json.Unmarshal([]byte(stdout), &refs); code != exitOK || err != nil || len(refs) != 1 {
		t.Fatalf("backups list --json: exit %d, %v: %s", code, err, stdout)
	}
	key := refs[0].Key
	exported := filepath.Join(dir, "export.json")

	// In order: later steps use what earlier ones made.
	steps := []struct {
		path string
		args []string
	}{
		{"version", nil},
		{"replicate", []string{"--config", cfgPath}},
		{"sync", []string{"--config", cfgPath}},
		{"sync", []string{"--config", cfgPath, "--dry-run"}},
		{"status", []string{"--config", cfgPath}},
		{"restore", []string{"--config", cfgPath, "--backup", key, "--to", "secondary", "--as", "TicketsOld", "--dry-run"}},
		{"restore", []string{"--config", cfgPath, "--project", "Tickets", "--at", "2099-01-01", "--to", "secondary", "--as", "TicketsOld"}},
		{"classify", []string{"--config", cfgPath, "--project", "Tickets", "--deployment", "production", "my bill is wrong"}},
		{"backups list", []string{"--config", cfgPath}},
		{"backups show", []string{key, "--config", cfgPath}},
		{"backups verify", []string{"--config", cfgPath}},
		{"backups prune", []string{"--dry-run", "--config", cfgPath}},
		{"backups quarantine", []string{key, "--reason", "test", "--config", cfgPath}},
		{"backups unquarantine", []string{key, "--config", cfgPath}},
		{"backups delete", []string{key, "--yes", "--force", "--config", cfgPath}},
		{"enqueue replicate", []string{"--project", "Tickets"}},
		{"enqueue restore", []string{"--project", "Tickets", "--at", "2026-11-20", "--target", "secondary"}},
		{"project list", nil},
		{"project show", []string{"Tickets"}},
		{"project export", []string{"Tickets", "-o", exported}},
		{"project import", []string{"TicketsCopy", exported}},
		{"project train", []string{"TicketsCopy", "--model", "m1"}},
		{"project deploy", []string{"TicketsCopy", "production", "--model", "m1"}},
		{"project delete", []string{"TicketsCopy"}},
	}
	covered := map[string]bool{}
	for _, s := range steps {
		args := append(append(strings.Fields(s.path), s.args...), "--json")
		if s.path == "version" {
			// version takes no --json; it is here to show the table is
			// not just the commands that do.
			continue
		}
		covered[s.path] = true
		code, stdout, stderr := runCLI(t, env, args...)
		if code != exitOK {
			t.Errorf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
			continue
		}
		assertOneJSONDocument(t, strings.Join(args, " "), stdout)
		for _, k := range []string{src.Key, tgt.Key} {
			if strings.Contains(stdout+stderr, k) {
				t.Errorf("%s: output contains a key", s.path)
			}
		}
	}
	for _, path := range manualPaths(t) {
		words := strings.Fields(path)
		for _, f := range helpFlags(t.Context(), commandNamed(t, words[0]), words[1:]) {
			if f == "--json" && !covered[path] && len(manual[path].Subs) == 0 {
				t.Errorf("langsync %s takes --json but this test does not run it", path)
			}
		}
	}
}
