package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/langsync"
)

// backupsRig writes a config with a directory store and three backups of
// the Tickets sample export (days 1, 5, 9 of November 2026).
func backupsRig(t *testing.T) (cfgPath string, keys []string, store *blobstore.Dir) {
	t.Helper()
	dir := t.TempDir()
	store, err := blobstore.NewDir(filepath.Join(dir, "store"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.EnsureContainer(ctx, langsync.DefaultBackupContainer); err != nil {
		t.Fatal(err)
	}
	export, err := os.ReadFile("../../shared/backup/testdata/studio-export.json")
	if err != nil {
		t.Fatal(err)
	}
	cat := backup.NewCatalog(store, langsync.DefaultBackupContainer)
	cat.TempDir = t.TempDir()
	for i, day := range []int{1, 5, 9} {
		e := bytes.Replace(export, []byte("Exported from Language Studio"), []byte(fmt.Sprintf("v%d", i)), 1)
		res, err := cat.Save(ctx, bytes.NewReader(e), nil, backup.ManifestInfo{
			Source: "primary", Endpoint: "https://contoso.cognitiveservices.azure.com", APIVersion: "2023-04-01",
			ExportedAt: time.Date(2026, 11, day, 2, 0, 0, 0, time.UTC),
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, res.Ref.Key)
	}
	cfgPath = filepath.Join(dir, "langsync.yaml")
	cfg := fmt.Sprintf(`resources:
  primary: {endpoint: "https://contoso.cognitiveservices.azure.com", key: "${SRC_KEY}"}
  secondary: {endpoint: "https://contoso-west.cognitiveservices.azure.com", key: "${TGT_KEY}"}
projects:
  - name: Tickets
    source: primary
    targets: [secondary]
store: %q
retention: {keepLast: 2, keepDays: 0}
`, filepath.Join(dir, "store"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, keys, store
}

var backupsEnv = map[string]string{"SRC_KEY": "src-key-0123456789", "TGT_KEY": "tgt-key-0123456789"}

func TestBackupsCommand(t *testing.T) {
	cfgPath, keys, store := backupsRig(t)
	run := func(t *testing.T, want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, backupsEnv, append([]string{"backups"}, args...)...)
		if code != want {
			t.Fatalf("backups %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
		}
		for _, k := range backupsEnv {
			if strings.Contains(stdout+stderr, k) {
				t.Fatalf("output contains a key")
			}
		}
		return stdout + stderr
	}

	out := run(t, exitOK, "list", "--config", cfgPath)
	for _, k := range keys {
		if !strings.Contains(out, k) {
			t.Errorf("list lacks %s:\n%s", k, out)
		}
	}
	var refs []langsync.BackupRef
	if err := json.Unmarshal([]byte(run(t, exitOK, "list", "--config", cfgPath, "--project", "Tickets", "--json")), &refs); err != nil || len(refs) != 3 || refs[2].Key != keys[2] {
		t.Fatalf("list --json = %+v, %v", refs, err)
	}
	if out := run(t, exitOK, "list", "--config", cfgPath, "--project", "Other"); !strings.Contains(out, "no backups") {
		t.Errorf("list of an unknown project: %s", out)
	}

	bare := strings.TrimSuffix(keys[1][len("primary/Tickets/"):], ".tar.gz")
	out = run(t, exitOK, "show", bare, "--project", "Tickets", "--config", cfgPath)
	for _, want := range []string{keys[1], "verified", "Tickets (CustomSingleLabelClassification)", "contoso.cognitiveservices.azure.com", "2023-04-01", "4 named, 0 stored"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}

	out = run(t, exitOK, "verify", "--config", cfgPath)
	if strings.Count(out, "  ok") != 3 {
		t.Errorf("verify all:\n%s", out)
	}
	// Damage one backup: verify names it and fails.
	rc, info, err := store.Get(context.Background(), langsync.DefaultBackupContainer, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	body[len(body)/2] ^= 0x55
	if _, err := store.Put(context.Background(), langsync.DefaultBackupContainer, keys[0], bytes.NewReader(body), &blobstore.PutOptions{IfMatch: info.ETag, Metadata: info.Metadata}); err != nil {
		t.Fatal(err)
	}
	out = run(t, exitFailed, "verify", keys[0], keys[2], "--config", cfgPath)
	if !strings.Contains(out, keys[0]+"  FAILED") || !strings.Contains(out, keys[2]+"  ok") || !strings.Contains(out, "1 of 2 backups failed verification") {
		t.Errorf("verify with a damaged backup:\n%s", out)
	}
	// The damaged backup was set aside: listed, marked, kept by retention.
	if !strings.Contains(out, "quarantined") {
		t.Errorf("verify did not quarantine the damaged backup:\n%s", out)
	}
	out = run(t, exitOK, "list", "--config", cfgPath)
	if line := lineWith(out, keys[0]); !strings.Contains(line, "QUARANTINED: failed verification") {
		t.Errorf("list does not mark the damaged backup: %q", line)
	}

	out = run(t, exitOK, "prune", "--dry-run", "--config", cfgPath)
	if strings.Contains(out, "would delete "+keys[0]) || !strings.Contains(out, "would delete 0 backups") {
		t.Errorf("prune --dry-run:\n%s", out)
	}
	run(t, exitOK, "prune", "--config", cfgPath, "--keep-last", "1")
	if err := json.Unmarshal([]byte(run(t, exitOK, "list", "--config", cfgPath, "--json")), &refs); err != nil || len(refs) != 2 || refs[0].Key != keys[0] || refs[0].Quarantine == nil || refs[1].Key != keys[2] {
		t.Fatalf("after prune --keep-last 1: %+v, %v", refs, err)
	}
}

func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// damageBackup flips a byte of a stored backup, keeping its metadata.
func damageBackup(t *testing.T, store blobstore.Store, key string) {
	t.Helper()
	ctx := context.Background()
	rc, info, err := store.Get(ctx, langsync.DefaultBackupContainer, key)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	body[len(body)/2] ^= 0x55
	if _, err := store.Put(ctx, langsync.DefaultBackupContainer, key, bytes.NewReader(body), &blobstore.PutOptions{IfMatch: info.ETag, Metadata: info.Metadata}); err != nil {
		t.Fatal(err)
	}
}

// TestBackupsPruneKeepsTheNewestVerified is the case: with the
// newest backup damaged, prune --keep-last 1 used to delete the only
// backups that verified. Now the damaged one is quarantined and the newest
// verified one stays.
func TestBackupsPruneKeepsTheNewestVerified(t *testing.T) {
	cfgPath, keys, store := backupsRig(t)
	damageBackup(t, store, keys[2])
	code, stdout, stderr := runCLI(t, backupsEnv, "backups", "prune", "--keep-last", "1", "--config", cfgPath)
	if code != exitOK {
		t.Fatalf("prune: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"deleted " + keys[0], "quarantined " + keys[2] + ": failed verification", "deleted 1 backups, quarantined 1, 2 kept"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("prune output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = runCLI(t, backupsEnv, "backups", "list", "--json", "--config", cfgPath)
	var refs []langsync.BackupRef
	if code != exitOK || json.Unmarshal([]byte(stdout), &refs) != nil || len(refs) != 2 {
		t.Fatalf("list: %d %s", code, stdout)
	}
	if refs[0].Key != keys[1] || refs[0].Quarantine != nil || refs[1].Key != keys[2] || refs[1].Quarantine == nil {
		t.Fatalf("left after prune: %+v", refs)
	}
	if code, stdout, stderr := runCLI(t, backupsEnv, "backups", "verify", keys[1], "--config", cfgPath); code != exitOK {
		t.Fatalf("the kept backup does not verify: %s %s", stdout, stderr)
	}
}

// TestBackupsQuarantineAndDelete: setting a backup aside by hand, and the
// guarded delete.
func TestBackupsQuarantineAndDelete(t *testing.T) {
	cfgPath, keys, _ := backupsRig(t)
	run := func(want int, args ...string) (string, string) {
		t.Helper()
		code, stdout, stderr := runCLI(t, backupsEnv, append([]string{"backups"}, append(args, "--config", cfgPath)...)...)
		if code != want {
			t.Fatalf("backups %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
		}
		for _, k := range backupsEnv {
			if strings.Contains(stdout+stderr, k) {
				t.Fatalf("output contains a key")
			}
		}
		return stdout, stderr
	}
	_, stderr := run(exitUsage, "quarantine", keys[1])
	if !strings.Contains(stderr, "needs --reason") {
		t.Errorf("quarantine without a reason: %s", stderr)
	}
	stdout, _ := run(exitOK, "quarantine", keys[1], "--reason", "labels from the bad import of 3 Nov")
	if !strings.Contains(stdout, "quarantined "+keys[1]+": labels from the bad import of 3 Nov") {
		t.Errorf("quarantine: %s", stdout)
	}
	stdout, _ = run(exitOK, "quarantine", keys[1], "--reason", "again")
	if !strings.Contains(stdout, "already quarantined") || !strings.Contains(stdout, "labels from the bad import") || !strings.Contains(stdout, "langsync backups quarantine") {
		t.Errorf("second quarantine: %s", stdout)
	}
	stdout, _ = run(exitOK, "list")
	if !strings.Contains(lineWith(stdout, keys[1]), "QUARANTINED: labels from the bad import") || strings.Contains(lineWith(stdout, keys[2]), "QUARANTINED") {
		t.Errorf("list:\n%s", stdout)
	}
	// Bare id with --project works too.
	bare := strings.TrimSuffix(keys[1][len("primary/Tickets/"):], ".tar.gz")
	stdout, _ = run(exitOK, "show", bare, "--project", "Tickets")
	if !strings.Contains(stdout, "QUARANTINED  since") {
		t.Errorf("show of a quarantined backup:\n%s", stdout)
	}

	_, stderr = run(exitUsage, "delete", keys[2])
	if !strings.Contains(stderr, "add --yes") {
		t.Errorf("delete without --yes: %s", stderr)
	}
	_, stderr = run(exitFailed, "delete", keys[2], "--yes")
	if !strings.Contains(stderr, "newest verified backup") || !strings.Contains(stderr, "--force") {
		t.Errorf("delete of the newest verified backup: %s", stderr)
	}
	stdout, _ = run(exitOK, "delete", keys[1], "--yes")
	if !strings.Contains(stdout, "deleted "+keys[1]+" (it was quarantined") {
		t.Errorf("delete of the quarantined backup: %s", stdout)
	}
	stdout, _ = run(exitOK, "delete", keys[0], "--yes")
	if !strings.Contains(stdout, "deleted "+keys[0]) {
		t.Errorf("delete of an older verified backup: %s", stdout)
	}
	run(exitOK, "delete", keys[2], "--yes", "--force")
	stdout, _ = run(exitOK, "list")
	if !strings.Contains(stdout, "no backups") {
		t.Errorf("left:\n%s", stdout)
	}

	// Unquarantine undoes a mistake.
	cfgPath, keys, _ = backupsRig(t)
	run(exitOK, "quarantine", keys[0], "--reason", "oops")
	stdout, _ = run(exitOK, "unquarantine", keys[0])
	if !strings.Contains(stdout, "no longer quarantined") {
		t.Errorf("unquarantine: %s", stdout)
	}
	_, stderr = run(exitFailed, "unquarantine", keys[0])
	if !strings.Contains(stderr, "is not quarantined") {
		t.Errorf("second unquarantine: %s", stderr)
	}
}

// TestBackupsPruneBadValues: a meaningless retention value is a usage
// error naming the valid range, never silently the default.
func TestBackupsPruneBadValues(t *testing.T) {
	cfgPath, _, _ := backupsRig(t)
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	badCfg := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badCfg, bytes.Replace(cfg, []byte("keepLast: 2"), []byte("keepLast: -1"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	hugeCfg := filepath.Join(t.TempDir(), "huge.yaml")
	if err := os.WriteFile(hugeCfg, bytes.Replace(cfg, []byte("keepDays: 0"), []byte("keepDays: 200000"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"negative keep-last", []string{"--keep-last", "-5", "--config", cfgPath}, []string{"--keep-last -5 is out of range", "0 (the rule off) to 100000"}},
		{"negative keep-days", []string{"--keep-days", "-1", "--config", cfgPath}, []string{"--keep-days -1 is out of range", "to 36500"}},
		{"overflowing keep-days", []string{"--keep-days", "999999", "--config", cfgPath}, []string{"--keep-days 999999 is out of range"}},
		{"not a number", []string{"--keep-last", "all", "--config", cfgPath}, []string{"invalid value"}},
		{"config keepLast -1", []string{"--config", badCfg}, []string{"retention.keepLast", "must be 0 or more"}},
		{"config keepDays too large", []string{"--config", hugeCfg}, []string{"keepDays 200000 is out of range"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, backupsEnv, append([]string{"backups", "prune"}, tt.args...)...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitUsage, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
	// Nothing was deleted by any of them.
	code, stdout, _ := runCLI(t, backupsEnv, "backups", "list", "--json", "--config", cfgPath)
	var refs []langsync.BackupRef
	if code != exitOK || json.Unmarshal([]byte(stdout), &refs) != nil || len(refs) != 3 {
		t.Fatalf("after bad prunes: %d %s", code, stdout)
	}
}

func TestBackupsUsageErrors(t *testing.T) {
	cfgPath, _, _ := backupsRig(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"--config", cfgPath}, "missing subcommand"},
		{"unknown subcommand", []string{"frob", "--config", cfgPath}, "unknown subcommand"},
		{"show without id", []string{"show", "--config", cfgPath}, "exactly one"},
		{"list with args", []string{"list", "x", "--config", cfgPath}, "no arguments"},
		{"no config", []string{"list"}, "--config is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, backupsEnv, append([]string{"backups"}, tt.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d stderr %q, want exit %d mentioning %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
	for _, args := range [][]string{
		{"show", "20990101T000000Z-000000000000", "--project", "Tickets"},
		{"show", "primary/Tickets/nope.tar.gz"},
		{"verify", "primary/Tickets/nope.tar.gz"},
	} {
		code, _, stderr := runCLI(t, backupsEnv, append(append([]string{"backups"}, args...), "--config", cfgPath)...)
		if code != exitFailed || !strings.Contains(stderr, "is not a backup") || !strings.Contains(stderr, "langsync backups list --config "+cfgPath) || strings.Contains(stderr, "BlobNotFound") {
			t.Errorf("backups %v: exit %d stderr %q, want exit 1 saying it is not a backup and how to list them", args, code, stderr)
		}
	}
}

// TestBackupsExportJSONInCatalog: a plain Language Studio export kept in
// the catalog is a backup to every command, as it is to restore.
func TestBackupsExportJSONInCatalog(t *testing.T) {
	cfgPath, keys, store := backupsRig(t)
	export, err := os.ReadFile("../../shared/backup/testdata/studio-export.json")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(export)
	hexsum := hex.EncodeToString(sum[:])
	key := langsync.BackupKey("primary", "Tickets", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), hexsum)
	if _, err := store.Put(context.Background(), langsync.DefaultBackupContainer, key, bytes.NewReader(export), &blobstore.PutOptions{Metadata: map[string]string{"sha256": hexsum}}); err != nil {
		t.Fatal(err)
	}
	run := func(want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, backupsEnv, append([]string{"backups"}, append(args, "--config", cfgPath)...)...)
		if code != want {
			t.Fatalf("backups %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
		}
		return stdout
	}
	if out := run(exitOK, "verify", key); !strings.Contains(out, key+"  ok (a plain export JSON: it carries no documents and no per-file checksums") {
		t.Errorf("verify:\n%s", out)
	}
	if out := run(exitOK, "show", key); !strings.Contains(out, "verified: a plain export JSON") || !strings.Contains(out, "Tickets (CustomSingleLabelClassification)") {
		t.Errorf("show:\n%s", out)
	}
	if out := run(exitOK, "list"); !strings.Contains(out, key) || strings.Contains(lineWith(out, key), "QUARANTINED") {
		t.Errorf("list:\n%s", out)
	}
	out := run(exitOK, "prune", "--keep-last", "1")
	for _, k := range keys {
		if !strings.Contains(out, "deleted "+k) {
			t.Errorf("prune kept %s although the export is the newest verified backup:\n%s", k, out)
		}
	}
	if strings.Contains(out, "quarantined "+key) {
		t.Errorf("prune quarantined the export:\n%s", out)
	}
}
