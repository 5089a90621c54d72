package predict

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/langsync/langsync/shared/langsync"
)

// Predictions of conversation projects (CLU and orchestration workflow):
// the synchronous POST /language/:analyze-conversations, one conversation
// item per call, with the same endpoints, breakers and failover rules as
// analyze-text (docs/predict.md#conversation-projects).

// Routed is what an orchestration project's top intent routed to.
type Routed struct {
	// TargetKind is the target's targetProjectKind: Conversation,
	// QuestionAnswering, Luis or NonLinked.
	TargetKind string `json:"targetKind"`
	// TopIntent, Intents and Entities are the target CLU project's
	// prediction (empty for other targets).
	TopIntent string   `json:"topIntent,omitempty"`
	Intents   []Class  `json:"intents,omitempty"`
	Entities  []Entity `json:"entities,omitempty"`
}

type (
	convRequest struct {
		Kind          string `json:"kind"`
		AnalysisInput struct {
			ConversationItem convItem `json:"conversationItem"`
		} `json:"analysisInput"`
		Parameters convParameters `json:"parameters"`
	}
	convItem struct {
		ID            string `json:"id"`
		ParticipantID string `json:"participantId"`
		Text          string `json:"text"`
		Language      string `json:"language,omitempty"`
	}
	convParameters struct {
		ProjectName     string `json:"projectName"`
		DeploymentName  string `json:"deploymentName"`
		StringIndexType string `json:"stringIndexType"`
	}
	convAnswer struct {
		Kind   string     `json:"kind"`
		Result convResult `json:"result"`
	}
	convResult struct {
		Query      string         `json:"query"`
		Prediction convPrediction `json:"prediction"`
	}
	// convPrediction holds either kind: intents is an array for
	// Conversation, an object keyed by intent for Orchestration.
	convPrediction struct {
		TopIntent   string          `json:"topIntent"`
		ProjectKind string          `json:"projectKind"`
		Intents     json.RawMessage `json:"intents"`
		Entities    []Entity        `json:"entities"`
	}
	orchIntent struct {
		ConfidenceScore   float64     `json:"confidenceScore"`
		TargetProjectKind string      `json:"targetProjectKind"`
		Result            *convResult `json:"result"`
	}
)

// runConversations predicts each text with one synchronous call.
func (c *Client) runConversations(ctx context.Context, e *endpoint, t *tries, req Request) (*Result, error) {
	u := e.base.String() + "/language/:analyze-conversations?api-version=" + url.QueryEscape(c.opts.APIVersion)
	res := &Result{Project: req.Project, Deployment: req.Deployment, Kind: req.Kind}
	for i, text := range req.Texts {
		var body convRequest
		body.Kind = "Conversation"
		body.AnalysisInput.ConversationItem = convItem{ID: strconv.Itoa(i + 1), ParticipantID: "langsync", Text: text, Language: req.Language}
		// Offsets in the same unit as the authoring API's labels.
		body.Parameters = convParameters{ProjectName: e.projectName(req.Project), DeploymentName: req.Deployment, StringIndexType: "Utf16CodeUnit"}
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("predict: encoding request: %w", err)
		}
		resp, data, err := c.send(ctx, e, t, t.submits, http.MethodPost, u, b)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, c.answerError(e, http.MethodPost, resp, data)
		}
		var ans convAnswer
		if err := json.Unmarshal(data, &ans); err != nil {
			return nil, fmt.Errorf("predict: %s: reading the analyze-conversations answer: %w", e.name, err)
		}
		doc, err := conversationDocument(ans.Result)
		if err != nil {
			return nil, fmt.Errorf("predict: %s: %w", e.name, err)
		}
		doc.ID, doc.Text = strconv.Itoa(i+1), text
		res.Documents = append(res.Documents, doc)
	}
	return res, nil
}

// conversationDocument turns one prediction into a Document.
func conversationDocument(r convResult) (Document, error) {
	p := r.Prediction
	d := Document{TopIntent: p.TopIntent}
	switch langsync.ProjectKind(p.ProjectKind) {
	case langsync.Conversation:
		if err := json.Unmarshal(p.Intents, &d.Intents); err != nil {
			return d, fmt.Errorf("reading CLU intents: %w", err)
		}
		sortClasses(d.Intents)
		d.Entities = p.Entities
	case langsync.Orchestration:
		var intents map[string]orchIntent
		if err := json.Unmarshal(p.Intents, &intents); err != nil {
			return d, fmt.Errorf("reading orchestration intents: %w", err)
		}
		for name, in := range intents {
			d.Intents = append(d.Intents, Class{Category: name, ConfidenceScore: in.ConfidenceScore})
		}
		sort.Slice(d.Intents, func(a, b int) bool { return d.Intents[a].Category < d.Intents[b].Category })
		sortClasses(d.Intents)
		if top, ok := intents[p.TopIntent]; ok {
			d.Routed = &Routed{TargetKind: top.TargetProjectKind}
			if top.Result != nil && top.TargetProjectKind == string(langsync.Conversation) {
				sub, err := conversationDocument(*top.Result)
				if err != nil {
					return d, err
				}
				d.Routed.TopIntent, d.Routed.Intents, d.Routed.Entities = sub.TopIntent, sub.Intents, sub.Entities
			}
		}
	default:
		return d, fmt.Errorf("unexpected projectKind %q in the answer", p.ProjectKind)
	}
	return d, nil
}
