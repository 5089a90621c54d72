package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

func completionCommand() Command {
	return Command{Name: "completion", Summary: "print a shell completion script (bash, zsh or fish)", Run: runCompletion}
}

func runCompletion(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "completion")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("langsync completion bash|zsh|fish", "want one shell: bash, zsh or fish")
	}
	cmds := completionTable(ctx)
	switch pos[0] {
	case "bash":
		writeBash(env.Stdout, cmds)
	case "zsh":
		// zsh loads bash completions through bashcompinit.
		fmt.Fprintln(env.Stdout, "autoload -U +X bashcompinit && bashcompinit")
		writeBash(env.Stdout, cmds)
	case "fish":
		writeFish(env.Stdout, cmds)
	default:
		return usagef("langsync completion bash|zsh|fish", "unknown shell %q: want bash, zsh or fish", pos[0])
	}
	return nil
}

// completionEntry is one command or subcommand: its path ("backups list"),
// its subcommands (for a group) and its flags.
type completionEntry struct {
	path  string
	subs  []string
	flags []string
}

// completionTable reads each command's and subcommand's flags from its own
// --help output, so the script cannot drift from the flag sets.
func completionTable(ctx context.Context) []completionEntry {
	var out []completionEntry
	for _, c := range commands() {
		subs := manual[c.Name].Subs
		out = append(out, completionEntry{path: c.Name, subs: subs, flags: helpFlags(ctx, c, nil)})
		for _, s := range subs {
			out = append(out, completionEntry{path: c.Name + " " + s, flags: helpFlags(ctx, c, []string{s})})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// helpFlags runs `langsync <c> <sub...> --help` and returns the flags it lists.
func helpFlags(ctx context.Context, c Command, sub []string) []string {
	var buf bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &buf, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	_ = c.Run(ctx, env, append(sub, "--help"))
	var flags []string
	for _, line := range strings.Split(buf.String(), "\n") {
		if !strings.HasPrefix(line, "  -") {
			continue
		}
		name := strings.Fields(strings.TrimLeft(line, " -"))[0]
		dash := "--"
		if len(name) == 1 {
			dash = "-"
		}
		flags = append(flags, dash+name)
	}
	sort.Strings(flags)
	return flags
}

func writeBash(w io.Writer, cmds []completionEntry) {
	var top []string
	for _, c := range cmds {
		if !strings.Contains(c.path, " ") {
			top = append(top, c.path)
		}
	}
	fmt.Fprintf(w, "_langsync() {\n  local cur=${COMP_WORDS[COMP_CWORD]} path=${COMP_WORDS[1]}\n")
	fmt.Fprintf(w, "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n    COMPREPLY=($(compgen -W %q -- \"$cur\"))\n    return\n  fi\n", strings.Join(top, " "))
	fmt.Fprintf(w, "  case $path in\n")
	for _, c := range cmds {
		if len(c.subs) > 0 {
			fmt.Fprintf(w, "    %s)\n      if [ \"$COMP_CWORD\" -eq 2 ]; then\n        COMPREPLY=($(compgen -W %q -- \"$cur\"))\n        return\n      fi\n      path=\"$path ${COMP_WORDS[2]}\" ;;\n", c.path, strings.Join(c.subs, " "))
		}
	}
	fmt.Fprintf(w, "  esac\n  case $path in\n")
	for _, c := range cmds {
		words := c.flags
		if c.path == "completion" {
			words = []string{"bash", "zsh", "fish"}
		}
		fmt.Fprintf(w, "    %q) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", c.path, strings.Join(words, " "))
	}
	fmt.Fprintf(w, "  esac\n}\ncomplete -F _langsync langsync\n")
}

func writeFish(w io.Writer, cmds []completionEntry) {
	for _, c := range cmds {
		group, sub, isSub := strings.Cut(c.path, " ")
		cond := "__fish_use_subcommand"
		if !isSub {
			fmt.Fprintf(w, "complete -c langsync -n %s -a %s\n", cond, c.path)
			cond = "__fish_seen_subcommand_from " + c.path
			if len(c.subs) > 0 {
				fmt.Fprintf(w, "complete -c langsync -n '%s; and not __fish_seen_subcommand_from %s' -a '%s'\n", cond, strings.Join(c.subs, " "), strings.Join(c.subs, " "))
			}
			if c.path == "completion" {
				fmt.Fprintf(w, "complete -c langsync -n '%s' -a 'bash zsh fish'\n", cond)
			}
			if len(c.subs) > 0 {
				continue // a group's flags are completed per subcommand
			}
		} else {
			cond = "__fish_seen_subcommand_from " + group + "; and __fish_seen_subcommand_from " + sub
		}
		for _, f := range c.flags {
			opt := "-l " + strings.TrimPrefix(f, "--")
			if !strings.HasPrefix(f, "--") {
				opt = "-o " + strings.TrimPrefix(f, "-")
			}
			fmt.Fprintf(w, "complete -c langsync -n '%s' %s\n", cond, opt)
		}
	}
}
