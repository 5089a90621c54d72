package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// PairStatus is what `langsync status` shows for one pair.
type PairStatus struct {
	Pair langsync.Pair `json:"pair"`
	// LastReplicated is when the fingerprint was last replicated (zero:
	// never).
	LastReplicated time.Time `json:"lastReplicated,omitempty"`
	Fingerprint    string    `json:"fingerprint,omitempty"`
	// Lag is how long the target has lacked the source's newest change:
	// the time since the source's newest timestamp, when that is newer
	// than the one recorded at the last replication (zero when in sync).
	// It is a lower bound: an older change may have waited longer.
	Lag time.Duration `json:"lag"`
	// SourceChanged is the source's newest timestamp now.
	SourceChanged time.Time         `json:"sourceChanged,omitempty"`
	ActiveRun     *RunSummary       `json:"activeRun,omitempty"`
	LastRun       string            `json:"lastRun,omitempty"`
	LastRunPhase  langsync.RunPhase `json:"lastRunPhase,omitempty"`
	LastError     string            `json:"lastError,omitempty"`
	// Quarantine summarises the set-aside backups of the pair's source
	// project (nil: none, or the Backups do not track quarantine).
	Quarantine *QuarantineSummary `json:"quarantine,omitempty"`
	// VersionChanges say, per model ("model1: trained on ..."), why the
	// target was last trained on another training config version than the
	// source model's.
	VersionChanges []string `json:"versionChanges,omitempty"`
	// SourceExpiry and TargetExpiry are when each mirrored deployment's
	// model stops being served, on the source and on the target.
	SourceExpiry []DeployedExpiry `json:"sourceExpiry,omitempty"`
	TargetExpiry []DeployedExpiry `json:"targetExpiry,omitempty"`
	// Expires is the earliest expiry on the target (zero: unknown).
	Expires time.Time `json:"expires,omitzero"`
	// ExpiryWarnings flag what expires within the expiry warning window
	// on either side, and a target that expires before its source.
	ExpiryWarnings []string `json:"expiryWarnings,omitempty"`
	// Alerts are the pair's alert signals: lag over MaxLag, something
	// expiring within the expiry warning window (docs/observability.md#alerts).
	Alerts []Alert `json:"alerts,omitempty"`
	// Error is why the status could not be read completely.
	Error string `json:"error,omitempty"`
}

// Alert kinds.
const (
	// AlertLag: the target has lacked the source's newest change for
	// longer than MaxLag.
	AlertLag = "lag"
	// AlertExpiry: a deployed model, deployment or training config
	// version expires (or has expired) within the expiry warning window.
	AlertExpiry = "expiry"
)

// Alert is one alert signal of a pair.
type Alert struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Alerting reports whether any pair has an alert.
func Alerting(st []PairStatus) bool {
	for _, s := range st {
		if len(s.Alerts) > 0 {
			return true
		}
	}
	return false
}

// Verdict says whether every pair is in sync (the heartbeat's success),
// and otherwise why not, in one short line naming the first pairs.
func Verdict(st []PairStatus) (ok bool, reason string) {
	var bad []string
	for _, s := range st {
		var why string
		switch {
		case s.Error != "":
			why = "status unreadable"
		case s.ActiveRun != nil:
			why = "run " + s.ActiveRun.ID + " still running"
		case s.LastRunPhase == langsync.RunFailed:
			why = "last run failed"
		case s.LastReplicated.IsZero():
			why = "never replicated"
		case s.Lag > 0:
			why = "behind its source by " + s.Lag.Round(time.Second).String()
		}
		if why != "" {
			bad = append(bad, s.Pair.String()+": "+why)
		}
	}
	if len(bad) == 0 {
		return true, ""
	}
	const show = 3
	reason = fmt.Sprintf("%d of %d pairs not in sync: %s", len(bad), len(st), strings.Join(bad[:min(show, len(bad))], "; "))
	if len(bad) > show {
		reason += fmt.Sprintf("; and %d more", len(bad)-show)
	}
	return false, reason
}

// alerts derives the pair's alert signals.
func (p *Pipeline) alerts(st *PairStatus, window time.Duration) {
	if p.opts.MaxLag > 0 && st.Lag > p.opts.MaxLag {
		st.Alerts = append(st.Alerts, Alert{Kind: AlertLag, Message: fmt.Sprintf("target has lacked the source's newest change for %s (alerts.maxLag %s)", st.Lag.Round(time.Minute), p.opts.MaxLag)})
	}
	for _, w := range st.ExpiryWarnings {
		if !strings.HasPrefix(w, expiryUnknown) {
			st.Alerts = append(st.Alerts, Alert{Kind: AlertExpiry, Message: w + fmt.Sprintf(" (window %s)", window)})
		}
	}
}

