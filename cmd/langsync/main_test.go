package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runCLI runs the CLI in process and returns exit code, stdout and stderr.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &Env{
		Stdin:  strings.NewReader(""),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string { return env[k] },
	}
	code := run(context.Background(), e, args)
	return code, stdout.String(), stderr.String()
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"NoArgs", nil, exitUsage},
		{"Help", []string{"--help"}, exitOK},
		{"Unknown", []string{"frobnicate"}, exitUsage},
		{"Version", []string{"version"}, exitOK},
		{"BadFlag", []string{"version", "--nope"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _, stderr := runCLI(t, nil, tt.args...); got != tt.want {
				t.Fatalf("exit=%d, want %d (stderr %q)", got, tt.want, stderr)
			}
		})
	}
}

// TestEveryCommandHasHelp checks that --help works on every subcommand and
// exits 0 with a usage line.
func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.Name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, c.Name, "--help")
			if code != exitOK {
				t.Fatalf("exit=%d, want 0; stderr=%q", code, stderr)
			}
			if !strings.Contains(stdout, "Usage: langsync "+c.Name) {
				t.Fatalf("stdout %q lacks a usage line", stdout)
			}
		})
	}
}
