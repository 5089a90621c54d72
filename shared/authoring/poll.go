package authoring

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/internal/langhttp"
	"github.com/langsync/langsync/shared/langsync"
)

// DefaultMinPollInterval is the shortest interval Poll suggests.
const DefaultMinPollInterval = 50 * time.Millisecond

// DefaultPollIntervals cap the adaptive poll interval per job kind. A job
// that runs long settles at its cap: training (minutes to hours) at 2
// GETs a minute, the others at 6, well inside the 100 GET/min budget even
// with several jobs per resource.
var DefaultPollIntervals = map[langsync.JobKind]time.Duration{
	langsync.JobExport:           10 * time.Second,
	langsync.JobImport:           10 * time.Second,
	langsync.JobTrain:            30 * time.Second,
	langsync.JobCancelTrain:      10 * time.Second,
	langsync.JobDeploy:           10 * time.Second,
	langsync.JobDeleteDeployment: 10 * time.Second,
	langsync.JobSwap:             10 * time.Second,
	langsync.JobDeleteProject:    10 * time.Second,
	langsync.JobLoadSnapshot:     10 * time.Second,
}

// defaultPollCap applies to a job of unknown kind.
const defaultPollCap = 15 * time.Second

// pollFraction is the share of a job's elapsed time Poll waits before the
// next poll: a job noticed done at most elapsed/5 late costs at most 20%
// over its true duration, while the number of polls grows only with the
// logarithm of the duration until the cap is reached.
const pollFraction = 5

// DefaultUnknownStatusTimeout is how long Wait tolerates a job status that
// is none of the documented values before it gives up (see
// ClientOptions.UnknownStatusTimeout). A status the service adds later is
// probably a transient one (terminal ones are what a client must know), so
// it is given a few minutes rather than failed at once; but it is never
// taken for "running" forever.
const DefaultUnknownStatusTimeout = 5 * time.Minute

type pollConfig struct {
	min  time.Duration
	caps map[langsync.JobKind]time.Duration
	// unknown bounds an unbroken spell of unknown statuses in Wait.
	unknown time.Duration
}

func newPollConfig(opts *ClientOptions) pollConfig {
	pc := pollConfig{min: opts.MinPollInterval, caps: map[langsync.JobKind]time.Duration{}, unknown: opts.UnknownStatusTimeout}
	if pc.min <= 0 {
		pc.min = DefaultMinPollInterval
	}
	if pc.unknown <= 0 {
		pc.unknown = DefaultUnknownStatusTimeout
	}
	for k, v := range DefaultPollIntervals {
		pc.caps[k] = v
	}
	for k, v := range opts.PollIntervals {
		if v > 0 {
			pc.caps[k] = v
		}
	}
	return pc
}

// interval returns the next poll interval for a job that has been running
// for elapsed: elapsed/5, at least min, at most the kind's cap.
func (pc pollConfig) interval(kind langsync.JobKind, elapsed time.Duration) time.Duration {
	limit, ok := pc.caps[kind]
	if !ok {
		limit = defaultPollCap
	}
	d := max(elapsed/pollFraction, pc.min)
	return min(d, max(limit, pc.min))
}

// JobKindOf infers a job's kind from its status URL
// (docs/reference/language-rest.md#status-urls-by-job-kind), for handles
// saved without one. It returns "" when the URL matches no known kind.
func JobKindOf(location string) langsync.JobKind {
	u, err := url.Parse(location)
	if err != nil {
		return ""
	}
	p := u.Path
	switch {
	case strings.Contains(p, "/projects/global/deletion-jobs/"):
		return langsync.JobDeleteProject
	case strings.Contains(p, "/export/jobs/"):
		return langsync.JobExport
	case strings.Contains(p, "/import/jobs/"):
		return langsync.JobImport
	case strings.Contains(p, "/train/jobs/"):
		return langsync.JobTrain
	case strings.Contains(p, "/deployments/swap/jobs/"):
		return langsync.JobSwap
	case strings.Contains(p, "/load-snapshot/jobs/"):
		return langsync.JobLoadSnapshot
	case strings.Contains(p, "/deployments/") && strings.Contains(p, "/jobs/"):
		return langsync.JobDeploy
	}
	return ""
}

// Poll makes one GET of the job's status URL (verbatim, host-pinned) and
// returns the state with NextPoll set: the service's Retry-After when it
// sent one, else an adaptive interval that starts at MinPollInterval and
// grows with the job's age (a fifth of it) up to the kind's cap, or sooner
// when a training job's estimatedEndDateTime comes first. The age is
// measured from job.Started, or from the service's createdDateTime and Date
// header when a resumed handle has no start time. A job that ended failed
// is not an error here: see JobState.Err.
func (c *Client) Poll(ctx context.Context, job langsync.Job) (*JobState, error) {
	if job.Location == "" {
		return nil, errors.New("authoring: poll: the job has no location")
	}
	if job.Kind == "" {
		job.Kind = JobKindOf(job.Location)
	}
	u, err := c.followURL(job.Location)
	if err != nil {
		return nil, err
	}
	var st JobState
	resp, err := c.getJSON(ctx, u, &st)
	if err != nil {
		return nil, fmt.Errorf("authoring: polling %s job: %w", kindName(job.Kind), err)
	}
	st.Job = job
	if !st.Done() {
		st.NextPoll = c.nextPoll(job, &st, resp)
	}
	return &st, nil
}

func kindName(k langsync.JobKind) string {
	if k == "" {
		return "a"
	}
	return string(k)
}

