package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// Config is what the pipeline reads of the configuration's topology.
// *config.Config satisfies it; shared/app passes it, so that this package
// needs neither the config file's format nor its parser.
type Config interface {
	// Pairs lists every configured replication in config order.
	Pairs() []langsync.Pair
	// Resource returns a configured resource (plan compares the linked
	// storages of source and target).
	Resource(name string) (langsync.Resource, bool)
}

// Options configure a Pipeline. Config, Clients, State and Backups are required.
type Options struct {
	Config Config
	// Probes are texts classified on both sides during verify (the
	// config's probes); none means no probing.
	Probes []string
	// ExpiryWindow: Sync replicates again a target deployment whose
	// expiration date falls within it (the config's expiryWindow).
	ExpiryWindow time.Duration
	// ExpiryWarning is the expiry watch's window (the config's
	// expiryWarning): Status warns about a deployed model, deployment or
	// training config version that expires within it, and with
	// RenewExpiring Sync retrains a target whose model does.
	ExpiryWarning time.Duration
	// ExpiryWarningFor, if set, is the expiry watch window of one pair
	// (a project's own expiryWarning); it overrides ExpiryWarning.
	ExpiryWarningFor func(langsync.Pair) time.Duration
	// MaxLag: Status flags a pair whose target has lacked the source's
	// newest change for longer (the config's alerts.maxLag; 0: never).
	MaxLag time.Duration
	// RenewExpiring lets Sync start a replication for a pair whose target
	// model expires within ExpiryWarning, trained on a longer-lived
	// version (the config's renewExpiring; off by default: training is
	// billed).
	RenewExpiring bool
	// JobRetries is how many times a job that failed on the service's
	// side is sent again (the config's jobRetries; zero: never).
	JobRetries int
	// UnreachableBudget bounds how long one step retries a resource that
	// cannot be reached (the config's unreachableBudget; default 2m).
	UnreachableBudget time.Duration
	// UnknownStatusTimeout bounds how long a step polls a job that keeps
	// reporting a status none of the documented values (default 5m): then
	// the step fails with an error naming the status.
	UnknownStatusTimeout time.Duration
	// Clients returns the authoring client of a configured resource. It is
	// called often: return a shared client (one rate budget per resource).
	Clients func(resource string) (Authoring, error)
	State   StateStore
	Backups Backups
	// Prober classifies the config's probe texts during verify; optional.
	Prober Prober
	Clock  Clock
	Logger *slog.Logger
	// PollBudget bounds how long one Advance call polls a job before it
	// returns a Next for later (default 20s, well under a function timeout).
	PollBudget time.Duration
	// PollIntervals per job kind, used when the service sends no
	// Retry-After (defaults: export/import 5s, train 30s, deploy 10s).
	PollIntervals map[langsync.JobKind]time.Duration
	// Backoff is the first retry delay after a transient error; it doubles
	// per attempt up to MaxBackoff (defaults 10s and 10m).
	Backoff, MaxBackoff time.Duration
	// MaxAttempts per step before a transient error becomes permanent
	// (default 8). Throttling with a Retry-After, unreachable resources
	// (bounded by the config's unreachableBudget) and failed jobs (the
	// config's jobRetries) are counted apart.
	MaxAttempts int
	// BeginTimeout bounds the start of a job: a handler that claims a job
	// step records the claim's deadline (now + BeginTimeout) and sends the
	// POST under a context that ends at four fifths of it, leaving the
	// rest for saving the job's location. Until the deadline other
	// handlers only watch the step; after it they recover it (looking for
	// the job on the service before any re-POST). Default 20s: a POST that
	// starts a job is answered in about a second, and a process killed during
	// one delays the next driver by no more than this.
	BeginTimeout time.Duration
	// JobRetryBackoff is the wait before a job that failed on the
	// service's side is sent again; it doubles per retry up to MaxBackoff
	// (default 15s: a service-side failure is usually brief).
	JobRetryBackoff time.Duration
	// ClaimTimeout applies only to steps claimed by an older langsync,
	// which recorded no claim deadline: they are left alone this long
	// after the claim (default 2m).
	ClaimTimeout time.Duration
	// LockTTL and LockWait: the per-(target, project) lock taken while a run
	// is created (defaults 30s and 60s).
	LockTTL, LockWait time.Duration
	// OnProgress, if set, is called on every step transition and poll, and
	// when Advance finds a step another handler is starting ("wait").
	OnProgress func(Progress)
	// Sequential runs every step strictly after the one before, as
	// langsync did before overlapping (see overlap.go): no background
	// document copy or source probes, documents copied before the import.
	// For benchmarks (the baseline) and for diagnosing.
	Sequential bool
	// Hook is a test seam: called at named points ("claimed", "begun",
	// "saved", "done", each prefixed with the step id and a colon); an error
	// stops Advance there as a crash would.
	Hook func(point string) error
}

