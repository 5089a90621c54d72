package main

import (
	"strings"
	"testing"
)

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, stdout, stderr := runCLI(t, nil, "completion", shell)
		if code != exitOK || stderr != "" {
			t.Fatalf("%s: exit %d stderr %q", shell, code, stderr)
		}
		for _, c := range commands() {
			if !strings.Contains(stdout, c.Name) {
				t.Errorf("%s script lacks command %q", shell, c.Name)
			}
		}
		if !strings.Contains(stdout, "config") {
			t.Errorf("%s script lacks the --config flag:\n%s", shell, stdout)
		}
	}
	if code, _, stderr := runCLI(t, nil, "completion", "tcsh"); code != exitUsage || !strings.Contains(stderr, `unknown shell "tcsh"`) {
		t.Errorf("unknown shell: exit %d stderr %q", code, stderr)
	}
}
