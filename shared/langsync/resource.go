package langsync

// ProjectKind is the kind of a custom text project.
type ProjectKind string

// Project kinds langsync replicates.
const (
	SingleLabelClassification ProjectKind = "CustomSingleLabelClassification"
	MultiLabelClassification  ProjectKind = "CustomMultiLabelClassification"
	EntityRecognition         ProjectKind = "CustomEntityRecognition"
)

// Resource is one Azure AI Language resource (one region) as configured.
type Resource struct {
	// Name is the config's name for the resource ("primary").
	Name string `json:"name"`
	// Endpoint is https://<resource>.cognitiveservices.azure.com (no path).
	Endpoint string `json:"endpoint"`
	// Key is the subscription key; empty when Entra ID is used.
	Key Secret `json:"-"`
	// Entra selects Microsoft Entra ID (DefaultAzureCredential) auth.
	Entra bool `json:"entra,omitempty"`
	// Storage locates the linked storage that holds the labelled documents:
	// a Blob connection string, an account URL, or a directory. Optional.
	Storage Secret `json:"-"`
	// ConversationsAPIVersion is the api-version of the conversations
	// authoring API (CLU and orchestration projects) on this resource:
	// config resources[].conversationsApiVersion, default 2023-04-01.
	ConversationsAPIVersion string `json:"conversationsApiVersion,omitempty"`
}

// Pair is one replication: a source project replicated to one target resource.
type Pair struct {
	Source  string `json:"source"`
	Project string `json:"project"`
	Target  string `json:"target"`
	// TargetProject is the project name on the target; empty means Project.
	TargetProject string `json:"targetProject,omitempty"`
	// Deployments to mirror; empty means every deployment of the source.
	Deployments []string `json:"deployments,omitempty"`
	// TrainingConfigVersion overrides the version the target is trained
	// with (the config's projects[].trainingConfigVersion); empty means the
	// source model's, or the newest the target offers when it cannot.
	TrainingConfigVersion string `json:"trainingConfigVersion,omitempty"`
	// Kind, when set (the config's projects[].kind), is the kind the
	// source project must have: inspect fails the run when the detected
	// kind differs. Empty means whatever the source is.
	Kind ProjectKind `json:"kind,omitempty"`
}

// TargetName returns the project name on the target.
func (p Pair) TargetName() string {
	if p.TargetProject != "" {
		return p.TargetProject
	}
	return p.Project
}

// String names the pair for logs: source/project -> target[/name].
func (p Pair) String() string {
	s := p.Source + "/" + p.Project + " -> " + p.Target
	if p.TargetProject != "" && p.TargetProject != p.Project {
		s += "/" + p.TargetProject
	}
	return s
}