// Progress reports one step event to OnProgress.
type Progress struct {
	Run     string
	Step    langsync.Step
	Elapsed time.Duration
	Event   string // "start", "poll", "done", "skip", "retry", "fail", "wait"
	// Message says what happens, for people: on "retry" the reason, the
	// attempt and the delay ("secondary unreachable (connection refused),
	// retry 3 in 20s; ..."); on "wait" what it waits for and how long at
	// most; empty for most events.
	Message string
	// Until is when a "wait" ends at the latest (the claim's deadline).
	Until time.Time
	// JobRetry marks a "retry" that replaces a job which failed on the
	// service's side (a new POST; for training, billed again).
	JobRetry bool
}

// Pipeline runs replications. It is safe for concurrent use.
type Pipeline struct {
	// bg is the background work overlapped with jobs (overlap.go).
	bg    tasks
	opts  Options
	cfg   Config
	clock Clock
	log   *slog.Logger
}

// New checks the options and returns a Pipeline.
func New(opts Options) (*Pipeline, error) {
	var missing []string
	if opts.Config == nil {
		missing = append(missing, "Config")
	}
	if opts.Clients == nil {
		missing = append(missing, "Clients")
	}
	if opts.State == nil {
		missing = append(missing, "State")
	}
	if opts.Backups == nil {
		missing = append(missing, "Backups")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("pipeline: options missing %v", missing)
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.PollBudget, 20*time.Second)
	def(&opts.Backoff, 10*time.Second)
	def(&opts.MaxBackoff, 10*time.Minute)
	def(&opts.BeginTimeout, 20*time.Second)
	def(&opts.JobRetryBackoff, 15*time.Second)
	def(&opts.ClaimTimeout, 2*time.Minute)
	def(&opts.LockTTL, 30*time.Second)
	def(&opts.LockWait, 60*time.Second)
	def(&opts.UnreachableBudget, 2*time.Minute)
	def(&opts.UnknownStatusTimeout, 5*time.Minute)
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	intervals := map[langsync.JobKind]time.Duration{
		langsync.JobExport: 5 * time.Second, langsync.JobImport: 5 * time.Second,
		langsync.JobTrain: 30 * time.Second, langsync.JobDeploy: 10 * time.Second,
	}
	for k, v := range opts.PollIntervals {
		intervals[k] = v
	}
	opts.PollIntervals = intervals
	return &Pipeline{opts: opts, cfg: opts.Config, clock: opts.Clock, log: opts.Logger}, nil
}

