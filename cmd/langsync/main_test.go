package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/app"
)

// runCLI runs the CLI in process and returns exit code, stdout and stderr.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return runCLIApp(t, env, nil, args...)
}

// runCLIApp is runCLI with appOptions adjusting the app the command builds.
func runCLIApp(t *testing.T, env map[string]string, appOptions func(*app.Options), args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &Env{
		Stdin:      strings.NewReader(""),
		Stdout:     &stdout,
		Stderr:     &stderr,
		Getenv:     func(k string) string { return env[k] },
		appOptions: appOptions,
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

// TestStrayArgumentIsUsageError: a command that takes no positional
// arguments rejects one (exit 2) before loading config or starting anything.
func TestStrayArgumentIsUsageError(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"replicate", "--config", "nope.yaml", "Tickets"}, `unexpected argument "Tickets" (did you mean --project Tickets?)`},
		{[]string{"sync", "--config", "nope.yaml", "Tickets"}, `unexpected argument "Tickets"`},
		{[]string{"status", "--config", "nope.yaml", "x"}, `unexpected argument "x"`},
		{[]string{"restore", "--config", "nope.yaml", "x"}, `unexpected argument "x"`},
		{[]string{"local", "--config", "nope.yaml", "x"}, `unexpected argument "x"`},
		{[]string{"version", "x"}, `unexpected argument "x"`},
		{[]string{"demo", "x"}, `unexpected argument "x"`},
		{[]string{"serve", "x"}, `unexpected argument "x"`},
		{[]string{"emulator", "language", "--key", "k", "x"}, `unexpected argument "x"`},
		{[]string{"emulator", "servicebus", "x"}, `unexpected argument "x"`},
		{[]string{"backups", "list", "--config", "nope.yaml", "x"}, `backups list takes no arguments (got "x")`},
		{[]string{"backups", "prune", "--config", "nope.yaml", "x"}, `backups prune takes no arguments (got "x")`},
		{[]string{"backups", "show", "a", "b", "--config", "nope.yaml"}, `needs exactly one backup id`},
		{[]string{"enqueue", "replicate", "--project", "Tickets", "x"}, `unexpected argument "x"`},
		{[]string{"enqueue", "restore", "--target", "secondary", "x"}, `unexpected argument "x"`},
		{[]string{"project", "list", "x"}, `want 0 argument(s), got 1: x`},
		{[]string{"project", "show", "A", "B"}, `want 1 argument(s), got 2: A B`},
		{[]string{"completion", "bash", "x"}, `want one shell`},
		{[]string{"backups", "list", "--yes", "--config", "nope.yaml"}, `--yes does not apply to backups list`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:2], "_"), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) || stdout != "" {
				t.Fatalf("exit=%d stdout=%q stderr=%q; want exit 2 and %q", code, stdout, stderr, tt.want)
			}
			if strings.Contains(stderr, "nope.yaml") {
				t.Fatalf("config was read before the argument check: %q", stderr)
			}
		})
	}
}

// TestUnknownFlagReportedOnce: the error once on stderr plus a hint, no
// usage dump on stdout.
func TestUnknownFlagReportedOnce(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "status", "--nope")
	if code != exitUsage || stdout != "" {
		t.Fatalf("exit=%d stdout=%q, want 2 and empty stdout", code, stdout)
	}
	want := "langsync status: unknown flag --nope\nTry: langsync status --help\n"
	if stderr != want {
		t.Fatalf("stderr=%q, want %q", stderr, want)
	}
}

func TestVersionFlag(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, stdout, stderr := runCLI(t, nil, args...)
		if code != exitOK || !strings.HasPrefix(stdout, "langsync ") || stderr != "" {
			t.Fatalf("%v: exit=%d stdout=%q stderr=%q", args, code, stdout, stderr)
		}
	}
}

// TestBackupsSubcommandHelp: `backups <sub> --help` is that subcommand's
// help (exit 0, stdout), not the general backups help.
func TestBackupsSubcommandHelp(t *testing.T) {
	for _, sub := range []string{"list", "show", "verify", "prune", "quarantine", "unquarantine", "delete"} {
		code, stdout, stderr := runCLI(t, nil, "backups", sub, "--help")
		if code != exitOK || stderr != "" || !strings.HasPrefix(stdout, "Usage: langsync backups "+sub+" ") {
			t.Errorf("backups %s --help: exit %d stdout %q stderr %q", sub, code, stdout, stderr)
		}
		if strings.Contains(stdout, "list|show|verify") {
			t.Errorf("backups %s --help printed the general help:\n%s", sub, stdout)
		}
	}
}
