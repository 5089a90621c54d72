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
func (a *App) Drive(ctx context.Context, runID string) (*langsync.Run, error) {
	for {
		n, err := a.Pipeline.Advance(ctx, runID)
		if err != nil {
			return nil, err
		}
		if n.Done {
			return a.Pipeline.Run(ctx, runID)
		}
		if n.Stale {
			// Another process advanced the run meanwhile (a host sharing the
			// state store): look again shortly.
			n.At = time.Now().Add(time.Second)
		}
		if err := sleepUntil(ctx, n.At); err != nil {
			return nil, fmt.Errorf("app: waiting for run %s: %w", runID, err)
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

func sleepUntil(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