// Next tells the host what to wake next and when: the wake-up to send
// (its message) and what the driver needs besides.
type Next struct {
	// Wakeup is the message; its Step routes it to a queue.
	langsync.Wakeup
	// Queue is the queue Step's wake-up goes to (langsync.QueueFor).
	Queue string `json:"queue,omitempty"`
	// At is when to wake; at or before now means now.
	At time.Time `json:"at"`
	// Done: the run is terminal; schedule nothing.
	Done  bool              `json:"done,omitempty"`
	Phase langsync.RunPhase `json:"phase"`
	// Stale: the wake-up was out of date (or another handler holds the
	// run); schedule nothing.
	Stale bool `json:"stale,omitempty"`
	// Busy: another handler has claimed Step and is sending its job's
	// POST. Nothing was written (a write would break the claimant's next
	// save). Look again at At, the claim's deadline, or as soon as the
	// run's Seq moves past Seq (the claimant saved its progress).
	Busy bool `json:"busy,omitempty"`
	// Follow, on the Next that ended a run, is the first wake-up of the run
	// its end started for requests that came too late for it
	// (Run.FollowedBy). Hosts schedule it like any other.
	Follow *Next `json:"follow,omitempty"`
}

// CorruptError is a state document that cannot be read. The blob is left
// as it is for inspection.
type CorruptError struct {
	Key string
	Err error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("pipeline: state document %s is unreadable (kept for inspection; fix or delete it): %v", e.Key, e.Err)
}

// Unwrap returns ErrCorrupt and the cause.
func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

func (p *Pipeline) loadRun(ctx context.Context, id string) (*langsync.Run, string, error) {
	key := langsync.RunKey(id)
	data, etag, err := p.opts.State.Get(ctx, key)
	if err != nil {
		return nil, "", fmt.Errorf("pipeline: loading run %s: %w", id, err)
	}
	var r langsync.Run
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, "", &CorruptError{Key: key, Err: err}
	}
	if r.V != langsync.RunSchemaVersion {
		return nil, "", &CorruptError{Key: key, Err: fmt.Errorf("schema version %d, this langsync reads %d", r.V, langsync.RunSchemaVersion)}
	}
	if r.ID != id {
		return nil, "", &CorruptError{Key: key, Err: fmt.Errorf("document holds run %q", r.ID)}
	}
	return &r, etag, nil
}

// saveRun writes the run under its ETag, bumping Seq. An empty etag creates.
func (p *Pipeline) saveRun(ctx context.Context, r *langsync.Run, etag string) (string, error) {
	r.Seq++
	r.Updated = p.clock.Now()
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		r.Seq--
		return "", fmt.Errorf("pipeline: encoding run %s: %w", r.ID, err)
	}
	cond := Condition{IfMatch: etag, IfNoneMatch: etag == ""}
	newTag, err := p.opts.State.Put(ctx, langsync.RunKey(r.ID), data, cond)
	if err != nil {
		r.Seq--
		return "", fmt.Errorf("pipeline: saving run %s: %w", r.ID, err)
	}
	return newTag, nil
}

func (p *Pipeline) loadPair(ctx context.Context, pair langsync.Pair) (*langsync.PairState, string, error) {
	key := langsync.PairKey(pair)
	data, etag, err := p.opts.State.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return &langsync.PairState{V: 1, Pair: pair}, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("pipeline: loading pair state %s: %w", key, err)
	}
	var s langsync.PairState
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, "", &CorruptError{Key: key, Err: err}
	}
	if s.V != 1 {
		return nil, "", &CorruptError{Key: key, Err: fmt.Errorf("schema version %d, this langsync reads 1", s.V)}
	}
	s.Pair = pair
	return &s, etag, nil
}

func (p *Pipeline) savePair(ctx context.Context, s *langsync.PairState, etag string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("pipeline: encoding pair state: %w", err)
	}
	_, err = p.opts.State.Put(ctx, langsync.PairKey(s.Pair), data, Condition{IfMatch: etag, IfNoneMatch: etag == ""})
	if err != nil {
		return fmt.Errorf("pipeline: saving pair state %s: %w", langsync.PairKey(s.Pair), err)
	}
	return nil
}

