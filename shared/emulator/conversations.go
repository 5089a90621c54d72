package emulator

import (
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The conversations authoring API (CLU "Conversation" and orchestration
// workflow "Orchestration" projects) and the synchronous
// :analyze-conversations runtime (docs/emulator.md#conversation-projects).
// Conversation projects live in their own namespace (state.Conv) and share
// the job machinery of text projects: their jobs carry Conv.

const (
	convProjectsPath = "/language/authoring/analyze-conversations/projects"
	convRuntimePath  = "/language/:analyze-conversations"
)

const (
	convRoute      = convProjectsPath + "/{projectName}"
	convModelRoute = convRoute + "/models/{trainedModelLabel}"
	convDepRoute   = convRoute + "/deployments/{deploymentName}"
)

// convRoutes are added to routes' mux.
var convRoutes = []struct {
	pattern string
	op      operation
}{
	{"GET " + convProjectsPath, plain((*Server).listConvProjects)},
	{"GET " + convRoute, byProject((*Server).getConvProject)},
	{"PATCH " + convRoute, byProject((*Server).patchConvProject)},
	{"DELETE " + convRoute, byProject((*Server).deleteConvProject)},
	{"GET " + convProjectsPath + "/global/deletion-jobs/{jobId}", byJob((*Server).getJob)},
	{"GET " + convProjectsPath + "/global/languages", plain((*Server).listLanguages)},
	{"GET " + convProjectsPath + "/global/training-config-versions", plain((*Server).listConvConfigVersions)},
	{"GET " + convProjectsPath + "/global/prebuilt-entities", plain((*Server).listPrebuiltEntities)},
	{"POST " + convRoute + "/:export", byProject((*Server).convExport)},
	{"GET " + convRoute + "/export/jobs/{jobId}", byJob((*Server).getJob)},
	{"GET " + convRoute + "/export/jobs/{jobId}/result", byProjectJob((*Server).convExportResult)},
	{"POST " + convRoute + "/:import", byProject((*Server).convImport)},
	{"GET " + convRoute + "/import/jobs/{jobId}", byJob((*Server).getJob)},
	{"POST " + convRoute + "/:train", byProject((*Server).convTrain)},
	{"GET " + convRoute + "/train/jobs", byProject(listTrainingJobs(true))},
	{"POST " + convRoute + "/train/jobs/{jobId}/:cancel", byProjectJob(cancelTraining(true))},
	{"GET " + convRoute + "/train/jobs/{jobId}", byJob((*Server).getJob)},
	{"GET " + convRoute + "/models", byProject((*Server).listConvModels)},
	{"GET " + convModelRoute, byModel((*Server).getConvModel)},
	{"DELETE " + convModelRoute, byModel((*Server).deleteConvModel)},
	{"GET " + convModelRoute + "/evaluation/summary-result", byModel(getEvaluationSummary(true))},
	{"GET " + convModelRoute + "/evaluation/result", byModel(getEvaluationResults(true))},
	{"POST " + convModelRoute + "/:load-snapshot", since("2023-04-01", byModel(loadSnapshot(true)))},
	{"POST " + convModelRoute, since("2023-04-01", withSuffix("trainedModelLabel", ":load-snapshot", byModel(loadSnapshot(true))))},
	{"GET " + convModelRoute + "/load-snapshot/jobs/{jobId}", since("2023-04-01", byJob((*Server).getJob))},
	{"GET " + convRoute + "/deployments", byProject((*Server).listConvDeployments)},
	{"GET " + convDepRoute, byDeployment((*Server).getConvDeployment)},
	{"POST " + convRoute + "/deployments/:swap", byProject(swapDeployments(true))},
	{"PUT " + convDepRoute, byDeployment(deploy(true))},
	{"DELETE " + convDepRoute, byDeployment(deleteDeployment(true))},
	{"GET " + convDepRoute + "/jobs/{jobId}", byJob((*Server).getJob)},
	{"POST " + convRuntimePath, plain((*Server).analyzeConversations)},
}

// convProject is a CLU or orchestration project.
type convProject struct {
	Meta        convMeta                   `json:"meta"`
	Created     time.Time                  `json:"created"`
	Modified    time.Time                  `json:"modified"`
	Trained     *time.Time                 `json:"trained,omitempty"`
	Deployed    *time.Time                 `json:"deployed,omitempty"`
	Assets      convAssets                 `json:"assets"`
	Models      map[string]*convModel      `json:"models"`
	Deployments map[string]*convDeployment `json:"deployments"`
}

// convMeta is the metadata of a conversation project (no storage).
type convMeta struct {
	ProjectKind string `json:"projectKind"`
	// Settings is always exported (an empty object when none are set).
	Settings     map[string]any `json:"settings"`
	ProjectName  string         `json:"projectName"`
	Multilingual bool           `json:"multilingual"`
	Description  string         `json:"description,omitempty"`
	Language     string         `json:"language"`
}

// convAssets are a conversation project's labelled data.
type convAssets struct {
	ProjectKind string          `json:"projectKind"`
	Intents     []convIntent    `json:"intents,omitempty"`
	Entities    []convEntity    `json:"entities,omitempty"`
	Utterances  []convUtterance `json:"utterances,omitempty"`
}

type convIntent struct {
	Category      string      `json:"category"`
	Orchestration *convTarget `json:"orchestration,omitempty"`
}

type convTarget struct {
	TargetProjectKind        string          `json:"targetProjectKind"`
	ConversationOptions      *convTargetProj `json:"conversationOptions,omitempty"`
	QuestionAnsweringOptions *convTargetProj `json:"questionAnsweringOptions,omitempty"`
	LuisOptions              map[string]any  `json:"luisOptions,omitempty"`
}

type convTargetProj struct {
	ProjectName    string `json:"projectName"`
	DeploymentName string `json:"deploymentName,omitempty"`
}

type convEntity struct {
	Category           string     `json:"category"`
	CompositionSetting string     `json:"compositionSetting,omitempty"`
	List               *convList  `json:"list,omitempty"`
	Prebuilts          []category `json:"prebuilts,omitempty"`
	Regex              *convRegex `json:"regex,omitempty"`
	RequiredComponents []string   `json:"requiredComponents,omitempty"`
}

type convList struct {
	Sublists []struct {
		ListKey  string `json:"listKey"`
		Synonyms []struct {
			Language string   `json:"language,omitempty"`
			Values   []string `json:"values"`
		} `json:"synonyms"`
	} `json:"sublists"`
}

type convRegex struct {
	Expressions []struct {
		RegexKey     string `json:"regexKey,omitempty"`
		Language     string `json:"language,omitempty"`
		RegexPattern string `json:"regexPattern"`
	} `json:"expressions"`
}

type convUtterance struct {
	Text     string  `json:"text"`
	Language string  `json:"language,omitempty"`
	Dataset  string  `json:"dataset,omitempty"`
	Intent   string  `json:"intent"`
	Entities []label `json:"entities"`
}

// convSnapshot is a conversation project at one moment.
type convSnapshot struct {
	Meta   convMeta   `json:"meta"`
	Assets convAssets `json:"assets"`
}

// convModel is a trained conversation model: the snapshot it was trained
// on is what it predicts from (see predictConv).
type convModel struct {
	Label         string       `json:"label"`
	ModelID       string       `json:"modelId"`
	Trained       time.Time    `json:"trained"`
	DurationSec   int          `json:"durationSec"`
	Expiration    string       `json:"expiration"`
	ConfigVersion string       `json:"configVersion"`
	TrainingMode  string       `json:"trainingMode"`
	Snapshot      convSnapshot `json:"snapshot"`
	// Summary and Evaluations are the evaluation on the Test split
	// (evaluateConv).
	Summary     json.RawMessage     `json:"summary,omitempty"`
	Evaluations []convUtteranceEval `json:"evaluations,omitempty"`
}

// convDeployment keeps its own copy of the model it serves.
type convDeployment struct {
	Name     string    `json:"name"`
	Deployed time.Time `json:"deployed"`
	Model    convModel `json:"model"`
}

var convKinds = []string{"Conversation", "Orchestration"}

func normalizeConvKind(k string) (string, bool) { return normalizeIn(convKinds, k) }

func (s *Server) convProject(name string) (*convProject, error) {
	p := s.st.Conv[name]
	if p == nil {
		return nil, errProjectNotFound(name)
	}
	return p, nil
}

// ---- projects ----

type convMetadata struct {
	CreatedDateTime      string         `json:"createdDateTime"`
	LastModifiedDateTime string         `json:"lastModifiedDateTime"`
	LastTrainedDateTime  string         `json:"lastTrainedDateTime,omitempty"`
	LastDeployedDateTime string         `json:"lastDeployedDateTime,omitempty"`
	ProjectKind          string         `json:"projectKind"`
	Settings             map[string]any `json:"settings,omitempty"`
	ProjectName          string         `json:"projectName"`
	Multilingual         bool           `json:"multilingual"`
	Description          string         `json:"description,omitempty"`
	Language             string         `json:"language"`
}

func renderConvProject(c *call, p *convProject) convMetadata {
	md := convMetadata{CreatedDateTime: ts(p.Created), LastModifiedDateTime: ts(p.Modified), ProjectKind: p.Meta.ProjectKind,
		ProjectName: p.Meta.ProjectName, Multilingual: p.Meta.Multilingual, Description: p.Meta.Description, Language: p.Meta.Language}
	if st := renderSettings(c.version, p.Meta.Settings); len(st) > 0 {
		md.Settings = st
	}
	if p.Trained != nil {
		md.LastTrainedDateTime = ts(*p.Trained)
	}
	if p.Deployed != nil {
		md.LastDeployedDateTime = ts(*p.Deployed)
	}
	return md
}

func (s *Server) listConvProjects(c *call) error {
	items := []any{}
	for _, n := range sortedKeys(s.st.Conv) {
		items = append(items, renderConvProject(c, s.st.Conv[n]))
	}
	return s.page(c, items)
}

func (s *Server) getConvProject(c *call, name string) error {
	p, err := s.convProject(name)
	if err != nil {
		return err
	}
	writeJSON(c.w, 200, renderConvProject(c, p))
	return nil
}

func (s *Server) patchConvProject(c *call, name string) error {
	if err := validName("project", name); err != nil {
		return err
	}
	var body struct {
		ProjectKind  *string        `json:"projectKind"`
		Settings     map[string]any `json:"settings"`
		ProjectName  *string        `json:"projectName"`
		Multilingual *bool          `json:"multilingual"`
		Description  *string        `json:"description"`
		Language     *string        `json:"language"`
	}
	if err := decodeBody(c.r, &body); err != nil {
		return err
	}
	p := s.st.Conv[name]
	created := p == nil
	if created {
		if body.ProjectKind == nil || body.Language == nil {
			return errBadRequest("InvalidParameterValue", "Creating project %q needs projectKind (Conversation or Orchestration) and language.", name)
		}
		p = &convProject{Created: c.now, Models: map[string]*convModel{}, Deployments: map[string]*convDeployment{}, Meta: convMeta{ProjectName: name}}
	}
	meta := p.Meta
	if body.ProjectName != nil && *body.ProjectName != name {
		return errBadRequest("InvalidParameterValue", "The projectName %q in the body differs from %q in the path.", *body.ProjectName, name)
	}
	if body.ProjectKind != nil {
		k, ok := normalizeConvKind(*body.ProjectKind)
		if !ok {
			return errBadRequest("InvalidParameterValue", "The projectKind %q is not a conversation project kind; use Conversation or Orchestration.", *body.ProjectKind)
		}
		if !created && k != p.Meta.ProjectKind {
			return errBadRequest("InvalidParameterValue", "The projectKind of an existing project cannot change (%s).", p.Meta.ProjectKind)
		}
		meta.ProjectKind = k
	}
	if body.Language != nil {
		if !convLanguageOK(*body.Language) {
			return errBadRequest("InvalidParameterValue", "The language %q is not supported.", *body.Language)
		}
		meta.Language = *body.Language
	}
	if body.Multilingual != nil {
		meta.Multilingual = *body.Multilingual
	}
	if body.Description != nil {
		meta.Description = *body.Description
	}
	if body.Settings != nil {
		if err := checkSettings(body.Settings); err != nil {
			return err
		}
		meta.Settings = copySettings(body.Settings)
	}
	p.Meta, p.Modified = meta, c.now
	if created {
		p.Assets.ProjectKind = meta.ProjectKind
		p.Assets.Intents = []convIntent{{Category: "None"}}
		s.st.Conv[name] = p
	}
	s.dirty = true
	code := 200
	if created {
		code = 201
	}
	writeJSON(c.w, code, renderConvProject(c, p))
	return nil
}

func (s *Server) deleteConvProject(c *call, name string) error {
	if _, err := s.convProject(name); err != nil {
		return err
	}
	id := newJobID(c.now)
	return s.startJob(c, &job{ID: id, Conv: true, Kind: KindDeleteProject, Project: name, Path: convProjectsPath + "/global/deletion-jobs/" + id})
}

// ---- export / import ----

type convExported struct {
	ProjectFileVersion string     `json:"projectFileVersion"`
	StringIndexType    string     `json:"stringIndexType"`
	Metadata           convMeta   `json:"metadata"`
	Assets             convAssets `json:"assets"`
}

func convSnapshotOf(p *convProject) *convSnapshot {
	b, _ := json.Marshal(convSnapshot{Meta: p.Meta, Assets: p.Assets})
	var out convSnapshot
	_ = json.Unmarshal(b, &out) // a deep copy
	return &out
}

func (s *Server) convExport(c *call, name string) error {
	p, err := s.convProject(name)
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	if sit := q.Get("stringIndexType"); sit != "Utf16CodeUnit" {
		return errBadRequest("InvalidParameterValue", "The stringIndexType query parameter must be Utf16CodeUnit (the emulator exports UTF-16 offsets), not %q.", sit)
	}
	snap := convSnapshotOf(p)
	if label := q.Get("trainedModelLabel"); label != "" {
		m := p.Models[label]
		if m == nil {
			return errNotFound("The trained model %q was not found in project %q.", label, name)
		}
		cp := m.Snapshot
		snap = &cp
		snap.Meta.ProjectName = name
	}
	id := newJobID(c.now)
	return s.startJob(c, &job{ID: id, Conv: true, Kind: KindExport, Project: name, ConvSnapshot: snap, Path: convProjectsPath + "/" + name + "/export/jobs/" + id})
}

func (s *Server) convExportResult(c *call, name, id string) error {
	j := s.st.Jobs[id]
	if j == nil || !j.Conv || j.Kind != KindExport || j.Project != name || !j.Done || j.Status != "succeeded" {
		return errOperationNotFound(id)
	}
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(200)
	_, _ = c.w.Write(j.ExportResult)
	return nil
}

func (s *Server) convImport(c *call, name string) error {
	if err := validName("project", name); err != nil {
		return err
	}
	var body struct {
		ProjectFileVersion string      `json:"projectFileVersion"`
		StringIndexType    string      `json:"stringIndexType"`
		Metadata           *convMeta   `json:"metadata"`
		Assets             *convAssets `json:"assets"`
	}
	if err := decodeBody(c.r, &body); err != nil {
		return err
	}
	if body.Metadata == nil {
		return errBadRequest("InvalidParameterValue", "The import body has no metadata.")
	}
	snap := &convSnapshot{Meta: *body.Metadata}
	if body.Assets != nil {
		snap.Assets = *body.Assets
	}
	if err := s.checkConvImport(name, body.StringIndexType, snap); err != nil {
		return err
	}
	if p := s.st.Conv[name]; p != nil && p.Meta.ProjectKind != snap.Meta.ProjectKind {
		return errBadRequest("InvalidParameterValue", "Project %q is a %s project; an %s export cannot be imported into it (delete it first).", name, p.Meta.ProjectKind, snap.Meta.ProjectKind)
	}
	id := newJobID(c.now)
	return s.startJob(c, &job{ID: id, Conv: true, Kind: KindImport, Project: name, ConvSnapshot: snap, Path: convProjectsPath + "/" + name + "/import/jobs/" + id})
}

// checkConvImport validates and normalises an imported project: names,
// kind, language, declared intents and entities, entity offsets inside
// their utterance, regular expressions that compile, orchestration targets.
func (s *Server) checkConvImport(name, sit string, snap *convSnapshot) error {
	m := &snap.Meta
	if m.ProjectName != name {
		return errBadRequest("InvalidParameterValue", "metadata.projectName %q differs from the project %q in the path.", m.ProjectName, name)
	}
	if sit != "Utf16CodeUnit" {
		return errBadRequest("InvalidParameterValue", "stringIndexType %q is not supported by the emulator for import; use Utf16CodeUnit.", sit)
	}
	k, ok := normalizeConvKind(m.ProjectKind)
	if !ok {
		return errBadRequest("InvalidParameterValue", "metadata.projectKind %q is not Conversation or Orchestration (text projects are imported under analyze-text).", m.ProjectKind)
	}
	m.ProjectKind = k
	if !convLanguageOK(m.Language) {
		return errBadRequest("InvalidParameterValue", "metadata.language %q is not supported.", m.Language)
	}
	if m.Settings != nil {
		if err := checkSettings(m.Settings); err != nil {
			return err
		}
	}
	a := &snap.Assets
	if a.ProjectKind != "" && !strings.EqualFold(a.ProjectKind, k) {
		return errBadRequest("InvalidParameterValue", "assets.projectKind %q differs from metadata.projectKind %q.", a.ProjectKind, k)
	}
	a.ProjectKind = k
	intents := map[string]bool{}
	for _, in := range a.Intents {
		if in.Category == "" || intents[in.Category] {
			return errBadRequest("InvalidParameterValue", "Intent %q is empty or declared twice.", in.Category)
		}
		intents[in.Category] = true
		if o := in.Orchestration; o != nil {
			if k != "Orchestration" {
				return errBadRequest("InvalidParameterValue", "Intent %q has an orchestration target, but the project is not an orchestration project.", in.Category)
			}
			if o.TargetProjectKind == "Conversation" && (o.ConversationOptions == nil || o.ConversationOptions.ProjectName == "") {
				return errBadRequest("InvalidParameterValue", "Intent %q targets a Conversation project without conversationOptions.projectName.", in.Category)
			}
		}
	}
	if !intents["None"] {
		// The service always has a None intent.
		a.Intents = append([]convIntent{{Category: "None"}}, a.Intents...)
		intents["None"] = true
	}
	entities := map[string]bool{}
	for _, e := range a.Entities {
		if e.Category == "" || entities[e.Category] {
			return errBadRequest("InvalidParameterValue", "Entity %q is empty or declared twice.", e.Category)
		}
		if k == "Orchestration" {
			return errBadRequest("InvalidParameterValue", "Orchestration projects have no entities (%q).", e.Category)
		}
		entities[e.Category] = true
		if e.Regex != nil {
			for _, x := range e.Regex.Expressions {
				if _, err := compileConvRegex(x.RegexPattern); err != nil {
					return errBadRequest("InvalidParameterValue", "Entity %q: regex %q does not compile: %v.", e.Category, x.RegexPattern, err)
				}
			}
		}
	}
	for i := range a.Utterances {
		u := &a.Utterances[i]
		if u.Text == "" || !intents[u.Intent] {
			return errBadRequest("InvalidParameterValue", "Utterance %d (%q) is empty or labelled with undeclared intent %q.", i, u.Text, u.Intent)
		}
		if u.Language != "" && !convLanguageOK(u.Language) {
			return errBadRequest("InvalidParameterValue", "Utterance %d has unsupported language %q.", i, u.Language)
		}
		if u.Language != "" && !m.Multilingual && !strings.EqualFold(u.Language, m.Language) {
			return errBadRequest("InvalidParameterValue", "Utterance %d is in %q but project %q is not multilingual (language %q).", i, u.Language, name, m.Language)
		}
		u.Dataset = normalizeDataset(u.Dataset)
		n := len(utf16.Encode([]rune(u.Text)))
		for _, l := range u.Entities {
			if !entities[l.Category] {
				return errBadRequest("InvalidParameterValue", "Utterance %d labels undeclared entity %q.", i, l.Category)
			}
			if l.Offset < 0 || l.Length <= 0 || l.Offset+l.Length > n {
				return errBadRequest("InvalidParameterValue", "Utterance %d: entity %q at %d+%d is outside the text (%d UTF-16 units).", i, l.Category, l.Offset, l.Length, n)
			}
		}
		if u.Entities == nil {
			u.Entities = []label{}
		}
	}
	return nil
}

// convLanguageOK accepts a supported language code, or a regional variant
// of one (en-gb, de-de): conversation projects take BCP 47 tags.
func convLanguageOK(code string) bool {
	base, _, _ := strings.Cut(code, "-")
	return isSupportedLanguage(code) || isSupportedLanguage(base)
}

// compileConvRegex accepts a pattern written /like this/ as in the spec
// example, or bare.
func compileConvRegex(p string) (*regexp.Regexp, error) {
	if len(p) >= 2 && strings.HasPrefix(p, "/") && strings.HasSuffix(p, "/") {
		p = p[1 : len(p)-1]
	}
	return regexp.Compile("(?i)" + p)
}

// ---- training ----

func (s *Server) convTrain(c *call, name string) error {
	p, err := s.convProject(name)
	if err != nil {
		return err
	}
	var body struct {
		ModelLabel            string           `json:"modelLabel"`
		TrainingMode          string           `json:"trainingMode"`
		TrainingConfigVersion string           `json:"trainingConfigVersion"`
		EvaluationOptions     *evalOptionsBody `json:"evaluationOptions"`
	}
	if err := decodeBody(c.r, &body); err != nil {
		return err
	}
	if err := validName("model", body.ModelLabel); err != nil {
		return err
	}
	if body.TrainingMode != "standard" && body.TrainingMode != "advanced" {
		return errBadRequest("InvalidParameterValue", "The field trainingMode is required: standard or advanced (got %q).", body.TrainingMode)
	}
	if body.TrainingMode == "advanced" && s.opts.NoAdvancedTraining {
		return errBadRequest("InvalidParameterValue", "The training mode advanced is not available for project %q in this resource's region and language; train it standard.", name)
	}
	ev, err := parseEvalOptions(body.EvaluationOptions)
	if err != nil {
		return err
	}
	if body.TrainingConfigVersion == "" {
		body.TrainingConfigVersion = "latest"
	}
	version, err := s.resolveTrainingVersion(p.Meta.ProjectKind, body.TrainingConfigVersion, c.now)
	if err != nil {
		return err
	}
	if len(p.Assets.Utterances) == 0 {
		return errBadRequest("InvalidParameterValue", "Project %q has no utterances to train on.", name)
	}
	if err := s.trainRunning(true, name); err != nil {
		return err
	}
	id := newJobID(c.now)
	return s.startJob(c, &job{ID: id, Conv: true, Kind: KindTrain, Project: name, ConvSnapshot: convSnapshotOf(p), ModelLabel: body.ModelLabel,
		TrainingMode: body.TrainingMode, ConfigVersion: version.Version, ConfigExpires: version.Expires.Format(time.DateOnly), EvalOptions: &ev,
		Path: convProjectsPath + "/" + name + "/train/jobs/" + id})
}

func (s *Server) listConvConfigVersions(c *call) error {
	kind, ok := normalizeConvKind(c.r.URL.Query().Get("projectKind"))
	if !ok {
		kind = "Conversation"
	}
	return s.pageConfigVersions(c, kind)
}

// completeConv applies a conversation job's effects at time at.
func (s *Server) completeConv(j *job, at time.Time) {
	p := s.st.Conv[j.Project]
	if p == nil && j.Kind != KindImport {
		j.finish(at, "failed", apiError{Code: "ProjectNotFound", Message: "The specified project was not found.", Target: j.Project})
		return
	}
	switch j.Kind {
	case KindDeleteProject:
		delete(s.st.Conv, j.Project)
		s.forgetProjectJobs(j)
	case KindExport:
		snap := j.ConvSnapshot
		meta := snap.Meta
		meta.Settings = renderSettings(j.APIVersion, snap.Meta.Settings)
		b, err := json.Marshal(convExported{ProjectFileVersion: j.APIVersion, StringIndexType: "Utf16CodeUnit", Metadata: meta, Assets: snap.Assets})
		if err != nil {
			j.finish(at, "failed", apiError{Code: "InternalServerError", Message: err.Error()})
			return
		}
		j.ExportResult = b
	case KindImport:
		if p == nil {
			p = &convProject{Created: at, Models: map[string]*convModel{}, Deployments: map[string]*convDeployment{}}
			s.st.Conv[j.Project] = p
		}
		p.Meta, p.Assets, p.Modified = j.ConvSnapshot.Meta, j.ConvSnapshot.Assets, at
	case KindTrain:
		ev := evalOptions{Kind: "percentage", TrainingSplitPercentage: 80, TestingSplitPercentage: 20}
		if j.EvalOptions != nil {
			ev = *j.EvalOptions
		}
		summary, evals := evaluateConv(j.ConvSnapshot, ev)
		p.Models[j.ModelLabel] = &convModel{Label: j.ModelLabel, ModelID: modelID(j.Project, j.ModelLabel, at, j.Seq), Trained: at,
			DurationSec: max(int(j.Duration/time.Second), 1), Expiration: j.ConfigExpires, ConfigVersion: j.ConfigVersion,
			TrainingMode: j.TrainingMode, Snapshot: *j.ConvSnapshot, Summary: summary, Evaluations: evals}
		t := at
		p.Trained = &t
	case KindDeploy:
		m := modelOrFail(j, at, p.Models)
		if m == nil {
			return
		}
		p.Deployments[j.Deployment] = &convDeployment{Name: j.Deployment, Deployed: at, Model: *m}
		t := at
		p.Deployed = &t
	case KindDeleteDeployment:
		delete(p.Deployments, j.Deployment)
	case KindSwap:
		if !swapIn(j, at, p.Deployments, func(d *convDeployment, n string) { d.Name = n }) {
			return
		}
	case KindLoadSnapshot:
		m := modelOrFail(j, at, p.Models)
		if m == nil {
			return
		}
		p.Assets, p.Modified = m.Snapshot.Assets, at
	}
	j.finish(at, "succeeded")
}

// ---- evaluation ----

// convEvaluationSummary is a conversation model's evaluation summary.
type convEvaluationSummary struct {
	Entities *classEval   `json:"entitiesEvaluation"`
	Intents  *classEval   `json:"intentsEvaluation"`
	Options  *evalOptions `json:"evaluationOptions"`
}

// convUtteranceEval is one Test utterance's expected and predicted
// intent and entities.
type convUtteranceEval struct {
	Text           string `json:"text"`
	Language       string `json:"language"`
	EntitiesResult struct {
		ExpectedEntities  []label `json:"expectedEntities"`
		PredictedEntities []label `json:"predictedEntities"`
	} `json:"entitiesResult"`
	IntentsResult struct {
		ExpectedIntent  string `json:"expectedIntent"`
		PredictedIntent string `json:"predictedIntent"`
	} `json:"intentsResult"`
}

// evaluateConv predicts each Test-split utterance of snap with what the
// Train split teaches (scoreIntents, extractEntities) and scores the
// predictions as the text evaluation does (countSingle, countEntities).
func evaluateConv(snap *convSnapshot, ev evalOptions) (json.RawMessage, []convUtteranceEval) {
	train := *snap
	train.Assets.Utterances = make([]convUtterance, 0, len(snap.Assets.Utterances))
	var test []convUtterance
	for _, u := range snap.Assets.Utterances {
		if !inTrainSplit(ev, u.Dataset, u.Text) {
			test = append(test, u)
			u.Dataset = "Test" // scoreIntents skips it
		}
		train.Assets.Utterances = append(train.Assets.Utterances, u)
	}
	intents, entities := map[string]*metrics{}, map[string]*metrics{}
	var names []string
	for _, in := range snap.Assets.Intents {
		intents[in.Category] = &metrics{}
		names = append(names, in.Category)
	}
	for _, e := range snap.Assets.Entities {
		entities[e.Category] = &metrics{}
	}
	icm, ecm := confusion{}, confusion{}
	evals := []convUtteranceEval{}
	for _, u := range test {
		var ue convUtteranceEval
		ue.Text, ue.Language = u.Text, u.Language
		if ue.Language == "" {
			ue.Language = snap.Meta.Language
		}
		ue.IntentsResult.ExpectedIntent = u.Intent
		if got := scoreIntents(&train, u.Text); len(got) > 0 {
			ue.IntentsResult.PredictedIntent = got[0].Category
		}
		countSingle(intents, icm, names, u.Intent, ue.IntentsResult.PredictedIntent)
		ue.EntitiesResult.ExpectedEntities = append([]label{}, u.Entities...)
		ue.EntitiesResult.PredictedEntities = []label{}
		for _, e := range extractEntities(&train, u.Text, "Utf16CodeUnit") {
			ue.EntitiesResult.PredictedEntities = append(ue.EntitiesResult.PredictedEntities, label{Category: e.Category, Offset: e.Offset, Length: e.Length})
		}
		countEntities(entities, ecm, ue.EntitiesResult.ExpectedEntities, ue.EntitiesResult.PredictedEntities)
		evals = append(evals, ue)
	}
	out := convEvaluationSummary{
		Intents:  &classEval{ConfusionMatrix: icm, Intents: intents, aggregate: finishEval(intents, icm)},
		Entities: &classEval{ConfusionMatrix: ecm, Entities: entities, aggregate: finishEval(entities, ecm)},
		Options:  &ev,
	}
	b, _ := json.Marshal(out) // plain structs of strings and numbers
	return b, evals
}

// ---- global ----

// prebuiltEntities are the prebuilt components the emulator recognizes
// (prebuiltPatterns), as global/prebuilt-entities lists them.
var prebuiltEntities = []struct {
	Category    string `json:"category"`
	Description string `json:"description"`
	Examples    string `json:"examples"`
}{
	{"Email", "Email addresses", "user@example.net, user_name@example.com"},
	{"Number", "A number in numeric form (the emulator's alias of Quantity.Number)", "3, 42, 3.141"},
	{"Quantity.Number", "A cardinal number in numeric form", "3, 42, 3.141"},
	{"URL", "Websites URLs and links", "http://example.net, https://www.example.com/page"},
}

// listPrebuiltEntities answers global/prebuilt-entities: every component
// the emulator recognizes, in any language.
func (s *Server) listPrebuiltEntities(c *call) error {
	return s.page(c, anySlice(prebuiltEntities))
}

// ---- models and deployments ----

func (m *convModel) asModel() *model {
	return &model{Label: m.Label, ModelID: m.ModelID, Trained: m.Trained, DurationSec: m.DurationSec, Expiration: m.Expiration, ConfigVersion: m.ConfigVersion}
}

func (s *Server) convModel(name, label string) (*convProject, *convModel, error) {
	p, err := s.convProject(name)
	if err != nil {
		return nil, nil, err
	}
	m := p.Models[label]
	if m == nil {
		return nil, nil, errNotFound("The trained model %q was not found in project %q.", label, name)
	}
	return p, m, nil
}

func (s *Server) listConvModels(c *call, name string) error {
	p, err := s.convProject(name)
	if err != nil {
		return err
	}
	return pageOf(s, c, p.Models, func(m *convModel) any { return renderModel(c, m.asModel()) })
}

func (s *Server) getConvModel(c *call, name, label string) error {
	_, m, err := s.convModel(name, label)
	if err != nil {
		return err
	}
	writeJSON(c.w, 200, renderModel(c, m.asModel()))
	return nil
}

func (s *Server) deleteConvModel(c *call, name, label string) error {
	p, _, err := s.convModel(name, label)
	if err != nil {
		return err
	}
	delete(p.Models, label)
	s.dirty = true
	c.w.WriteHeader(204)
	return nil
}

func renderConvDeployment(d *convDeployment) projectDeployment {
	return renderDeployment(&deployment{Name: d.Name, ModelID: d.Model.ModelID, Trained: d.Model.Trained, Deployed: d.Deployed,
		Expiration: deploymentExpiration(d.Model.asModel()), ConfigVersion: d.Model.ConfigVersion})
}

func (s *Server) listConvDeployments(c *call, name string) error {
	p, err := s.convProject(name)
	if err != nil {
		return err
	}
	return pageOf(s, c, p.Deployments, func(d *convDeployment) any { return renderConvDeployment(d) })
}

func (s *Server) getConvDeployment(c *call, name, dep string) error {
	p, err := s.convProject(name)
	if err != nil {
		return err
	}
	return writeDeployment(c, p.Deployments, name, dep, renderConvDeployment)
}

// ---- runtime ----

// convRequest is the :analyze-conversations body.
type convRequest struct {
	Kind          string `json:"kind"`
	AnalysisInput struct {
		ConversationItem struct {
			ID            string `json:"id"`
			ParticipantID string `json:"participantId"`
			Text          string `json:"text"`
			Language      string `json:"language"`
			Modality      string `json:"modality"`
		} `json:"conversationItem"`
	} `json:"analysisInput"`
	Parameters struct {
		ProjectName     string `json:"projectName"`
		DeploymentName  string `json:"deploymentName"`
		Verbose         bool   `json:"verbose"`
		StringIndexType string `json:"stringIndexType"`
		DirectTarget    string `json:"directTarget"`
	} `json:"parameters"`
}

type convIntentScore struct {
	Category        string  `json:"category"`
	ConfidenceScore float64 `json:"confidenceScore"`
}

type convExtraInfo struct {
	ExtraInformationKind string `json:"extraInformationKind"`
	Key                  string `json:"key,omitempty"`
	RegexPattern         string `json:"regexPattern,omitempty"`
}

type convEntityResult struct {
	Category         string          `json:"category"`
	Text             string          `json:"text"`
	Offset           int             `json:"offset"`
	Length           int             `json:"length"`
	ConfidenceScore  float64         `json:"confidenceScore"`
	ExtraInformation []convExtraInfo `json:"extraInformation,omitempty"`
}

type convPrediction struct {
	TopIntent   string `json:"topIntent"`
	ProjectKind string `json:"projectKind"`
	Intents     any    `json:"intents"`
	// Entities is a []convEntityResult for CLU (sent even when empty);
	// orchestration predictions have none (nil, omitted).
	Entities any `json:"entities,omitempty"`
}

type convResult struct {
	Query            string         `json:"query"`
	DetectedLanguage string         `json:"detectedLanguage,omitempty"`
	Prediction       convPrediction `json:"prediction"`
}

type orchIntent struct {
	ConfidenceScore   float64     `json:"confidenceScore"`
	TargetProjectKind string      `json:"targetProjectKind"`
	Result            *convResult `json:"result,omitempty"`
}

func (s *Server) analyzeConversations(c *call) error {
	var req convRequest
	if err := decodeBody(c.r, &req); err != nil {
		return err
	}
	if req.Kind != "Conversation" {
		return errBadRequest("InvalidParameterValue", "The task kind %q is not supported by the emulator; use Conversation.", req.Kind)
	}
	item := req.AnalysisInput.ConversationItem
	if item.Text == "" || item.ID == "" || item.ParticipantID == "" {
		return errBadRequest("InvalidParameterValue", "analysisInput.conversationItem needs id, participantId and text.")
	}
	sit := req.Parameters.StringIndexType
	switch sit {
	case "":
		sit = "TextElement_V8"
	case "TextElement_V8", "UnicodeCodePoint", "Utf16CodeUnit":
	default:
		return errBadRequest("InvalidParameterValue", "stringIndexType %q is not TextElement_V8, UnicodeCodePoint or Utf16CodeUnit.", sit)
	}
	res, err := s.predictConv(req.Parameters.ProjectName, req.Parameters.DeploymentName, item.Text, sit, req.Parameters.DirectTarget, 0)
	if err != nil {
		return err
	}
	writeJSON(c.w, 200, map[string]any{"kind": "ConversationResult", "result": res})
	return nil
}

// predictConv predicts with a deployment; depth guards orchestration loops.
func (s *Server) predictConv(project, dep, text, sit, direct string, depth int) (*convResult, error) {
	p := s.st.Conv[project]
	if p == nil {
		return nil, errNotFound("The project %q was not found (or is not a conversation project) in this resource.", project)
	}
	d := p.Deployments[dep]
	if d == nil {
		return nil, errNotFound("The deployment %q of project %q was not found.", dep, project)
	}
	snap := &d.Model.Snapshot
	scores := scoreIntents(snap, text)
	threshold := 0.0
	if v, ok := snap.Meta.Settings["confidenceThreshold"].(float64); ok {
		threshold = v
	}
	top := scores[0].Category
	if scores[0].ConfidenceScore == 0 || scores[0].ConfidenceScore < threshold {
		top = "None"
	}
	res := &convResult{Query: text, Prediction: convPrediction{TopIntent: top, ProjectKind: snap.Meta.ProjectKind}}
	if snap.Meta.ProjectKind == "Conversation" {
		res.Prediction.Intents = scores
		ents := extractEntities(snap, text, sit)
		if ents == nil {
			ents = []convEntityResult{}
		}
		res.Prediction.Entities = ents
		return res, nil
	}
	if direct != "" {
		if !slices.ContainsFunc(snap.Assets.Intents, func(i convIntent) bool { return i.Category == direct }) {
			return nil, errBadRequest("InvalidParameterValue", "directTarget %q is not an intent of orchestration project %q.", direct, project)
		}
		top = direct
		scores = []convIntentScore{{Category: direct, ConfidenceScore: 1}}
		res.Prediction.TopIntent = top
	}
	out := map[string]orchIntent{}
	for _, sc := range scores {
		oi := orchIntent{ConfidenceScore: sc.ConfidenceScore, TargetProjectKind: "NonLinked"}
		var tgt *convTarget
		for _, in := range snap.Assets.Intents {
			if in.Category == sc.Category {
				tgt = in.Orchestration
			}
		}
		if tgt != nil {
			oi.TargetProjectKind = tgt.TargetProjectKind
		}
		if sc.Category == top && tgt != nil {
			switch tgt.TargetProjectKind {
			case "Conversation":
				if depth > 2 {
					return nil, errBadRequest("InvalidParameterValue", "Orchestration targets nest too deeply at %q.", project)
				}
				o := tgt.ConversationOptions
				sub, err := s.predictConv(o.ProjectName, o.DeploymentName, text, sit, "", depth+1)
				if err != nil {
					return nil, errNotFound("Orchestration intent %q routes to project %q deployment %q, which this resource cannot serve: %v", top, o.ProjectName, o.DeploymentName, err)
				}
				oi.Result = sub
			default:
				// Question answering and LUIS targets are not emulated: the
				// intent is reported without a result (docs/emulator.md).
				s.log.Info("orchestration target not supported by the emulator: no result", "project", project, "intent", top, "target", tgt.TargetProjectKind)
			}
		}
		out[sc.Category] = oi
	}
	res.Prediction.Intents = out
	return res, nil
}

// convTokens are the lowercase words of s.
func convTokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// scoreIntents scores every intent by the best cosine overlap between the
// query's words and the words of one of its training utterances (Test
// utterances excluded), highest first, ties by name. Deterministic.
func scoreIntents(snap *convSnapshot, text string) []convIntentScore {
	q := map[string]bool{}
	for _, t := range convTokens(text) {
		q[t] = true
	}
	best := map[string]float64{}
	for _, u := range snap.Assets.Utterances {
		if u.Dataset == "Test" {
			continue
		}
		set := map[string]bool{}
		for _, t := range convTokens(u.Text) {
			set[t] = true
		}
		common := 0
		for t := range set {
			if q[t] {
				common++
			}
		}
		if len(set) == 0 || len(q) == 0 {
			continue
		}
		sc := float64(common) / math.Sqrt(float64(len(set)*len(q)))
		best[u.Intent] = max(best[u.Intent], sc)
	}
	out := make([]convIntentScore, 0, len(snap.Assets.Intents))
	for _, in := range snap.Assets.Intents {
		out = append(out, convIntentScore{Category: in.Category, ConfidenceScore: math.Round(best[in.Category]*1e6) / 1e6})
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].ConfidenceScore != out[b].ConfidenceScore {
			return out[a].ConfidenceScore > out[b].ConfidenceScore
		}
		return out[a].Category < out[b].Category
	})
	return out
}