func (c *Client) nextPoll(job langsync.Job, st *JobState, resp *http.Response) time.Duration {
	now := c.now()
	if d, ok := langhttp.ParseRetryAfter(resp.Header, now); ok {
		return d
	}
	var elapsed time.Duration
	switch {
	case !job.Started.IsZero():
		elapsed = now.Sub(job.Started)
	case !st.CreatedDateTime.IsZero():
		// Both times come from the service's clock, so skew cancels out.
		if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			elapsed = date.Sub(st.CreatedDateTime)
		}
	}
	next := c.poll.interval(job.Kind, max(elapsed, 0))
	// A training job estimates its end: when that comes sooner than the
	// adaptive interval, poll then instead of overshooting it. (Never
	// later, and never below the minimum, so a wrong estimate costs
	// nothing.) The Date header puts both times on the service's clock.
	if r := st.Result; r != nil && !r.EstimatedEndDateTime.IsZero() {
		remaining, ok := time.Duration(0), false
		if !job.Started.IsZero() && !st.CreatedDateTime.IsZero() {
			// The expected duration on the service's clock, laid on ours
			// from when the POST was answered: no clock skew, and finer
			// than the Date header (whole seconds).
			expected := r.EstimatedEndDateTime.Sub(st.CreatedDateTime)
			if st.CreatedDateTime.Nanosecond() == 0 {
				// The service writes createdDateTime in whole seconds
				// (truncated) and the estimate with fractions, so the
				// difference overstates the duration by up to a second.
				// Aim at the earliest end it allows: past it, the job is
				// polled at a twentieth of its age (below), so a 2 s
				// training is seen done within 0.1 s of its end instead
				// of up to 1 s after, and a long one costs one or two
				// more GETs at most.
				expected -= time.Second
			}
			remaining, ok = job.Started.Add(expected).Sub(now), true
		} else if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			remaining, ok = r.EstimatedEndDateTime.Sub(date), true
		}
		switch {
		case ok && remaining > 0 && remaining < next:
			next = max(remaining, c.poll.min)
		case ok && remaining <= 0:
			// Past its expected end, the job is about to finish: look
			// sooner than a fifth of its age (a twentieth, still bounded
			// by the kind's cap).
			next = min(next, max(elapsed/(4*pollFraction), c.poll.min))
		}
	}
	return next
}

// waitFailures is how many polls in a row may fail transiently (after the
// pipeline's own retries) before Wait gives up: a long training job should
// survive a short outage of the resource.
const waitFailures = 3

// Wait polls the job until it ends, calling progress (when not nil) after
// every poll, and returns the final state. A job that ended failed,
// cancelled or partiallyCompleted returns the state and a *JobError
// (partiallyCompleted also matches ErrPartiallyCompleted: it is not a
// success). A job that keeps reporting a status none of the documented
// values for longer than ClientOptions.UnknownStatusTimeout returns the
// last state and an error matching ErrUnknownJobStatus. Transient poll
// failures (timeouts, resets, 408/429/5xx after retries) are tolerated up to
// three in a row. Wait stops when ctx is done. It is for the CLI and tests:
// a Functions handler polls with Poll and schedules a wake-up at NextPoll
// instead (the pipeline bounds unknown statuses itself).
func (c *Client) Wait(ctx context.Context, job langsync.Job, progress func(*JobState)) (*JobState, error) {
	if job.Kind == "" {
		job.Kind = JobKindOf(job.Location)
	}
	var last *JobState
	var unknownSince time.Time // start of the current spell of unknown statuses
	failures := 0
	for {
		st, err := c.Poll(ctx, job)
		var next time.Duration
		switch {
		case err == nil:
			failures = 0
			last = st
			if progress != nil {
				progress(st)
			}
			if st.Done() {
				return st, st.Err()
			}
			if err := c.checkUnknown(st, &unknownSince); err != nil {
				return st, err
			}
			next = st.NextPoll
		case ctx.Err() == nil && transient(err) && failures < waitFailures:
			failures++
			next = c.poll.interval(job.Kind, c.now().Sub(job.Started))
			if job.Started.IsZero() {
				next = c.poll.interval(job.Kind, 0)
			}
			c.logger.WarnContext(ctx, "authoring: poll failed, will poll again", "kind", job.Kind, "failures", failures, "err", err)
		default:
			return last, err
		}
		if err := sleepCtx(ctx, next); err != nil {
			id := ""
			if last != nil {
				id = last.JobID
			}
			return last, fmt.Errorf("authoring: waiting for %s job %s: %w", kindName(job.Kind), id, err)
		}
	}
}

// checkUnknown tracks an unbroken spell of unknown statuses in *since and
// returns an error once it has lasted longer than the client's bound. A
// known status ends the spell.
func (c *Client) checkUnknown(st *JobState, since *time.Time) error {
	if st.Status.Known() {
		*since = time.Time{}
		return nil
	}
	now := c.now()
	if since.IsZero() {
		*since = now
		c.logger.Warn("authoring: job reports an unknown status; polling on for a while", "kind", st.Job.Kind, "job", st.JobID, "status", st.Status, "bound", c.poll.unknown)
		return nil
	}
	if d := now.Sub(*since); d > c.poll.unknown {
		return fmt.Errorf("authoring: %s job %s has reported the unknown status %q for %s (more than UnknownStatusTimeout %s): %w",
			kindName(st.Job.Kind), st.JobID, st.Status, d.Round(time.Millisecond), c.poll.unknown, ErrUnknownJobStatus)
	}
	return nil
}

// transient reports whether a failed request may succeed if tried later.
func transient(err error) bool {
	var re *ResponseError
	if errors.As(err, &re) {
		switch re.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var rqe *requestError
	return errors.As(err, &rqe)
}