// updatePair applies fn to the pair state under its ETag, retrying on a
// concurrent write.
func (p *Pipeline) updatePair(ctx context.Context, pair langsync.Pair, fn func(*langsync.PairState)) error {
	for attempt := 0; ; attempt++ {
		s, etag, err := p.loadPair(ctx, pair)
		if err != nil {
			return err
		}
		fn(s)
		err = p.savePair(ctx, s, etag)
		if !errors.Is(err, ErrConflict) || attempt >= 5 {
			return err
		}
	}
}

// activeRun reports whether id names a run that is still running.
func (p *Pipeline) activeRun(ctx context.Context, id string) (bool, error) {
	r, err := p.liveRun(ctx, id)
	return r != nil, err
}

// liveRun returns the run id names if it is still running, else nil.
func (p *Pipeline) liveRun(ctx context.Context, id string) (*langsync.Run, error) {
	if id == "" {
		return nil, nil
	}
	r, _, err := p.loadRun(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrCorrupt):
		// A missing run (crash before it was written) or an unreadable
		// one cannot be joined; the pair is free.
		return nil, nil
	case err != nil:
		return nil, err
	case r.Phase.Terminal():
		return nil, nil
	}
	return r, nil
}

// oweRun records on the pair (held under its lock) a request that its
// active run cannot be trusted to carry. Requests behind the same run
// merge: the earliest time, and a full replication if any asked for one.
// freed: the run let go of the pair before the request was recorded.
func (p *Pipeline) oweRun(ctx context.Context, s *langsync.PairState, etag, behind string, req Request, since time.Time) (freed bool, err error) {
	o := s.Owed
	if o == nil || o.Behind != behind {
		o = &langsync.OwedRequest{Requested: since, Behind: behind, Trigger: req.Trigger, Reason: req.Reason, SkipIfUnchanged: req.SkipIfUnchanged}
	} else {
		if since.Before(o.Requested) {
			o.Requested = since
		}
		o.SkipIfUnchanged = o.SkipIfUnchanged && req.SkipIfUnchanged
	}
	s.Owed = o
	err = p.savePair(ctx, s, etag)
	if !errors.Is(err, ErrConflict) {
		return false, err
	}
	// The run wrote the pair meanwhile (a target's verify or failure):
	// record the request on what it wrote, if the run still holds it.
	err = p.updatePair(ctx, s.Pair, func(ps *langsync.PairState) {
		freed = ps.ActiveRun != behind && (ps.ActiveRun != "" || ps.LastRun != behind)
		if !freed {
			ps.Owed = o
		}
	})
	return freed, err
}

// Request asks for a replication run now.
type Request struct {
	// Project is the source project name (required).
	Project string
	// Source and Targets narrow the configured pairs; empty means all.
	Source  string
	Targets []string
	Trigger langsync.Trigger
	Reason  string
	// SkipIfUnchanged: stop after backup for targets whose last replicated
	// fingerprint equals the new export's (sync sets it when only the
	// source's timestamps moved).
	SkipIfUnchanged bool
	// MustRetrain names targets that SkipIfUnchanged does not apply to.
	MustRetrain []string
	// Renew names targets retrained because their model expires soon
	// (see langsync.Run.Renew); they should be in MustRetrain too.
	Renew []string
	// Since is when the request was made (default: now). An active run is
	// joined as it stands only if it read the source at or after Since;
	// otherwise the request is recorded on the pair (PairState.Owed) and a
	// new run starts when the active one ends.
	Since time.Time
	// finishing is the run whose end starts this request: its pairs count
	// as free.
	finishing string
}

// Ticket is the run a request started or joined.
type Ticket struct {
	Run    string          `json:"run"`
	Joined bool            `json:"joined"`
	Pairs  []langsync.Pair `json:"pairs"`
	Next   Next            `json:"next"`
	// Owed: the joined run read the source before the request, so it
	// cannot carry changes made just before it; a new run for these pairs
	// starts when it ends (the run's FollowedBy names it).
	Owed bool `json:"owed,omitempty"`
}

