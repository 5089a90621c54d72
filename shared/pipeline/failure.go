package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// JobFailedError is a job that ended without succeeding (failed,
// cancelled or partiallyCompleted). partiallyCompleted is terminal and
// never a success: part of what the job was to do is missing on the
// target, and a new job is not sent (ServiceSide is false), so the step
// fails with it.
type JobFailedError struct {
	Kind   langsync.JobKind
	Status langsync.JobStatus
	// Codes are the job's error codes; Errors its messages.
	Codes  []string
	Errors []string
}

func (e *JobFailedError) Error() string {
	msg := strings.Join(e.Errors, "; ")
	if msg == "" {
		msg = "no reason given"
	}
	if e.Status == langsync.JobPartiallyCompleted {
		return fmt.Sprintf("%s job ended %s (part of it failed: not a success): %s", e.Kind, e.Status, msg)
	}
	return fmt.Sprintf("%s job ended %s: %s", e.Kind, e.Status, msg)
}

// serviceSideCodes are the job error codes
// (docs/reference/language-rest.md#error-body, compared without case) of
// failures on the service's side: a new job with the same input may well
// succeed.
var serviceSideCodes = map[string]bool{
	"internalservererror": true,
	"serviceunavailable":  true,
	"timeout":             true,
	"operationtimedout":   true,
	"toomanyrequests":     true,
}

// ServiceSide reports a failed job whose every error code is a service-side
// one. Anything else (InvalidRequest, InvalidArgument, missing documents,
// invalid labels, a code this langsync does not know, no code at all, a
// cancelled job) is taken to be caused by the data or by someone, and a new
// job would fail the same way (and training is billed).
func (e *JobFailedError) ServiceSide() bool {
	if e.Status != langsync.JobFailed || len(e.Codes) == 0 {
		return false
	}
	for _, c := range e.Codes {
		if !serviceSideCode(c) {
			return false
		}
	}
	return true
}

func serviceSideCode(code string) bool {
	code = strings.TrimSpace(code)
	if serviceSideCodes[strings.ToLower(code)] {
		return true
	}
	// The gateway puts HTTP statuses in error.code ("429", "503").
	n, err := strconv.Atoi(code)
	return err == nil && (n == 429 || n >= 500 && n <= 599)
}

// backoff is first doubled per earlier try (n counts from 1), capped.
func backoff(first time.Duration, n int, limit time.Duration) time.Duration {
	d := first << (n - 1)
	if d <= 0 || d > limit {
		d = limit
	}
	return d
}

// resourceOf names the resource a step talks to.
func (x *exec) resourceOf(s *langsync.Step) string {
	if s.Target != "" {
		return s.Target
	}
	return x.run.Source
}

// retryJob replaces a job that failed on the service's side with a new one
// (the step starts over after a back-off), up to the config's jobRetries.
// The failed job is kept in the step's History. It reports false when the
// failure is not retried.
func (x *exec) retryJob(s *langsync.Step, err error) (time.Time, bool) {
	var jf *JobFailedError
	retries := x.p.opts.JobRetries
	if !errors.As(err, &jf) || !jf.ServiceSide() || s.Job == nil || len(s.History) >= retries {
		return time.Time{}, false
	}
	now := x.p.clock.Now()
	s.History = append(s.History, langsync.Attempt{Job: *s.Job, Status: jf.Status, Codes: jf.Codes, Error: jf.Error(), Ended: now})
	n := len(s.History)
	delay := backoff(x.p.opts.JobRetryBackoff, n, x.p.opts.MaxBackoff)
	// A fresh start: the evidence is read again before the new POST, so
	// crash recovery never adopts the failed job.
	s.Status, s.Job, s.Claimed, s.Before, s.Percent, s.ResultURL = langsync.StepPending, nil, time.Time{}, "", 0, ""
	s.NotBefore = now.Add(delay)
	msg := fmt.Sprintf("%s job failed (%s), retry %d of %d in %s", jf.Kind, strings.Join(jf.Codes, ", "), n, retries, delay)
	if jf.Kind == langsync.JobTrain {
		msg += " (billed as another training)"
	}
	x.log.Warn("job failed on the service's side; sending a new one", "step", s.ID(), "retry", n, "of", retries, "retryAt", s.NotBefore, "err", err)
	if x.p.opts.OnProgress != nil {
		x.p.opts.OnProgress(Progress{Run: x.run.ID, Step: *s, Elapsed: now.Sub(s.Started), Event: "retry", Message: msg, JobRetry: true})
	}
	return s.NotBefore, true
}

