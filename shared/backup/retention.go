package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/langsync"
)

// Retention says which backups to keep per (source, project, model). Only
// verified backups count: a verified backup is kept when it is among the
// last KeepLast verified ones or newer than KeepDays days, and the newest
// verified backup is always kept. Zero turns a rule off; with both zero
// everything is kept.
type Retention struct {
	KeepLast int `json:"keepLast" yaml:"keepLast"`
	KeepDays int `json:"keepDays" yaml:"keepDays"`
}

// Bounds of Retention: a larger KeepDays would overflow the cutoff time,
// and neither bound is a real policy.
const (
	MaxKeepLast = 100000
	MaxKeepDays = 36500
)

// ErrRetention: a retention value is out of range (see Retention.Validate).
var ErrRetention = errors.New("backup: invalid retention")

// Validate names every value out of range and the valid range.
func (r Retention) Validate() error {
	var errs []error
	if r.KeepLast < 0 || r.KeepLast > MaxKeepLast {
		errs = append(errs, fmt.Errorf("%w: keepLast %d is out of range: want 0 (rule off) to %d", ErrRetention, r.KeepLast, MaxKeepLast))
	}
	if r.KeepDays < 0 || r.KeepDays > MaxKeepDays {
		errs = append(errs, fmt.Errorf("%w: keepDays %d is out of range: want 0 (rule off) to %d", ErrRetention, r.KeepDays, MaxKeepDays))
	}
	return errors.Join(errs...)
}

// PruneOptions adjust Prune; nil means a real run with the cache.
type PruneOptions struct {
	// DryRun deletes and quarantines nothing; the result says what would go.
	DryRun bool
	// Reverify ignores the verification cache and reads every backup.
	Reverify bool
	// By is recorded in quarantine records (default "retention").
	By string
}

// PruneResult is what Prune did, or would do on a dry run.
type PruneResult struct {
	// Deleted backups: verified ones beyond the policy.
	Deleted []langsync.BackupRef `json:"deleted"`
	// Quarantined: backups that failed verification now and were set
	// aside instead of deleted (each with its Quarantine).
	Quarantined []langsync.BackupRef `json:"quarantined"`
	// Unverified: backups kept because they could not be checked (a read
	// failed); they do not count, and the error says why.
	Unverified []langsync.BackupRef `json:"unverified"`
	// Kept is how many backups remain (verified, quarantined before, or
	// unverified).
	Kept int `json:"kept"`
}

type judged struct {
	ref langsync.BackupRef
	// cached: verified by the cache, not by reading it now.
	cached bool
}

// Prune applies the retention policy to project's backups (every project
// when ""). Every backup that is not quarantined is verified: from the
// verification cache (valid while the blob keeps its ETag, size and
// sha256) or by reading it. Backups that fail are quarantined, never
// deleted; quarantined ones are never deleted either. Only verified
// backups count for KeepLast and KeepDays, and the newest verified backup
// of each (source, project, model) is kept; before anything of a group is
// deleted that backup is read and verified again, whatever the cache says.
// Deletion failures (e.g. a write-once container) are joined into the
// error and the rest carry on.
func (c *Catalog) Prune(ctx context.Context, project string, policy Retention, opts *PruneOptions) (PruneResult, error) {
	var o PruneOptions
	if opts != nil {
		o = *opts
	}
	if o.By == "" {
		o.By = "retention"
	}
	res := PruneResult{}
	if err := policy.Validate(); err != nil {
		return res, err
	}
	refs, infos, err := c.listInfos(ctx, "")
	if err != nil {
		return res, err
	}
	groups := map[string][]langsync.BackupRef{}
	var order []string
	for _, r := range refs {
		if project != "" && r.Project != project {
			continue
		}
		g := r.Source + "/" + r.Project + "/" + r.Model
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], r)
	}
	total := 0
	for _, g := range order {
		total += len(groups[g])
	}
	if policy.KeepLast == 0 && policy.KeepDays == 0 {
		res.Kept = total
		return res, nil
	}
	cutoff := c.now().Add(-time.Duration(policy.KeepDays) * 24 * time.Hour)
	doomed := func(verified []judged) []langsync.BackupRef {
		var out []langsync.BackupRef
		for rank, v := range verified { // newest first
			keep := rank == 0 ||
				policy.KeepLast > 0 && rank < policy.KeepLast ||
				policy.KeepDays > 0 && v.ref.Time.After(cutoff)
			if !keep {
				out = append(out, v.ref)
			}
		}
		slices.Reverse(out) // oldest first, as listed
		return out
	}
	var errs []error
	setAside := func(r langsync.BackupRef, verr error) {
		reason := "failed verification: " + verr.Error()
		if o.DryRun {
			r.Quarantine = &langsync.Quarantine{Reason: reason, Time: c.now().UTC(), By: o.By}
			res.Quarantined = append(res.Quarantined, r)
			return
		}
		q, _, err := c.Quarantine(ctx, r.Key, reason, o.By)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w (%v)", err, verr))
			res.Unverified = append(res.Unverified, r)
			return
		}
		r.Quarantine = &q
		res.Quarantined = append(res.Quarantined, r)
	}
	for _, g := range order {
		rs := groups[g] // oldest first
		var verified []judged
		for i := len(rs) - 1; i >= 0; i-- {
			r := rs[i]
			if r.Quarantine != nil {
				continue
			}
			if !o.Reverify && c.cachedVerified(ctx, infos[r.Key]) {
				verified = append(verified, judged{ref: r, cached: true})
				continue
			}
			_, _, err := c.Inspect(ctx, r.Key)
			switch {
			case err == nil:
				verified = append(verified, judged{ref: r})
			case IsCorrupt(err):
				setAside(r, err)
			default:
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
				res.Unverified = append(res.Unverified, r)
				errs = append(errs, err)
			}
		}
		// Deleting is safe only while a good backup stays: the one kept
		// above all is read again rather than trusted from the cache.
		safe := true
		for len(verified) > 0 && verified[0].cached && len(doomed(verified)) > 0 {
			_, _, err := c.Inspect(ctx, verified[0].ref.Key)
			if err == nil {
				verified[0].cached = false
				break
			}
			if !IsCorrupt(err) {
				res.Unverified = append(res.Unverified, verified[0].ref)
				errs = append(errs, fmt.Errorf("%w (nothing of %s was deleted)", err, g))
				safe = false
				break
			}
			setAside(verified[0].ref, err)
			verified = verified[1:]
		}
		if !safe {
			continue
		}
		for _, r := range doomed(verified) {
			if !o.DryRun {
				if err := c.Delete(ctx, r.Key); err != nil {
					errs = append(errs, err)
					continue
				}
				c.forget(ctx, r.Key)
				c.logger().Info("backup pruned", "key", r.Key, "project", r.Project)
			}
			res.Deleted = append(res.Deleted, r)
		}
	}
	res.Kept = total - len(res.Deleted)
	return res, errors.Join(errs...)
}

