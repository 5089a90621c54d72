package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// Training config versions expire, and a target need not offer the
// source's (docs/reference/language-rest.md#gotcha-14-training-config-versions-expire):
// the train step picks the version before its POST and records the choice
// (docs/pipeline.md#training-config-versions).

// pickVersion sets the train step's TrainingConfigVersion (and
// VersionChange) from the source model's version, the config's override and
// what the target offers for the project's kind.
func (x *exec) pickVersion(ctx context.Context, s *langsync.Step) error {
	pair, c, err := x.trainer(s.Target)
	if err != nil {
		return err
	}
	m, err := x.model(s.Model)
	if err != nil {
		return err
	}
	proj, err := c.GetProject(ctx, pair.TargetName())
	if err != nil {
		return fmt.Errorf("reading target project (for its training config versions): %w", err)
	}
	offered, err := c.ListTrainingConfigVersions(ctx, proj.Kind)
	if err != nil {
		if errors.Is(err, ErrTransient) {
			return fmt.Errorf("listing training config versions of %s: %w", s.Target, err)
		}
		// The service will judge the version itself.
		x.log.Warn("cannot list training config versions; training with the source model's", "target", s.Target, "err", err)
		offered = nil
	}
	now := x.p.clock.Now()
	validUntil := now
	if slices.Contains(x.run.Renew, s.Target) {
		validUntil = now.Add(x.p.opts.ExpiryWarning)
	}
	v, change, err := chooseVersion(m.TrainingConfigVersion, pair.TrainingConfigVersion, s.Target, offered, now, validUntil)
	if err != nil {
		return err
	}
	s.TrainingConfigVersion, s.VersionChange = v, change
	return nil
}

// chooseVersion picks the version a target trains with:
//
//   - the override (projects[].trainingConfigVersion) when set; it must be
//     offered and unexpired ("latest" is left to the service);
//   - else the source model's version when the target offers it and it is
//     valid past validUntil (now; when renewing, the end of the expiry
//     warning window);
//   - else the newest such GA version the target offers, then the newest
//     preview; when renewing and none outlasts the window, the newest
//     unexpired one.
//
// change says why the result differs from the source's ("" when it does
// not). With no version listed at all it keeps the source's.
func chooseVersion(source, override, target string, offered []TrainingConfigVersion, now, validUntil time.Time) (version, change string, err error) {
	byName := map[string]TrainingConfigVersion{}
	for _, v := range offered {
		byName[v.Version] = v
	}
	live := func(v TrainingConfigVersion, until time.Time) bool {
		return v.Expires.IsZero() || v.Expires.After(until)
	}
	usable := func(until time.Time) []string {
		var out []string
		for _, v := range offered {
			if live(v, until) {
				out = append(out, v.Version)
			}
		}
		return out
	}
	if override != "" {
		if v, ok := byName[override]; ok && !live(v, now) {
			return "", "", fmt.Errorf("the config's trainingConfigVersion %q expired on %s on %s (offered: %s)", override, day(v.Expires), target, list(usable(now)))
		} else if !ok && len(offered) > 0 && !strings.EqualFold(override, "latest") {
			return "", "", fmt.Errorf("the config's trainingConfigVersion %q is not offered by %s (offered: %s)", override, target, list(usable(now)))
		}
		if override == source {
			return override, "", nil
		}
		return override, fmt.Sprintf("trained on %s, not the source's %s: the config's trainingConfigVersion", override, orNone(source)), nil
	}
	if len(offered) == 0 {
		return source, "", nil
	}
	var why string
	switch v, ok := byName[source]; {
	case source == "":
		why = "the source model reports none"
	case !ok:
		why = "not offered by " + target
	case !live(v, now):
		why = fmt.Sprintf("it expired on %s on %s", day(v.Expires), target)
	case !live(v, validUntil):
		why = fmt.Sprintf("renewing: it expires %s on %s, within the expiry warning window", day(v.Expires), target)
	default:
		return source, "", nil
	}
	pick := newest(offered, func(v TrainingConfigVersion) bool { return live(v, validUntil) })
	if pick == "" && validUntil.After(now) {
		pick = newest(offered, func(v TrainingConfigVersion) bool { return live(v, now) })
		if pick == source {
			return source, "", nil
		}
	}
	if pick == "" {
		return "", "", fmt.Errorf("%s offers no unexpired training config version for this project kind (source model's: %s, %s)", target, orNone(source), why)
	}
	return pick, fmt.Sprintf("trained on %s, not the source's %s: %s", pick, orNone(source), why), nil
}

// newest returns the newest GA version that ok accepts, else the newest
// preview ("" if none). Version names are dates, so newest sorts last.
func newest(offered []TrainingConfigVersion, ok func(TrainingConfigVersion) bool) string {
	best := ""
	for _, v := range offered {
		if !ok(v) {
			continue
		}
		bp, vp := isPreview(best), isPreview(v.Version)
		if best == "" || (bp && !vp) || (bp == vp && v.Version > best) {
			best = v.Version
		}
	}
	return best
}

func isPreview(v string) bool { return strings.HasSuffix(v, "-preview") }

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func list(vs []string) string {
	if len(vs) == 0 {
		return "none"
	}
	return strings.Join(vs, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
