package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/customhandler"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
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
	// port, and any answer to GET / counts as ready (spec §3.1).
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
	cfg, err := config.FromAppSettings(env.Getenv)
	if err != nil {
		return nil, nil, err
	}
	aopts := &app.Options{Logger: log}
	if env.appOptions != nil {
		env.appOptions(aopts)
	}
	a, err := app.New(ctx, cfg, aopts)
	if err != nil {
		return nil, nil, err
	}
	// The config's serviceBus key (config falls back to LANGSYNC_SERVICEBUS
	// itself), else the managed-identity form of the app setting.
	setting := cfg.ServiceBus.Reveal()
	if setting == "" {
		setting = env.Getenv("LANGSYNC_SERVICEBUS__fullyQualifiedNamespace")
	}
	sb, err := queue.NewServiceBus(setting, &queue.Options{Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("serve: %w", err)
	}
	entry := &pipelineEntry{p: a.Pipeline, state: a.State, now: timeNow, log: log, restore: a}
	h, err := customhandler.New(customhandler.Options{
		Runs: entry, Starts: entry, Status: entry, Wakes: sb,
		Failed:      stateKeeper{store: a.Store, container: cfg.Containers.State},
		Logger:      log,
		IsPermanent: pipelinePermanent,
	})
	if err != nil {
		return nil, nil, err
	}
	return h, func(ctx context.Context) { _ = sb.Close(ctx) }, nil
}

// pipelinePermanent maps the pipeline's sentinels that no retry can cure.
func pipelinePermanent(err error) bool {
	return errors.Is(err, pipeline.ErrNotFound) || errors.Is(err, pipeline.ErrCorrupt) || errors.Is(err, pipeline.ErrUnknownProject)
}

// stateKeeper keeps failed inputs in the state container, write-once.
type stateKeeper struct {
	store     blobstore.Store
	container string
}

func (k stateKeeper) Keep(ctx context.Context, key string, doc []byte) error {
	ct := "application/json"
	if !strings.HasSuffix(key, ".json") {
		// The raw bytes of a large refused input, kept as they came.
		ct = "application/octet-stream"
	}
	_, err := k.store.Put(ctx, k.container, key, bytes.NewReader(doc), &blobstore.PutOptions{IfNoneMatch: true, ContentType: ct})
	if errors.Is(err, blobstore.ErrConflict) {
		return nil // already kept (a redelivery of the same invocation)
	}
	return err
}

// runState is what pipelineEntry needs of the run state store.
type runState interface {
	Get(ctx context.Context, key string) ([]byte, string, error)
	Put(ctx context.Context, key string, data []byte, cond pipeline.Condition) (string, error)
}

// pipelineEntry adapts shared/pipeline to the host entry points
// (customhandler.Runner, Starter, Reporter), shared by serve and Lambda.
type pipelineEntry struct {
	p     *pipeline.Pipeline
	state runState
	now   func() time.Time
	log   *slog.Logger
	// restore starts restore runs (nil: restore requests are kept as
	// failed).
	restore restorer
	// SweepGrace is how overdue a run's wake-up must be before the timer
	// re-wakes it (default 2 minutes).
	sweepGrace time.Duration
}

var (
	_ customhandler.Runner   = (*pipelineEntry)(nil)
	_ customhandler.Starter  = (*pipelineEntry)(nil)
	_ customhandler.Reporter = (*pipelineEntry)(nil)
)

// wakes turns pipeline Nexts into wake-ups, dropping finished and stale ones.
func wakes(ns ...pipeline.Next) []customhandler.Wake {
	var out []customhandler.Wake
	for _, n := range ns {
		if n.Follow != nil {
			// The run's end started a run for requests that came too late.
			out = append(out, wakes(*n.Follow)...)
		}
		if n.Done || n.Stale || n.Run == "" || n.Phase.Terminal() {
			continue
		}
		out = append(out, customhandler.Wake{Wakeup: n.Wakeup, At: n.At})
	}
	return out
}

func (e *pipelineEntry) Advance(ctx context.Context, w langsync.Wakeup) ([]customhandler.Wake, error) {
	n, err := e.p.Wake(ctx, w)
	if err != nil {
		return nil, err
	}
	if n.Stale {
		return e.expected(ctx, w.Run), nil
	}
	return wakes(n), nil
}

// expected returns the wake-up an active run is waiting for. A stale
// wake-up may be the redelivery of a message whose handler died after it
// saved the run and before it sent the next wake-up; re-sending the
// expected one under the same MessageId (<run>/<step>/<seq>) heals that
// case, and Service Bus duplicate detection drops it when the original was
// sent.
func (e *pipelineEntry) expected(ctx context.Context, runID string) []customhandler.Wake {
	r, err := e.p.Run(ctx, runID)
	if err != nil || r.Phase.Terminal() {
		return nil
	}
	i := r.Current()
	if i < 0 {
		return nil
	}
	return []customhandler.Wake{{Wakeup: langsync.Wakeup{Run: r.ID, Step: r.Steps[i].Name, Seq: r.Seq}, Project: r.Project, At: r.NextAt}}
}