// forget removes the state records of a deleted backup (tidiness only).
func (c *Catalog) forget(ctx context.Context, key string) {
	if c.StateContainer == "" {
		return
	}
	for _, k := range []string{langsync.VerifiedKey(key), langsync.QuarantineKey(key)} {
		if err := c.Store.Delete(ctx, c.StateContainer, k, ""); err != nil && !errors.Is(err, blobstore.ErrNotFound) {
			c.logger().Warn("could not remove the record of a deleted backup", "record", k, "err", err)
		}
	}
}

// ErrNewestVerified: Remove refused to delete the newest verified backup
// of its source, project and model (see RemoveOptions.Force).
var ErrNewestVerified = errors.New("backup: refusing to delete the newest verified backup")

// RemoveOptions adjust Remove.
type RemoveOptions struct {
	// Force deletes even the newest verified backup of its source,
	// project and model.
	Force bool
	// By is recorded when a newer backup found corrupt on the way is
	// quarantined (default "delete").
	By string
}

// Remove deletes one backup by its full key, quarantined or not, and its
// state records. Unless forced it refuses to delete the newest verified
// backup of its (source, project, model): the newer backups are verified
// first, newest first, and only when one passes may the backup go (one
// that is corrupt itself may go too). It fails on a write-once container
// while the blob is under its retention period.
func (c *Catalog) Remove(ctx context.Context, key string, opts *RemoveOptions) (langsync.BackupRef, error) {
	var o RemoveOptions
	if opts != nil {
		o = *opts
	}
	if o.By == "" {
		o.By = "delete"
	}
	ref, err := c.Find(ctx, "", key)
	if err != nil {
		return ref, err
	}
	if ref.Quarantine == nil && !o.Force {
		newest, err := c.newestVerified(ctx, ref, o.By)
		if err != nil {
			return ref, err
		}
		if newest {
			return ref, fmt.Errorf("%w: %s is the newest verified backup of %s/%s (model %q); without it an older backup, or none, would be restored",
				ErrNewestVerified, ref.Key, ref.Source, ref.Project, ref.Model)
		}
	}
	if err := c.Delete(ctx, ref.Key); err != nil {
		return ref, err
	}
	c.forget(ctx, ref.Key)
	c.logger().Info("backup deleted", "key", ref.Key, "quarantined", ref.Quarantine != nil)
	return ref, nil
}

// newestVerified reports whether ref is the newest backup of its group
// that passes verification now.
func (c *Catalog) newestVerified(ctx context.Context, ref langsync.BackupRef, by string) (bool, error) {
	refs, err := c.list(ctx, langsync.BackupPrefix(ref.Source, ref.Project))
	if err != nil {
		return false, err
	}
	for i := len(refs) - 1; i >= 0 && refs[i].Key != ref.Key; i-- {
		r := refs[i]
		if r.Model != ref.Model || r.Quarantine != nil {
			continue
		}
		_, _, err := c.Inspect(ctx, r.Key)
		if err == nil {
			return false, nil
		}
		if !IsCorrupt(err) {
			return false, fmt.Errorf("backup: cannot tell whether %s is the newest verified backup: %w", ref.Key, err)
		}
		if _, _, qerr := c.Quarantine(ctx, r.Key, "failed verification: "+err.Error(), by); qerr != nil {
			c.logger().Warn("could not quarantine a backup that failed verification", "key", r.Key, "err", qerr)
		}
	}
	_, _, err = c.Inspect(ctx, ref.Key)
	switch {
	case err == nil:
		return true, nil
	case IsCorrupt(err):
		return false, nil
	default:
		return false, fmt.Errorf("backup: cannot tell whether %s is the newest verified backup: %w", ref.Key, err)
	}
}
