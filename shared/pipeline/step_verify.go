package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/langsync/langsync/shared/langsync"
)

// Verifier is what the verify step reads of the target: the project and
// which models its deployments serve.
type Verifier interface {
	ProjectReader
	DeploymentReader
}

func (x *exec) verifier(target string) (langsync.Pair, Verifier, error) { return x.target(target) }

// verify checks the target's project and deployments (and probes them
// against the source's), then records the pair state.
func (x *exec) verify(ctx context.Context, s *langsync.Step) error {
	r := x.run
	pair, c, err := x.verifier(s.Target)
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
	compared, disagreed := 0, 0
	if r.Kind == langsync.RunReplicate {
		// A restore has no live source to compare with.
		compared, disagreed = x.probe(ctx, pair)
	}
	changes := x.versionChanges(s.Target)
	x.warnVersionChanges(pair, changes, compared, disagreed)
	skipped := x.targetSkipped(s.Target)
	fps := x.fingerprints()
	now := x.p.clock.Now()
	err = x.p.updatePair(ctx, pair, func(ps *langsync.PairState) {
		if ps.ActiveRun == r.ID {
			ps.ActiveRun = ""
		}
		ps.LastRun, ps.LastRunPhase, ps.LastError, ps.LastRunEnded = r.ID, langsync.RunSucceeded, "", now
		if !skipped {
			ps.VersionChanges = changes
		}
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

// versionChanges maps each model label the target's train steps trained on
// another version than the source model's to why (nil when none did).
func (x *exec) versionChanges(target string) map[string]string {
	var out map[string]string
	for _, st := range x.run.Steps {
		if st.Name == langsync.StepTrain && st.Target == target && st.Status == langsync.StepSucceeded && st.VersionChange != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[st.Model] = st.VersionChange
		}
	}
	return out
}

// warnVersionChanges records in the run each model the target was trained
// on another training config version than the source's, with what the
// probes found: a different version may predict differently.
func (x *exec) warnVersionChanges(pair langsync.Pair, changes map[string]string, compared, disagreed int) {
	labels := make([]string, 0, len(changes))
	for l := range changes {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		var probes string
		switch {
		case x.run.Kind != langsync.RunReplicate:
			probes = "a restore has no source to compare predictions with"
		case x.p.opts.Prober == nil || len(x.p.opts.Probes) == 0:
			probes = "no probes configured: predictions were not compared"
		case compared == 0:
			probes = "the probes could not be compared"
		default:
			probes = fmt.Sprintf("probes: %d of %d predictions agree with the source", compared-disagreed, compared)
		}
		x.run.Warnings = append(x.run.Warnings, fmt.Sprintf("%s/%s model %s %s; %s", pair.Target, pair.TargetName(), l, changes[l], probes))
	}
}

// probe classifies the configured probe texts on both sides and records any
// disagreement as a warning (a model retrained on the same data may still
// differ at the margin, so this reports rather than fails). It returns how
// many predictions it compared and how many differed.
func (x *exec) probe(ctx context.Context, pair langsync.Pair) (compared, disagreed int) {
	texts := x.p.opts.Probes
	if x.p.opts.Prober == nil || len(texts) == 0 {
		return 0, 0
	}
	for _, m := range x.run.Models {
		for _, dep := range m.Deployments {
			src, err := x.sourceProbes(ctx, dep, texts)
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
				if i < len(src) && i < len(tgt) {
					compared++
				}
				if i < len(src) && i < len(tgt) && src[i] != tgt[i] {
					disagreed++
					x.run.Warnings = append(x.run.Warnings, fmt.Sprintf("probe %q on %s: source %s says %q, target %s says %q", t, dep, x.run.Source, src[i], pair.Target, tgt[i]))
				}
			}
		}
	}
	return compared, disagreed
}

// sourceProbes are the source's predictions of the probe texts: started
// while the target trained (see overlap) when this process drove that, else
// asked now. They do not depend on the target.
func (x *exec) sourceProbes(ctx context.Context, dep string, texts []string) ([]string, error) {
	if v, ok, err := x.p.bg.take(ctx, probeKey(x.run.ID, dep), true); ok && err == nil {
		return v.([]string), nil
	}
	return x.p.opts.Prober.Classify(ctx, x.run.Source, x.run.Project, dep, texts)
}