// Start starts a run for the requested pairs, one run per source project;
// a pair that already has an active run joins it instead.
func (p *Pipeline) Start(ctx context.Context, req Request) ([]Ticket, error) {
	groups := map[string][]langsync.Pair{}
	var order []string
	for _, pair := range p.cfg.Pairs() {
		if pair.Project != req.Project || (req.Source != "" && pair.Source != req.Source) || (len(req.Targets) > 0 && !contains(req.Targets, pair.Target)) {
			continue
		}
		if _, ok := groups[pair.Source]; !ok {
			order = append(order, pair.Source)
		}
		groups[pair.Source] = append(groups[pair.Source], pair)
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("pipeline: %w: no configured pair matches project %q source %q targets %v (see projects: in the config)", ErrUnknownProject, req.Project, req.Source, req.Targets)
	}
	if req.Trigger == "" {
		req.Trigger = langsync.TriggerForced
	}
	var tickets []Ticket
	for _, src := range order {
		t, err := p.startGroup(ctx, req, src, groups[src])
		if err != nil {
			return tickets, err
		}
		tickets = append(tickets, t...)
	}
	return tickets, nil
}

func (p *Pipeline) startGroup(ctx context.Context, req Request, source string, pairs []langsync.Pair) ([]Ticket, error) {
	// Take every pair's lock (sorted, so two requests cannot deadlock),
	// then decide join or claim under them.
	sort.Slice(pairs, func(i, j int) bool {
		return pairs[i].Target+pairs[i].TargetName() < pairs[j].Target+pairs[j].TargetName()
	})
	var releases []func(context.Context) error
	defer func() {
		for _, rel := range releases {
			if err := rel(context.WithoutCancel(ctx)); err != nil {
				p.log.Warn("releasing pair lock", "err", err)
			}
		}
	}()
	for _, pair := range pairs {
		rel, err := p.lock(ctx, langsync.LockKey(pair.Target, pair.TargetName()))
		if err != nil {
			return nil, err
		}
		releases = append(releases, rel)
	}
	since := req.Since
	if since.IsZero() {
		since = p.clock.Now()
	}
	joined := map[string][]langsync.Pair{}
	owed := map[string]bool{}
	var free []langsync.Pair
	type claim struct {
		state *langsync.PairState
		etag  string
	}
	var claims []claim
	for _, pair := range pairs {
		s, etag, err := p.loadPair(ctx, pair)
		if err != nil {
			return nil, fmt.Errorf("pipeline: %s: %w", pair, err)
		}
		var active *langsync.Run
		if s.ActiveRun != req.finishing {
			if active, err = p.liveRun(ctx, s.ActiveRun); err != nil {
				return nil, err
			}
		}
		if active == nil && s.ActiveRun == "" && s.LastRunPhase == langsync.RunSucceeded && s.LastRun != req.finishing {
			// Replicated moments ago by a run still busy with other
			// targets (a rerun after a driver was killed finds this):
			// the request waits behind that run like a late joiner, so
			// the target is trained again only if the source moved.
			if active, err = p.liveRun(ctx, s.LastRun); err != nil {
				return nil, err
			}
		}
		if active == nil {
			free = append(free, pair)
			claims = append(claims, claim{s, etag})
			continue
		}
		if active.ReadSourceAfter(since) {
			joined[active.ID] = append(joined[active.ID], pair)
			continue
		}
		// The active run may have read the source before the request (it
		// has, or its inspect has not finished): owe the pair a run that
		// starts when this one ends. Its end decides, from when its
		// inspect started, whether the run is needed after all.
		freed, err := p.oweRun(ctx, s, etag, active.ID, req, since)
		if err != nil {
			return nil, fmt.Errorf("pipeline: %s: recording the request behind run %s: %w", pair, active.ID, err)
		}
		if freed {
			// The run let go of the pair meanwhile: claim it.
			if s, etag, err = p.loadPair(ctx, pair); err != nil {
				return nil, fmt.Errorf("pipeline: %s: %w", pair, err)
			}
			free = append(free, pair)
			claims = append(claims, claim{s, etag})
			continue
		}
		joined[active.ID] = append(joined[active.ID], pair)
		if active.Steps[0].Status.Done() {
			owed[active.ID] = true
		}
	}
	var tickets []Ticket
	for id, ps := range joined {
		r, _, err := p.loadRun(ctx, id)
		if err != nil {
			return nil, err
		}
		tickets = append(tickets, Ticket{Run: id, Joined: true, Pairs: ps, Next: p.nextFor(r), Owed: owed[id]})
	}
	sort.Slice(tickets, func(i, j int) bool { return tickets[i].Run < tickets[j].Run })
	if len(free) == 0 {
		return tickets, nil
	}
	now := p.clock.Now()
	r := &langsync.Run{
		V: langsync.RunSchemaVersion, ID: newRunID(now), Kind: langsync.RunReplicate, Trigger: req.Trigger,
		Source: source, Project: req.Project, Pairs: free, Phase: langsync.RunRunning,
		SkipIfUnchanged: req.SkipIfUnchanged, MustRetrain: req.MustRetrain, Renew: req.Renew, Created: now, NextAt: now, Reason: req.Reason,
		Steps: []langsync.Step{{Name: langsync.StepInspect, Status: langsync.StepPending}},
	}
	if _, err := p.saveRun(ctx, r, ""); err != nil {
		return nil, err
	}
	for _, c := range claims {
		// This run reads the source after every request owed to the pair.
		c.state.ActiveRun, c.state.Owed = r.ID, nil
		if err := p.savePair(ctx, c.state, c.etag); err != nil {
			p.abandon(ctx, r, err)
			return nil, fmt.Errorf("pipeline: claiming %s for run %s: %w", c.state.Pair, r.ID, err)
		}
	}
	p.log.Info("run started", "run", r.ID, "project", r.Project, "source", source, "pairs", len(free), "trigger", req.Trigger)
	return append(tickets, Ticket{Run: r.ID, Pairs: free, Next: p.nextFor(r)}), nil
}

