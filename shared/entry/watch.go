package entry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/metrics"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/statuspage"
)

// What the entry points do besides running the pipeline, so that every
// host (Functions, Lambda, local) watches the same way
// (docs/observability.md): after each scheduled sync, and when a run of a
// sync ends, they read the status, refresh the metrics' pair gauges, keep
// a lag sample for the status page's chart, write one
// langsync.pair.alert event per alert, and ping the heartbeat once the
// sync's runs have all ended.

// Beater is the heartbeat (shared/heartbeat.Pinger).
type Beater interface {
	Beat(ctx context.Context, ok bool, reason string) error
	// Where names the check without its token, for the logs.
	Where() string
}

// BackupTimes lists when each backup was written (app.Backups).
type BackupTimes interface {
	Times(ctx context.Context) ([]time.Time, error)
}

// EventPairAlert: a pair is past alerts.maxLag, or something of it
// expires within its expiry warning window.
const EventPairAlert = "langsync.pair.alert"

// HistoryKey is the lag history the status page charts, in the state
// container; it keeps the newest HistoryMax samples.
const (
	HistoryKey = "status/history.json"
	HistoryMax = 720
)

// AfterSync does what follows a scheduled sync: started is how many runs
// it started or joined, failed whether the change check failed. With no
// run to wait for, the heartbeat is pinged now; otherwise when the last of
// them ends (RunFinished).
func (e *Points) AfterSync(ctx context.Context, started int, failed bool) {
	if ctx.Err() != nil {
		return // stopping: a sync cut short says nothing about the pairs
	}
	st, err := e.observe(ctx, true)
	if e.beat == nil {
		return
	}
	switch {
	case failed:
		e.heartbeat(ctx, false, "the change check failed (details in the logs)")
	case err != nil:
		e.heartbeat(ctx, false, "status could not be read after the sync (details in the logs)")
	case started == 0 || !busy(st):
		ok, reason := pipeline.Verdict(st)
		e.heartbeat(ctx, ok, reason)
	}
}

// RunFinished does what follows a run's end: the run.ended event and its
// metrics, and for a run the schedule started, once no pair has a run
// left, the status watch and the heartbeat. A host that runs the pipeline
// itself (local) calls it; Advance and Fail call it for the others.
func (e *Points) RunFinished(ctx context.Context, runID string) {
	r, err := e.p.Run(ctx, runID)
	if err != nil || !r.Phase.Terminal() {
		return
	}
	e.finished(ctx, r)
}

// finished: the event, the metrics and, for a scheduled run, the watch.
func (e *Points) finished(ctx context.Context, r *langsync.Run) {
	e.runEnded(ctx, r)
	if r.Kind == langsync.RunReplicate {
		for _, t := range pipeline.Summarize(r).Targets {
			e.metrics.RunEnded(ctx, r.Source, r.Project, t.Target, string(t.Phase))
		}
	}
	if r.Trigger != langsync.TriggerTimer {
		return
	}
	st, err := e.observe(ctx, true)
	if err != nil || busy(st) || e.beat == nil {
		return
	}
	ok, reason := pipeline.Verdict(st)
	e.heartbeat(ctx, ok, reason)
}

func busy(st []pipeline.PairStatus) bool {
	for _, s := range st {
		if s.ActiveRun != nil {
			return true
		}
	}
	return false
}

func (e *Points) heartbeat(ctx context.Context, ok bool, reason string) {
	err := e.beat.Beat(ctx, ok, reason)
	if e.log == nil {
		return
	}
	if err != nil {
		e.log.Error("heartbeat not delivered", "check", e.beat.Where(), "ok", ok, "err", err)
		return
	}
	if ok {
		e.log.Info("heartbeat sent: every pair in sync", "check", e.beat.Where())
	} else {
		e.log.Warn("heartbeat sent: failure", "check", e.beat.Where(), "reason", reason)
	}
}

// Observe reads the status and refreshes the metrics' pair gauges (what
// the status page and GET /status show).
func (e *Points) Observe(ctx context.Context) ([]pipeline.PairStatus, error) {
	return e.observe(ctx, false)
}

