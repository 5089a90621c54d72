package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// state is everything a resource remembers; it is saved as one JSON file
// when Options.DataDir is set.
type state struct {
	Version     int                    `json:"version"`
	Projects    map[string]*project    `json:"projects"`
	Jobs        map[string]*job        `json:"jobs"`
	RuntimeJobs map[string]*runtimeJob `json:"runtimeJobs"`
	// Conv holds conversation (CLU, orchestration) projects, a namespace
	// of their own (conversations.go).
	Conv map[string]*convProject `json:"conv,omitempty"`
	Seq  int64                   `json:"seq"`
	// VersionsFrom is the resource's first start: relative training
	// config version expiries ("+365d") count from it.
	VersionsFrom time.Time `json:"versionsFrom,omitzero"`
}

const stateVersion = 1

func newState() *state {
	return &state{Version: stateVersion, Projects: map[string]*project{}, Jobs: map[string]*job{}, RuntimeJobs: map[string]*runtimeJob{}, Conv: map[string]*convProject{}}
}

// project is one authoring project: metadata, the working copy of its
// assets, its trained models and its deployments.
type project struct {
	Meta        projectOptions         `json:"meta"`
	Created     time.Time              `json:"created"`
	Modified    time.Time              `json:"modified"`
	Trained     *time.Time             `json:"trained,omitempty"`
	Deployed    *time.Time             `json:"deployed,omitempty"`
	Assets      assets                 `json:"assets"`
	Models      map[string]*model      `json:"models"`
	Deployments map[string]*deployment `json:"deployments"`
}

// projectOptions is CreateProjectOptions
// (docs/reference/language-rest.md#createprojectoptions), also the metadata of
// an exported project, in the order the service writes it.
type projectOptions struct {
	ProjectKind               string         `json:"projectKind"`
	StorageInputContainerName string         `json:"storageInputContainerName"`
	Settings                  map[string]any `json:"settings"`
	ProjectName               string         `json:"projectName"`
	Multilingual              bool           `json:"multilingual"`
	Description               string         `json:"description"`
	Language                  string         `json:"language"`
}

// assets is the kind-discriminated assets object of an exported project
// (docs/reference/language-rest.md#exported-project-json), normalised:
// PascalCase kind, unknown fields dropped.
type assets struct {
	ProjectKind string     `json:"projectKind"`
	Classes     []category `json:"classes,omitempty"`
	Entities    []category `json:"entities,omitempty"`
	Documents   []document `json:"documents,omitempty"`
}

type category struct {
	Category string `json:"category"`
}

type document struct {
	Location string     `json:"location"`
	Language string     `json:"language,omitempty"`
	Dataset  string     `json:"dataset,omitempty"`
	Class    *category  `json:"class,omitempty"`
	Classes  []category `json:"classes,omitempty"`
	Entities []region   `json:"entities,omitempty"`
}

type region struct {
	RegionOffset int     `json:"regionOffset"`
	RegionLength int     `json:"regionLength"`
	Labels       []label `json:"labels"`
}

type label struct {
	Category string `json:"category"`
	Offset   int    `json:"offset"`
	Length   int    `json:"length"`
}

// snapshot is a project's metadata and assets at one moment (what a model
// was trained on; what an export carries).
type snapshot struct {
	Meta   projectOptions `json:"meta"`
	Assets assets         `json:"assets"`
}

// model is a trained model (docs/reference/language-rest.md#trainedmodel) with
// what it learned.
type model struct {
	Label          string          `json:"label"`
	ModelID        string          `json:"modelId"`
	Trained        time.Time       `json:"trained"`
	DurationSec    int             `json:"durationSec"`
	Expiration     string          `json:"expiration"`
	ConfigVersion  string          `json:"configVersion"`
	Snapshot       snapshot        `json:"snapshot"`
	EvalOptions    evalOptions     `json:"evalOptions"`
	Classifier     *classifier     `json:"classifier"`
	Summary        json.RawMessage `json:"summary"`
	DocEvaluations []docEvaluation `json:"docEvaluations"`
}

// deployment is a deployed model
// (docs/reference/language-rest.md#projectdeployment); it keeps its own copy of
// the classifier so that deleting or retraining the model does not change what
// it serves until it is redeployed.
type deployment struct {
	Name          string      `json:"name"`
	ModelID       string      `json:"modelId"`
	ModelLabel    string      `json:"modelLabel"`
	Trained       time.Time   `json:"trained"`
	Deployed      time.Time   `json:"deployed"`
	Expiration    string      `json:"expiration"`
	ConfigVersion string      `json:"configVersion"`
	Classifier    *classifier `json:"classifier"`
}

type evalOptions struct {
	Kind                    string `json:"kind"`
	TrainingSplitPercentage int    `json:"trainingSplitPercentage,omitempty"`
	TestingSplitPercentage  int    `json:"testingSplitPercentage,omitempty"`
}

func (s *Server) statePath() string { return filepath.Join(s.opts.DataDir, "state.json") }

// load reads the saved state, if any.
func (s *Server) load() error {
	if s.opts.DataDir == "" {
		return nil
	}
	if err := os.MkdirAll(s.opts.DataDir, 0o755); err != nil {
		return fmt.Errorf("emulator: creating data dir: %w", err)
	}
	b, err := os.ReadFile(s.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("emulator: reading state: %w", err)
	}
	st := newState()
	if err := json.Unmarshal(b, st); err != nil {
		return fmt.Errorf("emulator: reading state %s: %w (move the file away to start empty)", s.statePath(), err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("emulator: state %s has version %d, want %d (move the file away to start empty)", s.statePath(), st.Version, stateVersion)
	}
	for _, p := range st.Projects {
		if p.Models == nil {
			p.Models = map[string]*model{}
		}
		if p.Deployments == nil {
			p.Deployments = map[string]*deployment{}
		}
	}
	if st.Conv == nil {
		st.Conv = map[string]*convProject{}
	}
	s.st = st
	return nil
}

// save writes the state atomically (temp file + rename). Called under s.mu.
func (s *Server) save() error {
	if s.opts.DataDir == "" {
		return nil
	}
	b, err := json.Marshal(s.st)
	if err != nil {
		return fmt.Errorf("emulator: encoding state: %w", err)
	}
	tmp, err := os.CreateTemp(s.opts.DataDir, "state-*.tmp")
	if err != nil {
		return fmt.Errorf("emulator: saving state: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("emulator: saving state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("emulator: saving state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.statePath()); err != nil {
		return fmt.Errorf("emulator: saving state: %w", err)
	}
	return nil
}
