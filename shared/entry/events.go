package entry

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// The structured events the entry points write, with fixed names and
// attributes (docs/observability.md#events): alert rules and queries read
// them, so they change only with that page.
const (
	// EventRunEnded: a run reached a terminal phase in this invocation.
	EventRunEnded = "langsync.run.ended"
	// EventSyncCompleted: the timer's change check and sweep finished.
	EventSyncCompleted = "langsync.sync.completed"
)

// runEnded writes EventRunEnded for r (terminal).
func (e *Points) runEnded(ctx context.Context, r *langsync.Run) {
	if e.log == nil || r == nil || !r.Phase.Terminal() {
		return
	}
	targets := make([]string, 0, len(r.Pairs))
	for _, p := range r.Pairs {
		targets = append(targets, p.Target)
	}
	lag := 0
	level := slog.LevelInfo
	if r.Phase == langsync.RunSucceeded {
		if !r.Created.IsZero() && r.Ended.After(r.Created) {
			lag = int(r.Ended.Sub(r.Created) / time.Second)
		}
	} else {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("event", EventRunEnded),
		slog.String("run", r.ID),
		slog.String("kind", string(r.Kind)),
		slog.String("project", r.Project),
		slog.String("source", r.Source),
		slog.String("targets", strings.Join(targets, ",")),
		slog.String("outcome", string(r.Phase)),
		slog.Int("lag_seconds", lag),
	}
	if r.Phase == langsync.RunFailed {
		attrs = append(attrs, slog.String("error", r.Error))
	}
	e.log.LogAttrs(ctx, level, "run ended", attrs...)
}

// syncCompleted writes EventSyncCompleted.
func (e *Points) syncCompleted(ctx context.Context, decisions, started, swept, sent int, failed bool) {
	if e.log == nil {
		return
	}
	errs := 0
	if failed {
		errs = 1
	}
	e.log.LogAttrs(ctx, slog.LevelInfo, "sync completed",
		slog.String("event", EventSyncCompleted),
		slog.Int("decisions", decisions),
		slog.Int("started", started),
		slog.Int("swept", swept),
		slog.Int("wakes", sent),
		slog.Int("errors", errs),
	)
}
