package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/langsync/langsync/shared/langsync"
)

// Trainer is what the train step needs of the target: the training job
// list (the evidence of a job started before a crash), the project's kind
// and the training config versions offered for it (to pick the version),
// and the training.
type Trainer interface {
	ProjectReader
	VersionLister
	ListTrainingJobs(ctx context.Context, project string) ([]TrainingJob, error)
	BeginTrain(ctx context.Context, project string, spec TrainSpec) (langsync.Job, error)
}

// VersionLister lists the training config versions a resource offers for
// a project kind, expired ones included when the service lists them.
type VersionLister interface {
	ListTrainingConfigVersions(ctx context.Context, kind langsync.ProjectKind) ([]TrainingConfigVersion, error)
}

// Training modes of conversation projects (TrainSpec.TrainingMode).
const (
	trainingModeStandard = "standard"
	trainingModeAdvanced = "advanced"
)

func (x *exec) trainer(target string) (langsync.Pair, Trainer, error) { return x.target(target) }

// trainOps train the target with the source model's label and evaluation
// options, on the training config version chosen before the POST (see
// chooseVersion).
func (x *exec) trainOps(s *langsync.Step) jobOps {
	target, label := s.Target, s.Model
	return jobOps{
		kind: langsync.JobTrain, resource: target,
		// Choosing the version only reads; it is saved with the claim, so
		// the run records what was sent and why.
		prepare: func(ctx context.Context) error { return x.pickVersion(ctx, s) },
		begin: func(ctx context.Context) (langsync.Job, error) {
			pair, c, err := x.trainer(target)
			if err != nil {
				return langsync.Job{}, err
			}
			m, err := x.model(label)
			if err != nil {
				return langsync.Job{}, err
			}
			version := s.TrainingConfigVersion
			if version == "" {
				version = m.TrainingConfigVersion
			}
			spec := TrainSpec{ModelLabel: m.Label, TrainingConfigVersion: version, EvaluationOptions: m.EvaluationOptions, TrainingMode: m.TrainingMode}
			job, err := c.BeginTrain(ctx, pair.TargetName(), spec)
			if err == nil || spec.TrainingMode != trainingModeAdvanced || errors.Is(err, ErrTransient) || ctx.Err() != nil {
				return job, err
			}
			// The target refused advanced training (a language or region
			// without it): the replica is trained standard rather than not
			// at all, and the step says so. The refused POST started no
			// job, so this one is the step's only job.
			spec.TrainingMode = trainingModeStandard
			job, err2 := c.BeginTrain(ctx, pair.TargetName(), spec)
			if err2 != nil {
				return job, err
			}
			s.Note = fmt.Sprintf("warning: trained standard, not advanced as the source model %q: %s refused advanced training: %v", m.Label, target, err)
			x.log.Warn("target refused advanced training; trained standard", "step", s.ID(), "err", err)
			return job, nil
		},
		// The training job list is the evidence: a job for the label that
		// was not in the list read before the POST is the one a crashed
		// handler started; it is adopted and polled, not started again.
		snapshot: func(ctx context.Context) (string, error) {
			ids, err := x.trainingJobs(ctx, target, label)
			if err != nil {
				return "", err
			}
			keys := make([]string, 0, len(ids))
			for k := range ids {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return strings.Join(keys, " "), nil
		},
		recover: func(ctx context.Context, before string) (*langsync.Job, bool, error) {
			jobs, err := x.trainingJobs(ctx, target, label)
			if err != nil {
				return nil, false, err
			}
			known := map[string]bool{}
			for _, k := range strings.Fields(before) {
				known[k] = true
			}
			var found *TrainingJob
			for loc, j := range jobs {
				if !known[loc] && (found == nil || j.Created.After(found.Created)) {
					found = &j
				}
			}
			if found == nil {
				return nil, false, nil
			}
			job := found.Job
			job.Kind = langsync.JobTrain
			return &job, false, nil
		},
	}
}

// trainingJobs lists the target's training jobs for a label by location.
func (x *exec) trainingJobs(ctx context.Context, target, label string) (map[string]TrainingJob, error) {
	pair, c, err := x.trainer(target)
	if err != nil {
		return nil, err
	}
	jobs, err := c.ListTrainingJobs(ctx, pair.TargetName())
	if errors.Is(err, ErrNotFound) {
		return map[string]TrainingJob{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]TrainingJob{}
	for _, j := range jobs {
		if j.ModelLabel == label {
			out[j.Job.Location] = j
		}
	}
	return out, nil
}
