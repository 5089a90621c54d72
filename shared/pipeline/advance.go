package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// Advance performs the run's next actions, polling a running job for at
// most the poll budget, and returns what to wake next and when. It is
// idempotent: calling it again (a duplicate, a sweep, a restarted host)
// never starts a second job for a step.
func (p *Pipeline) Advance(ctx context.Context, runID string) (Next, error) {
	return p.advance(ctx, runID, -1)
}

// Wake handles a wake-up message. A wake-up whose Seq is lower than the
// run's is stale (superseded, or a duplicate of one already handled) and
// is dropped: the returned Next has Stale set and nothing is done.
func (p *Pipeline) Wake(ctx context.Context, w langsync.Wakeup) (Next, error) {
	if w.Run == "" {
		return Next{Stale: true}, errors.New("pipeline: wake-up names no run")
	}
	return p.advance(ctx, w.Run, w.Seq)
}

// abortError stops Advance without touching the run (a failed save, a
// cancelled context, a test crash); the run stays as last saved.
type abortError struct{ err error }

func (e *abortError) Error() string { return e.err.Error() }
func (e *abortError) Unwrap() error { return e.err }

// errRewind: the step reset an earlier step that must run again.
var errRewind = errors.New("an earlier step must run again")

func abort(err error) error {
	if err == nil {
		return nil
	}
	var a *abortError
	if errors.As(err, &a) {
		return err
	}
	return &abortError{err}
}

// exec is one Advance of one run: it dispatches the current step to its
// step_*.go and saves the run after each transition.
type exec struct {
	p        *Pipeline
	run      *langsync.Run
	etag     string
	deadline time.Time
	log      *slog.Logger
	// hold, when set by a step, ends Advance without a save: there is
	// nothing to do before it (busy: another handler holds the step's
	// claim until then).
	hold time.Time
	busy bool
	// follow is the first wake-up of the run started as this one ended
	// (startOwed).
	follow *Next
	// callStarted is when the request that may fail next was sent: an
	// unreachable spell counts from there (see unreachable).
	callStarted time.Time
	// unsaved: a finished step waits for the next save (saveDone).
	unsaved bool
}

func (p *Pipeline) advance(ctx context.Context, id string, seq int) (Next, error) {
	r, etag, err := p.loadRun(ctx, id)
	if err != nil {
		return Next{Wakeup: langsync.Wakeup{Run: id}, Stale: true}, err
	}
	if seq >= 0 && seq < r.Seq {
		p.log.Debug("stale wake-up dropped", "run", id, "seq", seq, "runSeq", r.Seq)
		return Next{Wakeup: langsync.Wakeup{Run: id, Seq: r.Seq}, Phase: r.Phase, Stale: true}, nil
	}
	if r.Phase.Terminal() {
		return p.nextFor(r), nil
	}
	x := &exec{p: p, run: r, etag: etag, deadline: p.clock.Now().Add(p.opts.PollBudget),
		log: p.log.With("run", r.ID, "project", r.Project, "source", r.Source)}
	next, err := x.loop(ctx)
	// A run this handler started for owed requests (startOwed) exists
	// whether or not this run's final save then lands: its wake-up goes
	// with the stale answer, or it would wait for the sweep.
	if errors.Is(err, ErrConflict) {
		// Another handler saved the run meanwhile; it owns the next step.
		return Next{Wakeup: langsync.Wakeup{Run: id}, Phase: r.Phase, Stale: true, Follow: x.follow}, nil
	}
	var a *abortError
	if errors.As(err, &a) {
		return Next{Wakeup: langsync.Wakeup{Run: id}, Phase: r.Phase, Stale: true, Follow: x.follow}, a.err
	}
	return next, err
}

