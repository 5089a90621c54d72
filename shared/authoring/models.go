package authoring

//go:generate go run ./internal/gen/modelsjsongen

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// Wire types of the authoring API (docs/reference/language-rest.md#schemas,
// docs/reference/language-rest.md#exported-project-json), 2023-04-01 field
// names. Every type keeps the members it does not model in Extra and re-encodes
// them (see rawjson.go; go generate writes their JSON methods into
// models_json.go), so a document read from the service and written back loses
// nothing. Optional members are omitted when zero unless the service sent them.

// ProjectSettings is a project's settings object (2022-05-01: always empty).
type ProjectSettings struct {
	// ConfidenceThreshold is 0..1 (2023-04-01 and later).
	ConfidenceThreshold *float64                   `json:"confidenceThreshold,omitempty"`
	Extra               map[string]json.RawMessage `json:"-"`
	raw                 rawFields
}

// ProjectMetadata is what get/list/create-or-update project return.
type ProjectMetadata struct {
	CreatedDateTime      time.Time `json:"createdDateTime"`
	LastModifiedDateTime time.Time `json:"lastModifiedDateTime"`
	// LastTrainedDateTime is zero until the project is first trained.
	LastTrainedDateTime time.Time `json:"lastTrainedDateTime,omitempty"`
	// LastDeployedDateTime is zero until the project is first deployed.
	LastDeployedDateTime      time.Time                  `json:"lastDeployedDateTime,omitempty"`
	ProjectKind               langsync.ProjectKind       `json:"projectKind"`
	StorageInputContainerName string                     `json:"storageInputContainerName"`
	Settings                  *ProjectSettings           `json:"settings,omitempty"`
	ProjectName               string                     `json:"projectName"`
	Multilingual              bool                       `json:"multilingual,omitempty"`
	Description               string                     `json:"description,omitempty"`
	Language                  string                     `json:"language"`
	Extra                     map[string]json.RawMessage `json:"-"`
	raw                       rawFields
}

// ProjectOptions is the body of create-or-update project and the metadata
// of an exported project (CreateProjectOptions in the spec).
type ProjectOptions struct {
	ProjectKind langsync.ProjectKind `json:"projectKind"`
	// StorageInputContainerName is required for text projects; conversation
	// projects have no linked storage and leave it empty (then not sent).
	StorageInputContainerName string           `json:"storageInputContainerName,omitempty"`
	Settings                  *ProjectSettings `json:"settings,omitempty"`
	ProjectName               string           `json:"projectName"`
	// Multilingual is always sent: in a merge-patch an absent member would
	// mean "unchanged".
	Multilingual bool                       `json:"multilingual"`
	Description  string                     `json:"description,omitempty"`
	Language     string                     `json:"language"`
	Extra        map[string]json.RawMessage `json:"-"`
	raw          rawFields
}

// ExportedProject is the exported project JSON: the export result and the
// import body (docs/reference/language-rest.md#exported-project-json).
// Documents are referenced by location, not carried.
type ExportedProject struct {
	ProjectFileVersion string                     `json:"projectFileVersion"`
	StringIndexType    string                     `json:"stringIndexType"`
	Metadata           ProjectOptions             `json:"metadata"`
	Assets             *ProjectAssets             `json:"assets,omitempty"`
	Extra              map[string]json.RawMessage `json:"-"`
	raw                rawFields
}

// ProjectAssets are the labelled data of an exported project. Classes are
// used by classification projects, Entities by custom NER.
type ProjectAssets struct {
	ProjectKind langsync.ProjectKind `json:"projectKind"`
	Classes     []Class              `json:"classes,omitempty"`
	Entities    []Entity             `json:"entities,omitempty"`
	Documents   []Document           `json:"documents,omitempty"`
	// Intents and Utterances are used by conversation (CLU) projects,
	// Intents alone by orchestration projects (conversations_models.go).
	Intents    []Intent                   `json:"intents,omitempty"`
	Utterances []Utterance                `json:"utterances,omitempty"`
	Extra      map[string]json.RawMessage `json:"-"`
	raw        rawFields
}

