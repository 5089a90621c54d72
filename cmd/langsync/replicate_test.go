package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

// TestReplicateSyncStatusCommands runs the three commands against two
// emulators with directory storage and a directory store.
func TestReplicateSyncStatusCommands(t *testing.T) {
	t.Parallel()
	f := newPairFixture(t, nil)
	src, tgt, cfgPath, env := f.src, f.tgt, f.cfgPath, f.env
	noKeys := func(t *testing.T, out ...string) {
		t.Helper()
		for _, o := range out {
			if strings.Contains(o, src.Key) || strings.Contains(o, tgt.Key) {
				t.Errorf("output contains a key:\n%s", o)
			}
		}
	}

	code, stdout, stderr := runCLI(t, env, "replicate", "--config", cfgPath)
	if code != exitOK {
		t.Fatalf("replicate exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"started run", "export/model1", "train/secondary/model1", "deploy/secondary/production", "verify/secondary", "succeeded"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("replicate output lacks %q:\n%s", want, stdout)
		}
	}
	noKeys(t, stdout, stderr)

	code, stdout, stderr = runCLI(t, env, "sync", "--config", cfgPath)
	if code != exitOK || !strings.Contains(stdout, "primary/Tickets -> secondary: none (up to date") {
		t.Errorf("sync exit %d:\n%s\n%s", code, stdout, stderr)
	}

	code, stdout, stderr = runCLI(t, env, "status", "--config", cfgPath, "--json")
	var st []pipeline.PairStatus
	if code != exitOK || json.Unmarshal([]byte(stdout), &st) != nil || len(st) != 1 || st[0].Fingerprint == "" || st[0].LastReplicated.IsZero() {
		t.Errorf("status exit %d: %s %s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, env, "status", "--config", cfgPath)
	if code != exitOK || !strings.Contains(stdout, "LAST REPLICATED") || !strings.Contains(stdout, st[0].Fingerprint[:12]) {
		t.Errorf("status table exit %d:\n%s", code, stdout)
	}
	noKeys(t, stdout)

	// The pair's backup set aside by hand: status shows it, and sync no
	// longer says "up to date" but writes a fresh backup (no retraining).
	code, stdout, _ = runCLI(t, env, "backups", "list", "--config", cfgPath, "--json")
	var refs []langsync.BackupRef
	if code != exitOK || json.Unmarshal([]byte(stdout), &refs) != nil || len(refs) != 1 {
		t.Fatalf("backups list exit %d: %s", code, stdout)
	}
	if code, stdout, stderr := runCLI(t, env, "backups", "quarantine", refs[0].Key, "--reason", "suspected tampering", "--config", cfgPath); code != exitOK {
		t.Fatalf("backups quarantine exit %d: %s %s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, env, "status", "--config", cfgPath)
	if code != exitOK || !strings.Contains(stdout, "QUARANTINED BACKUPS") || !strings.Contains(stdout, "1 (newest "+refs[0].Key+": suspected tampering)") {
		t.Errorf("status with a quarantined backup, exit %d:\n%s", code, stdout)
	}
	code, stdout, stderr = runCLI(t, env, "sync", "--config", cfgPath)
	if code != exitOK || !strings.Contains(stdout, "replicate (backup "+refs[0].Key+" is quarantined (suspected tampering)") ||
		!strings.Contains(stdout, "target unchanged (same fingerprint)") || strings.Contains(stdout, "train/secondary") {
		t.Errorf("sync with the backup quarantined, exit %d:\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, env, "sync", "--config", cfgPath)
	if code != exitOK || !strings.Contains(stdout, "none (up to date") {
		t.Errorf("sync after the fresh backup, exit %d:\n%s\n%s", code, stdout, stderr)
	}

	code, stdout, _ = runCLI(t, env, "replicate", "--config", cfgPath, "--json", "--target", "secondary")
	var runs []map[string]any
	if code != exitOK || json.Unmarshal([]byte(stdout), &runs) != nil || len(runs) != 1 || runs[0]["phase"] != "succeeded" {
		t.Errorf("replicate --json exit %d: %s", code, stdout)
	}

	// Issue 14 item 1: every --json prints exactly one JSON document.
	for _, args := range [][]string{
		{"sync", "--config", cfgPath, "--json"},
		{"sync", "--config", cfgPath, "--json", "--dry-run"},
		{"status", "--config", cfgPath, "--json"},
		{"replicate", "--config", cfgPath, "--json"},
		{"backups", "list", "--config", cfgPath, "--json"},
	} {
		code, stdout, stderr := runCLI(t, env, args...)
		if code != exitOK {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
		assertOneJSONDocument(t, strings.Join(args, " "), stdout)
	}
}

// assertOneJSONDocument fails unless out is exactly one JSON value.
func assertOneJSONDocument(t *testing.T, what, out string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Errorf("%s: stdout is not JSON (%v):\n%s", what, err, out)
		return
	}
	if err := dec.Decode(&v); err != io.EOF {
		t.Errorf("%s: stdout holds more than one JSON document (%v):\n%s", what, err, out)
	}
}

func TestConfigErrorsAreUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("resources:\n  primary: {endpoint: 'ftp://x', key: '${K}'}\nprojects: [{name: T, source: nowhere, targets: [primary]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"replicate", "sync", "status"} {
		code, _, stderr := runCLI(t, map[string]string{"K": "the-secret-key"}, cmd, "--config", bad)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d", cmd, code, exitUsage)
		}
		for _, want := range []string{"resources.primary.endpoint", "projects[0].source", "store: is required"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, stderr)
			}
		}
		if strings.Contains(stderr, "the-secret-key") {
			t.Errorf("%s: stderr echoes the key", cmd)
		}
	}
	if code, _, stderr := runCLI(t, nil, "replicate"); code != exitUsage || !strings.Contains(stderr, "--config is required") {
		t.Errorf("replicate without --config: %d %s", code, stderr)
	}
}

// TestReplicateUnknownProjectOrTarget: a --project or --target not in the
// config is exit 2 naming what the config has; nothing is contacted (the
// endpoints here answer nothing).
func TestReplicateUnknownProjectOrTarget(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "langsync.yaml")
	cfg := fmt.Sprintf(`resources:
  primary: {endpoint: "http://127.0.0.1:1", key: "${K}"}
  secondary: {endpoint: "http://127.0.0.1:1", key: "${K}"}
  tertiary: {endpoint: "http://127.0.0.1:1", key: "${K}"}
projects:
  - {name: Tickets, source: primary, targets: [secondary]}
  - {name: Orders, source: primary, targets: [tertiary]}
store: %q
`, filepath.Join(dir, "store"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"K": "the-secret-key", "LANGSYNC_INSECURE_HTTP": "1"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"Target", []string{"--target", "nowhere"}, []string{`--target "nowhere" is not a target`, "secondary, tertiary"}},
		{"Project", []string{"--project", "nowhere"}, []string{`--project "nowhere" is not in`, "Tickets, Orders"}},
		{"TargetOfOtherProject", []string{"--project", "Tickets", "--target", "tertiary"}, []string{`not a target of project "Tickets"`, "its targets are secondary"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, env, append([]string{"replicate", "--config", cfgPath}, tt.args...)...)
			if code != exitUsage || stdout != "" {
				t.Fatalf("exit %d, want %d\nstdout %q\nstderr %q", code, exitUsage, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}