func (x *exec) loop(ctx context.Context) (Next, error) {
	r := x.run
	for {
		if r.Phase.Terminal() {
			return x.next(), nil
		}
		i := r.Current()
		if i < 0 {
			return x.finish(ctx)
		}
		wait, err := x.step(ctx, i)
		if err != nil {
			return Next{}, err
		}
		if !x.hold.IsZero() {
			// Nothing was changed, so nothing is written: a save here would
			// move the ETag under a claimant about to save its job. (A step
			// this handler finished and has not saved yet is saved: no
			// other handler can have claimed the next one meanwhile, or
			// the save fails as stale.)
			if x.unsaved {
				if err := x.save(ctx); err != nil {
					return Next{}, err
				}
			}
			n := x.p.nextFor(r)
			n.At, n.Busy = x.hold, x.busy
			return n, nil
		}
		if !wait.IsZero() {
			r.NextAt = wait
			if err := x.save(ctx); err != nil {
				return Next{}, err
			}
			return x.p.nextFor(r), nil
		}
	}
}

// next is the wake-up for the run as it stands, with the run that
// follows it, if its end started one.
func (x *exec) next() Next {
	n := x.p.nextFor(x.run)
	n.Follow = x.follow
	return n
}

func (x *exec) save(ctx context.Context) error {
	etag, err := x.p.saveRun(ctx, x.run, x.etag)
	if err != nil {
		return abort(err)
	}
	x.etag, x.unsaved = etag, false
	return nil
}

func (x *exec) hook(s *langsync.Step, point string) error {
	if x.p.opts.Hook == nil {
		return nil
	}
	return abort(x.p.opts.Hook(s.ID() + ":" + point))
}

func (x *exec) progress(s *langsync.Step, event string) { x.progressMsg(s, event, "") }

// progressMsg reports an event with a line for people (a retry's reason,
// attempt and delay).
func (x *exec) progressMsg(s *langsync.Step, event, msg string) {
	if x.p.opts.OnProgress == nil {
		return
	}
	var el time.Duration
	if !s.Started.IsZero() {
		el = x.p.clock.Now().Sub(s.Started)
	}
	x.p.opts.OnProgress(Progress{Run: x.run.ID, Step: *s, Elapsed: el, Event: event, Message: msg})
}

// client returns the authoring client of a resource. Steps reach it
// through one-line accessors typed with their own interface, so that each
// step's code sees only the calls it needs.
func (x *exec) client(resource string) (Authoring, error) {
	c, err := x.p.opts.Clients(resource)
	if err != nil {
		return nil, fmt.Errorf("resource %q: %w", resource, err)
	}
	return c, nil
}

// target returns a target's pair and its client.
func (x *exec) target(target string) (langsync.Pair, Authoring, error) {
	pair, err := x.pair(target)
	if err != nil {
		return langsync.Pair{}, nil, err
	}
	c, err := x.client(target)
	return pair, c, err
}

// step runs step i; a zero wait means it finished and the loop goes on.
func (x *exec) step(ctx context.Context, i int) (time.Time, error) {
	s := &x.run.Steps[i]
	now := x.p.clock.Now()
	if s.NotBefore.After(now) {
		if x.run.NextAt.Equal(s.NotBefore) {
			// Already due then: an early wake-up (or a second driver)
			// writes nothing.
			x.hold = s.NotBefore
		}
		return s.NotBefore, nil
	}
	x.overlap(ctx, i)
	x.callStarted = now
	var wait time.Time
	var err error
	switch s.Name {
	case langsync.StepInspect:
		err = x.simple(ctx, i, x.inspect)
	case langsync.StepExport:
		wait, err = x.job(ctx, i, x.exportOps(s))
	case langsync.StepBackup:
		err = x.simple(ctx, i, x.backup)
	case langsync.StepDocuments:
		err = x.simple(ctx, i, x.documents)
	case langsync.StepImport:
		wait, err = x.job(ctx, i, x.importOps(s))
	case langsync.StepTrain:
		wait, err = x.job(ctx, i, x.trainOps(s))
	case langsync.StepDeploy:
		wait, err = x.job(ctx, i, x.deployOps(s))
	case langsync.StepVerify:
		err = x.simple(ctx, i, x.verify)
	default:
		err = fmt.Errorf("unknown step %q (written by a newer langsync?)", s.Name)
	}
	if s := &x.run.Steps[i]; s.Unreachable != nil && !errors.Is(err, ErrUnreachable) {
		// The resource answered (or the step is done): the spell is over.
		s.Unreachable = nil
	}
	if err == nil {
		return wait, nil
	}
	var a *abortError
	if errors.As(err, &a) || ctx.Err() != nil {
		return time.Time{}, abort(err)
	}
	if errors.Is(err, errRewind) {
		// An earlier step was reset; save and go on from there.
		return time.Time{}, x.save(ctx)
	}
	return x.stepFailed(ctx, i, err)
}

