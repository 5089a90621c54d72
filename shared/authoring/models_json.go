// Code in this file follows one pattern per wire type: decode and encode
// through decodeKeep/encodeKeep so that unknown members survive a round trip.

package authoring

// UnmarshalJSON decodes a ProjectSettings, keeping unknown members in Extra.
func (x *ProjectSettings) UnmarshalJSON(b []byte) error {
	type plain ProjectSettings
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = ProjectSettings(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a ProjectSettings with its Extra members.
func (x ProjectSettings) MarshalJSON() ([]byte, error) {
	type plain ProjectSettings
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a ProjectMetadata, keeping unknown members in Extra.
func (x *ProjectMetadata) UnmarshalJSON(b []byte) error {
	type plain ProjectMetadata
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = ProjectMetadata(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a ProjectMetadata with its Extra members.
func (x ProjectMetadata) MarshalJSON() ([]byte, error) {
	type plain ProjectMetadata
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a ProjectOptions, keeping unknown members in Extra.
func (x *ProjectOptions) UnmarshalJSON(b []byte) error {
	type plain ProjectOptions
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = ProjectOptions(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a ProjectOptions with its Extra members.
func (x ProjectOptions) MarshalJSON() ([]byte, error) {
	type plain ProjectOptions
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a ExportedProject, keeping unknown members in Extra.
func (x *ExportedProject) UnmarshalJSON(b []byte) error {
	type plain ExportedProject
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = ExportedProject(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a ExportedProject with its Extra members.
func (x ExportedProject) MarshalJSON() ([]byte, error) {
	type plain ExportedProject
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a ProjectAssets, keeping unknown members in Extra.
func (x *ProjectAssets) UnmarshalJSON(b []byte) error {
	type plain ProjectAssets
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = ProjectAssets(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a ProjectAssets with its Extra members.
func (x ProjectAssets) MarshalJSON() ([]byte, error) {
	type plain ProjectAssets
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a Class, keeping unknown members in Extra.
func (x *Class) UnmarshalJSON(b []byte) error {
	type plain Class
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = Class(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a Class with its Extra members.
func (x Class) MarshalJSON() ([]byte, error) {
	type plain Class
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a Entity, keeping unknown members in Extra.
func (x *Entity) UnmarshalJSON(b []byte) error {
	type plain Entity
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = Entity(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a Entity with its Extra members.
func (x Entity) MarshalJSON() ([]byte, error) {
	type plain Entity
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a Document, keeping unknown members in Extra.
func (x *Document) UnmarshalJSON(b []byte) error {
	type plain Document
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = Document(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a Document with its Extra members.
func (x Document) MarshalJSON() ([]byte, error) {
	type plain Document
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a EntityRegion, keeping unknown members in Extra.
func (x *EntityRegion) UnmarshalJSON(b []byte) error {
	type plain EntityRegion
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = EntityRegion(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a EntityRegion with its Extra members.
func (x EntityRegion) MarshalJSON() ([]byte, error) {
	type plain EntityRegion
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a EntityLabel, keeping unknown members in Extra.
func (x *EntityLabel) UnmarshalJSON(b []byte) error {
	type plain EntityLabel
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = EntityLabel(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a EntityLabel with its Extra members.
func (x EntityLabel) MarshalJSON() ([]byte, error) {
	type plain EntityLabel
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a TrainOptions, keeping unknown members in Extra.
func (x *TrainOptions) UnmarshalJSON(b []byte) error {
	type plain TrainOptions
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = TrainOptions(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a TrainOptions with its Extra members.
func (x TrainOptions) MarshalJSON() ([]byte, error) {
	type plain TrainOptions
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a EvaluationOptions, keeping unknown members in Extra.
func (x *EvaluationOptions) UnmarshalJSON(b []byte) error {
	type plain EvaluationOptions
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = EvaluationOptions(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a EvaluationOptions with its Extra members.
func (x EvaluationOptions) MarshalJSON() ([]byte, error) {
	type plain EvaluationOptions
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a JobState, keeping unknown members in Extra.
func (x *JobState) UnmarshalJSON(b []byte) error {
	type plain JobState
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = JobState(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a JobState with its Extra members.
func (x JobState) MarshalJSON() ([]byte, error) {
	type plain JobState
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a TrainingJobResult, keeping unknown members in Extra.
func (x *TrainingJobResult) UnmarshalJSON(b []byte) error {
	type plain TrainingJobResult
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = TrainingJobResult(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a TrainingJobResult with its Extra members.
func (x TrainingJobResult) MarshalJSON() ([]byte, error) {
	type plain TrainingJobResult
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a SubJobState, keeping unknown members in Extra.
func (x *SubJobState) UnmarshalJSON(b []byte) error {
	type plain SubJobState
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = SubJobState(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a SubJobState with its Extra members.
func (x SubJobState) MarshalJSON() ([]byte, error) {
	type plain SubJobState
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a ErrorDetail, keeping unknown members in Extra.
func (x *ErrorDetail) UnmarshalJSON(b []byte) error {
	type plain ErrorDetail
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = ErrorDetail(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a ErrorDetail with its Extra members.
func (x ErrorDetail) MarshalJSON() ([]byte, error) {
	type plain ErrorDetail
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a InnerError, keeping unknown members in Extra.
func (x *InnerError) UnmarshalJSON(b []byte) error {
	type plain InnerError
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = InnerError(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a InnerError with its Extra members.
func (x InnerError) MarshalJSON() ([]byte, error) {
	type plain InnerError
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a TrainedModel, keeping unknown members in Extra.
func (x *TrainedModel) UnmarshalJSON(b []byte) error {
	type plain TrainedModel
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = TrainedModel(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a TrainedModel with its Extra members.
func (x TrainedModel) MarshalJSON() ([]byte, error) {
	type plain TrainedModel
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a Deployment, keeping unknown members in Extra.
func (x *Deployment) UnmarshalJSON(b []byte) error {
	type plain Deployment
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = Deployment(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a Deployment with its Extra members.
func (x Deployment) MarshalJSON() ([]byte, error) {
	type plain Deployment
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a SupportedLanguage, keeping unknown members in Extra.
func (x *SupportedLanguage) UnmarshalJSON(b []byte) error {
	type plain SupportedLanguage
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = SupportedLanguage(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a SupportedLanguage with its Extra members.
func (x SupportedLanguage) MarshalJSON() ([]byte, error) {
	type plain SupportedLanguage
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a TrainingConfigVersion, keeping unknown members in Extra.
func (x *TrainingConfigVersion) UnmarshalJSON(b []byte) error {
	type plain TrainingConfigVersion
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = TrainingConfigVersion(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a TrainingConfigVersion with its Extra members.
func (x TrainingConfigVersion) MarshalJSON() ([]byte, error) {
	type plain TrainingConfigVersion
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a EvaluationSummary, keeping unknown members in Extra.
func (x *EvaluationSummary) UnmarshalJSON(b []byte) error {
	type plain EvaluationSummary
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = EvaluationSummary(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a EvaluationSummary with its Extra members.
func (x EvaluationSummary) MarshalJSON() ([]byte, error) {
	type plain EvaluationSummary
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a ClassificationEvaluation, keeping unknown members in Extra.
func (x *ClassificationEvaluation) UnmarshalJSON(b []byte) error {
	type plain ClassificationEvaluation
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = ClassificationEvaluation(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a ClassificationEvaluation with its Extra members.
func (x ClassificationEvaluation) MarshalJSON() ([]byte, error) {
	type plain ClassificationEvaluation
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a EntityRecognitionEvaluation, keeping unknown members in Extra.
func (x *EntityRecognitionEvaluation) UnmarshalJSON(b []byte) error {
	type plain EntityRecognitionEvaluation
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = EntityRecognitionEvaluation(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a EntityRecognitionEvaluation with its Extra members.
func (x EntityRecognitionEvaluation) MarshalJSON() ([]byte, error) {
	type plain EntityRecognitionEvaluation
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a ConfusionCell, keeping unknown members in Extra.
func (x *ConfusionCell) UnmarshalJSON(b []byte) error {
	type plain ConfusionCell
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = ConfusionCell(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a ConfusionCell with its Extra members.
func (x ConfusionCell) MarshalJSON() ([]byte, error) {
	type plain ConfusionCell
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a EvaluationMetrics, keeping unknown members in Extra.
func (x *EvaluationMetrics) UnmarshalJSON(b []byte) error {
	type plain EvaluationMetrics
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = EvaluationMetrics(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a EvaluationMetrics with its Extra members.
func (x EvaluationMetrics) MarshalJSON() ([]byte, error) {
	type plain EvaluationMetrics
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a DocumentEvaluation, keeping unknown members in Extra.
func (x *DocumentEvaluation) UnmarshalJSON(b []byte) error {
	type plain DocumentEvaluation
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = DocumentEvaluation(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a DocumentEvaluation with its Extra members.
func (x DocumentEvaluation) MarshalJSON() ([]byte, error) {
	type plain DocumentEvaluation
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a SingleLabelDocumentEvaluation, keeping unknown members in Extra.
func (x *SingleLabelDocumentEvaluation) UnmarshalJSON(b []byte) error {
	type plain SingleLabelDocumentEvaluation
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = SingleLabelDocumentEvaluation(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a SingleLabelDocumentEvaluation with its Extra members.
func (x SingleLabelDocumentEvaluation) MarshalJSON() ([]byte, error) {
	type plain SingleLabelDocumentEvaluation
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a MultiLabelDocumentEvaluation, keeping unknown members in Extra.
func (x *MultiLabelDocumentEvaluation) UnmarshalJSON(b []byte) error {
	type plain MultiLabelDocumentEvaluation
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = MultiLabelDocumentEvaluation(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a MultiLabelDocumentEvaluation with its Extra members.
func (x MultiLabelDocumentEvaluation) MarshalJSON() ([]byte, error) {
	type plain MultiLabelDocumentEvaluation
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a EntityRecognitionDocEvaluation, keeping unknown members in Extra.
func (x *EntityRecognitionDocEvaluation) UnmarshalJSON(b []byte) error {
	type plain EntityRecognitionDocEvaluation
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = EntityRecognitionDocEvaluation(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a EntityRecognitionDocEvaluation with its Extra members.
func (x EntityRecognitionDocEvaluation) MarshalJSON() ([]byte, error) {
	type plain EntityRecognitionDocEvaluation
	return encodeKeep(plain(x), x.Extra, x.raw)
}

// UnmarshalJSON decodes a EntityRegionEvaluation, keeping unknown members in Extra.
func (x *EntityRegionEvaluation) UnmarshalJSON(b []byte) error {
	type plain EntityRegionEvaluation
	var p plain
	extra, rf, err := decodeKeep(b, &p)
	if err != nil {
		return err
	}
	*x = EntityRegionEvaluation(p)
	x.Extra, x.raw = extra, rf
	return nil
}

// MarshalJSON encodes a EntityRegionEvaluation with its Extra members.
func (x EntityRegionEvaluation) MarshalJSON() ([]byte, error) {
	type plain EntityRegionEvaluation
	return encodeKeep(plain(x), x.Extra, x.raw)
}