// abandon marks a run that could not claim its pairs as failed, so that no
// sweep ever wakes it (it would race the pair's real owner).
func (p *Pipeline) abandon(ctx context.Context, r *langsync.Run, cause error) {
	now := p.clock.Now()
	r.Phase, r.Ended, r.NextAt = langsync.RunFailed, now, time.Time{}
	r.Error = "could not claim its pairs: " + cause.Error()
	for {
		_, etag, err := p.opts.State.Get(ctx, langsync.RunKey(r.ID))
		if err == nil {
			_, err = p.saveRun(ctx, r, etag)
		}
		if !errors.Is(err, ErrConflict) {
			if err != nil {
				p.log.Warn("marking an unclaimed run failed", "run", r.ID, "err", err)
			}
			return
		}
	}
}

// ErrBusy: a pair already has an active run (StartPlanned does not join).
var ErrBusy = errors.New("pair has an active run")

// StartPlanned saves a run whose models and steps are already planned, for
// runs other than replication: a restore sets Kind RunRestore, Trigger
// TriggerRestore, Source/Project (the backup's), Pairs (the resource and
// project to restore into), Models (label, training config version,
// evaluation options, deployments and Backup key) and Steps (import, train,
// deploy, verify per target). Advance then runs it like any other run.
// Under the one-run-per-(target, project) rule it fails with ErrBusy when a
// pair has an active run.
func (p *Pipeline) StartPlanned(ctx context.Context, r *langsync.Run) (Ticket, error) {
	switch {
	case r == nil || len(r.Pairs) == 0 || len(r.Steps) == 0 || r.Project == "":
		return Ticket{}, errors.New("pipeline: a planned run needs Project, Pairs and Steps")
	case r.Kind == "":
		return Ticket{}, errors.New("pipeline: a planned run needs a Kind")
	}
	for _, m := range r.Models {
		if m.Backup == "" {
			return Ticket{}, fmt.Errorf("pipeline: planned model %q has no Backup key", m.Label)
		}
	}
	pairs := append([]langsync.Pair(nil), r.Pairs...)
	sort.Slice(pairs, func(i, j int) bool {
		return pairs[i].Target+pairs[i].TargetName() < pairs[j].Target+pairs[j].TargetName()
	})
	var releases []func(context.Context) error
	defer func() {
		for _, rel := range releases {
			_ = rel(context.WithoutCancel(ctx))
		}
	}()
	type claim struct {
		state *langsync.PairState
		etag  string
	}
	var claims []claim
	for _, pair := range pairs {
		rel, err := p.lock(ctx, langsync.LockKey(pair.Target, pair.TargetName()))
		if err != nil {
			return Ticket{}, err
		}
		releases = append(releases, rel)
		s, etag, err := p.loadPair(ctx, pair)
		if err != nil {
			return Ticket{}, fmt.Errorf("pipeline: %s: %w", pair, err)
		}
		active, err := p.activeRun(ctx, s.ActiveRun)
		if err != nil {
			return Ticket{}, err
		}
		if active {
			return Ticket{}, fmt.Errorf("pipeline: %s: %w %s; wait for it or try again later", pair, ErrBusy, s.ActiveRun)
		}
		claims = append(claims, claim{s, etag})
	}
	now := p.clock.Now()
	r.V, r.ID, r.Phase, r.Created, r.NextAt, r.Seq = langsync.RunSchemaVersion, newRunID(now), langsync.RunRunning, now, now, 0
	for i := range r.Steps {
		r.Steps[i].Status = langsync.StepPending
	}
	if _, err := p.saveRun(ctx, r, ""); err != nil {
		return Ticket{}, err
	}
	for _, c := range claims {
		// This run reads the source after every request owed to the pair.
		c.state.ActiveRun, c.state.Owed = r.ID, nil
		if err := p.savePair(ctx, c.state, c.etag); err != nil {
			p.abandon(ctx, r, err)
			return Ticket{}, fmt.Errorf("pipeline: claiming %s for run %s: %w", c.state.Pair, r.ID, err)
		}
	}
	p.log.Info("planned run started", "run", r.ID, "kind", r.Kind, "project", r.Project)
	return Ticket{Run: r.ID, Pairs: r.Pairs, Next: p.nextFor(r)}, nil
}

