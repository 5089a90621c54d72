package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// The expiry watch (docs/pipeline.md#expiry-watch): the service stops
// serving an expired model, and a model expires with its training config
// version (docs/reference/language-rest.md#gotcha-14-training-config-versions-expire).

// DeployedExpiry is when one deployed model stops being served on one
// side of a pair.
type DeployedExpiry struct {
	Resource   string `json:"resource"`
	Project    string `json:"project"`
	Deployment string `json:"deployment"`
	// Model is the label of the model the deployment serves ("" when it
	// is not in the model list).
	Model                 string `json:"model,omitempty"`
	TrainingConfigVersion string `json:"trainingConfigVersion,omitempty"`
	// ModelExpires is the model's modelExpirationDate, DeploymentExpires
	// the deployment's deploymentExpirationDate (zero: unknown).
	ModelExpires      time.Time `json:"modelExpires,omitzero"`
	DeploymentExpires time.Time `json:"deploymentExpires,omitzero"`
	// VersionExpires is the expiry the resource lists for the model's
	// training config version (zero: not listed).
	VersionExpires time.Time `json:"versionExpires,omitzero"`
}

// Expires is the earlier of the model's and the deployment's expiry
// (zero when neither is known).
func (e DeployedExpiry) Expires() time.Time {
	t := e.ModelExpires
	if t.IsZero() || (!e.DeploymentExpires.IsZero() && e.DeploymentExpires.Before(t)) {
		t = e.DeploymentExpires
	}
	return t
}

// readExpiry lists the expiry of the deployments of a project on a
// resource (only those named in want, when set). A missing project gives
// none.
func (p *Pipeline) readExpiry(ctx context.Context, resource, project string, want []string) ([]DeployedExpiry, error) {
	c, err := p.opts.Clients(resource)
	if err != nil {
		return nil, err
	}
	proj, err := c.GetProject(ctx, project)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading project %s/%s: %w", resource, project, err)
	}
	deps, err := c.ListDeployments(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("listing deployments of %s/%s: %w", resource, project, err)
	}
	if len(want) > 0 {
		var keep []Deployment
		for _, d := range deps {
			for _, w := range want {
				if d.Name == w {
					keep = append(keep, d)
				}
			}
		}
		deps = keep
	}
	models, err := c.ListModels(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("listing models of %s/%s: %w", resource, project, err)
	}
	byID := map[string]Model{}
	for _, m := range models {
		byID[m.ModelID] = m
	}
	versions := map[string]time.Time{}
	if vs, err := c.ListTrainingConfigVersions(ctx, proj.Kind); err == nil {
		for _, v := range vs {
			versions[v.Version] = v.Expires
		}
	}
	out := make([]DeployedExpiry, 0, len(deps))
	for _, d := range deps {
		e := DeployedExpiry{Resource: resource, Project: project, Deployment: d.Name, DeploymentExpires: d.Expires}
		if m, ok := byID[d.ModelID]; ok {
			e.Model, e.TrainingConfigVersion, e.ModelExpires = m.Label, m.TrainingConfigVersion, m.Expires
			e.VersionExpires = versions[m.TrainingConfigVersion]
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Deployment < out[j].Deployment })
	return out, nil
}

// expiryWarnings flags what expires within window on either side, and a
// target deployment that expires before the source's of the same name.
func expiryWarnings(src, tgt []DeployedExpiry, now time.Time, window time.Duration) []string {
	var out []string
	soon := func(t time.Time) string {
		switch {
		case t.IsZero() || t.Sub(now) >= window:
			return ""
		case !t.After(now):
			return "expired on " + day(t)
		default:
			return fmt.Sprintf("expires %s (in %d days)", day(t), int(t.Sub(now).Hours()/24))
		}
	}
	check := func(side string, es []DeployedExpiry) {
		for _, e := range es {
			what := fmt.Sprintf("%s %s/%s: deployment %s", side, e.Resource, e.Project, e.Deployment)
			if e.Model != "" {
				what += " (model " + e.Model + ")"
			}
			if s := soon(e.Expires()); s != "" {
				out = append(out, what+" "+s)
			}
			if s := soon(e.VersionExpires); s != "" && !e.VersionExpires.Equal(e.ModelExpires) {
				out = append(out, fmt.Sprintf("%s: training config version %s %s", what, e.TrainingConfigVersion, s))
			}
		}
	}
	check("source", src)
	check("target", tgt)
	bySrc := map[string]DeployedExpiry{}
	for _, e := range src {
		bySrc[e.Deployment] = e
	}
	for _, e := range tgt {
		s, ok := bySrc[e.Deployment]
		if te, se := e.Expires(), s.Expires(); ok && !te.IsZero() && !se.IsZero() && te.Before(se) {
			out = append(out, fmt.Sprintf("target %s/%s: deployment %s expires %s, before the source's (%s)", e.Resource, e.Project, e.Deployment, day(te), day(se)))
		}
	}
	return out
}

// earliest is the earliest known expiry among es (zero if none).
func earliest(es []DeployedExpiry) time.Time {
	var t time.Time
	for _, e := range es {
		if x := e.Expires(); !x.IsZero() && (t.IsZero() || x.Before(t)) {
			t = x
		}
	}
	return t
}

// renewReason says why sync should retrain a target to renew it ("" when
// not): a mirrored deployment's model expires within the expiry warning
// window and the target offers a version that outlasts that model.
func (p *Pipeline) renewReason(ctx context.Context, c Authoring, targetProject string, kindOf *Project, selected []Deployment, tdeps map[string]Deployment, now time.Time) (string, error) {
	models, err := c.ListModels(ctx, targetProject)
	if err != nil {
		return "", fmt.Errorf("listing target models: %w", err)
	}
	byID := map[string]Model{}
	for _, m := range models {
		byID[m.ModelID] = m
	}
	var versions []TrainingConfigVersion
	listed := false
	for _, sd := range selected {
		m, ok := byID[tdeps[sd.Name].ModelID]
		if !ok || m.Expires.IsZero() || m.Expires.Sub(now) >= p.opts.ExpiryWarning {
			continue
		}
		if !listed {
			versions, err = c.ListTrainingConfigVersions(ctx, kindOf.Kind)
			if err != nil {
				return "", fmt.Errorf("listing target training config versions: %w", err)
			}
			listed = true
		}
		better := len(versions) == 0
		for _, v := range versions {
			if v.Expires.After(m.Expires) {
				better = true
			}
		}
		if !better {
			// Retraining would not help (billed for nothing); status warns.
			continue
		}
		return fmt.Sprintf("renew: model expires %s (model %s on %s, deployment %s)", day(m.Expires), m.Label, m.TrainingConfigVersion, sd.Name), nil
	}
	return "", nil
}