// Class is a classification class (also a document's label).
type Class struct {
	Category string                     `json:"category"`
	Extra    map[string]json.RawMessage `json:"-"`
	raw      rawFields
}

// Entity is a custom NER entity type, or a CLU entity with its
// components (conversations_models.go).
type Entity struct {
	Category string `json:"category"`
	// CLU components: CompositionSetting says how they combine
	// ("returnLongestOverlap", "requireExactOverlap", "separateComponents",
	// "combineComponents"); a learned component is implied by labels.
	CompositionSetting string                     `json:"compositionSetting,omitempty"`
	List               *EntityList                `json:"list,omitempty"`
	Prebuilts          []PrebuiltEntity           `json:"prebuilts,omitempty"`
	Regex              *EntityRegex               `json:"regex,omitempty"`
	RequiredComponents []string                   `json:"requiredComponents,omitempty"`
	Extra              map[string]json.RawMessage `json:"-"`
	raw                rawFields
}

// Document is one labelled document of an exported project. Class is set
// for single-label, Classes for multi-label, Entities for NER projects.
type Document struct {
	// Location is the blob name at the root of the storage container.
	Location string `json:"location"`
	Language string `json:"language,omitempty"`
	// Dataset is "Train" or "Test" (used by manual evaluation).
	Dataset  string                     `json:"dataset,omitempty"`
	Class    *Class                     `json:"class,omitempty"`
	Classes  []Class                    `json:"classes,omitempty"`
	Entities []EntityRegion             `json:"entities,omitempty"`
	Extra    map[string]json.RawMessage `json:"-"`
	raw      rawFields
}

// EntityRegion is a labelled region of a NER document (UTF-16 offsets).
type EntityRegion struct {
	RegionOffset int                        `json:"regionOffset"`
	RegionLength int                        `json:"regionLength"`
	Labels       []EntityLabel              `json:"labels,omitempty"`
	Extra        map[string]json.RawMessage `json:"-"`
	raw          rawFields
}

// EntityLabel is one entity occurrence (UTF-16 offsets).
type EntityLabel struct {
	Category string                     `json:"category"`
	Offset   int                        `json:"offset"`
	Length   int                        `json:"length"`
	Extra    map[string]json.RawMessage `json:"-"`
	raw      rawFields
}

// TrainOptions is the :train body (TrainingJobOptions).
type TrainOptions struct {
	ModelLabel string `json:"modelLabel"`
	// TrainingConfigVersion is required by the service; BeginTrain sends
	// "latest" when it is empty.
	TrainingConfigVersion string `json:"trainingConfigVersion"`
	// TrainingMode is "standard" or "advanced": conversation projects
	// only (BeginTrain sends "standard" when empty there).
	TrainingMode      string                     `json:"trainingMode,omitempty"`
	EvaluationOptions *EvaluationOptions         `json:"evaluationOptions,omitempty"`
	Extra             map[string]json.RawMessage `json:"-"`
	raw               rawFields
}

// Evaluation kinds.
const (
	EvaluationPercentage = "percentage"
	EvaluationManual     = "manual"
)

// EvaluationOptions says how a training job splits data for evaluation.
type EvaluationOptions struct {
	// Kind is "percentage" (default, 80/20) or "manual" (each document's Dataset).
	Kind                    string                     `json:"kind,omitempty"`
	TrainingSplitPercentage int                        `json:"trainingSplitPercentage,omitempty"`
	TestingSplitPercentage  int                        `json:"testingSplitPercentage,omitempty"`
	Extra                   map[string]json.RawMessage `json:"-"`
	raw                     rawFields
}

// JobState is the status of a long-running operation (every job kind).
type JobState struct {
	JobID               string             `json:"jobId"`
	CreatedDateTime     time.Time          `json:"createdDateTime"`
	LastUpdatedDateTime time.Time          `json:"lastUpdatedDateTime"`
	ExpirationDateTime  time.Time          `json:"expirationDateTime,omitempty"`
	Status              langsync.JobStatus `json:"status"`
	Warnings            []ErrorDetail      `json:"warnings,omitempty"`
	Errors              []ErrorDetail      `json:"errors,omitempty"`
	// ResultURL is set on a succeeded export job: open it with
	// OpenExportResult.
	ResultURL string `json:"resultUrl,omitempty"`
	// Result is set on training jobs.
	Result *TrainingJobResult         `json:"result,omitempty"`
	Extra  map[string]json.RawMessage `json:"-"`
	raw    rawFields

	// Job is the handle this state was polled with (not on the wire).
	Job langsync.Job `json:"-"`
	// NextPoll is how long to wait before polling again: the service's
	// Retry-After when it sent one, else the client's interval for the job
	// kind. Zero once the job is done. Not on the wire.
	NextPoll time.Duration `json:"-"`
}

