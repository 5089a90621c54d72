package emulator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TrainingConfigVersion is one training config version a resource offers
// (docs/reference/language-rest.md#gotcha-14-training-config-versions-expire):
// listed by GET global/training-config-versions and accepted by :train
// until it expires. A model trained with it gets its expiration date.
type TrainingConfigVersion struct {
	// Version is the name sent as trainingConfigVersion, e.g. "2022-05-01"
	// or "2022-05-15-preview". A name ending in "-preview" is a preview:
	// "latest" never resolves to one while a GA version is usable.
	Version string `json:"trainingConfigVersion"`
	// Expires is the version's modelExpirationDate: a date ("2027-01-05"),
	// or whole days relative to the resource's first start ("+365d",
	// "-1d": already expired). A version is expired from that date on.
	Expires string `json:"modelExpirationDate"`
	// Kinds limits the version to these project kinds; empty means every
	// kind.
	Kinds []string `json:"projectKinds,omitempty"`
}

// DefaultTrainingConfigVersions are offered when
// Options.TrainingConfigVersions is nil: the GA version of the examples,
// the preview the GetModel example shows, and a newer preview. "latest"
// resolves to 2022-05-01, the only GA one.
var DefaultTrainingConfigVersions = []TrainingConfigVersion{
	{Version: "2022-05-01", Expires: "+365d"},
	{Version: "2022-05-15-preview", Expires: "+180d"},
	{Version: "2023-04-15-preview", Expires: "+540d"},
}

// configVersion is a TrainingConfigVersion with its date resolved.
type configVersion struct {
	Version string
	Expires time.Time // a date, 00:00 UTC
	Kinds   []string
}

func (v configVersion) preview() bool { return strings.HasSuffix(v.Version, "-preview") }

func (v configVersion) offeredFor(kind string) bool {
	return len(v.Kinds) == 0 || slices.Contains(v.Kinds, kind)
}

// expired: from its expiration date on.
func (v configVersion) expired(now time.Time) bool { return !now.Before(v.Expires) }

// resolveVersions checks vs and resolves relative dates against base.
func resolveVersions(vs []TrainingConfigVersion, base time.Time) ([]configVersion, error) {
	day := base.UTC().Truncate(24 * time.Hour)
	seen := map[string]bool{}
	out := make([]configVersion, 0, len(vs))
	for _, v := range vs {
		if v.Version == "" || strings.EqualFold(v.Version, "latest") || strings.ContainsAny(v.Version, ",=: ") {
			return nil, fmt.Errorf("emulator: training config version %q: want a name such as 2022-05-01 (not latest)", v.Version)
		}
		cv := configVersion{Version: v.Version}
		for _, k := range v.Kinds {
			nk, ok := normalizeKind(k)
			if !ok {
				return nil, fmt.Errorf("emulator: training config version %s: unknown project kind %q (want one of %s)", v.Version, k, strings.Join(projectKinds, ", "))
			}
			cv.Kinds = append(cv.Kinds, nk)
		}
		kinds := cv.Kinds
		if len(kinds) == 0 {
			kinds = projectKinds
		}
		for _, k := range kinds {
			if seen[k+"\x00"+v.Version] {
				return nil, fmt.Errorf("emulator: training config version %s is listed twice for %s", v.Version, k)
			}
			seen[k+"\x00"+v.Version] = true
		}
		e := strings.TrimSpace(v.Expires)
		if days, ok := strings.CutSuffix(e, "d"); ok && (strings.HasPrefix(days, "+") || strings.HasPrefix(days, "-")) {
			n, err := strconv.Atoi(days)
			if err != nil {
				return nil, fmt.Errorf("emulator: training config version %s: bad expiry %q (want YYYY-MM-DD, +365d or -1d)", v.Version, v.Expires)
			}
			cv.Expires = day.AddDate(0, 0, n)
		} else {
			t, err := time.Parse(time.DateOnly, e)
			if err != nil {
				return nil, fmt.Errorf("emulator: training config version %s: bad expiry %q (want YYYY-MM-DD, +365d or -1d)", v.Version, v.Expires)
			}
			cv.Expires = t
		}
		out = append(out, cv)
	}
	slices.SortStableFunc(out, func(a, b configVersion) int { return strings.Compare(a.Version, b.Version) })
	return out, nil
}

// ParseTrainingConfigVersions parses the --training-config-versions flag:
// comma-separated [kind:]version=expiry entries, e.g.
// "2022-05-01=+365d,2022-05-15-preview=-1d,CustomEntityRecognition:2023-04-15-preview=2027-06-30".
// The expiry is a date or signed days from the resource's first start.
// An empty string means the defaults (nil).
func ParseTrainingConfigVersions(s string) ([]TrainingConfigVersion, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []TrainingConfigVersion
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		kv, exp, ok := strings.Cut(part, "=")
		if !ok || kv == "" || exp == "" {
			return nil, fmt.Errorf("emulator: training config version %q: want [kind:]version=expiry, e.g. 2022-05-01=+365d", part)
		}
		v := TrainingConfigVersion{Version: kv, Expires: exp}
		if kind, name, ok := strings.Cut(kv, ":"); ok {
			v.Kinds, v.Version = []string{kind}, name
		}
		out = append(out, v)
	}
	if _, err := resolveVersions(out, time.Now()); err != nil {
		return nil, err
	}
	return out, nil
}

// versionsFor lists the versions offered for a kind, sorted by name.
func (s *Server) versionsFor(kind string) []configVersion {
	var out []configVersion
	for _, v := range s.versions {
		if v.offeredFor(kind) {
			out = append(out, v)
		}
	}
	return out
}

// resolveTrainingVersion checks a :train body's trainingConfigVersion for
// a kind: "latest" is the newest unexpired GA version (the newest unexpired
// preview when no GA one is left); a named version must be offered and not
// expired. It returns the version and its expiration date.
func (s *Server) resolveTrainingVersion(kind, want string, now time.Time) (configVersion, error) {
	offered := s.versionsFor(kind)
	names := make([]string, 0, len(offered))
	for _, v := range offered {
		if !v.expired(now) {
			names = append(names, v.Version)
		}
	}
	if strings.EqualFold(want, "latest") {
		var best *configVersion
		for i := range offered {
			v := &offered[i]
			if v.expired(now) {
				continue
			}
			if best == nil || (best.preview() && !v.preview()) || (best.preview() == v.preview() && v.Version > best.Version) {
				best = v
			}
		}
		if best == nil {
			return configVersion{}, errBadRequest("InvalidParameterValue", "No training config version is available for %s: every one has expired.", kind)
		}
		return *best, nil
	}
	for _, v := range offered {
		if v.Version != want {
			continue
		}
		if v.expired(now) {
			return configVersion{}, errBadRequest("InvalidParameterValue", "The training config version %q expired on %s; use \"latest\" or one of: %s.", want, v.Expires.Format(time.DateOnly), strings.Join(names, ", "))
		}
		return v, nil
	}
	return configVersion{}, errBadRequest("InvalidParameterValue", "The training config version %q is not supported for %s; use \"latest\" or one of: %s.", want, kind, strings.Join(names, ", "))
}
