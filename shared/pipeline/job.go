package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// Poller is what the job machinery needs of a step's resource: the job's
// status.
type Poller interface {
	// Poll makes one status request.
	Poll(ctx context.Context, job langsync.Job) (*JobState, error)
}

func (x *exec) poller(resource string) (Poller, error) { return x.client(resource) }

// jobOps describe one kind of job step.
type jobOps struct {
	kind     langsync.JobKind
	resource string
	// prepare, if set, runs before the step is claimed: slow reads (the
	// backup an import sends) must not eat into the POST's deadline.
	prepare func(ctx context.Context) error
	begin   func(ctx context.Context) (langsync.Job, error)
	// snapshot records what the service shows before the POST (saved in
	// Step.Before with the claim).
	snapshot func(ctx context.Context) (string, error)
	// recover compares the service with the snapshot after a crash: it
	// returns the job to adopt, or done when the step's effect is already
	// visible, or neither (then the POST is sent).
	recover func(ctx context.Context, before string) (job *langsync.Job, done bool, err error)
	// done runs when the job succeeded.
	done func(ctx context.Context, js *JobState) error
}

func (x *exec) job(ctx context.Context, i int, ops jobOps) (time.Time, error) {
	s := &x.run.Steps[i]
	now := x.p.clock.Now()
	switch s.Status {
	case langsync.StepPending:
		// The slot first: a step waiting in line then costs no request
		// at all each time it is advanced again, and the reads below,
		// sent with the slot, go ahead of other reads (see WriteSlots).
		wctx, release, ok, err := x.reserveWrite(ctx, s, ops.resource)
		defer release()
		if err != nil || !ok {
			return x.hold, err
		}
		if ops.prepare != nil {
			if err := ops.prepare(wctx); err != nil {
				return time.Time{}, err
			}
		}
		now = x.p.clock.Now()
		if ops.snapshot != nil {
			before, err := ops.snapshot(wctx)
			if err != nil {
				return time.Time{}, fmt.Errorf("reading the target before starting %s job: %w", aJob(string(ops.kind)), err)
			}
			s.Before = before
		}
		s.Status = langsync.StepStarting
		if s.Started.IsZero() {
			s.Started = now
		}
		x.claim(s, now)
		if err := x.save(ctx); err != nil {
			return time.Time{}, err
		}
		x.progress(s, "start")
		if err := x.hook(s, "claimed"); err != nil {
			return time.Time{}, err
		}
		return x.begin(wctx, i, ops)
	case langsync.StepStarting:
		if s.Job == nil {
			if until := x.claimDeadline(s); now.Before(until) {
				// Another handler claimed the step and may be sending the
				// POST now: watch, never write (see exec.hold).
				return x.observe(s, ops, now, until), nil
			}
			if ops.recover != nil {
				job, done, err := ops.recover(ctx, s.Before)
				if err != nil {
					return time.Time{}, fmt.Errorf("looking for %s job started before a crash: %w", aJob(string(ops.kind)), err)
				}
				switch {
				case done:
					s.Status, s.Finished, s.Percent = langsync.StepSucceeded, now, 100
					s.Note = "recovered after a crash: the effect was already on the service; no new job"
					if err := x.save(ctx); err != nil {
						return time.Time{}, err
					}
					x.progress(s, "done")
					return time.Time{}, x.hook(s, "done")
				case job != nil:
					s.Job, s.Status = job, langsync.StepRunning
					x.run.NextAt = now
					s.Note = "recovered after a crash: adopted the job found on the service"
					x.log.Info("adopted job after a crash", "step", s.ID(), "job", job.Location)
					if err := x.save(ctx); err != nil {
						return time.Time{}, err
					}
					return x.poll(ctx, i, ops)
				}
			}
			wctx, release, ok, err := x.reserveWrite(ctx, s, ops.resource)
			defer release()
			if err != nil || !ok {
				return x.hold, err
			}
			if ops.prepare != nil {
				if err := ops.prepare(wctx); err != nil {
					return time.Time{}, err
				}
			}
			// Saved under the ETag read before the recovery: should the
			// claimant have saved its job meanwhile, this fails and no
			// second POST is sent.
			x.claim(s, x.p.clock.Now())
			if err := x.save(ctx); err != nil {
				return time.Time{}, err
			}
			if err := x.hook(s, "claimed"); err != nil {
				return time.Time{}, err
			}
			return x.begin(wctx, i, ops)
		}
		s.Status = langsync.StepRunning
		return x.poll(ctx, i, ops)
	case langsync.StepRunning:
		if s.Job == nil {
			return time.Time{}, errors.New("step is running but has no job location (edited run state?)")
		}
		return x.poll(ctx, i, ops)
	}
	return time.Time{}, fmt.Errorf("step in unexpected status %q", s.Status)
}

