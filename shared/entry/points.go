package entry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/metrics"
	"github.com/langsync/langsync/shared/pipeline"
)

// RunState is what Points needs of the run state store (app.StateStore).
type RunState interface {
	Get(ctx context.Context, key string) ([]byte, string, error)
	Put(ctx context.Context, key string, data []byte, cond pipeline.Condition) (string, error)
}

// Restorer is what Points needs of shared/app to restore (*app.App).
type Restorer interface {
	Restore(ctx context.Context, req app.RestoreRequest) (*app.RestorePlan, pipeline.Ticket, error)
	RestoreDropped(ctx context.Context, key string) ([]pipeline.Next, error)
}

// Options configure Points.
type Options struct {
	// Pipeline runs the replication and restore runs.
	Pipeline *pipeline.Pipeline
	// State is the run state store Fail marks runs failed in.
	State RunState
	// Restore starts restore runs (nil: restore requests are refused as
	// permanent, so that the host keeps them under failed/).
	Restore Restorer
	// Logger receives the errors Sync swallows (optional).
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// SweepGrace is how overdue a run's wake-up must be before Sync re-wakes
	// it (default 2 minutes). A host without a queue of scheduled wake-ups
	// (Lambda) sets it short, so that its sweep takes every due run.
	SweepGrace time.Duration
	// Metrics records run outcomes and the pair gauges (nil: none).
	Metrics *metrics.Recorder
	// Heartbeat is pinged after each scheduled sync (nil: none).
	Heartbeat Beater
	// Backups lists backup times for the status page's chart (optional).
	Backups BackupTimes
	// MaxLag is alerts.maxLag, shown on the status page and in the alert
	// events.
	MaxLag time.Duration
}

// Points adapts shared/pipeline to the host entry points: the Runner,
// Starter and Reporter of shared/customhandler and shared/lambdahandler.
type Points struct {
	p          *pipeline.Pipeline
	state      RunState
	now        func() time.Time
	log        *slog.Logger
	restore    Restorer
	sweepGrace time.Duration
	metrics    *metrics.Recorder
	beat       Beater
	backups    BackupTimes
	maxLag     time.Duration
}

// New returns the entry points over opts.
func New(opts Options) *Points {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SweepGrace <= 0 {
		opts.SweepGrace = 2 * time.Minute
	}
	return &Points{
		p:          opts.Pipeline,
		state:      opts.State,
		now:        opts.Now,
		log:        opts.Logger,
		restore:    opts.Restore,
		sweepGrace: opts.SweepGrace,
		metrics:    opts.Metrics,
		beat:       opts.Heartbeat,
		backups:    opts.Backups,
		maxLag:     opts.MaxLag,
	}
}

// wakes turns pipeline Nexts into wake-ups, dropping finished and stale ones.
func wakes(ns ...pipeline.Next) []langsync.Wake {
	var out []langsync.Wake
	for _, n := range ns {
		if n.Follow != nil {
			// The run's end started a run for requests that came too late.
			out = append(out, wakes(*n.Follow)...)
		}
		if n.Done || n.Stale || n.Run == "" || n.Phase.Terminal() {
			continue
		}
		out = append(out, langsync.Wake{Wakeup: n.Wakeup, At: n.At})
	}
	return out
}

// Advance performs the next action of the run w wakes and returns the
// wake-ups to send next; a stale w yields the wake-up the run waits for.
func (e *Points) Advance(ctx context.Context, w langsync.Wakeup) ([]langsync.Wake, error) {
	n, err := e.p.Wake(ctx, w)
	if err != nil {
		return nil, err
	}
	if n.Stale {
		return e.expected(ctx, w.Run), nil
	}
	if n.Done || n.Phase.Terminal() {
		// The run ended in this invocation: report it (best effort; the
		// run document is the truth).
		e.RunFinished(ctx, w.Run)
	}
	return wakes(n), nil
}

// expected returns the wake-up an active run is waiting for. A stale
// wake-up may be the redelivery of a message whose handler died after it
// saved the run and before it sent the next wake-up; re-sending the
// expected one under the same MessageId (<run>/<step>/<seq>) heals that
// case, and Service Bus duplicate detection drops it when the original was
// sent.
func (e *Points) expected(ctx context.Context, runID string) []langsync.Wake {
	r, err := e.p.Run(ctx, runID)
	if err != nil || r.Phase.Terminal() {
		return nil
	}
	i := r.Current()
	if i < 0 {
		return nil
	}
	return []langsync.Wake{{Wakeup: langsync.Wakeup{Run: r.ID, Step: r.Steps[i].Name, Seq: r.Seq}, Project: r.Project, At: r.NextAt}}
}