// retryAt decides when a failed step is tried again: as the service asked
// when throttled, within the unreachable budget when the resource cannot be
// reached, with doubling back-off for other transient errors. A zero time
// means no retry; the returned error is then the step's final one.
func (x *exec) retryAt(s *langsync.Step, err error) (time.Time, string, error) {
	now := x.p.clock.Now()
	var te *ThrottledError
	switch {
	case errors.As(err, &te) && te.RetryAfter > 0:
		return now.Add(te.RetryAfter), fmt.Sprintf("%s is throttling requests; retry in %s, as it asked", x.resourceOf(s), te.RetryAfter), nil
	case errors.Is(err, ErrUnreachable):
		return x.unreachable(s, err)
	case errors.Is(err, ErrTransient) && s.Attempts < x.p.opts.MaxAttempts:
		s.Attempts++
		d := backoff(x.firstBackoff(s), s.Attempts, x.p.opts.MaxBackoff)
		return now.Add(d), fmt.Sprintf("retry %d of %d in %s: %v", s.Attempts, x.p.opts.MaxAttempts, d, err), nil
	}
	return time.Time{}, "", err
}

// unreachable retries a resource that cannot be reached with back-off until
// the unreachable budget, counted from the start of the first failing
// request of the spell (so that the client's own retries count too), is
// spent.
func (x *exec) unreachable(s *langsync.Step, err error) (time.Time, string, error) {
	now := x.p.clock.Now()
	res := x.resourceOf(s)
	budget := x.p.opts.UnreachableBudget
	started := x.callStarted
	if started.IsZero() || started.After(now) {
		started = now
	}
	o := s.Unreachable
	if o == nil || o.Resource != res || started.Sub(o.Last) > budget {
		// A new spell, or an old one nobody watched for longer than the
		// budget (the host was down): start counting again.
		o = &langsync.Outage{Resource: res, Since: started}
		s.Unreachable = o
	}
	o.Last, o.Tries, o.Error = now, o.Tries+1, err.Error()
	deadline := o.Since.Add(budget)
	if !now.Before(deadline) {
		return time.Time{}, "", fmt.Errorf("%s unreachable for %s (%s, unreachableBudget %s): %w", res, now.Sub(o.Since).Round(100*time.Millisecond), tries(o.Tries), budget, err)
	}
	d := backoff(x.firstBackoff(s), o.Tries, x.p.opts.MaxBackoff)
	if now.Add(d).After(deadline) {
		d = deadline.Sub(now)
	}
	msg := fmt.Sprintf("%s unreachable (%s), retry %d in %s; gives up %s after the first failure", res, shortCause(err), o.Tries, d.Round(time.Millisecond), budget)
	return now.Add(d), msg, nil
}

// inDoubtBackoff is the first wait after a job POST whose fate is unknown
// (its answer was lost, or it got none in time): the retry only looks for
// the job on the service (GETs) before any new POST, so there is no reason
// to wait the full Backoff, and a lost answer should not stall the run.
const inDoubtBackoff = 2 * time.Second

// firstBackoff is the wait before the first retry of s; it doubles per
// retry.
func (x *exec) firstBackoff(s *langsync.Step) time.Duration {
	if s.Status == langsync.StepStarting && s.Job == nil {
		return min(x.p.opts.Backoff, inDoubtBackoff)
	}
	return x.p.opts.Backoff
}

func tries(n int) string {
	if n == 1 {
		return "1 try"
	}
	return fmt.Sprintf("%d tries", n)
}

// shortCause is the innermost part of an error text ("connection refused",
// "no such host", "certificate signed by unknown authority").
func shortCause(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		return msg[i+2:]
	}
	return msg
}

// failStep fails step i for good. A source step fails the run; a target
// step ends its target only: the target's remaining steps are skipped, its
// pair records the failure, and the other targets carry on (the run fails
// once they are done, see finish).
func (x *exec) failStep(ctx context.Context, i int, err error) (time.Time, error) {
	s := &x.run.Steps[i]
	now := x.p.clock.Now()
	s.Status, s.Finished, s.Error, s.NotBefore = langsync.StepFailed, now, err.Error(), time.Time{}
	if s.Target == "" {
		x.progress(s, "fail")
		return time.Time{}, x.failRun(ctx, fmt.Sprintf("%s: %v", s.ID(), err))
	}
	var skipped []*langsync.Step
	for j := range x.run.Steps {
		o := &x.run.Steps[j]
		if j != i && o.Target == s.Target && !o.Status.Done() && o.Status != langsync.StepFailed {
			o.Status, o.Note = langsync.StepSkipped, "not run: "+s.ID()+" failed"
			skipped = append(skipped, o)
		}
	}
	x.log.Error("target failed; the other targets carry on", "step", s.ID(), "target", s.Target, "err", err)
	x.progress(s, "fail")
	if err := x.save(ctx); err != nil {
		return time.Time{}, err
	}
	for _, o := range skipped {
		x.progress(o, "skip")
	}
	x.recordTargetFailure(ctx, s.Target, s.ID()+": "+err.Error(), false)
	return time.Time{}, nil
}