// reserveWrite takes the slot of the resource's write budget that the
// step's POST will use, before the step prepares and is claimed: the
// claim's deadline
// (BeginTimeout) is then spent on the POST, not on a queue that may be
// minutes long when many runs share a target. Steps wait oldest first
// (the key keeps a step's place across Advance calls). When the slot has
// not come by this Advance's deadline, ok is false and x.hold is set: the
// run is advanced again at once, writing nothing meanwhile. A client
// without a budget gets ctx back as it is.
func (x *exec) reserveWrite(ctx context.Context, s *langsync.Step, resource string) (wctx context.Context, release func(), ok bool, err error) {
	none := func() {}
	c, err := x.client(resource)
	if err != nil {
		return ctx, none, true, nil // the step's own call reports it
	}
	ws, can := c.(WriteSlots)
	if !can {
		return ctx, none, true, nil
	}
	wctx, release, err = ws.ReserveWrite(ctx, x.run.ID+"/"+s.ID(), x.deadline)
	if err != nil {
		if ctx.Err() != nil {
			return ctx, none, false, abort(ctx.Err())
		}
		x.log.Debug("write slot not yet free; advancing again", "step", s.ID(), "resource", resource)
		x.hold = x.p.clock.Now()
		return ctx, none, false, nil
	}
	return wctx, release, true, nil
}

// claim marks s as being started by this handler until the claim's
// deadline. Should the handler die before its next save, the run is due
// again at the deadline (for the sweep and the hosts).
func (x *exec) claim(s *langsync.Step, now time.Time) {
	s.Claimed, s.ClaimUntil = now, now.Add(x.p.opts.BeginTimeout)
	x.run.NextAt = s.ClaimUntil
}

// claimDeadline is when the claim on a starting step lapses: the deadline
// its claimant recorded or, for a claim by an older langsync, the claim
// time plus ClaimTimeout. Zero when the step is not claimed (a failed POST
// cleared the claim so that the retry recovers at once).
func (x *exec) claimDeadline(s *langsync.Step) time.Time {
	switch {
	case s.Claimed.IsZero():
		return time.Time{}
	case !s.ClaimUntil.IsZero():
		return s.ClaimUntil
	}
	return s.Claimed.Add(x.p.opts.ClaimTimeout)
}

// observe reports a step another handler is starting and holds Advance
// until the claim's deadline, writing nothing.
func (x *exec) observe(s *langsync.Step, ops jobOps, now, until time.Time) time.Time {
	x.hold, x.busy = until, true
	msg := fmt.Sprintf("another langsync is starting the %s job on %s (claimed %s ago); waiting up to %s for it",
		ops.kind, ops.resource, now.Sub(s.Claimed).Round(time.Second), until.Sub(now).Round(time.Second))
	x.log.Info("step claimed by another handler; waiting", "step", s.ID(), "until", until)
	if x.p.opts.OnProgress != nil {
		x.p.opts.OnProgress(Progress{Run: x.run.ID, Step: *s, Elapsed: now.Sub(s.Claimed), Event: "wait", Message: msg, Until: until})
	}
	return until
}

// postWindow is how long the POST may take within a claim: four fifths of
// it, leaving the rest for saving the job's location before the deadline.
func (x *exec) postWindow(s *langsync.Step) time.Duration {
	return x.claimDeadline(s).Sub(x.p.clock.Now()) - x.p.opts.BeginTimeout/5
}

