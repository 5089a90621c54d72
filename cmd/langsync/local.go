package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/local"
)

func localCommand() Command {
	return Command{Name: "local", Summary: "long-running local host: the sync schedule, runs, restore drops (no Azure Functions)", Run: runLocal}
}

// localRestorer, when set, gives the local host its restore entry point
// (restore runs of backups dropped under restore/).
var localRestorer func(*app.App) local.Restorer

func runLocal(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "local")
	cfgPath := fs.String("config", "", "config file (langsync.yaml); store: a directory keeps state and backups on this machine")
	syncNow := fs.Bool("sync-now", false, "run the change check once at start-up, before the schedule first fires")
	workers := fs.Int("workers", 2, "wake-ups handled at once")
	format := fs.String("log-format", "auto", "log format: text, json, or auto (text on a terminal, JSON otherwise)")
	verbose := fs.Bool("v", false, "also log job polls and wake-ups (debug)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	if *workers < 1 {
		return usagef("langsync local --help", "--workers must be at least 1")
	}
	logger, err := localLogger(env.Stderr, *format, *verbose)
	if err != nil {
		return err
	}
	h, err := local.New(ctx, cfg, &local.Options{Logger: logger, Workers: *workers, SyncOnStart: *syncNow, App: env.appOptions})
	if err != nil {
		return err
	}
	if localRestorer != nil {
		h.SetRestorer(localRestorer(h.App))
	}
	return h.Run(ctx)
}

// localLogger logs text on a terminal and JSON elsewhere (a service
// manager, a file), unless the format is given.
func localLogger(w io.Writer, format string, verbose bool) (*slog.Logger, error) {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	ho := &slog.HandlerOptions{Level: level}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, usagef("langsync local --help", "--log-format %q: want auto, text or json", format)
}
