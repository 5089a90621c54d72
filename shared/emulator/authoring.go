package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// call is one request being answered, under s.mu.
type call struct {
	w       http.ResponseWriter
	r       *http.Request
	now     time.Time
	version string
	base    string // scheme://host of the request, for absolute URLs
	path    string // r.URL.Path without a trailing slash
}

const (
	projectsPath = "/language/authoring/analyze-text/projects"
	runtimePath  = "/language/analyze-text/jobs"
)

// dispatch routes an authenticated request. Called under s.mu.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, now time.Time) error {
	path := strings.TrimSuffix(r.URL.Path, "/")
	c := &call{w: w, r: r, now: now, base: baseURL(r), path: path}
	var versions []string
	switch {
	case within(path, projectsPath):
		versions = authoringVersions
	case within(path, runtimePath), path == convRuntimePath:
		versions = runtimeVersions
	case within(path, convProjectsPath):
		versions = s.convVersions
	default:
		return errNoRoute()
	}
	c.version = r.URL.Query().Get("api-version")
	if c.version == "" {
		return errBadRequest("InvalidParameterValue", "The api-version query parameter is required. Supported versions: %s.", strings.Join(versions, ", "))
	}
	if !slices.Contains(versions, c.version) {
		return errBadRequest("InvalidParameterValue", "Unsupported api-version '%s'. Supported versions: %s.", c.version, strings.Join(versions, ", "))
	}
	segs := strings.Split(path, "/")
	if slices.Contains(segs[1:], "") {
		return errNoRoute()
	}
	// Job effects must not depend on whether this client waits for the answer.
	s.tick(context.WithoutCancel(r.Context()), now)
	return s.route(c, segs)
}