// Done reports whether the job has reached a terminal status.
func (s *JobState) Done() bool { return s.Status.Terminal() }

// Succeeded reports whether the job ended successfully.
func (s *JobState) Succeeded() bool { return s.Status == langsync.JobSucceeded }

// Err returns a *JobError when the job ended failed, cancelled or
// partiallyCompleted, and nil otherwise (also while it runs).
func (s *JobState) Err() error {
	if !s.Done() || s.Succeeded() {
		return nil
	}
	return &JobError{Kind: s.Job.Kind, JobID: s.JobID, Status: s.Status, Errors: s.Errors, Warnings: s.Warnings}
}

// Percent estimates the job's progress 0..100, or -1 when the service does
// not say (only training jobs report a percentage).
func (s *JobState) Percent() int {
	if s.Succeeded() {
		return 100
	}
	if s.Result == nil {
		return -1
	}
	p := s.Result.TrainingStatus.PercentComplete
	if e := s.Result.EvaluationStatus; e != nil {
		// Evaluation follows training; weigh them as the service's own
		// estimate does not exist: training dominates.
		p = (p*9 + e.PercentComplete) / 10
	}
	return min(max(p, 0), 100)
}

// TrainingJobResult is the result member of a training job.
type TrainingJobResult struct {
	ModelLabel            string                     `json:"modelLabel"`
	TrainingConfigVersion string                     `json:"trainingConfigVersion"`
	TrainingMode          string                     `json:"trainingMode,omitempty"`
	EstimatedEndDateTime  time.Time                  `json:"estimatedEndDateTime,omitempty"`
	TrainingStatus        SubJobState                `json:"trainingStatus"`
	EvaluationStatus      *SubJobState               `json:"evaluationStatus,omitempty"`
	Extra                 map[string]json.RawMessage `json:"-"`
	raw                   rawFields
}

// SubJobState is the training or evaluation part of a training job.
type SubJobState struct {
	PercentComplete int                        `json:"percentComplete"`
	StartDateTime   time.Time                  `json:"startDateTime,omitempty"`
	EndDateTime     time.Time                  `json:"endDateTime,omitempty"`
	Status          langsync.JobStatus         `json:"status"`
	Extra           map[string]json.RawMessage `json:"-"`
	raw             rawFields
}

// ErrorCode is an error code. The service sends strings; the API gateway
// sends numeric-looking ones ("401"), and a bare number is accepted too
// (docs/reference/language-rest.md#gotcha-17-gateway-error-codes-look-numeric).
type ErrorCode string

// UnmarshalJSON accepts a JSON string or number, and never fails: null is
// "", and any other value (an object, an array, a boolean) is kept as its
// compact JSON text, so that a strange code cannot cost the message beside
// it.
func (c *ErrorCode) UnmarshalJSON(b []byte) error {
	*c = ErrorCode(looseText(b))
	return nil
}

