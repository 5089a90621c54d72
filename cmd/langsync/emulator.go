package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// emulatorKind is one emulator that `langsync emulator <kind>` starts. Each
// kind lives in its own file (emulator_<kind>.go) and registers itself here.
type emulatorKind struct {
	Summary string
	Run     func(ctx context.Context, env *Env, args []string) error
}

var emulatorKinds = map[string]emulatorKind{}

func emulatorCommand() Command {
	return Command{
		Name:    "emulator",
		Summary: "run a local stand-in for an Azure service (language, servicebus)",
		Run: func(ctx context.Context, env *Env, args []string) error {
			if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
				var names []string
				for n := range emulatorKinds {
					names = append(names, n)
				}
				sort.Strings(names)
				fmt.Fprintf(env.Stdout, "Usage: langsync emulator <%s> [flags]\n\n", strings.Join(names, "|"))
				for _, n := range names {
					fmt.Fprintf(env.Stdout, "  %-11s %s\n", n, emulatorKinds[n].Summary)
				}
				if len(args) == 0 {
					return usagef("langsync emulator --help", "which emulator? (%s)", strings.Join(names, ", "))
				}
				return nil
			}
			k, ok := emulatorKinds[args[0]]
			if !ok {
				return usagef("langsync emulator --help", "unknown emulator %q", args[0])
			}
			return k.Run(ctx, env, args[1:])
		},
	}
}
