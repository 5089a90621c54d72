package pipeline

import (
	"context"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// startOwed runs as the run ends, before its final save: requests that
// joined it after it had read the source (PairState.Owed behind this run)
// get a new run, which x.run.FollowedBy names and x.follow wakes. That run
// exports again and retrains only targets whose fingerprint moved (or that
// this run did not replicate): a request made moments after this run read
// the source costs an export, not a training. A request the run did carry
// after all (its inspect started after the request) is cleared instead. Started before the final save so that a crash in
// between leaves this run unfinished: the sweep ends it again, and finds
// the pairs held by the new run with nothing owed.
func (x *exec) startOwed(ctx context.Context) {
	r := x.run
	if r.FollowedBy != "" {
		return
	}
	var targets []string
	var req Request
	failed := map[string]bool{}
	for _, f := range FailedTargets(r) {
		failed[f.Target] = true
	}
	for _, pair := range r.Pairs {
		ps, _, err := x.p.loadPair(ctx, pair)
		if err != nil {
			x.log.Warn("reading a pair for requests owed to it", "pair", pair.String(), "err", err)
			continue
		}
		o := ps.Owed
		if o == nil || o.Behind != r.ID {
			continue
		}
		if r.ReadSourceAfter(o.Requested) {
			x.clearOwed(ctx, pair)
			continue
		}
		if len(targets) == 0 || o.Requested.Before(req.Since) {
			req.Since, req.Trigger = o.Requested, o.Trigger
		}
		// The new run retrains only what changed since this run, unless
		// this run did not replicate the target and the request wanted a
		// full replication.
		if !o.SkipIfUnchanged && (failed[pair.Target] || x.targetSkipped(pair.Target)) {
			req.MustRetrain = append(req.MustRetrain, pair.Target)
		}
		targets = append(targets, pair.Target)
	}
	if len(targets) == 0 {
		return
	}
	req.Project, req.Source, req.Targets, req.finishing = r.Project, r.Source, targets, r.ID
	req.SkipIfUnchanged = true
	req.Reason = "requested at " + req.Since.UTC().Format(time.RFC3339) + " while run " + r.ID + " had already read the source"
	x.log.Info("starting the run owed to requests behind this one", "targets", targets, "requested", req.Since)
	tickets, err := x.p.Start(ctx, req)
	if err != nil {
		// The requests stay on the pairs; sync starts their run.
		x.log.Error("starting the run owed to requests behind this one; sync will start it", "targets", targets, "err", err)
		return
	}
	for _, t := range tickets {
		if !t.Joined {
			r.FollowedBy = t.Run
			n := t.Next
			x.follow = &n
		}
	}
}

// clearOwed drops a request the run carried after all.
func (x *exec) clearOwed(ctx context.Context, pair langsync.Pair) {
	err := x.p.updatePair(ctx, pair, func(ps *langsync.PairState) {
		if ps.Owed != nil && ps.Owed.Behind == x.run.ID {
			ps.Owed = nil
		}
	})
	if err != nil {
		x.log.Warn("clearing a request the run carried", "pair", pair.String(), "err", err)
	}
}