// looseText renders a JSON value as text: a string as itself, a number as
// written, null as "", anything else as its compact JSON.
func looseText(b []byte) string {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		return s
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		return n.String()
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return ""
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

// ErrorDetail is the service's Error object (error bodies, job errors and
// warnings; docs/reference/language-rest.md#error-body).
type ErrorDetail struct {
	Code       ErrorCode                  `json:"code"`
	Message    string                     `json:"message"`
	Target     string                     `json:"target,omitempty"`
	Details    ErrorDetails               `json:"details,omitempty"`
	InnerError *InnerError                `json:"innererror,omitempty"`
	Extra      map[string]json.RawMessage `json:"-"`
	raw        rawFields
}

// ErrorDetails is the details array of an Error. It decodes tolerantly, so
// that an unexpected shape never costs the code and message of the error
// holding it: an array of Error objects as documented; a single value
// instead of an array is taken as a one-element array; an element that is
// not an Error object (a string, a number, an object whose members have
// other types) becomes an ErrorDetail whose Message is the element's text
// (a string as itself, anything else as its JSON). Such elements are
// re-encoded in that normalised form.
type ErrorDetails []ErrorDetail

// UnmarshalJSON decodes details of any shape; it fails only on malformed
// JSON.
func (d *ErrorDetails) UnmarshalJSON(b []byte) error {
	if !json.Valid(b) {
		return errors.New("authoring: error details are not JSON")
	}
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*d = nil
		return nil
	}
	var items []json.RawMessage
	if b[0] != '[' || json.Unmarshal(b, &items) != nil {
		items = []json.RawMessage{b}
	}
	out := make(ErrorDetails, 0, len(items))
	for _, it := range items {
		var e ErrorDetail
		if t := bytes.TrimSpace(it); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &e) != nil {
			e = ErrorDetail{Message: looseText(it)}
		}
		out = append(out, e)
	}
	*d = out
	return nil
}

// InnerError is the nested innererror object.
type InnerError struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
	// Details is innererror.details as sent: documented as a map of
	// strings, but kept raw so that any value (an object with numbers,
	// nested objects or arrays, an array) decodes without losing the
	// error around it. DetailStrings reads it as a map.
	Details    json.RawMessage            `json:"details,omitempty"`
	Target     string                     `json:"target,omitempty"`
	InnerError *InnerError                `json:"innererror,omitempty"`
	Extra      map[string]json.RawMessage `json:"-"`
	raw        rawFields
}

// DetailStrings returns innererror.details as a map of strings: string
// values as themselves, any other value as its compact JSON. It returns nil
// when details is absent or not a JSON object.
func (ie *InnerError) DetailStrings() map[string]string {
	var m map[string]json.RawMessage
	if len(ie.Details) == 0 || json.Unmarshal(ie.Details, &m) != nil || m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = looseText(v)
	}
	return out
}

// TrainedModel is one trained model of a project.
type TrainedModel struct {
	Label                         string    `json:"label"`
	ModelID                       string    `json:"modelId"`
	LastTrainedDateTime           time.Time `json:"lastTrainedDateTime"`
	LastTrainingDurationInSeconds int       `json:"lastTrainingDurationInSeconds"`
	// ModelExpirationDate is a date ("2022-10-28").
	ModelExpirationDate        string `json:"modelExpirationDate"`
	ModelTrainingConfigVersion string `json:"modelTrainingConfigVersion"`
	// HasSnapshot is reported from 2023-04-01.
	HasSnapshot bool                       `json:"hasSnapshot,omitempty"`
	Extra       map[string]json.RawMessage `json:"-"`
	raw         rawFields
}

// Deployment is one deployment of a project. It names the model by ModelID,
// not by label: match it against ListModels to learn the label.
type Deployment struct {
	DeploymentName       string    `json:"deploymentName"`
	ModelID              string    `json:"modelId"`
	LastTrainedDateTime  time.Time `json:"lastTrainedDateTime"`
	LastDeployedDateTime time.Time `json:"lastDeployedDateTime"`
	// DeploymentExpirationDate is a date ("2023-10-28").
	DeploymentExpirationDate   string `json:"deploymentExpirationDate"`
	ModelTrainingConfigVersion string `json:"modelTrainingConfigVersion"`
	// AssignedResources are the resources a conversation deployment is
	// assigned to (2025-11-01 and later; multi-region deployments).
	AssignedResources []AssignedResource         `json:"assignedResources,omitempty"`
	Extra             map[string]json.RawMessage `json:"-"`
	raw               rawFields
}

// AssignedResource is a Language resource a deployment is assigned to.
type AssignedResource struct {
	AzureResourceID string                     `json:"azureResourceId"`
	Region          string                     `json:"region"`
	Extra           map[string]json.RawMessage `json:"-"`
	raw             rawFields
}