// expiryUnknown starts the warning for an expiry that could not be read
// (shown, but not an alert: the status error says more).
const expiryUnknown = "expiry not known: "

// expiryWindow is the pair's expiry warning window.
func (p *Pipeline) expiryWindow(pair langsync.Pair) time.Duration {
	if p.opts.ExpiryWarningFor != nil {
		if w := p.opts.ExpiryWarningFor(pair); w > 0 {
			return w
		}
	}
	return p.opts.ExpiryWarning
}

// QuarantineSummary is the count of quarantined backups and the most
// recently quarantined one.
type QuarantineSummary struct {
	Count  int       `json:"count"`
	Newest string    `json:"newest"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
}

// RunSummary is a short view of a run.
type RunSummary struct {
	ID      string            `json:"id"`
	Phase   langsync.RunPhase `json:"phase"`
	Step    string            `json:"step,omitempty"`
	Percent int               `json:"percent,omitempty"`
	Started time.Time         `json:"started"`
	NextAt  time.Time         `json:"nextAt,omitempty"`
	Error   string            `json:"error,omitempty"`
	// Retrying says why the current step waits to try again (an
	// unreachable resource, a failed job, a transient error).
	Retrying string `json:"retrying,omitempty"`
	// Targets is each target's outcome so far.
	Targets []TargetOutcome `json:"targets,omitempty"`
}

// TargetOutcome is how one target of a run fared.
type TargetOutcome struct {
	Target string `json:"target"`
	// Project is the project name on the target.
	Project string `json:"project"`
	// Phase: running, succeeded (every step of the target done) or failed
	// (a step of the target failed, or the run failed before it).
	Phase langsync.RunPhase `json:"phase"`
	// Step is the failed step, or the one in progress.
	Step  string `json:"step,omitempty"`
	Error string `json:"error,omitempty"`
}

// Summarize returns a run's summary.
func Summarize(r *langsync.Run) *RunSummary {
	s := &RunSummary{ID: r.ID, Phase: r.Phase, Started: r.Created, NextAt: r.NextAt, Error: r.Error}
	if i := r.Current(); i >= 0 {
		cur := r.Steps[i]
		s.Step, s.Percent = cur.ID(), cur.Percent
		switch {
		case r.Phase.Terminal():
		case cur.Unreachable != nil:
			o := cur.Unreachable
			s.Retrying = fmt.Sprintf("%s unreachable since %s (%s): %s", o.Resource, o.Since.UTC().Format(time.RFC3339), tries(o.Tries), o.Error)
		case cur.Error != "" && len(cur.History) > 0:
			s.Retrying = fmt.Sprintf("job attempt %d after: %s", len(cur.History)+1, cur.Error)
		case cur.Error != "":
			s.Retrying = cur.Error
		}
	}
	for _, pair := range r.Pairs {
		s.Targets = append(s.Targets, targetOutcome(r, pair))
	}
	return s
}

func targetOutcome(r *langsync.Run, pair langsync.Pair) TargetOutcome {
	o := TargetOutcome{Target: pair.Target, Project: pair.TargetName(), Phase: langsync.RunRunning}
	planned, done := 0, 0
	for _, st := range r.Steps {
		if st.Target != pair.Target {
			continue
		}
		planned++
		switch {
		case st.Status == langsync.StepFailed:
			o.Phase, o.Step, o.Error = langsync.RunFailed, st.ID(), st.Error
			return o
		case st.Status.Done():
			done++
		case o.Step == "":
			o.Step = st.ID()
		}
	}
	switch {
	case planned > 0 && done == planned:
		o.Phase = langsync.RunSucceeded
	case r.Phase.Terminal():
		// The run ended before this target (a source step failed).
		o.Phase, o.Step = langsync.RunFailed, ""
	}
	return o
}

// Status reports every configured pair: last replication, fingerprint, lag
// behind the source, the active run, the last error, the quarantined
// backups of its source project and the expiry of the deployed models on
// both sides. It only reads.
func (p *Pipeline) Status(ctx context.Context) ([]PairStatus, error) {
	var out []PairStatus
	sources := map[string]*sourceView{}
	srcExpiry := map[string][]DeployedExpiry{}
	srcExpiryErr := map[string]error{}
	quarantined := map[string]*QuarantineSummary{}
	for _, pair := range p.cfg.Pairs() {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		st := PairStatus{Pair: pair}
		ps, _, err := p.loadPair(ctx, pair)
		if err != nil {
			st.Error = err.Error()
			out = append(out, st)
			continue
		}
		st.LastReplicated, st.Fingerprint = ps.Replicated, ps.Fingerprint
		st.LastRun, st.LastRunPhase, st.LastError = ps.LastRun, ps.LastRunPhase, ps.LastError
		for _, l := range sortedKeys(ps.VersionChanges) {
			st.VersionChanges = append(st.VersionChanges, l+": "+ps.VersionChanges[l])
		}
		if ps.ActiveRun != "" {
			r, _, err := p.loadRun(ctx, ps.ActiveRun)
			switch {
			case err == nil && !r.Phase.Terminal():
				st.ActiveRun = Summarize(r)
			case err == nil && r.Phase == langsync.RunFailed && st.LastRun != r.ID:
				// The run failed but could not record it in the pair.
				st.LastRun, st.LastRunPhase, st.LastError = r.ID, r.Phase, r.Error
			case err != nil && !errors.Is(err, ErrNotFound):
				st.Error = err.Error()
			}
		}
		sk := pair.Source + "/" + pair.Project
		if qs, ok := quarantined[sk]; ok {
			st.Quarantine = qs
		} else {
			qs, err := p.quarantineSummary(ctx, pair)
			if err != nil && st.Error == "" {
				st.Error = err.Error()
			}
			quarantined[sk], st.Quarantine = qs, qs
		}
		sv := sources[sk]
		if sv == nil {
			sv = p.viewSource(ctx, pair)
			sources[sk] = sv
		}
		if sv.err != nil {
			if st.Error == "" {
				st.Error = sv.err.Error()
			}
		} else {
			cur := (langsync.SourceState{LastModified: sv.proj.LastModified, LastTrained: sv.proj.LastTrained, LastDeployed: sv.proj.LastDeployed}).Latest()
			st.SourceChanged = cur
			if rec := ps.Source.Latest(); cur.After(rec) {
				st.Lag = max(p.clock.Now().Sub(cur), time.Nanosecond)
			}
		}
		ek := sk + "\x00" + strings.Join(pair.Deployments, ",")
		if _, ok := srcExpiry[ek]; !ok {
			srcExpiry[ek], srcExpiryErr[ek] = p.readExpiry(ctx, pair.Source, pair.Project, pair.Deployments)
		}
		st.SourceExpiry = srcExpiry[ek]
		tgt, terr := p.readExpiry(ctx, pair.Target, pair.TargetName(), pair.Deployments)
		st.TargetExpiry, st.Expires = tgt, earliest(tgt)
		window := p.expiryWindow(pair)
		st.ExpiryWarnings = expiryWarnings(st.SourceExpiry, tgt, p.clock.Now(), window)
		for _, err := range []error{srcExpiryErr[ek], terr} {
			if err != nil {
				st.ExpiryWarnings = append(st.ExpiryWarnings, expiryUnknown+err.Error())
			}
		}
		p.alerts(&st, window)
		out = append(out, st)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// quarantineSummary counts the quarantined backups of the pair's source
// project (nil when there are none).
func (p *Pipeline) quarantineSummary(ctx context.Context, pair langsync.Pair) (*QuarantineSummary, error) {
	bq, ok := p.opts.Backups.(BackupQuarantine)
	if !ok {
		return nil, nil
	}
	qs, err := bq.Quarantined(ctx, pair.Source, pair.Project)
	if err != nil {
		return nil, fmt.Errorf("listing quarantined backups: %w", err)
	}
	if len(qs) == 0 {
		return nil, nil
	}
	sum := &QuarantineSummary{Count: len(qs)}
	for _, q := range qs {
		if sum.Newest == "" || q.Time.After(sum.Time) {
			sum.Newest, sum.Reason, sum.Time = q.Key, q.Reason, q.Time
		}
	}
	return sum, nil
}

// Sweep finds runs whose wake-up is overdue by more than grace (a lost
// message, a crashed host) and returns a fresh Next for each, with a new
// sequence number so that Service Bus duplicate detection lets it through.
func (p *Pipeline) Sweep(ctx context.Context, grace time.Duration) ([]Next, error) {
	now := p.clock.Now()
	seen := map[string]bool{}
	var out []Next
	var errs []error
	for _, pair := range p.cfg.Pairs() {
		ps, _, err := p.loadPair(ctx, pair)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ps.ActiveRun == "" || seen[ps.ActiveRun] {
			continue
		}
		seen[ps.ActiveRun] = true
		r, etag, err := p.loadRun(ctx, ps.ActiveRun)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.Phase.Terminal() || r.NextAt.Add(grace).After(now) {
			continue
		}
		if _, err := p.saveRun(ctx, r, etag); err != nil {
			if !errors.Is(err, ErrConflict) {
				errs = append(errs, err)
			}
			continue
		}
		p.log.Info("overdue run re-woken", "run", r.ID, "nextAt", r.NextAt)
		n := p.nextFor(r)
		n.At = now
		out = append(out, n)
	}
	return out, errors.Join(errs...)
}
