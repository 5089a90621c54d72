package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
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
	if errors.Is(err, ErrConflict) {
		// Another handler saved the run meanwhile; it owns the next step.
		return Next{Wakeup: langsync.Wakeup{Run: id}, Phase: r.Phase, Stale: true}, nil
	}
	var a *abortError
	if errors.As(err, &a) {
		return Next{Wakeup: langsync.Wakeup{Run: id}, Phase: r.Phase, Stale: true}, a.err
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
			// move the ETag under a claimant about to save its job.
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
	x.etag = etag
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

func (x *exec) client(resource string) (Authoring, error) {
	c, err := x.p.opts.Clients(resource)
	if err != nil {
		return nil, fmt.Errorf("resource %q: %w", resource, err)
	}
	return c, nil
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
	if err := x.save(ctx); err != nil {
		return err
	}
	x.progress(s, "done")
	return x.hook(s, "done")
}

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
		if ops.prepare != nil {
			if err := ops.prepare(ctx); err != nil {
				return time.Time{}, err
			}
		}
		if ops.snapshot != nil {
			before, err := ops.snapshot(ctx)
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
		return x.begin(ctx, i, ops)
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
			if ops.prepare != nil {
				if err := ops.prepare(ctx); err != nil {
					return time.Time{}, err
				}
			}
			// Saved under the ETag read before the recovery: should the
			// claimant have saved its job meanwhile, this fails and no
			// second POST is sent.
			x.claim(s, now)
			if err := x.save(ctx); err != nil {
				return time.Time{}, err
			}
			if err := x.hook(s, "claimed"); err != nil {
				return time.Time{}, err
			}
			return x.begin(ctx, i, ops)
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
	s.Job, s.Status, s.Error, s.NotBefore = &job, langsync.StepRunning, "", time.Time{}
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
	c, err := x.client(ops.resource)
	if err != nil {
		return time.Time{}, err
	}
	for {
		x.callStarted = x.p.clock.Now()
		js, err := c.Poll(ctx, *s.Job)
		if err != nil {
			return time.Time{}, fmt.Errorf("polling the %s job: %w", ops.kind, err)
		}
		if js.Status == langsync.JobSucceeded {
			if ops.done != nil {
				if err := ops.done(ctx, js); err != nil {
					return time.Time{}, err
				}
			}
			s.Status, s.Finished, s.Percent, s.Error, s.NotBefore = langsync.StepSucceeded, x.p.clock.Now(), 100, "", time.Time{}
			if err := x.save(ctx); err != nil {
				return time.Time{}, err
			}
			x.progress(s, "done")
			return time.Time{}, x.hook(s, "done")
		}
		if js.Status.Terminal() {
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

// --- steps -----------------------------------------------------------------

func (x *exec) inspect(ctx context.Context, s *langsync.Step) error {
	r := x.run
	src, err := x.client(r.Source)
	if err != nil {
		return err
	}
	proj, err := src.GetProject(ctx, r.Project)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("source project %q not found on %q (check projects[].name and source in the config)", r.Project, r.Source)
	}
	if err != nil {
		return fmt.Errorf("reading source project: %w", err)
	}
	deps, err := src.ListDeployments(ctx, r.Project)
	if err != nil {
		return fmt.Errorf("listing source deployments: %w", err)
	}
	selected, err := selectDeployments(deps, r.Pairs[0].Deployments)
	if err != nil {
		return fmt.Errorf("source %s/%s: %w", r.Source, r.Project, err)
	}
	models, err := src.ListModels(ctx, r.Project)
	if err != nil {
		return fmt.Errorf("listing source models: %w", err)
	}
	byID := map[string]Model{}
	for _, m := range models {
		byID[m.ModelID] = m
	}
	plans := map[string]*langsync.ModelPlan{}
	state := langsync.SourceState{LastModified: proj.LastModified, LastTrained: proj.LastTrained, LastDeployed: proj.LastDeployed, Deployments: map[string]string{}}
	for _, d := range selected {
		m, ok := byID[d.ModelID]
		if !ok {
			return fmt.Errorf("source deployment %q serves model %q, which is not in the project's model list", d.Name, d.ModelID)
		}
		state.Deployments[d.Name] = d.ModelID
		pl := plans[m.Label]
		if pl == nil {
			pl = &langsync.ModelPlan{Label: m.Label, ModelID: m.ModelID, TrainingConfigVersion: m.TrainingConfigVersion}
			plans[m.Label] = pl
		}
		pl.Deployments = append(pl.Deployments, d.Name)
	}
	r.Models = r.Models[:0]
	for _, pl := range plans {
		eval, err := src.EvaluationOptions(ctx, r.Project, pl.Label)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("reading evaluation options of model %q: %w", pl.Label, err)
		}
		pl.EvaluationOptions = eval
		sort.Strings(pl.Deployments)
		r.Models = append(r.Models, *pl)
	}
	sort.Slice(r.Models, func(i, j int) bool { return r.Models[i].Label < r.Models[j].Label })
	if len(r.Models) == 0 {
		// Never deployed: replicate (and back up) the working copy only.
		r.Models = []langsync.ModelPlan{{}}
		s.Note = "source has no deployment: replicating the working copy without training"
	}
	r.SourceState = state
	r.Steps = append(r.Steps, x.plan()...)
	return nil
}

func selectDeployments(deps []Deployment, want []string) ([]Deployment, error) {
	if len(want) == 0 {
		return deps, nil
	}
	byName := map[string]Deployment{}
	for _, d := range deps {
		byName[d.Name] = d
	}
	var out []Deployment
	var missing []string
	for _, w := range want {
		d, ok := byName[w]
		if !ok {
			missing = append(missing, w)
			continue
		}
		out = append(out, d)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("configured deployments %v do not exist on the source (fix projects[].deployments or deploy them)", missing)
	}
	return out, nil
}

// plan lists the steps after inspect: export and backup per model, then per
// target documents (if its storage differs), import and train per model,
// deploy per deployment, and verify.
func (x *exec) plan() []langsync.Step {
	r := x.run
	var steps []langsync.Step
	add := func(s langsync.Step) {
		s.Status = langsync.StepPending
		steps = append(steps, s)
	}
	for _, m := range r.Models {
		add(langsync.Step{Name: langsync.StepExport, Model: m.Label})
		add(langsync.Step{Name: langsync.StepBackup, Model: m.Label})
	}
	srcRes, _ := x.p.cfg.Resource(r.Source)
	for _, pair := range r.Pairs {
		tgtRes, _ := x.p.cfg.Resource(pair.Target)
		copyDocs := !tgtRes.Storage.IsZero() && tgtRes.Storage != srcRes.Storage
		for _, m := range r.Models {
			if copyDocs {
				add(langsync.Step{Name: langsync.StepDocuments, Target: pair.Target, Model: m.Label})
			}
			add(langsync.Step{Name: langsync.StepImport, Target: pair.Target, Model: m.Label})
			if m.Label != "" {
				add(langsync.Step{Name: langsync.StepTrain, Target: pair.Target, Model: m.Label})
			}
		}
		for _, m := range r.Models {
			for _, d := range m.Deployments {
				add(langsync.Step{Name: langsync.StepDeploy, Target: pair.Target, Model: m.Label, Deployment: d})
			}
		}
		add(langsync.Step{Name: langsync.StepVerify, Target: pair.Target})
	}
	return steps
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

func (x *exec) exportOps(s *langsync.Step) jobOps {
	r, label := x.run, s.Model
	return jobOps{
		kind: langsync.JobExport, resource: r.Source,
		begin: func(ctx context.Context) (langsync.Job, error) {
			c, err := x.client(r.Source)
			if err != nil {
				return langsync.Job{}, err
			}
			return c.BeginExport(ctx, r.Project, label)
		},
		// No recover: the API lists no export jobs, and an export changes
		// nothing on the service, so after a crash between the POST and
		// the save the export is simply requested again.
		done: func(ctx context.Context, js *JobState) error {
			if js.ResultURL == "" {
				return errors.New("export job succeeded without a resultUrl")
			}
			// Steps may have been re-sliced; address by pointer again.
			x.stepByID(s.ID()).ResultURL = js.ResultURL
			return nil
		},
	}
}

func (x *exec) stepByID(id string) *langsync.Step {
	for i := range x.run.Steps {
		if x.run.Steps[i].ID() == id {
			return &x.run.Steps[i]
		}
	}
	return &langsync.Step{}
}

func (x *exec) backup(ctx context.Context, s *langsync.Step) error {
	r := x.run
	exp := x.stepByID(langsync.Step{Name: langsync.StepExport, Model: s.Model}.ID())
	if exp.ResultURL == "" {
		return errors.New("export step recorded no result URL")
	}
	m, err := x.model(s.Model)
	if err != nil {
		return err
	}
	src, err := x.client(r.Source)
	if err != nil {
		return err
	}
	rc, err := src.OpenExportResult(ctx, exp.ResultURL)
	if errors.Is(err, ErrNotFound) && exp.Attempts < x.p.opts.MaxAttempts {
		// Export results expire (7 days in the examples): export again.
		exp.Status, exp.Job, exp.ResultURL, exp.Percent, exp.Finished = langsync.StepPending, nil, "", 0, time.Time{}
		exp.Attempts++
		exp.Note = "export result was gone; exporting again"
		x.log.Warn("export result gone; exporting again", "step", s.ID())
		return errRewind
	}
	if err != nil {
		return fmt.Errorf("reading the export result: %w", err)
	}
	defer rc.Close()
	res, err := x.p.opts.Backups.Create(ctx, BackupInput{Source: r.Source, Project: r.Project, Model: s.Model, Export: rc, SourceState: r.SourceState, RunID: r.ID})
	if err != nil {
		return fmt.Errorf("writing the backup: %w", err)
	}
	m.Backup, m.Fingerprint, m.StorageContainer = res.Key, res.Fingerprint, res.Container
	if res.Created {
		s.Note = fmt.Sprintf("backup %s (%s)", res.Key, plural(res.Documents, "document"))
	} else {
		s.Note = fmt.Sprintf("unchanged since backup %s; no new backup written", res.Key)
	}
	for _, w := range res.Warnings {
		// A backup that was set aside is worth an operator's look.
		s.Note += "; " + w
		if !contains(r.Warnings, w) {
			r.Warnings = append(r.Warnings, w)
		}
		x.log.Warn("backup step", "step", s.ID(), "warning", w)
	}
	x.log.Info("backup", "step", s.ID(), "key", res.Key, "created", res.Created, "fingerprint", res.Fingerprint)
	if r.SkipIfUnchanged && x.lastBackup(s) {
		return x.skipUnchanged(ctx)
	}
	return nil
}

func (x *exec) lastBackup(s *langsync.Step) bool {
	for _, o := range x.run.Steps {
		if o.Name == langsync.StepBackup && o.ID() != s.ID() && !o.Status.Done() {
			return false
		}
	}
	return true
}

// skipUnchanged marks the target steps skipped for every pair whose last
// replicated fingerprints equal this run's: the source's timestamps moved
// but what it serves did not change, so nothing is retrained.
func (x *exec) skipUnchanged(ctx context.Context) error {
	fps := x.fingerprints()
	for _, pair := range x.run.Pairs {
		ps, _, err := x.p.loadPair(ctx, pair)
		if err != nil {
			return err
		}
		if contains(x.run.MustRetrain, pair.Target) || !equalMaps(ps.Fingerprints, fps) {
			continue
		}
		for i := range x.run.Steps {
			st := &x.run.Steps[i]
			if st.Target == pair.Target && st.Name != langsync.StepVerify && st.Status == langsync.StepPending {
				st.Status, st.Note = langsync.StepSkipped, "fingerprint unchanged since the last replication: not retrained"
			}
		}
		x.log.Info("fingerprint unchanged; target steps skipped", "target", pair.Target)
	}
	return nil
}

func (x *exec) fingerprints() map[string]string {
	fps := map[string]string{}
	for _, m := range x.run.Models {
		fps[m.Label] = m.Fingerprint
	}
	return fps
}

// CombinedFingerprint is the pair's fingerprint: the model's own when one
// model is replicated, else a sha256 over the sorted label=fingerprint lines.
func CombinedFingerprint(fps map[string]string) string {
	if len(fps) == 1 {
		for _, v := range fps {
			return v
		}
	}
	labels := make([]string, 0, len(fps))
	for l := range fps {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	h := sha256.New()
	for _, l := range labels {
		fmt.Fprintf(h, "%s=%s\n", l, fps[l])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func (x *exec) documents(ctx context.Context, s *langsync.Step) error {
	m, err := x.model(s.Model)
	if err != nil {
		return err
	}
	n, err := x.p.opts.Backups.CopyDocuments(ctx, m.Backup, s.Target, m.StorageContainer)
	if err != nil {
		return fmt.Errorf("writing documents to %s storage: %w", s.Target, err)
	}
	s.Note = fmt.Sprintf("%s written to container %q", plural(n, "document"), m.StorageContainer)
	return nil
}

func (x *exec) importOps(s *langsync.Step) jobOps {
	target, label := s.Target, s.Model
	var data []byte
	return jobOps{
		kind: langsync.JobImport, resource: target,
		prepare: func(ctx context.Context) error {
			pair, err := x.pair(target)
			if err != nil {
				return err
			}
			m, err := x.model(label)
			if err != nil {
				return err
			}
			data, err = x.exportFor(ctx, m, pair)
			return err
		},
		begin: func(ctx context.Context) (langsync.Job, error) {
			pair, err := x.pair(target)
			if err != nil {
				return langsync.Job{}, err
			}
			c, err := x.client(target)
			if err != nil {
				return langsync.Job{}, err
			}
			return c.BeginImport(ctx, pair.TargetName(), bytes.NewReader(data))
		},
		// The API lists no import jobs. Evidence instead: the target
		// project's lastModifiedDateTime, read before the POST, has changed
		// (or the project appeared). Without it the import is sent again
		// (the same data, so a repeat changes nothing but the job count).
		snapshot: func(ctx context.Context) (string, error) { return x.projectStamp(ctx, target) },
		recover: func(ctx context.Context, before string) (*langsync.Job, bool, error) {
			now, err := x.projectStamp(ctx, target)
			return nil, err == nil && now != before, err
		},
	}
}

// projectStamp is the target project's lastModifiedDateTime ("" when the
// project does not exist).
func (x *exec) projectStamp(ctx context.Context, target string) (string, error) {
	pair, err := x.pair(target)
	if err != nil {
		return "", err
	}
	c, err := x.client(target)
	if err != nil {
		return "", err
	}
	proj, err := c.GetProject(ctx, pair.TargetName())
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return proj.LastModified.UTC().Format(time.RFC3339Nano), nil
}

// exportFor reads the export from the backup and renames the project when
// the target keeps it under another name.
func (x *exec) exportFor(ctx context.Context, m *langsync.ModelPlan, pair langsync.Pair) ([]byte, error) {
	rc, err := x.p.opts.Backups.OpenExport(ctx, m.Backup)
	if err != nil {
		return nil, fmt.Errorf("opening backup %s: %w", m.Backup, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("reading backup %s: %w", m.Backup, err)
	}
	if pair.TargetName() == pair.Project {
		return data, nil
	}
	return RenameProject(data, pair.TargetName())
}

// RenameProject sets metadata.projectName in an exported project JSON,
// keeping every other field as it is.
func RenameProject(export []byte, name string) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(export, &doc); err != nil {
		return nil, fmt.Errorf("export is not a JSON object: %w", err)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(doc["metadata"], &meta); err != nil || meta == nil {
		return nil, errors.New("export has no metadata object")
	}
	n, _ := json.Marshal(name)
	meta["projectName"] = n
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	doc["metadata"] = mb
	return json.Marshal(doc)
}

func (x *exec) trainOps(s *langsync.Step) jobOps {
	target, label := s.Target, s.Model
	return jobOps{
		kind: langsync.JobTrain, resource: target,
		begin: func(ctx context.Context) (langsync.Job, error) {
			pair, err := x.pair(target)
			if err != nil {
				return langsync.Job{}, err
			}
			m, err := x.model(label)
			if err != nil {
				return langsync.Job{}, err
			}
			c, err := x.client(target)
			if err != nil {
				return langsync.Job{}, err
			}
			return c.BeginTrain(ctx, pair.TargetName(), TrainSpec{ModelLabel: m.Label, TrainingConfigVersion: m.TrainingConfigVersion, EvaluationOptions: m.EvaluationOptions})
		},
		// The training job list is the evidence: a job for the label that
		// was not in the list read before the POST is the one a crashed
		// handler started; it is adopted and polled, not started again.
		snapshot: func(ctx context.Context) (string, error) {
			ids, err := x.trainingJobs(ctx, target, label)
			if err != nil {
				return "", err
			}
			keys := make([]string, 0, len(ids))
			for k := range ids {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return strings.Join(keys, " "), nil
		},
		recover: func(ctx context.Context, before string) (*langsync.Job, bool, error) {
			jobs, err := x.trainingJobs(ctx, target, label)
			if err != nil {
				return nil, false, err
			}
			known := map[string]bool{}
			for _, k := range strings.Fields(before) {
				known[k] = true
			}
			var found *TrainingJob
			for loc, j := range jobs {
				if !known[loc] && (found == nil || j.Created.After(found.Created)) {
					found = &j
				}
			}
			if found == nil {
				return nil, false, nil
			}
			job := found.Job
			job.Kind = langsync.JobTrain
			return &job, false, nil
		},
	}
}

// trainingJobs lists the target's training jobs for a label by location.
func (x *exec) trainingJobs(ctx context.Context, target, label string) (map[string]TrainingJob, error) {
	pair, err := x.pair(target)
	if err != nil {
		return nil, err
	}
	c, err := x.client(target)
	if err != nil {
		return nil, err
	}
	jobs, err := c.ListTrainingJobs(ctx, pair.TargetName())
	if errors.Is(err, ErrNotFound) {
		return map[string]TrainingJob{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]TrainingJob{}
	for _, j := range jobs {
		if j.ModelLabel == label {
			out[j.Job.Location] = j
		}
	}
	return out, nil
}

func (x *exec) deployOps(s *langsync.Step) jobOps {
	target, label, dep := s.Target, s.Model, s.Deployment
	return jobOps{
		kind: langsync.JobDeploy, resource: target,
		begin: func(ctx context.Context) (langsync.Job, error) {
			pair, err := x.pair(target)
			if err != nil {
				return langsync.Job{}, err
			}
			c, err := x.client(target)
			if err != nil {
				return langsync.Job{}, err
			}
			return c.BeginDeploy(ctx, pair.TargetName(), dep, label)
		},
		// No deployment job list either. Evidence: the deployment's
		// lastDeployedDateTime, read before the PUT, has changed and it
		// serves the label's current model. Else the PUT (idempotent) is
		// sent again.
		snapshot: func(ctx context.Context) (string, error) {
			d, _, err := x.deploymentState(ctx, target, dep, label)
			return d, err
		},
		recover: func(ctx context.Context, before string) (*langsync.Job, bool, error) {
			d, serving, err := x.deploymentState(ctx, target, dep, label)
			return nil, err == nil && serving && d != before, err
		},
	}
}

// deploymentState returns a deployment's lastDeployedDateTime ("" when
// missing) and whether it serves the label's current model.
func (x *exec) deploymentState(ctx context.Context, target, dep, label string) (string, bool, error) {
	pair, err := x.pair(target)
	if err != nil {
		return "", false, err
	}
	c, err := x.client(target)
	if err != nil {
		return "", false, err
	}
	d, m, err := targetDeployment(ctx, c, pair.TargetName(), dep, label)
	if err != nil || d == nil {
		return "", false, err
	}
	return d.LastDeployed.UTC().Format(time.RFC3339Nano), m != nil && m.ModelID == d.ModelID, nil
}

// targetDeployment finds a deployment and the model of a label on a resource.
func targetDeployment(ctx context.Context, c Authoring, project, dep, label string) (*Deployment, *Model, error) {
	deps, err := c.ListDeployments(ctx, project)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	models, err := c.ListModels(ctx, project)
	if err != nil {
		return nil, nil, err
	}
	var d *Deployment
	for i := range deps {
		if deps[i].Name == dep {
			d = &deps[i]
		}
	}
	for i := range models {
		if models[i].Label == label {
			return d, &models[i], nil
		}
	}
	return d, nil, nil
}

func (x *exec) verify(ctx context.Context, s *langsync.Step) error {
	r := x.run
	pair, err := x.pair(s.Target)
	if err != nil {
		return err
	}
	c, err := x.client(s.Target)
	if err != nil {
		return err
	}
	if _, err := c.GetProject(ctx, pair.TargetName()); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("target project %q missing on %q after replication", pair.TargetName(), s.Target)
		}
		return fmt.Errorf("reading target project: %w", err)
	}
	for _, m := range r.Models {
		for _, dep := range m.Deployments {
			d, tm, err := targetDeployment(ctx, c, pair.TargetName(), dep, m.Label)
			if err != nil {
				return fmt.Errorf("reading target deployments: %w", err)
			}
			switch {
			case d == nil:
				return fmt.Errorf("deployment %q missing on %s/%s", dep, s.Target, pair.TargetName())
			case tm == nil:
				return fmt.Errorf("model %q missing on %s/%s", m.Label, s.Target, pair.TargetName())
			case d.ModelID != tm.ModelID:
				return fmt.Errorf("deployment %q on %s serves model %q, not %q (label %s)", dep, s.Target, d.ModelID, tm.ModelID, m.Label)
			}
		}
	}
	if r.Kind == langsync.RunReplicate {
		// A restore has no live source to compare with.
		x.probe(ctx, pair)
	}
	skipped := x.targetSkipped(s.Target)
	fps := x.fingerprints()
	now := x.p.clock.Now()
	err = x.p.updatePair(ctx, pair, func(ps *langsync.PairState) {
		if ps.ActiveRun == r.ID {
			ps.ActiveRun = ""
		}
		ps.LastRun, ps.LastRunPhase, ps.LastError, ps.LastRunEnded = r.ID, langsync.RunSucceeded, "", now
		if r.Kind != langsync.RunReplicate {
			// A restore is not a replication of the source's current state.
			return
		}
		ps.Source = r.SourceState
		if !skipped {
			ps.Fingerprints, ps.Fingerprint, ps.Replicated = fps, CombinedFingerprint(fps), now
			ps.Backups = map[string]string{}
			for _, m := range r.Models {
				ps.Backups[m.Label] = m.Backup
			}
		}
	})
	if err != nil {
		return fmt.Errorf("recording pair state: %w", err)
	}
	if skipped {
		s.Note = "target unchanged (same fingerprint); source timestamps recorded"
	} else {
		s.Note = "project and deployments present; fingerprint " + short(CombinedFingerprint(fps)) + " recorded"
	}
	return nil
}

func (x *exec) targetSkipped(target string) bool {
	for _, s := range x.run.Steps {
		if s.Target == target && s.Status == langsync.StepSkipped {
			return true
		}
	}
	return false
}

// probe classifies the configured probe texts on both sides and records any
// disagreement as a warning (a model retrained on the same data may still
// differ at the margin, so this reports rather than fails).
func (x *exec) probe(ctx context.Context, pair langsync.Pair) {
	texts := x.p.opts.Probes
	if x.p.opts.Prober == nil || len(texts) == 0 {
		return
	}
	for _, m := range x.run.Models {
		for _, dep := range m.Deployments {
			src, err := x.p.opts.Prober.Classify(ctx, x.run.Source, x.run.Project, dep, texts)
			if err != nil {
				x.run.Warnings = append(x.run.Warnings, fmt.Sprintf("probe on source %s/%s: %v", x.run.Source, dep, err))
				continue
			}
			tgt, err := x.p.opts.Prober.Classify(ctx, pair.Target, pair.TargetName(), dep, texts)
			if err != nil {
				x.run.Warnings = append(x.run.Warnings, fmt.Sprintf("probe on target %s/%s: %v", pair.Target, dep, err))
				continue
			}
			for i, t := range texts {
				if i < len(src) && i < len(tgt) && src[i] != tgt[i] {
					x.run.Warnings = append(x.run.Warnings, fmt.Sprintf("probe %q on %s: source %s says %q, target %s says %q", t, dep, x.run.Source, src[i], pair.Target, tgt[i]))
				}
			}
		}
	}
}

func short(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}

// aJob is "a train job", "an import job": the article for a job kind.
func aJob(kind string) string {
	if kind != "" && strings.ContainsRune("aeiouAEIOU", rune(kind[0])) {
		return "an " + kind + " job"
	}
	return "a " + kind + " job"
}

// plural is "1 document", "2 documents" for progress lines and notes.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