// SupportedLanguage is one entry of global/languages.
type SupportedLanguage struct {
	LanguageName string                     `json:"languageName"`
	LanguageCode string                     `json:"languageCode"`
	Extra        map[string]json.RawMessage `json:"-"`
	raw          rawFields
}

// TrainingConfigVersion is one entry of global/training-config-versions.
type TrainingConfigVersion struct {
	TrainingConfigVersion string `json:"trainingConfigVersion"`
	// ModelExpirationDate is a date ("2022-10-28").
	ModelExpirationDate string                     `json:"modelExpirationDate"`
	Extra               map[string]json.RawMessage `json:"-"`
	raw                 rawFields
}

// EvaluationSummary is a trained model's evaluation summary; one of the
// kind-specific members is set.
type EvaluationSummary struct {
	ProjectKind       langsync.ProjectKind         `json:"projectKind"`
	EvaluationOptions *EvaluationOptions           `json:"evaluationOptions,omitempty"`
	SingleLabel       *ClassificationEvaluation    `json:"customSingleLabelClassificationEvaluation,omitempty"`
	MultiLabel        *ClassificationEvaluation    `json:"customMultiLabelClassificationEvaluation,omitempty"`
	EntityRecognition *EntityRecognitionEvaluation `json:"customEntityRecognitionEvaluation,omitempty"`
	// Intents and Entities are set for conversation projects (which send
	// no projectKind here).
	Intents  *IntentsEvaluation           `json:"intentsEvaluation,omitempty"`
	Entities *EntityRecognitionEvaluation `json:"entitiesEvaluation,omitempty"`
	Extra    map[string]json.RawMessage   `json:"-"`
	raw      rawFields
}

// IntentsEvaluation is a conversation project's intent evaluation.
type IntentsEvaluation struct {
	ConfusionMatrix map[string]map[string]ConfusionCell `json:"confusionMatrix,omitempty"`
	Intents         map[string]EvaluationMetrics        `json:"intents"`
	MicroF1         float64                             `json:"microF1"`
	MicroPrecision  float64                             `json:"microPrecision"`
	MicroRecall     float64                             `json:"microRecall"`
	MacroF1         float64                             `json:"macroF1"`
	MacroPrecision  float64                             `json:"macroPrecision"`
	MacroRecall     float64                             `json:"macroRecall"`
	Extra           map[string]json.RawMessage          `json:"-"`
	raw             rawFields
}

// ClassificationEvaluation is the single- or multi-label evaluation
// (multi-label has no confusion matrix).
type ClassificationEvaluation struct {
	ConfusionMatrix map[string]map[string]ConfusionCell `json:"confusionMatrix,omitempty"`
	Classes         map[string]EvaluationMetrics        `json:"classes"`
	MicroF1         float64                             `json:"microF1"`
	MicroPrecision  float64                             `json:"microPrecision"`
	MicroRecall     float64                             `json:"microRecall"`
	MacroF1         float64                             `json:"macroF1"`
	MacroPrecision  float64                             `json:"macroPrecision"`
	MacroRecall     float64                             `json:"macroRecall"`
	Extra           map[string]json.RawMessage          `json:"-"`
	raw             rawFields
}

// EntityRecognitionEvaluation is the custom NER evaluation ("$none" in the
// confusion matrix means no entity).
type EntityRecognitionEvaluation struct {
	ConfusionMatrix map[string]map[string]ConfusionCell `json:"confusionMatrix,omitempty"`
	Entities        map[string]EvaluationMetrics        `json:"entities"`
	MicroF1         float64                             `json:"microF1"`
	MicroPrecision  float64                             `json:"microPrecision"`
	MicroRecall     float64                             `json:"microRecall"`
	MacroF1         float64                             `json:"macroF1"`
	MacroPrecision  float64                             `json:"macroPrecision"`
	MacroRecall     float64                             `json:"macroRecall"`
	Extra           map[string]json.RawMessage          `json:"-"`
	raw             rawFields
}

// ConfusionCell is one cell of a confusion matrix.
type ConfusionCell struct {
	NormalizedValue float64                    `json:"normalizedValue"`
	RawValue        float64                    `json:"rawValue"`
	Extra           map[string]json.RawMessage `json:"-"`
	raw             rawFields
}

