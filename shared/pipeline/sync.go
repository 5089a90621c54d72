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

// Action is what Sync decided for a pair.
type Action string

// Sync actions.
const (
	// ActionNone: up to date; nothing was written or sent.
	ActionNone Action = "none"
	// ActionReplicate: a run was started (or would be, with DryRun).
	ActionReplicate Action = "replicate"
	// ActionJoin: a run for the pair is already active.
	ActionJoin Action = "join"
	// ActionError: the pair could not be checked; Reason says why.
	ActionError Action = "error"
)

// Decision is Sync's verdict on one pair, with the reason.
type Decision struct {
	Pair   langsync.Pair `json:"pair"`
	Action Action        `json:"action"`
	Reason string        `json:"reason"`
	// Retrain is false when only the source's timestamps moved: the run
	// exports and fingerprints, and retrains only if the fingerprint changed.
	Retrain bool `json:"retrain,omitempty"`
	// Renew: the target's model expires within the expiry warning window
	// (renewExpiring): the run retrains it on a longer-lived version.
	Renew bool `json:"renew,omitempty"`
	// Run is the run started or joined.
	Run string `json:"run,omitempty"`
}

// SyncOptions tune Sync.
type SyncOptions struct {
	// DryRun decides without starting runs.
	DryRun bool
}

// SyncResult is what Sync decided and the wake-ups the host must send.
type SyncResult struct {
	Decisions []Decision `json:"decisions"`
	Wake      []Next     `json:"wake,omitempty"`
}

type sourceView struct {
	proj *Project
	deps []Deployment
	err  error
}

// Sync is the daily change check: per configured pair it compares the
// source project's timestamps and deployments with what was last
// replicated, and the target's deployments and expiry dates, and starts
// runs only where something changed. When nothing changed it sends only
// GETs (3 per pair: source project and deployments, once per source
// project, and the target's deployments) and writes nothing.
func (p *Pipeline) Sync(ctx context.Context, opts SyncOptions) (*SyncResult, error) {
	now := p.clock.Now()
	window := p.opts.ExpiryWindow
	sources := map[string]*sourceView{}
	res := &SyncResult{}
	for _, pair := range p.cfg.Pairs() {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		sk := pair.Source + "/" + pair.Project
		sv := sources[sk]
		if sv == nil {
			sv = p.viewSource(ctx, pair)
			sources[sk] = sv
		}
		res.Decisions = append(res.Decisions, p.decide(ctx, pair, sv, now, window))
	}
	if opts.DryRun {
		return res, nil
	}
	// One run per source project covering its stale targets.
	type group struct {
		idx     []int
		skip    bool     // some target changed only in source timestamps
		retrain []string // targets that must be retrained
		renew   []string // targets retrained to renew an expiring model
		reasons []string
	}
	groups := map[string]*group{}
	var order []string
	for i, d := range res.Decisions {
		if d.Action != ActionReplicate {
			continue
		}
		k := d.Pair.Source + "\x00" + d.Pair.Project
		g := groups[k]
		if g == nil {
			g = &group{}
			groups[k] = g
			order = append(order, k)
		}
		g.idx = append(g.idx, i)
		if d.Renew {
			g.renew = append(g.renew, d.Pair.Target)
		}
		if d.Retrain {
			g.retrain = append(g.retrain, d.Pair.Target)
		} else {
			g.skip = true
		}
		g.reasons = append(g.reasons, d.Pair.Target+": "+d.Reason)
	}
	for _, k := range order {
		g := groups[k]
		first := res.Decisions[g.idx[0]].Pair
		var targets []string
		for _, i := range g.idx {
			targets = append(targets, res.Decisions[i].Pair.Target)
		}
		tickets, err := p.Start(ctx, Request{Project: first.Project, Source: first.Source, Targets: targets,
			Trigger: langsync.TriggerTimer, Reason: strings.Join(g.reasons, "; "), SkipIfUnchanged: g.skip, MustRetrain: g.retrain, Renew: g.renew})
		if err != nil {
			for _, i := range g.idx {
				res.Decisions[i].Action, res.Decisions[i].Reason = ActionError, fmt.Sprintf("%s; starting the run failed: %v", res.Decisions[i].Reason, err)
			}
			continue
		}
		for _, t := range tickets {
			for _, tp := range t.Pairs {
				for _, i := range g.idx {
					if res.Decisions[i].Pair.Target == tp.Target {
						res.Decisions[i].Run = t.Run
						if t.Joined {
							res.Decisions[i].Action = ActionJoin
						}
					}
				}
			}
			if !t.Joined {
				res.Wake = append(res.Wake, t.Next)
			}
		}
	}
	return res, nil
}

