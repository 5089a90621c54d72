package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/entry"
	"github.com/langsync/langsync/shared/heartbeat"
	"github.com/langsync/langsync/shared/local"
	"github.com/langsync/langsync/shared/metrics"
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
	listen := fs.String("listen", "", "serve GET /metrics, /healthz, /status and the status page / on this address (e.g. 127.0.0.1:9464)")
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
	var ln net.Listener
	if *listen != "" {
		if ln, err = net.Listen("tcp", *listen); err != nil {
			return usagef("langsync local --help", "--listen %s: %v", *listen, err)
		}
		defer ln.Close()
	}
	rec, beat, err := watchers(ctx, env, cfg, ln != nil)
	if err != nil {
		return err
	}
	defer func() { _ = rec.Shutdown(context.WithoutCancel(ctx)) }()
	h, err := local.New(ctx, cfg, &local.Options{Logger: logger, Workers: *workers, SyncOnStart: *syncNow, App: env.appOptions, Metrics: rec, Heartbeat: beat})
	if err != nil {
		return err
	}
	if localRestorer != nil {
		h.SetRestorer(localRestorer(h.App))
	}
	if ln == nil {
		return h.Run(ctx)
	}
	served := make(chan error, 1)
	go func() { served <- h.Serve(ctx, ln) }()
	err = h.Run(ctx)
	if serr := <-served; err == nil && serr != nil {
		err = fmt.Errorf("local: status endpoints: %w", serr)
	}
	return err
}

// watchers builds the metrics recorder (always when the host serves
// /metrics; else only to push over OTLP when OTEL_EXPORTER_OTLP_* is set)
// and the heartbeat of heartbeat.url (nil when not configured).
func watchers(ctx context.Context, env *Env, cfg *config.Config, serving bool) (*metrics.Recorder, entry.Beater, error) {
	var rec *metrics.Recorder
	if serving || env.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env.Getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != "" {
		var err error
		if rec, err = metrics.New(ctx, metrics.Options{Getenv: env.Getenv, Version: Version}); err != nil {
			return nil, nil, err
		}
	}
	var beat entry.Beater
	if !cfg.Heartbeat.URL.IsZero() {
		beat = heartbeat.New(cfg.Heartbeat.URL.Reveal(), nil)
	}
	return rec, beat, nil
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
