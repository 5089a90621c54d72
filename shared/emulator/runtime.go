package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// runtimeJobLifetime: analyze-text job results are kept for a day.
const runtimeJobLifetime = 24 * time.Hour

// Runtime request limits
// (docs/reference/language-rest.md#throttling-and-limits).
const (
	maxRuntimeDocuments = 25
	maxRuntimeChars     = 125000
)

// runtimeJob is one analyze-text job; results are computed on submission by
// the deployment as it was then and revealed when the job's time is up.
type runtimeJob struct {
	ID          string          `json:"id"`
	DisplayName string          `json:"displayName,omitempty"`
	Created     time.Time       `json:"created"`
	Duration    time.Duration   `json:"duration"`
	Cancelled   *time.Time      `json:"cancelled,omitempty"`
	Tasks       []runtimeResult `json:"tasks"`
}

type runtimeResult struct {
	Kind     string          `json:"kind"`
	TaskName string          `json:"taskName,omitempty"`
	Results  json.RawMessage `json:"results"`
}

type analyzeBody struct {
	DisplayName   string `json:"displayName"`
	AnalysisInput *struct {
		Documents []struct {
			ID       string `json:"id"`
			Language string `json:"language"`
			Text     string `json:"text"`
		} `json:"documents"`
	} `json:"analysisInput"`
	Tasks []struct {
		Kind       string `json:"kind"`
		TaskName   string `json:"taskName"`
		Parameters *struct {
			ProjectName     string `json:"projectName"`
			DeploymentName  string `json:"deploymentName"`
			StringIndexType string `json:"stringIndexType"`
			LoggingOptOut   bool   `json:"loggingOptOut"`
		} `json:"parameters"`
	} `json:"tasks"`
}

var runtimeTaskKinds = map[string]string{
	"customsinglelabelclassification": "CustomSingleLabelClassification",
	"custommultilabelclassification":  "CustomMultiLabelClassification",
	"customentityrecognition":         "CustomEntityRecognition",
}

type docError struct {
	ID    string   `json:"id"`
	Error apiError `json:"error"`
}

type classDoc struct {
	ID       string       `json:"id"`
	Class    []classScore `json:"class"`
	Warnings []apiError   `json:"warnings"`
}

type entity struct {
	Text            string  `json:"text"`
	Category        string  `json:"category"`
	Offset          int     `json:"offset"`
	Length          int     `json:"length"`
	ConfidenceScore float64 `json:"confidenceScore"`
}

type entityDoc struct {
	ID       string     `json:"id"`
	Entities []entity   `json:"entities"`
	Warnings []apiError `json:"warnings"`
}

