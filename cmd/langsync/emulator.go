package main

import (
	"context"
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

func emulatorNames() []string {
	var names []string
	for n := range emulatorKinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func emulatorCommand() Command {
	return Command{
		Name:    "emulator",
		Summary: "run a local stand-in for an Azure service (language, servicebus)",
		Run: func(ctx context.Context, env *Env, args []string) error {
			if len(args) == 0 || isHelp(args[0]) {
				printPage(env.Stdout, "emulator", nil)
				if len(args) == 0 {
					return usagef("langsync emulator --help", "which emulator? (%s)", strings.Join(emulatorNames(), ", "))
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