func (p *Pipeline) viewSource(ctx context.Context, pair langsync.Pair) *sourceView {
	c, err := p.opts.Clients(pair.Source)
	if err != nil {
		return &sourceView{err: err}
	}
	proj, err := c.GetProject(ctx, pair.Project)
	if errors.Is(err, ErrNotFound) {
		return &sourceView{err: fmt.Errorf("source project %q not found on %q", pair.Project, pair.Source)}
	}
	if err != nil {
		return &sourceView{err: fmt.Errorf("reading source project: %w", err)}
	}
	deps, err := c.ListDeployments(ctx, pair.Project)
	if err != nil {
		return &sourceView{err: fmt.Errorf("listing source deployments: %w", err)}
	}
	return &sourceView{proj: proj, deps: deps}
}

func (p *Pipeline) decide(ctx context.Context, pair langsync.Pair, sv *sourceView, now time.Time, window time.Duration) Decision {
	d := Decision{Pair: pair}
	fail := func(err error) Decision {
		d.Action, d.Reason = ActionError, err.Error()
		return d
	}
	replicate := func(retrain bool, format string, a ...any) Decision {
		d.Action, d.Retrain, d.Reason = ActionReplicate, retrain, fmt.Sprintf(format, a...)
		return d
	}
	ps, _, err := p.loadPair(ctx, pair)
	if err != nil {
		return fail(err)
	}
	if active, err := p.activeRun(ctx, ps.ActiveRun); err != nil {
		return fail(err)
	} else if active {
		d.Action, d.Run, d.Reason = ActionJoin, ps.ActiveRun, "run "+ps.ActiveRun+" is in progress"
		return d
	}
	if sv.err != nil {
		return fail(sv.err)
	}
	if o := ps.Owed; o != nil {
		// The run it waited for ended without starting it (a crash at its
		// end, or the start failed).
		return replicate(!o.SkipIfUnchanged, "a replication requested at %s behind run %s was never started", o.Requested.UTC().Format(time.RFC3339), o.Behind)
	}
	selected, err := selectDeployments(sv.deps, pair.Deployments)
	if err != nil {
		return fail(err)
	}
	if ps.Fingerprint == "" {
		return replicate(true, "never replicated")
	}
	c, err := p.opts.Clients(pair.Target)
	if err != nil {
		return fail(err)
	}
	// The target's deployments say all Sync needs of it: a missing project
	// answers 404 (ProjectNotFound) there too, so the project itself is
	// read only when no deployment is mirrored (a never-deployed source),
	// where an empty list would not tell a missing project apart. This
	// keeps an up-to-date pair at 3 GETs (docs/pipeline.md#fleet).
	missing := func() Decision {
		return replicate(true, "target project %q is missing on %q", pair.TargetName(), pair.Target)
	}
	if len(selected) == 0 {
		if _, err := c.GetProject(ctx, pair.TargetName()); errors.Is(err, ErrNotFound) {
			return missing()
		} else if err != nil {
			return fail(fmt.Errorf("reading target project: %w", err))
		}
	}
	tdeps, err := c.ListDeployments(ctx, pair.TargetName())
	if errors.Is(err, ErrNotFound) {
		return missing()
	} else if err != nil {
		return fail(fmt.Errorf("listing target deployments: %w", err))
	}
	byName := map[string]Deployment{}
	for _, td := range tdeps {
		byName[td.Name] = td
	}
	for _, sd := range selected {
		td, ok := byName[sd.Name]
		if !ok {
			return replicate(true, "target lacks deployment %q", sd.Name)
		}
		if !td.Expires.IsZero() && td.Expires.Sub(now) < window {
			return replicate(true, "target deployment %q expires %s (within %s)", sd.Name, td.Expires.Format("2006-01-02"), window)
		}
	}
	if p.opts.RenewExpiring {
		// The target's kind is the source's (import keeps it).
		why, err := p.renewReason(ctx, c, pair.TargetName(), sv.proj, selected, byName, now)
		if err != nil {
			return fail(err)
		}
		if why != "" {
			d.Renew = true
			return replicate(true, "%s", why)
		}
	}
	if moved := sourceMoved(ps.Source, sv.proj, selected); moved != "" {
		return replicate(false, "source changed: %s", moved)
	}
	// The replica is only as good as its backup: one that was set aside
	// must be replaced. Without retraining: the run writes a fresh backup
	// and skips the target when the fingerprint is unchanged.
	if why, err := p.backupSetAside(ctx, pair, ps); err != nil {
		return fail(err)
	} else if why != "" {
		return replicate(false, "%s", why)
	}
	d.Action, d.Reason = ActionNone, "up to date (fingerprint "+short(ps.Fingerprint)+")"
	return d
}

