package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, stdout, stderr := runCLI(t, nil, "completion", shell)
		if code != exitOK || stderr != "" {
			t.Fatalf("%s: exit %d stderr %q", shell, code, stderr)
		}
		for _, path := range manualPaths(t) {
			for _, w := range strings.Fields(path) {
				if !strings.Contains(stdout, w) {
					t.Errorf("%s script lacks %q of %q", shell, w, path)
				}
			}
		}
	}
	if code, _, stderr := runCLI(t, nil, "completion", "tcsh"); code != exitUsage || !strings.Contains(stderr, `unknown shell "tcsh"`) {
		t.Errorf("unknown shell: exit %d stderr %q", code, stderr)
	}
}

// TestBashCompletionCompletes sources the bash script in a real bash and
// asks it what it completes, as the shell would on Tab.
func TestBashCompletionCompletes(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed for this test: %v", err)
	}
	_, script, _ := runCLI(t, nil, "completion", "bash")
	file := filepath.Join(t.TempDir(), "langsync.bash")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		line string // the words typed, the last one being completed
		want string
	}{
		{"langsync rep", "replicate"},
		{"langsync backups qu", "quarantine"},
		{"langsync backups prune --keep", "--keep-days --keep-last"},
		{"langsync backups list --", "--config --json --project"},
		{"langsync project train Tickets --con", "--config-version --conversations-api-version"},
		{"langsync enqueue restore --t", "--target"},
		{"langsync restore --dry", "--dry-run"},
		{"langsync completion f", "fish"},
		{"langsync classify -", "--config --deployment --json --kind --project -v"},
	}
	for _, tt := range tests {
		words := strings.Fields(tt.line)
		if strings.HasSuffix(tt.line, " ") {
			words = append(words, "")
		}
		cmd := exec.Command(bash, "--norc", "-c", `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); _langsync; echo "${COMPREPLY[*]}"`, "bash", file)
		cmd.Args = append(cmd.Args, words...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tt.line, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tt.want {
			t.Errorf("%q completes to %q, want %q", tt.line, got, tt.want)
		}
	}
}