// cspan is an entity match in byte offsets of the query.
type cspan struct {
	start, end int
	category   string
	extra      []convExtraInfo
	component  string
}

var prebuiltPatterns = map[string]*regexp.Regexp{
	"Quantity.Number": regexp.MustCompile(`\b\d+(?:[.,]\d+)?\b`),
	"Number":          regexp.MustCompile(`\b\d+(?:[.,]\d+)?\b`),
	"Email":           regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`),
	"URL":             regexp.MustCompile(`https?://[^\s]+`),
}

// extractEntities finds every entity of the project in text: learned
// (spans labelled in training utterances, matched as whole words, any
// case), list (list keys and synonyms), regex and prebuilt components
// (prebuiltPatterns), then combines each entity's components by its
// compositionSetting (the longest overlapping span wins by default).
func extractEntities(snap *convSnapshot, text, sit string) []convEntityResult {
	lower := strings.ToLower(text)
	var spans []cspan
	findWord := func(needle, cat, comp string, extra []convExtraInfo) {
		needle = strings.ToLower(strings.TrimSpace(needle))
		if needle == "" {
			return
		}
		for from := 0; ; {
			i := strings.Index(lower[from:], needle)
			if i < 0 {
				return
			}
			st, en := from+i, from+i+len(needle)
			if wordEdge(lower, st) && wordEdge(lower, en) {
				spans = append(spans, cspan{start: st, end: en, category: cat, component: comp, extra: extra})
			}
			from = st + 1
		}
	}
	for _, u := range snap.Assets.Utterances {
		if u.Dataset == "Test" {
			continue
		}
		for _, l := range u.Entities {
			if t, ok := utf16Slice(u.Text, l.Offset, l.Length); ok {
				findWord(t, l.Category, "learned", nil)
			}
		}
	}
	for _, e := range snap.Assets.Entities {
		if e.List != nil {
			for _, sl := range e.List.Sublists {
				extra := []convExtraInfo{{ExtraInformationKind: "ListKey", Key: sl.ListKey}}
				findWord(sl.ListKey, e.Category, "list", extra)
				for _, syn := range sl.Synonyms {
					for _, v := range syn.Values {
						findWord(v, e.Category, "list", extra)
					}
				}
			}
		}
		if e.Regex != nil {
			for _, x := range e.Regex.Expressions {
				re, err := compileConvRegex(x.RegexPattern)
				if err != nil {
					continue
				}
				for _, m := range re.FindAllStringIndex(text, -1) {
					if m[1] > m[0] {
						spans = append(spans, cspan{start: m[0], end: m[1], category: e.Category, component: "regex",
							extra: []convExtraInfo{{ExtraInformationKind: "RegexKey", Key: x.RegexKey, RegexPattern: x.RegexPattern}}})
					}
				}
			}
		}
		for _, pb := range e.Prebuilts {
			if re := prebuiltPatterns[pb.Category]; re != nil {
				for _, m := range re.FindAllStringIndex(text, -1) {
					spans = append(spans, cspan{start: m[0], end: m[1], category: e.Category, component: "prebuilt"})
				}
			}
		}
	}
	required := map[string][]string{}
	for _, e := range snap.Assets.Entities {
		required[e.Category] = e.RequiredComponents
	}
	// Longest first, then leftmost: a span overlapping a kept span of the
	// same entity is dropped (returnLongestOverlap).
	sort.SliceStable(spans, func(a, b int) bool {
		la, lb := spans[a].end-spans[a].start, spans[b].end-spans[b].start
		if la != lb {
			return la > lb
		}
		return spans[a].start < spans[b].start
	})
	var kept []cspan
	for _, sp := range spans {
		if !hasComponents(spans, sp, required[sp.category]) {
			continue
		}
		if slices.ContainsFunc(kept, func(k cspan) bool { return k.category == sp.category && k.start < sp.end && sp.start < k.end }) {
			continue
		}
		kept = append(kept, sp)
	}
	sort.SliceStable(kept, func(a, b int) bool {
		if kept[a].start != kept[b].start {
			return kept[a].start < kept[b].start
		}
		return kept[a].category < kept[b].category
	})
	var out []convEntityResult
	for _, k := range kept {
		off, n := indexIn(text, k.start, sit), indexIn(text, k.end, sit)
		out = append(out, convEntityResult{Category: k.category, Text: text[k.start:k.end], Offset: off, Length: n - off, ConfidenceScore: 1, ExtraInformation: k.extra})
	}
	return out
}

// hasComponents: sp is kept only when every required component of its
// entity matched exactly the same span.
func hasComponents(all []cspan, sp cspan, required []string) bool {
	for _, comp := range required {
		if !slices.ContainsFunc(all, func(o cspan) bool {
			return o.category == sp.category && o.component == comp && o.start == sp.start && o.end == sp.end
		}) {
			return false
		}
	}
	return true
}

func wordEdge(s string, i int) bool {
	if i <= 0 || i >= len(s) {
		return true
	}
	before, _ := utf8.DecodeLastRuneInString(s[:i])
	after, _ := utf8.DecodeRuneInString(s[i:])
	word := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }
	return !word(before) || !word(after)
}

// indexIn converts byte offset i of s to the unit of stringIndexType:
// UTF-16 code units, or code points for UnicodeCodePoint and
// TextElement_V8 (grapheme clusters are approximated by code points).
func indexIn(s string, i int, sit string) int {
	if sit == "Utf16CodeUnit" {
		return len(utf16.Encode([]rune(s[:i])))
	}
	return utf8.RuneCountInString(s[:i])
}