// Fail marks a run failed because an input about it can never be
// processed. A missing or finished run is left alone; a concurrent update
// wins (the run moved on, so the bad input no longer matters).
func (e *Points) Fail(ctx context.Context, runID, reason string) error {
	key := langsync.RunKey(runID)
	data, etag, err := e.state.Get(ctx, key)
	if errors.Is(err, pipeline.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("entry: loading run %s: %w", runID, err)
	}
	var r langsync.Run
	if err := json.Unmarshal(data, &r); err != nil || r.Phase.Terminal() {
		return nil
	}
	r.Phase, r.Ended, r.NextAt = langsync.RunFailed, e.now().UTC(), time.Time{}
	r.Error = "input could not be processed: " + reason
	out, err := json.Marshal(&r)
	if err != nil {
		return fmt.Errorf("entry: encoding run %s: %w", runID, err)
	}
	if _, err := e.state.Put(ctx, key, out, pipeline.Condition{IfMatch: etag}); err != nil {
		if errors.Is(err, pipeline.ErrConflict) {
			return nil
		}
		return fmt.Errorf("entry: saving run %s: %w", runID, err)
	}
	e.finished(ctx, &r)
	return nil
}

// Sync runs the change check, then the sweep of overdue runs (a lost
// message heals).
func (e *Points) Sync(ctx context.Context, _ langsync.Tick) ([]langsync.Wake, error) {
	res, err := e.p.Sync(ctx, pipeline.SyncOptions{})
	var out []langsync.Wake
	decisions, started := 0, 0
	if res != nil {
		out = wakes(res.Wake...)
		decisions = len(res.Decisions)
		for _, d := range res.Decisions {
			if d.Run != "" {
				started++
			}
		}
	}
	swept, serr := e.p.Sweep(ctx, e.sweepGrace)
	out = append(out, wakes(swept...)...)
	// Wake-ups found so far are sent even when part of the check failed;
	// the failure is logged and the next firing checks again.
	if err := errors.Join(err, serr); err != nil {
		if len(out) > 0 {
			if e.log != nil {
				e.log.Error("sync: part of the change check or sweep failed; sending the wake-ups found", "err", err, "wakes", len(out))
			}
			e.syncCompleted(ctx, decisions, started, len(swept), len(out), true)
			e.AfterSync(ctx, started, true)
			return out, nil
		}
		e.AfterSync(ctx, 0, true)
		return nil, err
	}
	e.syncCompleted(ctx, decisions, started, len(swept), len(out), false)
	e.AfterSync(ctx, started, false)
	return out, nil
}

// Replicate starts (or joins) a forced replication run per target.
func (e *Points) Replicate(ctx context.Context, r langsync.ReplicateRequest) ([]langsync.Wake, error) {
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

// errRestoreUnavailable: no restorer is wired; the request is kept under
// failed/ to be sent again.
var errRestoreUnavailable = permanentError("restore is not available in this host; the request is kept under failed/ in the state container")

// permanentError is an error no retry cures (langsync.IsPermanent).
type permanentError string

func (e permanentError) Error() string   { return string(e) }
func (e permanentError) Permanent() bool { return true }

// Restore starts a restore run: of a backup (id, or project and time) for a
// queue request, or of a backup dropped under restore/ (blob trigger). A
// refused restore (app.ErrRefused: bad backup, existing project without
// replace, missing documents) is permanent: the request is kept, not
// retried.
func (e *Points) Restore(ctx context.Context, r langsync.RestoreRequest) ([]langsync.Wake, error) {
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
func (e *Points) Status(ctx context.Context, r langsync.StatusRequest) (any, error) {
	sel, err := e.selected(ctx, r)
	if err != nil {
		return nil, err
	}
	return map[string]any{"pairs": sel}, nil
}

// StatusPage is the status function's HTML page (the same pairs as
// Status).
func (e *Points) StatusPage(ctx context.Context, r langsync.StatusRequest) ([]byte, error) {
	sel, err := e.selected(ctx, r)
	if err != nil {
		return nil, err
	}
	return e.Page(ctx, sel)
}

// selected reads the status (refreshing the pair gauges) of every pair,
// or of those whose source, project or target is r.Pair.
func (e *Points) selected(ctx context.Context, r langsync.StatusRequest) ([]pipeline.PairStatus, error) {
	all, err := e.Observe(ctx)
	if err != nil {
		return nil, err
	}
	if r.Pair == "" {
		return all, nil
	}
	var sel []pipeline.PairStatus
	for _, s := range all {
		if s.Pair.Source == r.Pair || s.Pair.Project == r.Pair || s.Pair.Target == r.Pair {
			sel = append(sel, s)
		}
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("entry: no configured pair has source, project or target %q: %w", r.Pair, fs.ErrNotExist)
	}
	return sel, nil
}

// IsPermanent reports whether err is one no retry can cure: what
// langsync.IsPermanent says (a malformed input, an error with a Permanent()
// method), or one of the pipeline's sentinels for a missing or corrupt
// thing or an unknown project. A host passes it as its IsPermanent option.
func IsPermanent(err error) bool {
	return langsync.IsPermanent(err) ||
		errors.Is(err, pipeline.ErrNotFound) || errors.Is(err, pipeline.ErrCorrupt) || errors.Is(err, pipeline.ErrUnknownProject)
}
