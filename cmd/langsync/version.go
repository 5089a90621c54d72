package main

import (
	"context"
	"fmt"
	"runtime"
)

func versionCommand() Command {
	return Command{
		Name:    "version",
		Summary: "print the version",
		Run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlagSet(env, "version")
			if err := parseNoArgs(fs, args); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "langsync %s %s/%s\n", Version, runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
