package main

import (
	"sort"
	"strings"
	"testing"
)

// manualPaths is every command and subcommand, from the command table and
// the groups' pages.
func manualPaths(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, c := range commands() {
		paths = append(paths, c.Name)
		for _, s := range manual[c.Name].Subs {
			paths = append(paths, c.Name+" "+s)
		}
	}
	return paths
}

// TestEveryCommandHasAManPage runs `langsync <path> --help` for every
// command and subcommand and checks the page: synopsis, what it does, flags
// as typed, at least one example that uses only flags the command has, and
// the exit codes.
func TestEveryCommandHasAManPage(t *testing.T) {
	seen := map[string]bool{}
	for _, path := range manualPaths(t) {
		seen[path] = true
		t.Run(strings.ReplaceAll(path, " ", "_"), func(t *testing.T) {
			p, ok := manual[path]
			if !ok {
				t.Fatalf("no manual page for %q (add it to manual in help.go)", path)
			}
			code, stdout, stderr := runCLI(t, nil, append(strings.Fields(path), "--help")...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if !strings.HasPrefix(stdout, "Usage: langsync "+path) {
				t.Errorf("page does not start with its synopsis:\n%s", stdout)
			}
			if strings.TrimSpace(p.About) == "" {
				t.Errorf("page has no description")
			}
			if strings.Contains(path, " ") && p.Summary == "" {
				t.Errorf("subcommand has no summary for its group's page")
			}
			if flat := strings.Join(strings.Fields(stdout), " "); !strings.Contains(flat, "Exit codes: 0 success; 1 ") || !strings.Contains(flat, "2 usage or config error") {
				t.Errorf("page lacks the exit codes:\n%s", stdout)
			}
			ex := strings.Index(stdout, "\nExamples:\n")
			if ex < 0 || len(p.Examples) == 0 {
				t.Fatalf("page has no example:\n%s", stdout)
			}
			for _, e := range p.Examples {
				if !strings.Contains(stdout, "  "+e.Cmd+"\n") {
					t.Errorf("example %q not printed", e.Cmd)
				}
				i := strings.Index(e.Cmd, "langsync "+path)
				if i < 0 {
					t.Errorf("example %q does not run langsync %s", e.Cmd, path)
					continue
				}
				// A group's example runs one of its subcommands.
				words := strings.Fields(e.Cmd[i:])
				run := strings.Fields(path)
				if len(p.Subs) > 0 && len(words) > len(run)+1 {
					run = append(run, words[len(run)+1])
				}
				flags := map[string]bool{}
				for _, f := range helpFlags(t.Context(), commandNamed(t, run[0]), run[1:]) {
					flags[f] = true
				}
				for _, w := range words {
					if w == "|" || w == ">" || w == "<" {
						break
					}
					if strings.HasPrefix(w, "-") && w != "-" {
						name, _, _ := strings.Cut(w, "=")
						if !flags[name] {
							t.Errorf("example %q uses %s, which langsync %s does not take (flags: %v)", e.Cmd, name, path, keys(flags))
						}
					}
				}
			}
			// Prose is wrapped for an 80-column terminal; synopsis and
			// example lines are commands and may be longer.
			for _, line := range strings.Split(stdout[:ex], "\n") {
				if len(line) > 80 && len(strings.Fields(line)) > 1 && !strings.HasPrefix(line, "Usage: ") && !strings.HasPrefix(line, "       langsync ") {
					t.Errorf("line longer than 80 columns: %q", line)
				}
			}
		})
	}
	for path := range manual {
		if !seen[path] {
			t.Errorf("manual page %q belongs to no command (a removed command, or a group that does not list it)", path)
		}
	}
}

// TestGroupsListWhatTheyRun keeps each group's page and its dispatch in step.
func TestGroupsListWhatTheyRun(t *testing.T) {
	if got, want := strings.Join(emulatorNames(), " "), strings.Join(sorted(manual["emulator"].Subs), " "); got != want {
		t.Errorf("emulators %q, page lists %q", got, want)
	}
	var project []string
	for n := range projectSubs() {
		project = append(project, n)
	}
	if got, want := strings.Join(sorted(project), " "), strings.Join(sorted(manual["project"].Subs), " "); got != want {
		t.Errorf("project subcommands %q, page lists %q", got, want)
	}
	// backups and enqueue dispatch with a switch: each listed subcommand
	// must reach it (a missing one says "unknown").
	for _, g := range []string{"backups", "enqueue"} {
		for _, s := range manual[g].Subs {
			_, _, stderr := runCLI(t, nil, g, s)
			if strings.Contains(stderr, "unknown") {
				t.Errorf("%s %s: %s", g, s, stderr)
			}
		}
	}
}

func commandNamed(t *testing.T, name string) Command {
	t.Helper()
	for _, c := range commands() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no command %q", name)
	return Command{}
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return sorted(out)
}

// TestEveryCommandUsageErrorIsExit2 holds the README's exit-code promise for
// every command and subcommand: a usage mistake is exit 2, reported once on
// stderr with a hint, nothing on stdout.
func TestEveryCommandUsageErrorIsExit2(t *testing.T) {
	for _, path := range manualPaths(t) {
		if len(manual[path].Subs) > 0 {
			continue
		}
		args := append(strings.Fields(path), "--no-such-flag")
		code, stdout, stderr := runCLI(t, nil, args...)
		if code != exitUsage || stdout != "" || strings.Count(stderr, "no-such-flag") != 1 || !strings.Contains(stderr, "\nTry: langsync "+path+" --help") {
			t.Errorf("%s: exit %d stdout %q stderr %q; want exit 2, the error once and a hint", strings.Join(args, " "), code, stdout, stderr)
		}
	}
}