func (s *Server) analyze(c *call) error {
	var b analyzeBody
	if err := decodeBody(c.r, &b); err != nil {
		return err
	}
	if b.AnalysisInput == nil || len(b.AnalysisInput.Documents) == 0 {
		return errBadRequest("MissingInputDocuments", "Missing input documents.")
	}
	docs := b.AnalysisInput.Documents
	if len(docs) > maxRuntimeDocuments {
		return errBadRequest("InvalidDocumentBatch", "Batch request contains too many records. Max %d records are permitted.", maxRuntimeDocuments)
	}
	total := 0
	seen := map[string]bool{}
	for _, d := range docs {
		total += utf8.RuneCountInString(d.Text)
		if d.ID == "" {
			return errBadRequest("InvalidDocument", "Every document needs a non-empty id.")
		}
		if seen[d.ID] {
			return errBadRequest("InvalidDocument", "Request contains duplicated Ids. Make sure each document has a unique Id.")
		}
		seen[d.ID] = true
	}
	if total > maxRuntimeChars {
		return errBadRequest("InvalidDocumentBatch", "Request payload is limited to %d characters in total; it has %d.", maxRuntimeChars, total)
	}
	if len(b.Tasks) == 0 {
		return errBadRequest("InvalidParameterValue", "At least one task is required.")
	}
	rj := &runtimeJob{ID: newUUID(), DisplayName: b.DisplayName, Created: c.now, Duration: s.durations[KindAnalyze]}
	for i, t := range b.Tasks {
		kind, ok := runtimeTaskKinds[strings.ToLower(t.Kind)]
		if !ok {
			return errBadRequest("InvalidParameterValue", "Task %d: the kind %q is not supported by this emulator (use CustomSingleLabelClassification, CustomMultiLabelClassification or CustomEntityRecognition).", i, t.Kind)
		}
		if t.Parameters == nil || t.Parameters.ProjectName == "" || t.Parameters.DeploymentName == "" {
			return errBadRequest("InvalidParameterValue", "Task %d: parameters.projectName and parameters.deploymentName are required.", i)
		}
		prm := t.Parameters
		p := s.st.Projects[prm.ProjectName]
		if p == nil {
			return errProjectNotFound(prm.ProjectName)
		}
		dep := p.Deployments[prm.DeploymentName]
		if dep == nil {
			return &httpError{Status: 404, Body: apiError{Code: "NotFound", Message: fmt.Sprintf("The deployment %q was not found in project %q.", prm.DeploymentName, prm.ProjectName),
				Details: []apiError{{Code: "DeploymentNotFound", Message: prm.DeploymentName}}}}
		}
		if dep.Classifier == nil || dep.Classifier.Kind != kind {
			return errBadRequest("InvalidParameterValue", "Task %d: the task kind %s does not match the project kind %s.", i, kind, p.Meta.ProjectKind)
		}
		sit := prm.StringIndexType
		if sit == "" {
			sit = "TextElements_v8"
		}
		if sit != "TextElements_v8" && sit != "UnicodeCodePoint" && sit != "Utf16CodeUnit" {
			return errBadRequest("InvalidParameterValue", "Task %d: stringIndexType %q is not supported.", i, sit)
		}
		threshold, _ := p.Meta.Settings["confidenceThreshold"].(float64)
		results := map[string]any{"projectName": prm.ProjectName, "deploymentName": prm.DeploymentName}
		var errs []docError
		var classified []classDoc
		var recognized []entityDoc
		for _, d := range docs {
			if strings.TrimSpace(d.Text) == "" {
				errs = append(errs, docError{ID: d.ID, Error: apiError{Code: "InvalidArgument", Message: "Invalid document in request.",
					InnerError: &innerError{Code: "InvalidDocument", Message: "Document text is empty."}}})
				continue
			}
			if kind == "CustomEntityRecognition" {
				var ents []entity
				for _, sp := range dep.Classifier.recognize(d.Text) {
					txt, _ := utf16Slice(d.Text, sp.Offset, sp.Length)
					off, length := sp.Offset, sp.Length
					if sit != "Utf16CodeUnit" {
						// Code points; text elements are approximated by code points.
						pre, _ := utf16Slice(d.Text, 0, sp.Offset)
						off, length = utf8.RuneCountInString(pre), utf8.RuneCountInString(txt)
					}
					ents = append(ents, entity{Text: txt, Category: sp.Category, Offset: off, Length: length, ConfidenceScore: sp.Confidence})
				}
				if ents == nil {
					ents = []entity{}
				}
				recognized = append(recognized, entityDoc{ID: d.ID, Entities: ents, Warnings: []apiError{}})
				continue
			}
			got := dep.Classifier.classify(d.Text)
			if kind == "CustomSingleLabelClassification" && len(got) > 0 && got[0].ConfidenceScore < threshold {
				got = nil
			}
			if got == nil {
				got = []classScore{}
			}
			classified = append(classified, classDoc{ID: d.ID, Class: got, Warnings: []apiError{}})
		}
		if errs == nil {
			errs = []docError{}
		}
		results["errors"] = errs
		if kind == "CustomEntityRecognition" {
			if recognized == nil {
				recognized = []entityDoc{}
			}
			results["documents"] = recognized
		} else {
			if classified == nil {
				classified = []classDoc{}
			}
			results["documents"] = classified
		}
		raw, err := json.Marshal(results)
		if err != nil {
			return err
		}
		rj.Tasks = append(rj.Tasks, runtimeResult{Kind: kind + "LROResults", TaskName: t.TaskName, Results: raw})
	}
	s.st.RuntimeJobs[rj.ID] = rj
	s.dirty = true
	setRaw(c.w.Header(), "operation-location", c.base+runtimePath+"/"+rj.ID+"?api-version="+c.version)
	c.w.WriteHeader(202)
	return nil
}