// failRun ends the run failed with reason and records it in every pair.
func (x *exec) failRun(ctx context.Context, reason string) error {
	x.startOwed(ctx)
	now := x.p.clock.Now()
	x.run.Phase, x.run.Ended, x.run.NextAt = langsync.RunFailed, now, time.Time{}
	x.run.Error = reason
	x.log.Error("run failed", "err", reason)
	if err := x.save(ctx); err != nil {
		return err
	}
	for _, pair := range x.run.Pairs {
		uerr := x.p.updatePair(ctx, pair, func(ps *langsync.PairState) {
			if ps.ActiveRun == x.run.ID {
				ps.ActiveRun = ""
			}
			ps.LastRun, ps.LastRunPhase, ps.LastError, ps.LastRunEnded = x.run.ID, langsync.RunFailed, x.run.Error, now
		})
		if uerr != nil {
			// The run itself records the failure; the pair's ActiveRun
			// points to a terminal run, which counts as free.
			x.log.Warn("recording failure in pair state", "pair", pair.String(), "err", uerr)
		}
	}
	return nil
}

// recordTargetFailure writes a failed target into its pair state and frees
// the pair (a new run may start for it while this one finishes the other
// targets). With onlyIfActive it changes nothing unless the pair still
// names this run: the end of the run heals a crash between the step's save
// and the first write, without overwriting a newer run's record.
func (x *exec) recordTargetFailure(ctx context.Context, target, reason string, onlyIfActive bool) {
	pair, err := x.pair(target)
	if err != nil {
		x.log.Warn("recording a failed target", "target", target, "err", err)
		return
	}
	now := x.p.clock.Now()
	err = x.p.updatePair(ctx, pair, func(ps *langsync.PairState) {
		if ps.ActiveRun != x.run.ID && (onlyIfActive || ps.ActiveRun != "") {
			return
		}
		ps.ActiveRun = ""
		ps.LastRun, ps.LastRunPhase, ps.LastError, ps.LastRunEnded = x.run.ID, langsync.RunFailed, reason, now
	})
	if err != nil {
		// The run records the failure; its end tries again.
		x.log.Warn("recording failure in pair state", "pair", pair.String(), "err", err)
	}
}

// finish ends a run whose steps are all settled: succeeded, or failed
// naming every failed target.
func (x *exec) finish(ctx context.Context) (Next, error) {
	r := x.run
	now := x.p.clock.Now()
	failed := FailedTargets(r)
	x.startOwed(ctx)
	r.Ended, r.NextAt = now, time.Time{}
	if len(failed) == 0 {
		r.Phase = langsync.RunSucceeded
		if err := x.save(ctx); err != nil {
			return Next{}, err
		}
		x.log.Info("run succeeded", "elapsed", r.Ended.Sub(r.Created).String())
		return x.next(), nil
	}
	r.Phase = langsync.RunFailed
	r.Error = targetsError(r, failed)
	if err := x.save(ctx); err != nil {
		return Next{}, err
	}
	x.log.Error("run failed", "err", r.Error)
	for _, f := range failed {
		x.recordTargetFailure(ctx, f.Target, f.Step+": "+f.Error, true)
	}
	return x.next(), nil
}

// TargetFailure is a target whose replication failed within a run.
type TargetFailure struct {
	Target string `json:"target"`
	// Project is the project name on the target.
	Project string `json:"project"`
	Step    string `json:"step"`
	Error   string `json:"error"`
}

// FailedTargets lists the run's targets that have a failed step.
func FailedTargets(r *langsync.Run) []TargetFailure {
	var out []TargetFailure
	for _, pair := range r.Pairs {
		for _, s := range r.Steps {
			if s.Target == pair.Target && s.Status == langsync.StepFailed {
				out = append(out, TargetFailure{Target: pair.Target, Project: pair.TargetName(), Step: s.ID(), Error: s.Error})
				break
			}
		}
	}
	return out
}

// targetsError names every failed target (resource and project) and why;
// a run of one target keeps the plain "<step>: <reason>".
func targetsError(r *langsync.Run, failed []TargetFailure) string {
	if len(r.Pairs) == 1 && len(failed) == 1 {
		return failed[0].Step + ": " + failed[0].Error
	}
	parts := make([]string, 0, len(failed))
	lost := map[string]bool{}
	for _, f := range failed {
		parts = append(parts, fmt.Sprintf("%s/%s failed at %s: %s", f.Target, f.Project, f.Step, f.Error))
		lost[f.Target] = true
	}
	var ok []string
	for _, p := range r.Pairs {
		if !lost[p.Target] {
			ok = append(ok, p.Target+"/"+p.TargetName())
		}
	}
	msg := fmt.Sprintf("%d of %d targets failed: %s", len(failed), len(r.Pairs), strings.Join(parts, "; "))
	if len(ok) > 0 {
		msg += " (succeeded: " + strings.Join(ok, ", ") + ")"
	}
	return msg
}