// EvaluationMetrics are the metrics of one class or entity.
type EvaluationMetrics struct {
	F1                 float64                    `json:"f1"`
	Precision          float64                    `json:"precision"`
	Recall             float64                    `json:"recall"`
	TruePositiveCount  int                        `json:"truePositiveCount"`
	TrueNegativeCount  int                        `json:"trueNegativeCount"`
	FalsePositiveCount int                        `json:"falsePositiveCount"`
	FalseNegativeCount int                        `json:"falseNegativeCount"`
	Extra              map[string]json.RawMessage `json:"-"`
	raw                rawFields
}

// DocumentEvaluation is the per-document evaluation result; one of the
// kind-specific members is set.
type DocumentEvaluation struct {
	Location          string                          `json:"location"`
	Language          string                          `json:"language"`
	ProjectKind       langsync.ProjectKind            `json:"projectKind"`
	SingleLabel       *SingleLabelDocumentEvaluation  `json:"customSingleLabelClassificationResult,omitempty"`
	MultiLabel        *MultiLabelDocumentEvaluation   `json:"customMultiLabelClassificationResult,omitempty"`
	EntityRecognition *EntityRecognitionDocEvaluation `json:"customEntityRecognitionResult,omitempty"`
	// Text, IntentsResult and EntitiesResult are set for an utterance of a
	// conversation project (which has no location or projectKind here).
	Text           string                      `json:"text,omitempty"`
	IntentsResult  *UtteranceIntentsEvaluation `json:"intentsResult,omitempty"`
	EntitiesResult *EntityRegionEvaluation     `json:"entitiesResult,omitempty"`
	Extra          map[string]json.RawMessage  `json:"-"`
	raw            rawFields
}

// UtteranceIntentsEvaluation is an utterance's expected and predicted
// intent.
type UtteranceIntentsEvaluation struct {
	ExpectedIntent  string                     `json:"expectedIntent"`
	PredictedIntent string                     `json:"predictedIntent"`
	Extra           map[string]json.RawMessage `json:"-"`
	raw             rawFields
}

// SingleLabelDocumentEvaluation is the expected and predicted class.
type SingleLabelDocumentEvaluation struct {
	ExpectedClass  string                     `json:"expectedClass"`
	PredictedClass string                     `json:"predictedClass"`
	Extra          map[string]json.RawMessage `json:"-"`
	raw            rawFields
}

// MultiLabelDocumentEvaluation is the expected and predicted classes.
type MultiLabelDocumentEvaluation struct {
	ExpectedClasses  []string                   `json:"expectedClasses"`
	PredictedClasses []string                   `json:"predictedClasses"`
	Extra            map[string]json.RawMessage `json:"-"`
	raw              rawFields
}

// EntityRecognitionDocEvaluation is the expected and predicted entities per
// region of a NER document.
type EntityRecognitionDocEvaluation struct {
	Entities []EntityRegionEvaluation   `json:"entities"`
	Extra    map[string]json.RawMessage `json:"-"`
	raw      rawFields
}

// EntityRegionEvaluation is one region's expected and predicted entities.
type EntityRegionEvaluation struct {
	ExpectedEntities  []EntityLabel              `json:"expectedEntities"`
	PredictedEntities []EntityLabel              `json:"predictedEntities"`
	RegionOffset      int                        `json:"regionOffset"`
	RegionLength      int                        `json:"regionLength"`
	Extra             map[string]json.RawMessage `json:"-"`
	raw               rawFields
}

// deployBody is the deploy (create deployment) body.
type deployBody struct {
	TrainedModelLabel string `json:"trainedModelLabel"`
}

// swapBody is the swap deployments body.
type swapBody struct {
	FirstDeploymentName  string `json:"firstDeploymentName"`
	SecondDeploymentName string `json:"secondDeploymentName"`
}

// errorBody is the {"error": {...}} envelope of an error response.
type errorBody struct {
	Error *ErrorDetail `json:"error"`
}

// page is one page of a list operation.
type page[T any] struct {
	Value    []T     `json:"value"`
	NextLink *string `json:"nextLink"`
}
