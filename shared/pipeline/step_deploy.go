package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// Deployer is what the deploy step needs of the target: which model a
// deployment serves (the evidence of a deployment started before a crash)
// and the deployment.
type Deployer interface {
	DeploymentReader
	BeginDeploy(ctx context.Context, project, deployment, modelLabel string) (langsync.Job, error)
}

func (x *exec) deployer(target string) (langsync.Pair, Deployer, error) { return x.target(target) }

// deployOps deploy the trained label under the source deployment's name.
func (x *exec) deployOps(s *langsync.Step) jobOps {
	target, label, dep := s.Target, s.Model, s.Deployment
	return jobOps{
		kind: langsync.JobDeploy, resource: target,
		begin: func(ctx context.Context) (langsync.Job, error) {
			pair, c, err := x.deployer(target)
			if err != nil {
				return langsync.Job{}, err
			}
			return c.BeginDeploy(ctx, pair.TargetName(), dep, label)
		},
		// No deployment job list either. Evidence: the deployment's
		// lastDeployedDateTime, read before the PUT, has changed and it
		// serves the label's current model. Else the PUT (idempotent) is
		// sent again.
		snapshot: func(ctx context.Context) (string, error) {
			d, _, err := x.deploymentState(ctx, target, dep, label)
			return d, err
		},
		recover: func(ctx context.Context, before string) (*langsync.Job, bool, error) {
			d, serving, err := x.deploymentState(ctx, target, dep, label)
			return nil, err == nil && serving && d != before, err
		},
	}
}

// deploymentState returns a deployment's lastDeployedDateTime ("" when
// missing) and whether it serves the label's current model.
func (x *exec) deploymentState(ctx context.Context, target, dep, label string) (string, bool, error) {
	pair, c, err := x.deployer(target)
	if err != nil {
		return "", false, err
	}
	d, m, err := targetDeployment(ctx, c, pair.TargetName(), dep, label)
	if err != nil || d == nil {
		return "", false, err
	}
	return d.LastDeployed.UTC().Format(time.RFC3339Nano), m != nil && m.ModelID == d.ModelID, nil
}

// targetDeployment finds a deployment and the model of a label on a resource.
func targetDeployment(ctx context.Context, c DeploymentReader, project, dep, label string) (*Deployment, *Model, error) {
	deps, err := c.ListDeployments(ctx, project)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	models, err := c.ListModels(ctx, project)
	if err != nil {
		return nil, nil, err
	}
	var d *Deployment
	for i := range deps {
		if deps[i].Name == dep {
			d = &deps[i]
		}
	}
	for i := range models {
		if models[i].Label == label {
			return d, &models[i], nil
		}
	}
	return d, nil, nil
}
