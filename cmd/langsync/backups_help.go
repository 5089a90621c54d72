package main

import (
	"flag"
	"fmt"
	"strings"
)

// backupsSubHelp prints the help of one backups subcommand when args are
// "<sub> ... --help", so `backups list --help` is about list, not the whole
// command. It reports whether it printed.
func backupsSubHelp(env *Env, fs *flag.FlagSet, args []string) bool {
	if len(args) < 2 {
		return false
	}
	help := false
	for _, a := range args[1:] {
		if a == "-h" || a == "-help" || a == "--help" {
			help = true
		}
	}
	if !help {
		return false
	}
	var text []string
	in := false
	for _, line := range strings.Split(backupsUsage, "\n") {
		switch {
		case strings.HasPrefix(line, "  "+args[0]+" ") || line == "  "+args[0]:
			in = true
		case in && strings.HasPrefix(line, "                "):
		default:
			in = false
		}
		if in {
			text = append(text, strings.TrimSpace(line))
		}
	}
	if len(text) == 0 {
		return false
	}
	fields := strings.Fields(text[0])
	// The synopsis is the subcommand and its arguments; the rest is prose.
	n := 1
	for n < len(fields) && (strings.ToUpper(fields[n]) == fields[n] || strings.HasPrefix(fields[n], "[") || strings.HasPrefix(fields[n], "--")) {
		n++
	}
	fmt.Fprintf(env.Stdout, "Usage: langsync backups %s --config F\n\n%s\n\nFlags:\n",
		strings.Join(fields[:n], " "), strings.Join(append(fields[n:], text[1:]...), " "))
	fs.SetOutput(env.Stdout)
	fs.PrintDefaults()
	return true
}
