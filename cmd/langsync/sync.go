package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

func syncCommand() Command {
	return Command{Name: "sync", Summary: "run the daily change check once and replicate what changed", Run: runSync}
}

func runSync(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "sync")
	cfgPath := fs.String("config", "", "config file (langsync.yaml)")
	dry := fs.Bool("dry-run", false, "decide only; start no run")
	asJSON := fs.Bool("json", false, "print decisions and runs as JSON")
	verbose := fs.Bool("v", false, "log every action to stderr")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	var progress io.Writer
	if !*asJSON {
		progress = env.Stdout
	}
	a, err := newApp(ctx, env, cfg, *verbose, progress)
	if err != nil {
		return err
	}
	res, err := a.Pipeline.Sync(ctx, pipeline.SyncOptions{DryRun: *dry})
	if err != nil {
		return err
	}
	if !*asJSON {
		for _, d := range res.Decisions {
			line := fmt.Sprintf("%s: %s (%s)", d.Pair, d.Action, d.Reason)
			if d.Run != "" {
				line += " run " + d.Run
			}
			fmt.Fprintln(env.Stdout, line)
		}
	}
	var ids []string
	for _, n := range res.Wake {
		ids = append(ids, n.Run)
	}
	runs, derr := a.DriveAll(ctx, ids)
	if *asJSON {
		out := struct {
			Decisions []pipeline.Decision `json:"decisions"`
			Runs      []*langsync.Run     `json:"runs"`
		}{res.Decisions, runs}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	// With --json the one document above already holds the runs; reportRuns
	// must only judge them, or stdout would carry a second document.
	if err := reportRuns(env, runs, derr, *asJSON, !*asJSON); err != nil {
		return err
	}
	for _, d := range res.Decisions {
		if d.Action == pipeline.ActionError {
			return fmt.Errorf("%s: %s", d.Pair, d.Reason)
		}
	}
	return nil
}
