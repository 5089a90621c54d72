package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadErrorsNameTheFileOnceAndTheRightLine: Load's message has one
// "config:" prefix and points at the line with the mistake (line 4 here),
// not where the enclosing mapping starts.
func TestLoadErrorsNameTheFileOnceAndTheRightLine(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"BadIndent", "resources:\n  primary:\n    endpoint: 'https://x'\n   key: k\nstore: /tmp/x\n", "line 4: did not find expected key"},
		{"UnknownKey", "resources:\n  primary:\n    endpoint: 'https://x'\n    kee: k\nstore: /tmp/x\n", "line 4: field kee not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.yaml")
			if err := os.WriteFile(p, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p, func(string) string { return "" })
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config: "+p+": ") || strings.Count(msg, "config:") != 1 || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q: want one \"config: %s:\" prefix and %q", msg, p, tt.want)
			}
		})
	}
}