// backupSetAside says which backup of the pair's last replication is
// quarantined with no sound backup of the same fingerprint beside it ("":
// none, or the Backups do not track quarantine). Only listings are read.
func (p *Pipeline) backupSetAside(ctx context.Context, pair langsync.Pair, ps *langsync.PairState) (string, error) {
	bq, ok := p.opts.Backups.(BackupQuarantine)
	if !ok || len(ps.Backups) == 0 {
		return "", nil
	}
	qs, err := bq.Quarantined(ctx, pair.Source, pair.Project)
	if err != nil {
		return "", fmt.Errorf("listing quarantined backups: %w", err)
	}
	set := map[string]QuarantinedBackup{}
	for _, q := range qs {
		set[q.Key] = q
	}
	labels := make([]string, 0, len(ps.Backups))
	for l := range ps.Backups {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, label := range labels {
		q, ok := set[ps.Backups[label]]
		if !ok {
			continue
		}
		usable, err := bq.Usable(ctx, pair.Source, pair.Project, label, ps.Fingerprints[label])
		if err != nil {
			return "", fmt.Errorf("looking for a backup to replace %s: %w", q.Key, err)
		}
		if !usable {
			return fmt.Sprintf("backup %s is quarantined (%s); a fresh backup is needed", q.Key, q.Reason), nil
		}
	}
	return "", nil
}

// sourceMoved describes what differs between the recorded and current
// source, or returns "".
func sourceMoved(rec langsync.SourceState, proj *Project, deps []Deployment) string {
	var diffs []string
	cmp := func(name string, was, now time.Time) {
		if !was.Equal(now) {
			diffs = append(diffs, fmt.Sprintf("%s %s -> %s", name, fmtTime(was), fmtTime(now)))
		}
	}
	cmp("lastModifiedDateTime", rec.LastModified, proj.LastModified)
	cmp("lastTrainedDateTime", rec.LastTrained, proj.LastTrained)
	cmp("lastDeployedDateTime", rec.LastDeployed, proj.LastDeployed)
	cur := map[string]string{}
	for _, d := range deps {
		cur[d.Name] = d.ModelID
	}
	var names []string
	for n := range cur {
		names = append(names, n)
	}
	for n := range rec.Deployments {
		if _, ok := cur[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if rec.Deployments[n] != cur[n] {
			diffs = append(diffs, fmt.Sprintf("deployment %q model %q -> %q", n, rec.Deployments[n], cur[n]))
		}
	}
	return strings.Join(diffs, ", ")
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "(none)"
	}
	return t.UTC().Format(time.RFC3339)
}
