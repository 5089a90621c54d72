package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	return driveEach(len(ids), func(i int) (*langsync.Run, error) { return a.Drive(ctx, ids[i]) })
}

// driveEach runs drive(0..n-1) concurrently and returns the runs in order.
func driveEach(n int, drive func(i int) (*langsync.Run, error)) ([]*langsync.Run, error) {
	runs := make([]*langsync.Run, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { runs[i], errs[i] = drive(i) })
	}
	wg.Wait()
	return runs, errors.Join(errs...)
}

// DriveTickets drives the runs of tickets (from Pipeline.Start with
// tmpl's Trigger, Reason and Since) to their end, concurrently, and
// returns them in order. A joined run that read the source before Since
// cannot carry the changes the request was made for: the run that
// follows it (Run.FollowedBy, or one started now) is driven as well and
// returned in its place, so the result reflects the source as of the
// request. followed, when set, is told of each such hand-over.
func (a *App) DriveTickets(ctx context.Context, tmpl pipeline.Request, tickets []pipeline.Ticket, followed func(from *langsync.Run, to pipeline.Ticket)) ([]*langsync.Run, error) {
	return driveEach(len(tickets), func(i int) (*langsync.Run, error) {
		return a.driveTicket(ctx, tmpl, tickets[i], followed)
	})
}

// maxFollows bounds the hand-overs of one request: each follow-up run is
// created after the request, so one is enough unless runs are abandoned.
const maxFollows = 3

func (a *App) driveTicket(ctx context.Context, tmpl pipeline.Request, t pipeline.Ticket, followed func(*langsync.Run, pipeline.Ticket)) (*langsync.Run, error) {
	for n := 0; ; n++ {
		r, err := a.Drive(ctx, t.Run)
		if err != nil || !t.Joined || r.ReadSourceAfter(tmpl.Since) || n == maxFollows {
			return r, err
		}
		next := pipeline.Ticket{Run: r.FollowedBy, Joined: true, Pairs: t.Pairs}
		if next.Run == "" {
			// Its end started nothing (the run that ended it crashed
			// first): ask again, as of the same moment.
			req := tmpl
			req.Project, req.Source, req.Targets = r.Project, r.Source, nil
			for _, p := range t.Pairs {
				req.Targets = append(req.Targets, p.Target)
			}
			ts, err := a.Pipeline.Start(ctx, req)
			if err != nil {
				return r, fmt.Errorf("app: starting the run that follows %s: %w", r.ID, err)
			}
			if len(ts) != 1 {
				return r, fmt.Errorf("app: starting the run that follows %s: got %d runs for its pairs", r.ID, len(ts))
			}
			next = ts[0]
		}
		if followed != nil {
			followed(r, next)
		}
		t = next
	}
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