// Fail marks a run failed because an input about it can never be
// processed. A missing or finished run is left alone; a concurrent update
// wins (the run moved on, so the bad input no longer matters).
func (e *pipelineEntry) Fail(ctx context.Context, runID, reason string) error {
	key := langsync.RunKey(runID)
	data, etag, err := e.state.Get(ctx, key)
	if errors.Is(err, pipeline.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("serve: loading run %s: %w", runID, err)
	}
	var r langsync.Run
	if err := json.Unmarshal(data, &r); err != nil || r.Phase.Terminal() {
		return nil
	}
	r.Phase, r.Ended, r.NextAt = langsync.RunFailed, e.now().UTC(), time.Time{}
	r.Error = "input could not be processed: " + reason
	out, err := json.Marshal(&r)
	if err != nil {
		return fmt.Errorf("serve: encoding run %s: %w", runID, err)
	}
	if _, err := e.state.Put(ctx, key, out, pipeline.Condition{IfMatch: etag}); err != nil && !errors.Is(err, pipeline.ErrConflict) {
		return fmt.Errorf("serve: saving run %s: %w", runID, err)
	}
	return nil
}

// Sync runs the change check, then the sweep of overdue runs (a lost
// message heals).
func (e *pipelineEntry) Sync(ctx context.Context, _ customhandler.Tick) ([]customhandler.Wake, error) {
	res, err := e.p.Sync(ctx, pipeline.SyncOptions{})
	var out []customhandler.Wake
	if res != nil {
		out = wakes(res.Wake...)
	}
	grace := e.sweepGrace
	if grace <= 0 {
		grace = 2 * time.Minute
	}
	swept, serr := e.p.Sweep(ctx, grace)
	out = append(out, wakes(swept...)...)
	// Wake-ups found so far are sent even when part of the check failed;
	// the failure is logged and the next firing checks again.
	if err := errors.Join(err, serr); err != nil {
		if len(out) > 0 {
			if e.log != nil {
				e.log.Error("sync: part of the change check or sweep failed; sending the wake-ups found", "err", err, "wakes", len(out))
			}
			return out, nil
		}
		return nil, err
	}
	return out, nil
}

func (e *pipelineEntry) Replicate(ctx context.Context, r customhandler.ReplicateRequest) ([]customhandler.Wake, error) {
	tickets, err := e.p.Start(ctx, pipeline.Request{Project: r.Project, Source: r.Source, Targets: r.Targets, Trigger: langsync.TriggerForced, Reason: "forced by a queue message"})
	if err != nil && len(tickets) == 0 {
		return nil, err
	}
	var ns []pipeline.Next
	for _, t := range tickets {
		if !t.Joined {
			ns = append(ns, t.Next)
		}
	}
	return wakes(ns...), err
}

// restorer is what the entry points need of shared/app to restore.
type restorer interface {
	Restore(ctx context.Context, req app.RestoreRequest) (*app.RestorePlan, pipeline.Ticket, error)
	RestoreDropped(ctx context.Context, key string) ([]pipeline.Next, error)
}

// errRestoreUnavailable: no restorer is wired; the request is kept under
// failed/ to be sent again.
var errRestoreUnavailable = permanentError("restore is not available in this host; the request is kept under failed/ in the state container")

type permanentError string

func (e permanentError) Error() string   { return string(e) }
func (e permanentError) Permanent() bool { return true }

// Restore starts a restore run: of a backup (id, or project and time) for a
// queue request, or of a backup dropped under restore/ (blob trigger). A
// refused restore (app.ErrRefused: bad backup, existing project without
// replace, missing documents) is permanent: the request is kept, not
// retried.
func (e *pipelineEntry) Restore(ctx context.Context, r customhandler.RestoreRequest) ([]customhandler.Wake, error) {
	if e.restore == nil {
		return nil, errRestoreUnavailable
	}
	if r.Drop != "" {
		ns, err := e.restore.RestoreDropped(ctx, r.Drop)
		return wakes(ns...), err
	}
	_, t, err := e.restore.Restore(ctx, app.RestoreRequest{
		Backup: r.Backup, Project: r.Project, At: r.At, To: r.Target, As: r.As, Replace: r.Replace,
		Reason: "restore request on " + langsync.QueueImport,
	})
	if err != nil {
		return nil, err
	}
	return wakes(t.Next), nil
}

// Status reports every pair, or those whose source, project or target is
// the route's {pair} value.
func (e *pipelineEntry) Status(ctx context.Context, r customhandler.StatusRequest) (any, error) {
	all, err := e.p.Status(ctx)
	if err != nil {
		return nil, err
	}
	if r.Pair == "" {
		return map[string]any{"pairs": all}, nil
	}
	var sel []pipeline.PairStatus
	for _, s := range all {
		if s.Pair.Source == r.Pair || s.Pair.Project == r.Pair || s.Pair.Target == r.Pair {
			sel = append(sel, s)
		}
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("serve: no configured pair has source, project or target %q: %w", r.Pair, fs.ErrNotExist)
	}
	return map[string]any{"pairs": sel}, nil
}

// timeNow is the clock of the entry points.
func timeNow() time.Time { return time.Now() }
