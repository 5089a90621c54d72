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
	fs := newFlagSet(env, "completion", "completion bash|zsh|fish\n\nPrints a completion script built from the command table.\n\nExample:\n  langsync completion bash > /etc/bash_completion.d/langsync")
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
		for _, c := range cmds {
			fmt.Fprintf(env.Stdout, "complete -c langsync -n __fish_use_subcommand -a %s\n", c.name)
			for _, f := range c.flags {
				fmt.Fprintf(env.Stdout, "complete -c langsync -n '__fish_seen_subcommand_from %s' -l %s\n", c.name, f)
			}
		}
	default:
		return usagef("langsync completion bash|zsh|fish", "unknown shell %q: want bash, zsh or fish", pos[0])
	}
	return nil
}

type completionEntry struct {
	name  string
	flags []string
}

// completionTable reads each command's flags from its own --help output, so
// the script cannot drift from the flag sets.
func completionTable(ctx context.Context) []completionEntry {
	var out []completionEntry
	for _, c := range commands() {
		var buf bytes.Buffer
		env := &Env{Stdin: strings.NewReader(""), Stdout: &buf, Stderr: io.Discard, Getenv: func(string) string { return "" }}
		_ = c.Run(ctx, env, []string{"--help"})
		e := completionEntry{name: c.Name}
		for _, line := range strings.Split(buf.String(), "\n") {
			if strings.HasPrefix(line, "  -") {
				e.flags = append(e.flags, strings.Fields(strings.TrimPrefix(line, "  -"))[0])
			}
		}
		sort.Strings(e.flags)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func writeBash(w io.Writer, cmds []completionEntry) {
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	fmt.Fprintf(w, "_langsync() {\n  local cur=${COMP_WORDS[COMP_CWORD]}\n  if [ \"$COMP_CWORD\" -eq 1 ]; then\n    COMPREPLY=($(compgen -W %q -- \"$cur\"))\n    return\n  fi\n  case ${COMP_WORDS[1]} in\n", strings.Join(names, " "))
	for _, c := range cmds {
		var fl []string
		for _, f := range c.flags {
			fl = append(fl, "--"+f)
		}
		fmt.Fprintf(w, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", c.name, strings.Join(fl, " "))
	}
	fmt.Fprintf(w, "  esac\n}\ncomplete -F _langsync langsync\n")
}
