package main

import (
	"bytes"
	"context"
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

	out = run(t, exitOK, "prune", "--dry-run", "--config", cfgPath)
	if !strings.Contains(out, "would delete "+keys[0]) || !strings.Contains(out, "would delete 1 backups") {
		t.Errorf("prune --dry-run:\n%s", out)
	}
	run(t, exitOK, "prune", "--config", cfgPath, "--keep-last", "1")
	if err := json.Unmarshal([]byte(run(t, exitOK, "list", "--config", cfgPath, "--json")), &refs); err != nil || len(refs) != 1 || refs[0].Key != keys[2] {
		t.Fatalf("after prune --keep-last 1: %+v, %v", refs, err)
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
	code, _, stderr := runCLI(t, backupsEnv, "backups", "show", "20990101T000000Z-000000000000", "--project", "Tickets", "--config", cfgPath)
	if code != exitFailed || !strings.Contains(stderr, "no backup") {
		t.Fatalf("show unknown: exit %d stderr %q", code, stderr)
	}
}