func (x *exec) begin(ctx context.Context, i int, ops jobOps) (time.Time, error) {
	s := &x.run.Steps[i]
	// The POST ends before the claim's deadline, so that once it has passed
	// a later handler knows no POST of this claim can still be in flight.
	pctx, cancel := context.WithTimeout(ctx, x.postWindow(s))
	job, err := ops.begin(pctx)
	cancel()
	if err != nil {
		if pctx.Err() != nil && ctx.Err() == nil {
			// Transient: the retry looks for the job first (it may have
			// been accepted).
			return time.Time{}, fmt.Errorf("%w: the %s request to %s got no answer within its claim (%s; BeginTimeout): %w", ErrTransient, ops.kind, ops.resource, x.p.opts.BeginTimeout, err)
		}
		return time.Time{}, err
	}
	if job.Kind == "" {
		job.Kind = ops.kind
	}
	if job.Started.IsZero() {
		job.Started = x.p.clock.Now()
	}
	if err := x.hook(s, "begun"); err != nil {
		return time.Time{}, err
	}
	// The job's location is saved before anything else happens; from now
	// on a resumed run may poll it at once.
	s.Job, s.Status, s.Error, s.NotBefore, s.UnknownStatusSince = &job, langsync.StepRunning, "", time.Time{}, time.Time{}
	x.run.NextAt = x.p.clock.Now()
	if err := x.save(ctx); err != nil {
		return time.Time{}, err
	}
	x.log.Info("job started", "step", s.ID(), "kind", ops.kind)
	if err := x.hook(s, "saved"); err != nil {
		return time.Time{}, err
	}
	return x.poll(ctx, i, ops)
}

func (x *exec) poll(ctx context.Context, i int, ops jobOps) (time.Time, error) {
	s := &x.run.Steps[i]
	c, err := x.poller(ops.resource)
	if err != nil {
		return time.Time{}, err
	}
	for {
		x.callStarted = x.p.clock.Now()
		js, err := c.Poll(ctx, *s.Job)
		if err != nil {
			return time.Time{}, fmt.Errorf("polling the %s job: %w", ops.kind, err)
		}
		if err := x.unknownStatus(s, ops.kind, js.Status); err != nil {
			return time.Time{}, err
		}
		if js.Status == langsync.JobSucceeded {
			if ops.done != nil {
				if err := ops.done(ctx, js); err != nil {
					return time.Time{}, err
				}
			}
			s.Status, s.Finished, s.Percent, s.Error, s.NotBefore = langsync.StepSucceeded, x.p.clock.Now(), 100, "", time.Time{}
			if err := x.saveDone(ctx, s); err != nil {
				return time.Time{}, err
			}
			x.progress(s, "done")
			return time.Time{}, x.hook(s, "done")
		}
		if js.Status.Terminal() {
			// partiallyCompleted is terminal and not a success (see
			// JobFailedError): the step fails with it.
			return time.Time{}, &JobFailedError{Kind: ops.kind, Status: js.Status, Codes: js.Codes, Errors: js.Errors}
		}
		if js.Percent >= 0 {
			s.Percent = js.Percent
		}
		x.progress(s, "poll")
		interval := js.NextPoll
		if interval <= 0 {
			interval = x.p.opts.PollIntervals[ops.kind]
		}
		at := x.p.clock.Now().Add(interval)
		if at.After(x.deadline) {
			return at, nil
		}
		if err := x.p.clock.Sleep(ctx, interval); err != nil {
			return time.Time{}, abort(err)
		}
	}
}

// unknownStatus bounds an unbroken spell of job statuses langsync does not
// know (docs/reference/language-rest.md#job-status-values lists the known
// ones). Such a status is taken for a transient one the service added, and
// polled on, but only for Options.UnknownStatusTimeout: then the step fails
// with an error naming the status. The spell's start is kept in the step
// (saved with the run), so it is counted across wake-ups and handlers; a
// known status ends it.
func (x *exec) unknownStatus(s *langsync.Step, kind langsync.JobKind, status langsync.JobStatus) error {
	if status.Known() {
		s.UnknownStatusSince = time.Time{}
		return nil
	}
	now := x.p.clock.Now()
	if s.UnknownStatusSince.IsZero() || s.UnknownStatusSince.After(now) {
		s.UnknownStatusSince = now
		x.log.Warn("job reports an unknown status; polling on for a while", "step", s.ID(), "status", status, "bound", x.p.opts.UnknownStatusTimeout)
		return nil
	}
	if d := now.Sub(s.UnknownStatusSince); d > x.p.opts.UnknownStatusTimeout {
		return fmt.Errorf("the %s job has reported the status %q, which langsync does not know, for %s (UnknownStatusTimeout %s): given up; the job may still be running on the service",
			kind, status, d.Round(time.Second), x.p.opts.UnknownStatusTimeout)
	}
	return nil
}

// aJob is "a train job", "an import job": the article for a job kind.
func aJob(kind string) string {
	if kind != "" && strings.ContainsRune("aeiouAEIOU", rune(kind[0])) {
		return "an " + kind + " job"
	}
	return "a " + kind + " job"
}