// within reports whether path is prefix or below it.
func within(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// baseURL is scheme://host of the request, so that operation-location,
// resultUrl and nextLink point back at whatever address the client used.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

// ---- names and enums ----

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,50}$`)

// validName checks a project, model or deployment name
// (docs/reference/language-rest.md#throttling-and-limits).
func validName(what, name string) error {
	if !nameRE.MatchString(name) {
		return errBadRequest("InvalidParameterValue", "The %s name %q is invalid: use 1 to 50 letters, digits, '_', '.' or '-'.", what, name)
	}
	if what == "project" && strings.EqualFold(name, "global") {
		return errBadRequest("InvalidParameterValue", "The project name %q is invalid: \"global\" (in any case) is reserved for the operations under projects/global.", name)
	}
	return nil
}

var projectKinds = []string{"CustomSingleLabelClassification", "CustomMultiLabelClassification", "CustomEntityRecognition"}

// normalizeKind accepts either case of a text project kind and returns
// PascalCase.
func normalizeKind(k string) (string, bool) { return normalizeIn(projectKinds, k) }

func isSupportedLanguage(code string) bool {
	for _, l := range supportedLanguages {
		if strings.EqualFold(l.LanguageCode, code) {
			return true
		}
	}
	return false
}

// ---- projects ----

type projectMetadata struct {
	CreatedDateTime           string         `json:"createdDateTime"`
	LastModifiedDateTime      string         `json:"lastModifiedDateTime"`
	LastTrainedDateTime       string         `json:"lastTrainedDateTime,omitempty"`
	LastDeployedDateTime      string         `json:"lastDeployedDateTime,omitempty"`
	ProjectKind               string         `json:"projectKind"`
	StorageInputContainerName string         `json:"storageInputContainerName"`
	Settings                  map[string]any `json:"settings,omitempty"`
	ProjectName               string         `json:"projectName"`
	Multilingual              bool           `json:"multilingual"`
	Description               string         `json:"description,omitempty"`
	Language                  string         `json:"language"`
}

func renderSettings(version string, in map[string]any) map[string]any {
	out := map[string]any{}
	if version >= "2023-04-01" {
		if v, ok := in["confidenceThreshold"]; ok {
			out["confidenceThreshold"] = v
		}
	}
	return out
}

func (s *Server) renderProject(c *call, p *project) projectMetadata {
	md := projectMetadata{
		CreatedDateTime: ts(p.Created), LastModifiedDateTime: ts(p.Modified),
		ProjectKind: p.Meta.ProjectKind, StorageInputContainerName: p.Meta.StorageInputContainerName,
		ProjectName: p.Meta.ProjectName, Multilingual: p.Meta.Multilingual,
		Description: p.Meta.Description, Language: p.Meta.Language,
	}
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

func (s *Server) project(name string) (*project, error) {
	p := s.st.Projects[name]
	if p == nil {
		return nil, errProjectNotFound(name)
	}
	return p, nil
}

func (s *Server) listProjects(c *call) error {
	names := sortedKeys(s.st.Projects)
	items := make([]any, 0, len(names))
	for _, n := range names {
		items = append(items, s.renderProject(c, s.st.Projects[n]))
	}
	return s.page(c, items)
}

func (s *Server) getProject(c *call, name string) error {
	p, err := s.project(name)
	if err != nil {
		return err
	}
	writeJSON(c.w, 200, s.renderProject(c, p))
	return nil
}

func (s *Server) patchProject(c *call, name string) error {
	if err := validName("project", name); err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := decodeBody(c.r, &body); err != nil {
		return err
	}
	p := s.st.Projects[name]
	meta := projectOptions{ProjectName: name, Settings: map[string]any{}}
	if p != nil {
		meta = p.Meta
		meta.Settings = copySettings(p.Meta.Settings)
	}
	str := func(key string, dst *string) error {
		raw, ok := body[key]
		if !ok || string(raw) == "null" {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return errBadRequest("InvalidRequestBodyFormat", "The field %q must be a string.", key)
		}
		return nil
	}
	var kind, bodyName string
	for key, dst := range map[string]*string{"projectKind": &kind, "projectName": &bodyName, "storageInputContainerName": &meta.StorageInputContainerName, "language": &meta.Language, "description": &meta.Description} {
		if err := str(key, dst); err != nil {
			return err
		}
	}
	if raw, ok := body["multilingual"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &meta.Multilingual); err != nil {
			return errBadRequest("InvalidRequestBodyFormat", "The field \"multilingual\" must be a boolean.")
		}
	}
	if raw, ok := body["settings"]; ok && string(raw) != "null" {
		var st map[string]any
		if err := json.Unmarshal(raw, &st); err != nil {
			return errBadRequest("InvalidRequestBodyFormat", "The field \"settings\" must be an object.")
		}
		if err := checkSettings(st); err != nil {
			return err
		}
		for k, v := range st {
			meta.Settings[k] = v
		}
	}
	if bodyName != "" && bodyName != name {
		return errBadRequest("InvalidParameterValue", "The projectName %q in the body does not match the project %q in the path.", bodyName, name)
	}
	if kind != "" {
		k, ok := normalizeKind(kind)
		if !ok {
			return errBadRequest("InvalidParameterValue", "The projectKind %q is not supported; use one of %s.", kind, strings.Join(projectKinds, ", "))
		}
		if p != nil && k != p.Meta.ProjectKind {
			return errBadRequest("InvalidParameterValue", "The projectKind of an existing project cannot be changed (it is %s).", p.Meta.ProjectKind)
		}
		meta.ProjectKind = k
	}
	var missing []string
	if meta.ProjectKind == "" {
		missing = append(missing, "projectKind")
	}
	if meta.StorageInputContainerName == "" {
		missing = append(missing, "storageInputContainerName")
	}
	if meta.Language == "" {
		missing = append(missing, "language")
	}
	if len(missing) > 0 {
		return errBadRequest("InvalidParameterValue", "Missing required field(s): %s.", strings.Join(missing, ", "))
	}
	if !isSupportedLanguage(meta.Language) {
		return errBadRequest("UnsupportedLanguageCode", "The language code %q is not supported.", meta.Language)
	}
	status := 200
	if p == nil {
		if len(s.st.Projects) >= 500 {
			return &httpError{Status: 403, Body: apiError{Code: "QuotaExceeded", Message: "The resource already has the maximum of 500 projects."}}
		}
		p = &project{Created: c.now, Models: map[string]*model{}, Deployments: map[string]*deployment{}, Assets: assets{ProjectKind: meta.ProjectKind}}
		s.st.Projects[name] = p
		status = 201
	}
	p.Meta = meta
	p.Modified = c.now
	s.dirty = true
	writeJSON(c.w, status, s.renderProject(c, p))
	return nil
}

func copySettings(in map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range in {
		out[k] = v
	}
	return out
}

func checkSettings(st map[string]any) error {
	if v, ok := st["confidenceThreshold"]; ok {
		f, isNum := v.(float64)
		if !isNum || f < 0 || f > 1 {
			return errBadRequest("InvalidParameterValue", "settings.confidenceThreshold must be a number between 0 and 1.")
		}
	}
	return nil
}

func (s *Server) deleteProject(c *call, name string) error {
	if _, err := s.project(name); err != nil {
		return err
	}
	id := newJobID(c.now)
	return s.startJob(c, &job{ID: id, Kind: KindDeleteProject, Project: name, Path: projectsPath + "/global/deletion-jobs/" + id})
}

// ---- export / import ----

// exportedProject is the export result and the import body
// (docs/reference/language-rest.md#exported-project-json).
type exportedProject struct {
	ProjectFileVersion string         `json:"projectFileVersion"`
	StringIndexType    string         `json:"stringIndexType"`
	Metadata           projectOptions `json:"metadata"`
	Assets             assets         `json:"assets"`
}

func exportDocument(version string, snap *snapshot) exportedProject {
	meta := snap.Meta
	meta.Settings = renderSettings(version, snap.Meta.Settings)
	a := snap.Assets
	a.ProjectKind = meta.ProjectKind
	return exportedProject{ProjectFileVersion: version, StringIndexType: "Utf16CodeUnit", Metadata: meta, Assets: a}
}

func snapshotOf(p *project) *snapshot {
	b, _ := json.Marshal(snapshot{Meta: p.Meta, Assets: p.Assets})
	var out snapshot
	_ = json.Unmarshal(b, &out) // a deep copy: later edits must not change it
	return &out
}

func (s *Server) export(c *call, name string) error {
	p, err := s.project(name)
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	sit := q.Get("stringIndexType")
	if sit == "" {
		return errBadRequest("InvalidParameterValue", "The stringIndexType query parameter is required (use Utf16CodeUnit).")
	}
	if sit != "Utf16CodeUnit" {
		return errBadRequest("InvalidParameterValue", "The stringIndexType %q is not supported for export; use Utf16CodeUnit.", sit)
	}
	snap := snapshotOf(p)
	if label := q.Get("trainedModelLabel"); label != "" && c.version >= "2023-04-01" {
		m := p.Models[label]
		if m == nil {
			return errNotFound("The trained model %q was not found in project %q.", label, name)
		}
		cp := m.Snapshot
		snap = &cp
		snap.Meta.ProjectName = name
	}
	id := newJobID(c.now)
	return s.startJob(c, &job{ID: id, Kind: KindExport, Project: name, Snapshot: snap, Path: projectsPath + "/" + name + "/export/jobs/" + id})
}

func (s *Server) exportResult(c *call, name, id string) error {
	j := s.st.Jobs[id]
	if j == nil || j.Kind != KindExport || j.Project != name || !j.Done || j.Status != "succeeded" {
		return errOperationNotFound(id)
	}
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(200)
	_, _ = c.w.Write(j.ExportResult)
	return nil
}

// importBody is decoded loosely where the docs list import failures that
// the job (not the request) reports
// (docs/reference/language-rest.md#import-failure-causes).
type importBody struct {
	ProjectFileVersion *string `json:"projectFileVersion"`
	StringIndexType    string  `json:"stringIndexType"`
	Metadata           *struct {
		ProjectKind               string          `json:"projectKind"`
		StorageInputContainerName string          `json:"storageInputContainerName"`
		Settings                  map[string]any  `json:"settings"`
		ProjectName               string          `json:"projectName"`
		Multilingual              json.RawMessage `json:"multilingual"`
		Description               string          `json:"description"`
		Language                  json.RawMessage `json:"language"`
	} `json:"metadata"`
	Assets *struct {
		ProjectKind string     `json:"projectKind"`
		Classes     []category `json:"classes"`
		Entities    []category `json:"entities"`
		Documents   []struct {
			Location string          `json:"location"`
			Language json.RawMessage `json:"language"`
			Dataset  string          `json:"dataset"`
			Class    *category       `json:"class"`
			Classes  []category      `json:"classes"`
			Entities []region        `json:"entities"`
		} `json:"documents"`
	} `json:"assets"`
}

func (s *Server) importProject(c *call, name string) error {
	if err := validName("project", name); err != nil {
		return err
	}
	var b importBody
	if err := decodeBody(c.r, &b); err != nil {
		return err
	}
	if b.ProjectFileVersion == nil || *b.ProjectFileVersion == "" {
		return errBadRequest("InvalidParameterValue", "The field projectFileVersion is required.")
	}
	if b.StringIndexType != "Utf16CodeUnit" {
		return errBadRequest("InvalidParameterValue", "The field stringIndexType must be Utf16CodeUnit (got %q).", b.StringIndexType)
	}
	if b.Metadata == nil {
		return errBadRequest("InvalidParameterValue", "The field metadata is required.")
	}
	md := b.Metadata
	kind, ok := normalizeKind(md.ProjectKind)
	if !ok {
		return errBadRequest("InvalidParameterValue", "The metadata.projectKind %q is not supported; use one of %s.", md.ProjectKind, strings.Join(projectKinds, ", "))
	}
	if md.StorageInputContainerName == "" {
		return errBadRequest("InvalidParameterValue", "The field metadata.storageInputContainerName is required.")
	}
	if md.Settings != nil {
		if err := checkSettings(md.Settings); err != nil {
			return err
		}
	}
	var pre []apiError
	fail := func(inner, format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		pre = append(pre, apiError{Code: "InvalidRequest", Message: msg, InnerError: &innerError{Code: inner, Message: msg}})
	}
	lang, langOK := jsonString(md.Language)
	switch {
	case !langOK:
		fail("UnsupportedLanguageCode", "metadata.language must be a string language code.")
	case lang == "":
		fail("InvalidParameterValue", "metadata.language is required.")
	case !isSupportedLanguage(lang):
		fail("UnsupportedLanguageCode", "The language code %q is not supported.", lang)
	}
	var multilingual bool
	if len(md.Multilingual) > 0 && string(md.Multilingual) != "null" {
		if err := json.Unmarshal(md.Multilingual, &multilingual); err != nil {
			fail("InvalidParameterValue", "metadata.multilingual must be a boolean, not %s.", md.Multilingual)
		}
	}
	snap := &snapshot{
		Meta: projectOptions{ProjectKind: kind, StorageInputContainerName: md.StorageInputContainerName, Settings: copySettings(md.Settings),
			ProjectName: name, Multilingual: multilingual, Description: md.Description, Language: lang},
		Assets: assets{ProjectKind: kind},
	}
	if a := b.Assets; a != nil {
		ak, ok := normalizeKind(a.ProjectKind)
		if !ok || ak != kind {
			fail("InvalidParameterValue", "assets.projectKind %q does not match metadata.projectKind %q.", a.ProjectKind, kind)
		}
		known := map[string]bool{}
		var cats []category
		if kind == "CustomEntityRecognition" {
			cats = a.Entities
		} else {
			cats = a.Classes
		}
		for _, cat := range cats {
			known[cat.Category] = true
		}
		if kind == "CustomEntityRecognition" {
			snap.Assets.Entities = a.Entities
		} else {
			snap.Assets.Classes = a.Classes
		}
		seen := map[string]bool{}
		for _, d := range a.Documents {
			dl, ok := jsonString(d.Language)
			if !ok {
				fail("UnsupportedLanguageCode", "Document %q: language must be a string language code.", d.Location)
			} else if dl != "" && !isSupportedLanguage(dl) {
				fail("UnsupportedLanguageCode", "Document %q: the language code %q is not supported.", d.Location, dl)
			}
			if d.Location == "" {
				fail("InvalidDocument", "A document has no location.")
			}
			if seen[d.Location] {
				fail("InvalidDocument", "The document %q is listed twice.", d.Location)
			}
			seen[d.Location] = true
			if d.Dataset != "" && !strings.EqualFold(d.Dataset, "Train") && !strings.EqualFold(d.Dataset, "Test") {
				fail("InvalidParameterValue", "Document %q: dataset must be Train or Test, not %q.", d.Location, d.Dataset)
			}
			doc := document{Location: d.Location, Language: dl, Dataset: normalizeDataset(d.Dataset)}
			switch kind {
			case "CustomSingleLabelClassification":
				if d.Class != nil {
					if !known[d.Class.Category] {
						fail("InvalidDocument", "Document %q refers to the class %q, which is not in assets.classes.", d.Location, d.Class.Category)
					}
					cl := *d.Class
					doc.Class = &cl
				}
			case "CustomMultiLabelClassification":
				for _, cl := range d.Classes {
					if !known[cl.Category] {
						fail("InvalidDocument", "Document %q refers to the class %q, which is not in assets.classes.", d.Location, cl.Category)
					}
				}
				doc.Classes = d.Classes
			default:
				for _, rg := range d.Entities {
					for _, l := range rg.Labels {
						if !known[l.Category] {
							fail("InvalidDocument", "Document %q refers to the entity %q, which is not in assets.entities.", d.Location, l.Category)
						}
						if l.Offset < 0 || l.Length <= 0 || l.Length > 500 {
							fail("InvalidDocument", "Document %q: a %q label has offset %d and length %d (length must be 1 to 500).", d.Location, l.Category, l.Offset, l.Length)
						}
					}
				}
				doc.Entities = d.Entities
			}
			snap.Assets.Documents = append(snap.Assets.Documents, doc)
		}
	}
	id := newJobID(c.now)
	return s.startJob(c, &job{ID: id, Kind: KindImport, Project: name, Import: snap, PreErrors: pre, Path: projectsPath + "/" + name + "/import/jobs/" + id})
}

func normalizeDataset(d string) string {
	switch {
	case strings.EqualFold(d, "Train"):
		return "Train"
	case strings.EqualFold(d, "Test"):
		return "Test"
	}
	return d
}

func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// checkImportStorage fails an import whose storage container does not
// exist, when the document source can tell
// (docs/reference/language-rest.md#import-failure-causes).
func (s *Server) checkImportStorage(ctx context.Context, snap *snapshot) []apiError {
	cc, ok := s.docs.(ContainerChecker)
	if !ok || snap == nil {
		return nil
	}
	exists, err := cc.ContainerExists(ctx, snap.Meta.StorageInputContainerName)
	if err != nil {
		return []apiError{{Code: "InternalServerError", Message: "Checking the storage container failed: " + err.Error()}}
	}
	if !exists {
		msg := fmt.Sprintf("The storage container %q does not exist in the storage account connected to the resource.", snap.Meta.StorageInputContainerName)
		return []apiError{{Code: "InvalidRequest", Message: msg, Target: snap.Meta.StorageInputContainerName, InnerError: &innerError{Code: "InvalidParameterValue", Message: msg}}}
	}
	return nil
}

// ---- training ----

// evalOptionsBody is a train request's evaluationOptions.
type evalOptionsBody struct {
	Kind                    string `json:"kind"`
	TrainingSplitPercentage *int   `json:"trainingSplitPercentage"`
	TestingSplitPercentage  *int   `json:"testingSplitPercentage"`
}

// parseEvalOptions checks a train request's evaluationOptions (text and
// conversation projects alike); absent means an 80/20 percentage split.
func parseEvalOptions(eo *evalOptionsBody) (evalOptions, error) {
	ev := evalOptions{Kind: "percentage", TrainingSplitPercentage: 80, TestingSplitPercentage: 20}
	if eo == nil {
		return ev, nil
	}
	switch {
	case eo.Kind == "" || strings.EqualFold(eo.Kind, "percentage"):
		if eo.TrainingSplitPercentage != nil || eo.TestingSplitPercentage != nil {
			tr, te := 0, 0
			if eo.TrainingSplitPercentage != nil {
				tr = *eo.TrainingSplitPercentage
			}
			if eo.TestingSplitPercentage != nil {
				te = *eo.TestingSplitPercentage
			}
			if eo.TrainingSplitPercentage == nil {
				tr = 100 - te
			}
			if eo.TestingSplitPercentage == nil {
				te = 100 - tr
			}
			if tr+te != 100 || tr <= 0 || te < 0 {
				return ev, errBadRequest("InvalidParameterValue", "trainingSplitPercentage (%d) and testingSplitPercentage (%d) must be positive and sum to 100.", tr, te)
			}
			ev.TrainingSplitPercentage, ev.TestingSplitPercentage = tr, te
		}
	case strings.EqualFold(eo.Kind, "manual"):
		ev = evalOptions{Kind: "manual"}
	default:
		return ev, errBadRequest("InvalidParameterValue", "evaluationOptions.kind must be percentage or manual, not %q.", eo.Kind)
	}
	return ev, nil
}

func (s *Server) trainProject(c *call, name string) error {
	p, err := s.project(name)
	if err != nil {
		return err
	}
	var body struct {
		ModelLabel            string           `json:"modelLabel"`
		TrainingConfigVersion string           `json:"trainingConfigVersion"`
		EvaluationOptions     *evalOptionsBody `json:"evaluationOptions"`
	}
	if err := decodeBody(c.r, &body); err != nil {
		return err
	}
	if body.ModelLabel == "" {
		return errBadRequest("InvalidParameterValue", "The field modelLabel is required.")
	}
	if err := validName("model", body.ModelLabel); err != nil {
		return err
	}
	if body.TrainingConfigVersion == "" {
		return errBadRequest("InvalidParameterValue", "The field trainingConfigVersion is required (for example \"latest\").")
	}
	version, err := s.resolveTrainingVersion(p.Meta.ProjectKind, body.TrainingConfigVersion, c.now)
	if err != nil {
		return err
	}
	ev, err := parseEvalOptions(body.EvaluationOptions)
	if err != nil {
		return err
	}
	if err := s.trainRunning(false, name); err != nil {
		return err
	}
	if _, exists := p.Models[body.ModelLabel]; !exists && len(p.Models) >= 10 {
		return errBadRequest("InvalidParameterValue", "The project already has the maximum of 10 trained models; delete one first.")
	}
	id := newJobID(c.now)
	return s.startJob(c, &job{ID: id, Kind: KindTrain, Project: name, Snapshot: snapshotOf(p), ModelLabel: body.ModelLabel,
		ConfigVersion: version.Version, ConfigExpires: version.Expires.Format(time.DateOnly), EvalOptions: &ev, Path: projectsPath + "/" + name + "/train/jobs/" + id})
}

// getJob answers any authoring job-status path: the job must exist and its
// stored status path must be exactly the request's.
func (s *Server) getJob(c *call, id string) error {
	j := s.st.Jobs[id]
	if j == nil || j.Path != c.path {
		return errOperationNotFound(id)
	}
	if !j.Done && s.opts.MinStatusReads > 0 {
		j.Reads++
		j.ReadAt = c.now
		s.dirty = true
	}
	writeJSON(c.w, 200, s.renderJob(c, j))
	return nil
}

// ---- models ----

type trainedModel struct {
	Label                         string `json:"label"`
	ModelID                       string `json:"modelId"`
	LastTrainedDateTime           string `json:"lastTrainedDateTime"`
	LastTrainingDurationInSeconds int    `json:"lastTrainingDurationInSeconds"`
	ModelExpirationDate           string `json:"modelExpirationDate"`
	ModelTrainingConfigVersion    string `json:"modelTrainingConfigVersion"`
	HasSnapshot                   *bool  `json:"hasSnapshot,omitempty"`
}

func renderModel(c *call, m *model) trainedModel {
	out := trainedModel{Label: m.Label, ModelID: m.ModelID, LastTrainedDateTime: ts(m.Trained), LastTrainingDurationInSeconds: m.DurationSec,
		ModelExpirationDate: m.Expiration, ModelTrainingConfigVersion: m.ConfigVersion}
	if c.version >= "2023-04-01" {
		t := true
		out.HasSnapshot = &t
	}
	return out
}

func (s *Server) model(c *call, name, label string) (*project, *model, error) {
	p, err := s.project(name)
	if err != nil {
		return nil, nil, err
	}
	m := p.Models[label]
	if m == nil {
		return nil, nil, errNotFound("The trained model %q was not found in project %q.", label, name)
	}
	return p, m, nil
}

func (s *Server) listModels(c *call, name string) error {
	p, err := s.project(name)
	if err != nil {
		return err
	}
	return pageOf(s, c, p.Models, func(m *model) any { return renderModel(c, m) })
}

func (s *Server) getModel(c *call, name, label string) error {
	_, m, err := s.model(c, name, label)
	if err != nil {
		return err
	}
	writeJSON(c.w, 200, renderModel(c, m))
	return nil
}

func (s *Server) deleteModel(c *call, name, label string) error {
	p, _, err := s.model(c, name, label)
	if err != nil {
		return err
	}
	delete(p.Models, label)
	s.dirty = true
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- deployments ----

type projectDeployment struct {
	DeploymentName             string `json:"deploymentName"`
	ModelID                    string `json:"modelId"`
	LastTrainedDateTime        string `json:"lastTrainedDateTime"`
	LastDeployedDateTime       string `json:"lastDeployedDateTime"`
	DeploymentExpirationDate   string `json:"deploymentExpirationDate"`
	ModelTrainingConfigVersion string `json:"modelTrainingConfigVersion"`
}

func renderDeployment(d *deployment) projectDeployment {
	return projectDeployment{DeploymentName: d.Name, ModelID: d.ModelID, LastTrainedDateTime: tsf(d.Trained), LastDeployedDateTime: ts(d.Deployed),
		DeploymentExpirationDate: d.Expiration, ModelTrainingConfigVersion: d.ConfigVersion}
}

func (s *Server) listDeployments(c *call, name string) error {
	p, err := s.project(name)
	if err != nil {
		return err
	}
	return pageOf(s, c, p.Deployments, func(d *deployment) any { return renderDeployment(d) })
}

func (s *Server) getDeployment(c *call, name, dep string) error {
	p, err := s.project(name)
	if err != nil {
		return err
	}
	return writeDeployment(c, p.Deployments, name, dep, renderDeployment)
}

// pageOf pages m's values, rendered, in key order: the list operations of
// text and conversation projects share it.
func pageOf[V any](s *Server, c *call, m map[string]V, render func(V) any) error {
	items := make([]any, 0, len(m))
	for _, k := range sortedKeys(m) {
		items = append(items, render(m[k]))
	}
	return s.page(c, items)
}

// writeDeployment answers a GET of one deployment of either project family,
// or the service's 404 when it does not exist.
func writeDeployment[D any](c *call, deployments map[string]*D, project, dep string, render func(*D) projectDeployment) error {
	d := deployments[dep]
	if d == nil {
		return errNotFound("The deployment %q was not found in project %q.", dep, project)
	}
	writeJSON(c.w, 200, render(d))
	return nil
}

// ---- global ----

func (s *Server) projectKindParam(c *call, required bool) error {
	k := c.r.URL.Query().Get("projectKind")
	if k == "" {
		if required {
			return errBadRequest("InvalidParameterValue", "The projectKind query parameter is required.")
		}
		return nil
	}
	kinds := projectKinds
	if within(c.path, convProjectsPath) {
		kinds = convKinds
	}
	if _, ok := normalizeIn(kinds, k); !ok {
		return errBadRequest("InvalidParameterValue", "The projectKind %q is not supported; use one of %s.", k, strings.Join(kinds, ", "))
	}
	return nil
}

func (s *Server) listLanguages(c *call) error {
	if c.version >= "2023-04-01" {
		if err := s.projectKindParam(c, false); err != nil {
			return err
		}
	}
	items := make([]any, 0, len(supportedLanguages))
	for _, l := range supportedLanguages {
		items = append(items, l)
	}
	return s.page(c, items)
}

func (s *Server) listConfigVersions(c *call) error {
	if err := s.projectKindParam(c, c.version < "2023-04-01"); err != nil {
		return err
	}
	kind, ok := normalizeKind(c.r.URL.Query().Get("projectKind"))
	if !ok {
		kind = "CustomSingleLabelClassification" // the documented default
	}
	return s.pageConfigVersions(c, kind)
}

// pageConfigVersions lists the training config versions of a kind.
// Expired versions are listed too, with their past date: a client can
// tell "expired" from "never offered".
func (s *Server) pageConfigVersions(c *call, kind string) error {
	items := []any{}
	for _, v := range s.versionsFor(kind) {
		items = append(items, struct {
			TrainingConfigVersion string `json:"trainingConfigVersion"`
			ModelExpirationDate   string `json:"modelExpirationDate"`
		}{v.Version, v.Expires.Format(time.DateOnly)})
	}
	return s.page(c, items)
}

// modelExpiration is the expiry of a model trained by a job saved before
// versions carried their own dates: a year after training.
func modelExpiration(t time.Time) string { return t.UTC().AddDate(1, 0, 0).Format(time.DateOnly) }

// ---- paging and bodies ----

// page answers a list with top/skip/maxpagesize paging and an absolute nextLink
// (docs/reference/language-rest.md#base-url-authentication-and-request-rules).
func (s *Server) page(c *call, items []any) error {
	q := c.r.URL.Query()
	num := func(key string, def int) (int, error) {
		v := q.Get(key)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, errBadRequest("InvalidParameterValue", "The %s query parameter must be a non-negative integer, not %q.", key, v)
		}
		return n, nil
	}
	top, err := num("top", -1)
	if err != nil {
		return err
	}
	skip, err := num("skip", 0)
	if err != nil {
		return err
	}
	size, err := num("maxpagesize", s.pageSize)
	if err != nil {
		return err
	}
	if size == 0 {
		size = s.pageSize
	}
	if items == nil {
		items = []any{}
	}
	rest := items[min(skip, len(items)):]
	if top >= 0 && top < len(rest) {
		rest = rest[:top]
	}
	n := min(size, len(rest))
	out := struct {
		Value    []any   `json:"value"`
		NextLink *string `json:"nextLink"`
	}{Value: rest[:n]}
	if n < len(rest) {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		if top >= 0 {
			nq.Set("top", strconv.Itoa(top-n))
		}
		nq.Set("skip", strconv.Itoa(skip+n))
		nq.Set("maxpagesize", strconv.Itoa(size))
		link := c.base + c.r.URL.Path + "?" + encodeQuery(nq)
		out.NextLink = &link
	}
	writeJSON(c.w, 200, out)
	return nil
}

// encodeQuery puts api-version first, as the service's links do.
func encodeQuery(q url.Values) string {
	var b strings.Builder
	b.WriteString("api-version=" + url.QueryEscape(q.Get("api-version")))
	keys := sortedKeys(q)
	for _, k := range keys {
		if k == "api-version" {
			continue
		}
		for _, v := range q[k] {
			b.WriteString("&" + url.QueryEscape(k) + "=" + url.QueryEscape(v))
		}
	}
	return b.String()
}

// maxBody bounds request bodies (an exported project may be large).
const maxBody = 256 << 20

func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return errBadRequest("InvalidRequestBodyFormat", "Reading the request body failed: %v", err)
	}
	if len(b) > maxBody {
		return errBadRequest("InvalidRequestBodyFormat", "The request body is larger than %d bytes.", maxBody)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return errBadRequest("EmptyRequest", "The request body is empty.")
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errBadRequest("InvalidRequestBodyFormat", "The field %q has the wrong type: want %s.", te.Field, te.Type)
		}
		return errBadRequest("InvalidRequestBodyFormat", "The request body is not valid JSON: %v", err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
