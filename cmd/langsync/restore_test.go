package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
)

// targetWrites lists the authoring requests other than GET a resource
// received (predictions excluded).
func targetWrites(res *emulatortest.Resource) []string {
	var out []string
	for _, q := range res.Server.Requests() {
		if q.Method != http.MethodGet && !strings.HasPrefix(q.Path, "/language/analyze-text/") {
			out = append(out, q.Method+" "+q.Path)
		}
	}
	return out
}

// TestRestoreCommand replicates with the CLI, then restores the backup: a
// dry run changes nothing, a restore over the existing replica stops
// without --replace, a restore by time under another name succeeds.
func TestRestoreCommand(t *testing.T) {
	src := emulatortest.Start(t, &emulator.Options{Name: "primary", Clock: emulator.RealClock()})
	tgt := emulatortest.Start(t, &emulator.Options{Name: "secondary", Clock: emulator.RealClock()})
	src.Load(emulatortest.SingleLabelProject("Tickets", "tickets", 12))
	src.TrainAndDeploy("Tickets", "model1", "production")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "langsync.yaml")
	cfg := fmt.Sprintf(`resources:
  primary: {endpoint: %q, key: "${SRC_KEY}", storage: %q}
  secondary: {endpoint: %q, key: "${TGT_KEY}", storage: %q}
projects:
  - {name: Tickets, source: primary, targets: [secondary]}
store: %q
`, src.URL, src.DocsDir, tgt.URL, tgt.DocsDir, filepath.Join(dir, "store"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SRC_KEY": src.Key, "TGT_KEY": tgt.Key}
	if code, stdout, stderr := runCLI(t, env, "replicate", "--config", cfgPath); code != exitOK {
		t.Fatalf("replicate exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ := runCLI(t, env, "backups", "list", "--config", cfgPath, "--json")
	var refs []langsync.BackupRef
	if code != exitOK || json.Unmarshal([]byte(stdout), &refs) != nil || len(refs) != 1 {
		t.Fatalf("backups list: %d %s", code, stdout)
	}
	key := refs[0].Key

	t.Run("DryRun", func(t *testing.T) {
		tgt.Server.ResetRequests()
		code, stdout, stderr := runCLI(t, env, "restore", "--config", cfgPath, "--backup", key, "--to", "secondary", "--replace", "--deployment", "staging", "--dry-run")
		if code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		t.Logf("dry run:\n%s", stdout)
		for _, want := range []string{key, "verified", "secondary/Tickets: replace project", "model model1: retrain", "deployment staging: create", "deployment production: leave alone", "dry run: nothing was changed"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("dry run output lacks %q:\n%s", want, stdout)
			}
		}
		// Without --replace the plan stops: a preflight check exits 1 and
		// still prints the plan.
		code, stdout, stderr = runCLI(t, env, "restore", "--config", cfgPath, "--backup", key, "--to", "secondary", "--dry-run")
		if code != exitFailed || !strings.Contains(stdout, "STOP") || !strings.Contains(stdout, "dry run: the restore would stop") || !strings.Contains(stderr, "would stop") {
			t.Errorf("dry run with STOP: exit %d, want %d\n%s\n%s", code, exitFailed, stdout, stderr)
		}
		code, stdout, _ = runCLI(t, env, "restore", "--config", cfgPath, "--backup", key, "--to", "secondary", "--dry-run", "--json")
		var out struct {
			DryRun bool
			Plan   struct {
				ProjectAction string
				Blockers      []string
			}
		}
		if code != exitFailed || json.Unmarshal([]byte(stdout), &out) != nil || !out.DryRun || out.Plan.ProjectAction != "replace" || len(out.Plan.Blockers) != 1 {
			t.Errorf("dry run --json without --replace: exit %d\n%s", code, stdout)
		}
		if w := targetWrites(tgt); len(w) != 0 {
			t.Errorf("a dry run sent %v", w)
		}
	})
	t.Run("ExistingWithoutReplace", func(t *testing.T) {
		tgt.Server.ResetRequests()
		code, stdout, stderr := runCLI(t, env, "restore", "--config", cfgPath, "--backup", key, "--to", "secondary")
		if code != exitFailed || !strings.Contains(stderr, "exists on secondary") || !strings.Contains(stderr, "--replace") {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		if w := targetWrites(tgt); len(w) != 0 {
			t.Errorf("a refused restore sent %v", w)
		}
	})
	t.Run("ByTimeUnderAnotherName", func(t *testing.T) {
		at := time.Now().UTC().Add(time.Minute).Format(time.RFC3339)
		code, stdout, stderr := runCLI(t, env, "restore", "--config", cfgPath, "--project", "Tickets", "--at", at, "--to", "secondary", "--as", "TicketsOld", "--json")
		if code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		var out struct {
			Plan struct{ Backup langsync.BackupRef }
			Run  langsync.Run
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("%v\n%s", err, stdout)
		}
		if out.Plan.Backup.Key != key || out.Run.Phase != langsync.RunSucceeded || out.Run.Pairs[0].TargetName() != "TicketsOld" {
			t.Errorf("restore --json: %s", stdout)
		}
		if c, _, _ := tgt.Do(http.MethodGet, "/language/authoring/analyze-text/projects/TicketsOld/deployments/production?api-version=2023-04-01", nil); c != http.StatusOK {
			t.Errorf("deployment production of TicketsOld: %d", c)
		}
		if strings.Contains(stdout+stderr, src.Key) || strings.Contains(stdout+stderr, tgt.Key) {
			t.Errorf("output contains a key")
		}
	})

	usage := []struct {
		name string
		args []string
		want string
	}{
		{"NoTarget", []string{"--backup", key}, "--to is required"},
		{"NoBackup", []string{"--to", "secondary"}, "name the backup"},
		{"Both", []string{"--backup", key, "--project", "Tickets", "--at", "2026-11-20", "--to", "secondary"}, "not both"},
		{"BadTime", []string{"--project", "Tickets", "--at", "yesterday", "--to", "secondary"}, "not an RFC 3339 time"},
		{"UnknownResource", []string{"--backup", key, "--to", "tertiary"}, `"tertiary" is not a resource`},
	}
	for _, tt := range usage {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, env, append([]string{"restore", "--config", cfgPath}, tt.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want usage error saying %q", code, stderr, tt.want)
			}
		})
	}
}

func TestParseRestoreTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-11-20T01:00:00+01:00", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		{"2026-11-20", time.Date(2026, 11, 20, 23, 59, 59, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := parseRestoreTime(tt.in)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseRestoreTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := parseRestoreTime("soon"); err == nil {
		t.Error("parseRestoreTime(soon) succeeded")
	}
}

