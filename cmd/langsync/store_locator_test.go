package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreTyposExitTwo: a mistyped store in the config, or a mistyped
// --storage, exits 2 with a message naming the problem; the key never
// reaches stdout or stderr, and no directory is created after the typo.
func TestStoreTyposExitTwo(t *testing.T) {
	const key = "c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="
	tests := []struct {
		name, store, want string
	}{
		{"MisspelledKey", "DefaultEndpointProtocol=https;AccountName=acct;AccountKey=" + key + ";EndpointSuffix=core.windows.net", "did you mean DefaultEndpointsProtocol?"},
		{"KeyWithoutEquals", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey" + key, "the segment starting with AccountKey has no '='"},
		{"WrongSchemeTypo", "AcountName=acct;AccountKey=" + key + ";BlobEndpont=http://127.0.0.1:10000/acct", "did you mean AccountName?"},
		{"BareWord", "langsync-store", "a relative directory must start with ./"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			cfg := filepath.Join(dir, "langsync.yaml")
			y := fmt.Sprintf("resources:\n  a: {endpoint: 'https://a.example.com', key: k}\n  b: {endpoint: 'https://b.example.com', key: k}\nprojects: [{name: P, source: a, targets: [b]}]\nstore: '%s'\n", tt.store)
			if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"backups", "list", "--config", cfg},
				{"restore", "--config", cfg, "--backup", "a/P/x.tar.gz", "--to", "b", "--dry-run"},
				{"emulator", "language", "--key", "k", "--addr", "127.0.0.1:0", "--storage", tt.store},
			} {
				code, stdout, stderr := runCLI(t, nil, args...)
				if code != exitUsage {
					t.Fatalf("%v: exit %d, want %d (stderr %q)", args[:2], code, exitUsage, stderr)
				}
				if !strings.Contains(stderr, tt.want) {
					t.Errorf("%v: stderr %q does not say %q", args[:2], stderr, tt.want)
				}
				if strings.Contains(stdout+stderr, key) || strings.Contains(stdout+stderr, "c2VjcmV0") {
					t.Fatalf("%v: output repeats the key:\n%s\n%s", args[:2], stdout, stderr)
				}
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if e.Name() != "langsync.yaml" {
					t.Fatalf("a directory %q was created", e.Name())
				}
			}
		})
	}
}