// observe reads the status and refreshes the pair gauges; with record it
// also keeps a lag sample and writes the alert events.
func (e *Points) observe(ctx context.Context, record bool) ([]pipeline.PairStatus, error) {
	st, err := e.p.Status(ctx)
	if err != nil {
		if e.log != nil {
			e.log.Error("reading the status", "err", err)
		}
		return st, err
	}
	now := e.now()
	gauges := make([]metrics.Pair, 0, len(st))
	for _, s := range st {
		g := metrics.Pair{Source: s.Pair.Source, Project: s.Pair.Project, Target: s.Pair.Target, LastSuccess: s.LastReplicated, Alerts: map[string]int{}}
		if s.Lag > 0 {
			g.Behind = now.Add(-s.Lag)
		}
		for _, a := range s.Alerts {
			g.Alerts[a.Kind]++
		}
		gauges = append(gauges, g)
	}
	e.metrics.SetPairs(gauges)
	if !record {
		return st, nil
	}
	e.alertEvents(ctx, st)
	if err := e.keepSample(ctx, now, st); err != nil && e.log != nil {
		e.log.Warn("keeping the lag history for the status page", "err", err)
	}
	return st, nil
}

// alertEvents writes one EventPairAlert per alert.
func (e *Points) alertEvents(ctx context.Context, st []pipeline.PairStatus) {
	if e.log == nil {
		return
	}
	for _, s := range st {
		for _, a := range s.Alerts {
			e.log.LogAttrs(ctx, slog.LevelWarn, "pair alert",
				slog.String("event", EventPairAlert),
				slog.String("kind", a.Kind),
				slog.String("source", s.Pair.Source),
				slog.String("project", s.Pair.Project),
				slog.String("target", s.Pair.Target),
				slog.Int("lag_seconds", int(s.Lag/time.Second)),
				slog.Int("max_lag_seconds", int(e.maxLag/time.Second)),
				slog.String("detail", a.Message),
			)
		}
	}
}

// keepSample appends the pairs' lag to the history (ETag-guarded; a lost
// race drops this sample, the next one comes with the next sync).
func (e *Points) keepSample(ctx context.Context, now time.Time, st []pipeline.PairStatus) error {
	if e.state == nil {
		return nil
	}
	hist, etag, err := e.history(ctx)
	if err != nil {
		return err
	}
	s := statuspage.Sample{At: now.UTC(), Lag: map[string]float64{}}
	for _, p := range st {
		if p.Error == "" {
			s.Lag[p.Pair.String()] = p.Lag.Seconds()
		}
	}
	hist = append(hist, s)
	if len(hist) > HistoryMax {
		hist = hist[len(hist)-HistoryMax:]
	}
	data, err := json.Marshal(hist)
	if err != nil {
		return err
	}
	cond := pipeline.Condition{IfMatch: etag}
	if etag == "" {
		cond = pipeline.Condition{IfNoneMatch: true}
	}
	if _, err := e.state.Put(ctx, HistoryKey, data, cond); err != nil && !errors.Is(err, pipeline.ErrConflict) {
		return fmt.Errorf("saving %s: %w", HistoryKey, err)
	}
	return nil
}

func (e *Points) history(ctx context.Context) ([]statuspage.Sample, string, error) {
	data, etag, err := e.state.Get(ctx, HistoryKey)
	if errors.Is(err, pipeline.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", HistoryKey, err)
	}
	var hist []statuspage.Sample
	if err := json.Unmarshal(data, &hist); err != nil {
		// A damaged history only costs the chart: start again.
		return nil, etag, nil
	}
	return hist, etag, nil
}

// Page renders the HTML status page of the pairs st (read with Observe),
// with the lag history and the backups.
func (e *Points) Page(ctx context.Context, st []pipeline.PairStatus) ([]byte, error) {
	page := statuspage.Page{Generated: e.now(), Pairs: st, MaxLag: e.maxLag}
	var errs []error
	if e.state != nil {
		hist, _, err := e.history(ctx)
		errs = append(errs, err)
		page.History = hist
	}
	if e.backups != nil {
		ts, err := e.backups.Times(ctx)
		errs = append(errs, err)
		page.Backups = ts
	}
	if err := errors.Join(errs...); err != nil {
		page.Error = err.Error()
	}
	var b bytes.Buffer
	if err := statuspage.Render(&b, page); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
