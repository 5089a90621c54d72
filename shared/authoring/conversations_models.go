package authoring

import "encoding/json"

// Wire types of conversation (CLU) and orchestration workflow projects
// (docs/authoring.md#conversation-projects). They extend the exported
// project JSON of models.go: ProjectAssets carries Intents and Utterances,
// Entity carries the CLU entity components. Like every wire type they keep
// members they do not model.

// Intent is an intent of a CLU or orchestration project. Orchestration is
// set on an orchestration project's intents: the project it routes to.
type Intent struct {
	Category      string                     `json:"category"`
	Orchestration *OrchestrationTarget       `json:"orchestration,omitempty"`
	Extra         map[string]json.RawMessage `json:"-"`
	raw           rawFields
}

// Orchestration target kinds.
const (
	TargetConversation      = "Conversation"
	TargetQuestionAnswering = "QuestionAnswering"
	TargetLuis              = "Luis"
)

// OrchestrationTarget is where an orchestration intent routes.
type OrchestrationTarget struct {
	// TargetProjectKind is "Conversation", "QuestionAnswering" or "Luis".
	TargetProjectKind        string                     `json:"targetProjectKind"`
	ConversationOptions      *TargetProject             `json:"conversationOptions,omitempty"`
	QuestionAnsweringOptions *TargetProject             `json:"questionAnsweringOptions,omitempty"`
	Extra                    map[string]json.RawMessage `json:"-"`
	raw                      rawFields
}

// TargetProject names a project and deployment in the same resource.
type TargetProject struct {
	ProjectName    string                     `json:"projectName"`
	DeploymentName string                     `json:"deploymentName,omitempty"`
	Extra          map[string]json.RawMessage `json:"-"`
	raw            rawFields
}

// Utterance is a labelled utterance of a CLU project. Its text is in the
// project file (no linked storage). Entity offsets are in the export's
// stringIndexType (Utf16CodeUnit as langsync exports).
type Utterance struct {
	Text     string                     `json:"text"`
	Language string                     `json:"language,omitempty"`
	Dataset  string                     `json:"dataset,omitempty"`
	Intent   string                     `json:"intent"`
	Entities []EntityLabel              `json:"entities,omitempty"`
	Extra    map[string]json.RawMessage `json:"-"`
	raw      rawFields
}

// EntityList is a list component: sublists of synonyms.
type EntityList struct {
	Sublists []Sublist                  `json:"sublists,omitempty"`
	Extra    map[string]json.RawMessage `json:"-"`
	raw      rawFields
}

// Sublist is one normalized value (ListKey) and its synonyms per language.
type Sublist struct {
	ListKey  string                     `json:"listKey"`
	Synonyms []Synonyms                 `json:"synonyms,omitempty"`
	Extra    map[string]json.RawMessage `json:"-"`
	raw      rawFields
}

// Synonyms are the words of a sublist in one language.
type Synonyms struct {
	Language string                     `json:"language,omitempty"`
	Values   []string                   `json:"values,omitempty"`
	Extra    map[string]json.RawMessage `json:"-"`
	raw      rawFields
}

// PrebuiltEntity is a prebuilt component ("Quantity.Number", ...).
type PrebuiltEntity struct {
	Category string                     `json:"category"`
	Extra    map[string]json.RawMessage `json:"-"`
	raw      rawFields
}

// EntityRegex is a regex component.
type EntityRegex struct {
	Expressions []RegexExpression          `json:"expressions,omitempty"`
	Extra       map[string]json.RawMessage `json:"-"`
	raw         rawFields
}

// RegexExpression is one pattern of a regex component.
type RegexExpression struct {
	RegexKey     string                     `json:"regexKey,omitempty"`
	Language     string                     `json:"language,omitempty"`
	RegexPattern string                     `json:"regexPattern"`
	Extra        map[string]json.RawMessage `json:"-"`
	raw          rawFields
}

// SupportedPrebuiltEntity is one entry of global/prebuilt-entities.
type SupportedPrebuiltEntity struct {
	Category    string                     `json:"category"`
	Description string                     `json:"description"`
	Examples    string                     `json:"examples"`
	Extra       map[string]json.RawMessage `json:"-"`
	raw         rawFields
}