// stepFailed retries what may succeed later (a job that failed on the
// service's side, throttling, an unreachable resource within its budget,
// other transient errors with back-off across wake-ups) and fails the step
// otherwise (see failStep).
func (x *exec) stepFailed(ctx context.Context, i int, err error) (time.Time, error) {
	s := &x.run.Steps[i]
	s.Error = err.Error()
	if at, ok := x.retryJob(s, err); ok {
		return at, nil
	}
	at, msg, err := x.retryAt(s, err)
	if at.IsZero() {
		return x.failStep(ctx, i, err)
	}
	s.NotBefore = at
	if s.Status == langsync.StepStarting && s.Job == nil {
		// The POST may have reached the service: the retry looks for the
		// job first (recovery), without waiting for the claim timeout.
		s.Claimed = time.Time{}
	}
	x.log.Warn("step failed, will retry", "step", s.ID(), "retryAt", s.NotBefore, "reason", msg, "err", err)
	x.progressMsg(s, "retry", msg)
	return s.NotBefore, nil
}

// simple runs a step that is not a service job and saves its completion.
func (x *exec) simple(ctx context.Context, i int, fn func(context.Context, *langsync.Step) error) error {
	s := &x.run.Steps[i]
	if s.Started.IsZero() {
		s.Started = x.p.clock.Now()
		x.progress(s, "start")
	}
	if err := fn(ctx, s); err != nil {
		return err
	}
	s = &x.run.Steps[i] // fn may have appended steps
	if s.Status != langsync.StepSkipped {
		s.Status = langsync.StepSucceeded
	}
	s.Finished, s.Error, s.NotBefore = x.p.clock.Now(), "", time.Time{}
	if err := x.saveDone(ctx, s); err != nil {
		return err
	}
	x.progress(s, "done")
	return x.hook(s, "done")
}

// saveDone records a finished step. Unless Options.Sequential, the save
// is left to the next one (the next step's claim, a wait, the run's end):
// a step transition costs one Blob round trip instead of two. Nothing is
// lost if the process dies before it: the step is found as it was before,
// and done again without a new job (a job step polls its job, which has
// succeeded; a simple step is idempotent).
func (x *exec) saveDone(ctx context.Context, s *langsync.Step) error {
	// inspect's end is saved at once: a request that comes later tells
	// from it that the run has read the source (Ticket.Owed).
	if x.p.opts.Sequential || s.Name == langsync.StepInspect {
		return x.save(ctx)
	}
	x.unsaved = true
	return nil
}

func (x *exec) pair(target string) (langsync.Pair, error) {
	for _, p := range x.run.Pairs {
		if p.Target == target {
			return p, nil
		}
	}
	return langsync.Pair{}, fmt.Errorf("run has no pair for target %q", target)
}

func (x *exec) model(label string) (*langsync.ModelPlan, error) {
	m := x.run.Model(label)
	if m == nil {
		return nil, fmt.Errorf("run has no plan for model %q", label)
	}
	return m, nil
}

func (x *exec) stepByID(id string) *langsync.Step {
	for i := range x.run.Steps {
		if x.run.Steps[i].ID() == id {
			return &x.run.Steps[i]
		}
	}
	return &langsync.Step{}
}

func short(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}

// plural is "1 document", "2 documents" for progress lines and notes.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