func (rj *runtimeJob) status(now time.Time) (string, time.Time) {
	end := rj.Created.Add(rj.Duration)
	if rj.Cancelled != nil && rj.Cancelled.Before(end) {
		return "cancelled", *rj.Cancelled
	}
	switch {
	case !now.Before(end):
		return "succeeded", end
	case now.Before(rj.Created.Add(rj.Duration / 10)):
		return "notStarted", rj.Created
	}
	return "running", rj.Created.Add(rj.Duration / 10)
}

type runtimeItem struct {
	Kind               string          `json:"kind"`
	TaskName           string          `json:"taskName,omitempty"`
	LastUpdateDateTime string          `json:"lastUpdateDateTime"`
	Status             string          `json:"status"`
	Results            json.RawMessage `json:"results"`
}

func (s *Server) getRuntimeJob(c *call, id string) error {
	rj := s.st.RuntimeJobs[id]
	if rj == nil {
		return &httpError{Status: 404, Body: apiError{Code: "NotFound", Message: "The specified job was not found.", Details: []apiError{{Code: "NotFound", Message: id}}}}
	}
	st, upd := rj.status(c.now)
	items := []runtimeItem{}
	completed, inProgress := 0, len(rj.Tasks)
	if st == "succeeded" {
		completed, inProgress = len(rj.Tasks), 0
		for _, t := range rj.Tasks {
			items = append(items, runtimeItem{Kind: t.Kind, TaskName: t.TaskName, LastUpdateDateTime: ts(upd), Status: "succeeded", Results: t.Results})
		}
	}
	if st == "cancelled" {
		inProgress = 0
	}
	out := struct {
		JobID               string     `json:"jobId"`
		LastUpdatedDateTime string     `json:"lastUpdatedDateTime"`
		CreatedDateTime     string     `json:"createdDateTime"`
		ExpirationDateTime  string     `json:"expirationDateTime"`
		Status              string     `json:"status"`
		Errors              []apiError `json:"errors"`
		DisplayName         string     `json:"displayName,omitempty"`
		Tasks               struct {
			Completed  int           `json:"completed"`
			Failed     int           `json:"failed"`
			InProgress int           `json:"inProgress"`
			Total      int           `json:"total"`
			Items      []runtimeItem `json:"items"`
		} `json:"tasks"`
	}{JobID: rj.ID, LastUpdatedDateTime: ts(upd), CreatedDateTime: ts(rj.Created), ExpirationDateTime: ts(rj.Created.Add(runtimeJobLifetime)),
		Status: st, Errors: []apiError{}, DisplayName: rj.DisplayName}
	out.Tasks.Completed, out.Tasks.InProgress, out.Tasks.Total, out.Tasks.Items = completed, inProgress, len(rj.Tasks), items
	writeJSON(c.w, 200, out)
	return nil
}

func (s *Server) cancelRuntimeJob(c *call, id string) error {
	rj := s.st.RuntimeJobs[id]
	if rj == nil {
		return &httpError{Status: 404, Body: apiError{Code: "NotFound", Message: "The specified job was not found."}}
	}
	if st, _ := rj.status(c.now); st != "succeeded" && rj.Cancelled == nil {
		t := c.now
		rj.Cancelled = &t
		s.dirty = true
	}
	setRaw(c.w.Header(), "operation-location", c.base+runtimePath+"/"+rj.ID+"?api-version="+c.version)
	c.w.WriteHeader(202)
	return nil
}
