package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/customhandler"
	"github.com/langsync/langsync/shared/entry"
	"github.com/langsync/langsync/shared/queue"
)

func serveCommand() Command {
	return Command{
		Name:    "serve",
		Summary: "run as the Azure Functions custom handler (host.json starts it)",
		Run:     runServe,
	}
}

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve")
	grace := fs.Duration("grace", 30*time.Second, "how long in-flight invocations may finish after a stop signal")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *grace < 0 {
		return usagef("langsync serve --grace 30s", "--grace %s is negative: give how long in-flight invocations may finish, e.g. 30s", *grace)
	}
	addr, err := customhandler.Addr(env.Getenv)
	if err != nil {
		return &UsageError{Message: err.Error(), Hint: "FUNCTIONS_CUSTOMHANDLER_PORT=7071 langsync serve"}
	}
	log := slog.New(slog.NewJSONHandler(env.Stdout, nil))
	// Listen before the slow start-up: the host only waits ~30-60 s for the
	// port, and any answer to GET / counts as ready
	// (docs/reference/functions-protocol.md#process-start-and-readiness).
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: listening on %s: %w", addr, err)
	}
	if env.listening != nil {
		env.listening(ln.Addr().String())
	}
	lazy := &lazyHandler{ready: make(chan struct{})}
	buildCtx, stopBuild := context.WithCancel(ctx)
	defer stopBuild()
	go func() {
		h, cleanup, err := buildHandler(buildCtx, env, log)
		if err != nil {
			// stderr lines become Error logs in the host.
			fmt.Fprintf(env.Stderr, "langsync serve: %v\n", err)
			log.Error("start-up failed; invocations answer 500 until the app settings are fixed and the host restarts langsync", "err", err)
		}
		lazy.set(h, cleanup, err)
	}()
	log.Info("langsync serve listening", "addr", ln.Addr().String())
	err = customhandler.Serve(ctx, ln, lazy, *grace)
	// A stop can come while start-up is still running: end it and wait, so
	// that the sender it opens is closed and nothing outlives serve.
	stopBuild()
	lazy.close(context.WithoutCancel(ctx))
	return err
}

// lazyHandler answers the readiness probe at once and holds invocations
// until start-up has finished.
type lazyHandler struct {
	ready   chan struct{}
	h       http.Handler
	err     error
	cleanup func(context.Context)
}

func (l *lazyHandler) set(h http.Handler, cleanup func(context.Context), err error) {
	l.h, l.cleanup, l.err = h, cleanup, err
	close(l.ready)
}

// close waits for start-up to finish and releases what it opened.
func (l *lazyHandler) close(ctx context.Context) {
	<-l.ready
	if l.cleanup != nil {
		l.cleanup(ctx)
	}
}

func (l *lazyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/" {
		w.WriteHeader(http.StatusOK)
		return
	}
	select {
	case <-l.ready:
	case <-r.Context().Done():
		http.Error(w, "langsync is starting", http.StatusServiceUnavailable)
		return
	}
	if l.err != nil {
		http.Error(w, "langsync could not start: "+l.err.Error(), http.StatusInternalServerError)
		return
	}
	l.h.ServeHTTP(w, r)
}

// buildHandler wires the app (config, stores, pipeline), the Service Bus
// sender and the failed-input keeper into a custom handler.
func buildHandler(ctx context.Context, env *Env, log *slog.Logger) (http.Handler, func(context.Context), error) {
	w, err := wireHost(ctx, env, log, 0)
	if err != nil {
		return nil, nil, err
	}
	// The config's serviceBus key (config falls back to LANGSYNC_SERVICEBUS
	// itself), else the managed-identity form of the app setting.
	setting := w.cfg.ServiceBus.Reveal()
	if setting == "" {
		setting = env.Getenv("LANGSYNC_SERVICEBUS__fullyQualifiedNamespace")
	}
	sb, err := queue.NewServiceBus(setting, &queue.Options{Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("serve: %w", err)
	}
	h, err := customhandler.New(customhandler.Options{
		Runs: w.points, Starts: w.points, Status: w.points, Wakes: sb,
		Failed:      w.failed,
		Logger:      log,
		IsPermanent: entry.IsPermanent,
	})
	if err != nil {
		return nil, nil, err
	}
	return h, func(ctx context.Context) { _ = sb.Close(ctx) }, nil
}

// hostWiring is what both hosts (serve and Lambda) are built from.
type hostWiring struct {
	cfg    *config.Config
	points *entry.Points
	failed entry.StateKeeper
}

// wireHost builds config (from the app settings) -> app -> entry points
// for a host. sweepGrace is how overdue a run must be before the sync
// re-wakes it (0: entry's default).
func wireHost(ctx context.Context, env *Env, log *slog.Logger, sweepGrace time.Duration) (*hostWiring, error) {
	cfg, err := config.FromAppSettings(env.Getenv)
	if err != nil {
		return nil, err
	}
	rec, beat, err := watchers(ctx, env, cfg, false)
	if err != nil {
		return nil, err
	}
	aopts := &app.Options{Logger: log, Metrics: rec}
	if env.appOptions != nil {
		env.appOptions(aopts)
	}
	a, err := app.New(ctx, cfg, aopts)
	if err != nil {
		return nil, err
	}
	return &hostWiring{
		cfg: cfg,
		points: entry.New(entry.Options{
			Pipeline: a.Pipeline, State: a.State, Restore: a, Logger: log, SweepGrace: sweepGrace,
			Metrics: rec, Heartbeat: beat, Backups: a.Backups, MaxLag: time.Duration(cfg.Alerts.MaxLag),
		}),
		failed: entry.StateKeeper{Store: a.Store, Container: cfg.Containers.State},
	}, nil
}
