package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/langsync/langsync/shared/langsync"
)

// Orchestration projects route intents to CLU projects of the same
// resource by name. A replica must route to the replicas of those
// projects on its own resource: the import step rewrites each
// conversationOptions.projectName to the name the CLU project has on the
// target (its `as:`), refuses an orchestration whose CLU project is not
// replicated to that target, and waits (retrying with back-off) until the
// CLU project and its deployment are there
// (docs/pipeline.md#conversation-projects).

// OrchestrationRef is one intent of an orchestration project that routes
// to a CLU project.
type OrchestrationRef struct {
	Intent, Project, Deployment string
}

// OrchestrationRefs lists the CLU targets of an exported orchestration
// project (none for another kind).
func OrchestrationRefs(export []byte) ([]OrchestrationRef, error) {
	var doc struct {
		Metadata struct {
			ProjectKind langsync.ProjectKind `json:"projectKind"`
		} `json:"metadata"`
		Assets struct {
			Intents []struct {
				Category      string `json:"category"`
				Orchestration *struct {
					TargetProjectKind   string `json:"targetProjectKind"`
					ConversationOptions *struct {
						ProjectName    string `json:"projectName"`
						DeploymentName string `json:"deploymentName"`
					} `json:"conversationOptions"`
				} `json:"orchestration"`
			} `json:"intents"`
		} `json:"assets"`
	}
	if err := json.Unmarshal(export, &doc); err != nil {
		return nil, fmt.Errorf("export is not a JSON object: %w", err)
	}
	if doc.Metadata.ProjectKind != langsync.Orchestration {
		return nil, nil
	}
	var refs []OrchestrationRef
	for _, in := range doc.Assets.Intents {
		o := in.Orchestration
		if o == nil || o.TargetProjectKind != string(langsync.Conversation) || o.ConversationOptions == nil {
			continue
		}
		refs = append(refs, OrchestrationRef{Intent: in.Category, Project: o.ConversationOptions.ProjectName, Deployment: o.ConversationOptions.DeploymentName})
	}
	return refs, nil
}

// RenameOrchestrationRefs rewrites the CLU project names an orchestration
// export routes to (old -> new), keeping every other member as it is.
func RenameOrchestrationRefs(export []byte, names map[string]string) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(export, &doc); err != nil {
		return nil, fmt.Errorf("export is not a JSON object: %w", err)
	}
	var assets map[string]json.RawMessage
	if err := json.Unmarshal(doc["assets"], &assets); err != nil || assets == nil {
		return nil, errors.New("export has no assets object")
	}
	var intents []map[string]json.RawMessage
	if err := json.Unmarshal(assets["intents"], &intents); err != nil {
		return nil, fmt.Errorf("reading assets.intents: %w", err)
	}
	changed := false
	for _, in := range intents {
		var o map[string]json.RawMessage
		if json.Unmarshal(in["orchestration"], &o) != nil || o == nil {
			continue
		}
		var co map[string]json.RawMessage
		if json.Unmarshal(o["conversationOptions"], &co) != nil || co == nil {
			continue
		}
		var name string
		if json.Unmarshal(co["projectName"], &name) != nil {
			continue
		}
		to, ok := names[name]
		if !ok || to == name {
			continue
		}
		co["projectName"], _ = json.Marshal(to)
		o["conversationOptions"], _ = json.Marshal(co)
		in["orchestration"], _ = json.Marshal(o)
		changed = true
	}
	if !changed {
		return export, nil
	}
	var err error
	if assets["intents"], err = json.Marshal(intents); err != nil {
		return nil, err
	}
	if doc["assets"], err = json.Marshal(assets); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// replicaName is the name project (on the run's source) has on target, and
// whether it is replicated there at all.
func (x *exec) replicaName(project, target string) (string, bool) {
	for _, p := range x.p.cfg.Pairs() {
		if p.Source == x.run.Source && p.Project == project && p.Target == target {
			return p.TargetName(), true
		}
	}
	return "", false
}

// orchestrationFor prepares an orchestration export for a target: its CLU
// projects must be replicated to the target (else a permanent refusal
// naming the fix) and be there with their deployments (else a transient
// error: the import waits for them); their names are rewritten to the
// replicas'. Any other export is returned as it is.
func (x *exec) orchestrationFor(ctx context.Context, data []byte, pair langsync.Pair) ([]byte, error) {
	refs, err := OrchestrationRefs(data)
	if err != nil || len(refs) == 0 {
		return data, err
	}
	names := map[string]string{}
	for _, ref := range refs {
		to, ok := x.replicaName(ref.Project, pair.Target)
		if !ok {
			return nil, fmt.Errorf("orchestration project %s routes intent %q to CLU project %q, which is not replicated to %s: add %s to projects with source %s and target %s (it is then replicated first), or remove the intent",
				pair.Project, ref.Intent, ref.Project, pair.Target, ref.Project, x.run.Source, pair.Target)
		}
		names[ref.Project] = to
	}
	_, c, err := x.target(pair.Target)
	if err != nil {
		return nil, err
	}
	for _, ref := range refs {
		to := names[ref.Project]
		deps, err := c.ListDeployments(ctx, to)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("reading CLU project %s on %s: %w", to, pair.Target, err)
		}
		if err != nil || ref.Deployment != "" && !slices.ContainsFunc(deps, func(d Deployment) bool { return d.Name == ref.Deployment }) {
			return nil, fmt.Errorf("%w: orchestration project %s routes intent %q to CLU project %s (deployment %q), which is not on %s yet: it is replicated first, waiting for it",
				ErrTransient, pair.Project, ref.Intent, to, ref.Deployment, pair.Target)
		}
	}
	return RenameOrchestrationRefs(data, names)
}
