package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

// Drive advances a run in this process until it ends, waiting until each
// Next.At in between: the in-process host used by `langsync replicate`,
// `langsync sync` and the local host. It returns the final run.
//
// When another process holds the claim on the run's next step (Next.Busy)
// Drive writes nothing and watches the run document instead: it advances
// again as soon as the claimant saves its progress, or at the claim's
// deadline when the claimant has died.
func (a *App) Drive(ctx context.Context, runID string) (*langsync.Run, error) {
	clock := a.Pipeline.Clock()
	for {
		n, err := a.Pipeline.Advance(ctx, runID)
		if err != nil {
			return nil, err
		}
		if n.Done {
			return a.Pipeline.Run(ctx, runID)
		}
		if n.Busy {
			if err := a.watch(ctx, clock, runID, n.Seq, n.At); err != nil {
				return nil, err
			}
			continue
		}
		if n.Stale {
			// Another process saved the run meanwhile (a host sharing the
			// state store): look again shortly.
			n.At = clock.Now().Add(watchInterval)
		}
		if err := sleepUntil(ctx, clock, n.At); err != nil {
			return nil, fmt.Errorf("app: waiting for run %s: %w", runID, err)
		}
	}
}

// watchInterval is how often Drive re-reads a run whose next step another
// process is starting (one small Blob read each time).
const watchInterval = 500 * time.Millisecond

// watch re-reads the run until its Seq moves past seq (the claimant saved)
// or until the claim's deadline.
func (a *App) watch(ctx context.Context, clock pipeline.Clock, runID string, seq int, until time.Time) error {
	for {
		left := until.Sub(clock.Now())
		if left <= 0 {
			return nil
		}
		if err := clock.Sleep(ctx, min(left, watchInterval)); err != nil {
			return fmt.Errorf("app: waiting for another process to start a job of run %s: %w", runID, err)
		}
		r, err := a.Pipeline.Run(ctx, runID)
		if err != nil {
			return fmt.Errorf("app: watching run %s: %w", runID, err)
		}
		if r.Seq != seq || r.Phase.Terminal() {
			return nil
		}
	}
}

// DriveAll drives several runs concurrently and returns them in order.
func (a *App) DriveAll(ctx context.Context, ids []string) ([]*langsync.Run, error) {
	runs := make([]*langsync.Run, len(ids))
	errs := make([]error, len(ids))
	done := make(chan struct{})
	for i, id := range ids {
		go func() {
			defer func() { done <- struct{}{} }()
			runs[i], errs[i] = a.Drive(ctx, id)
		}()
	}
	for range ids {
		<-done
	}
	return runs, errors.Join(errs...)
}

func sleepUntil(ctx context.Context, clock pipeline.Clock, at time.Time) error {
	d := at.Sub(clock.Now())
	if d <= 0 {
		return ctx.Err()
	}
	return clock.Sleep(ctx, d)
}

// Summaries returns short views of runs (nil entries skipped).
func Summaries(runs []*langsync.Run) []*pipeline.RunSummary {
	var out []*pipeline.RunSummary
	for _, r := range runs {
		if r != nil {
			out = append(out, pipeline.Summarize(r))
		}
	}
	return out
}