// TestRestoreRefusesBadNames: a backup whose manifest names an invalid
// project is refused when restore reads it (exit 1: the command was right,
// the backup is not usable), and so is `backups verify`; an invalid name on
// the command line is a usage error (exit 2). Nothing reaches a target.
func TestRestoreRefusesBadNames(t *testing.T) {
	cfgPath, keys, store := backupsRig(t)
	ctx := context.Background()
	export, err := os.ReadFile("../../shared/backup/testdata/studio-export.json")
	if err != nil {
		t.Fatal(err)
	}
	e := bytes.Replace(export, []byte(`"projectName": "Tickets"`), []byte(`"projectName": "a/../../b"`), 1)
	var buf bytes.Buffer
	if _, err := backup.Write(ctx, &buf, bytes.NewReader(e), nil, backup.ManifestInfo{Source: "primary"}); err != nil {
		t.Fatal(err)
	}
	info, err := store.Stat(ctx, langsync.DefaultBackupContainer, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	info.Metadata["sha256"] = hex.EncodeToString(sum[:])
	// Under the name its bytes give it, as if the catalog had written it.
	bad := langsync.BackupKey("primary", "Tickets", time.Date(2026, 11, 12, 2, 0, 0, 0, time.UTC), info.Metadata["sha256"])
	if _, err := store.Put(ctx, langsync.DefaultBackupContainer, bad, bytes.NewReader(buf.Bytes()), &blobstore.PutOptions{Metadata: info.Metadata}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SRC_KEY": "k1", "TGT_KEY": "k2"}
	code, stdout, stderr := runCLI(t, env, "restore", "--config", cfgPath, "--backup", bad, "--to", "secondary", "--dry-run")
	if code != exitFailed || !strings.Contains(stderr, "failed verification") || !strings.Contains(stderr, `project name "a/../../b" has '/'`) {
		t.Fatalf("restore of a backup with a bad name: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, env, "backups", "verify", "--config", cfgPath, "--project", "Tickets")
	if code != exitFailed || !strings.Contains(stdout+stderr, "project name") {
		t.Fatalf("backups verify: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, args := range [][]string{
		{"--project", "..", "--at", "2026-11-20"},
		{"--backup", keys[1], "--as", "a/../../b"},
		{"--backup", keys[1], "--deployment", strings.Repeat("d", 300)},
		{"--backup", keys[1], "--as", "../../x"},
		{"--backup", keys[1], "--as", "global"},
		{"--backup", "20261112T020000Z-0123456789ab"}, // a short id without --project: "name" in the hint
	} {
		code, _, stderr := runCLI(t, env, append([]string{"restore", "--config", cfgPath, "--to", "secondary", "--dry-run"}, args...)...)
		if code != exitUsage || !strings.Contains(stderr, "name") {
			t.Errorf("restore %v: exit %d, want %d\n%s", args, code, exitUsage, stderr)
		}
	}
}

func TestCountOf(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string
	}{{0, "0 classes"}, {1, "1 class"}, {4, "4 classes"}} {
		if got := countOf(tt.n, "class", "classes"); got != tt.want {
			t.Errorf("countOf(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