func (p *Pipeline) lock(ctx context.Context, key string) (func(context.Context) error, error) {
	deadline := time.Now().Add(p.opts.LockWait)
	delay := 20 * time.Millisecond
	for {
		rel, err := p.opts.State.Lock(ctx, key, p.opts.LockTTL)
		if err == nil {
			return rel, nil
		}
		if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			return nil, fmt.Errorf("pipeline: taking lock %s: %w", key, err)
		}
		// Production back-off while another request holds the pair lock;
		// it is held only while a run is created.
		if err := realClock.Sleep(realClock{}, ctx, delay); err != nil {
			return nil, err
		}
		delay = min(delay*2, time.Second)
	}
}

func (p *Pipeline) nextFor(r *langsync.Run) Next {
	n := Next{Wakeup: langsync.Wakeup{Run: r.ID, Seq: r.Seq}, At: r.NextAt, Phase: r.Phase, Done: r.Phase.Terminal()}
	if i := r.Current(); i >= 0 && !n.Done {
		n.Step = r.Steps[i].Name
		n.Queue, _ = langsync.QueueFor(n.Step)
	}
	return n
}

// Clock returns the pipeline's clock: Next.At and run times are in its time.
func (p *Pipeline) Clock() Clock { return p.clock }

// Run returns the stored run.
func (p *Pipeline) Run(ctx context.Context, id string) (*langsync.Run, error) {
	r, _, err := p.loadRun(ctx, id)
	return r, err
}

func newRunID(now time.Time) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return now.UTC().Format(langsync.KeyTimeFormat) + "-" + hex.EncodeToString(b[:])
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
