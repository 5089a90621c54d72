package authoring

import (
	"context"
	"fmt"
	"net/url"

	"github.com/langsync/langsync/shared/langsync"
)

// Authoring API families: the path segment after /language/authoring/.
const (
	familyText          = "analyze-text"
	familyConversations = "analyze-conversations"
)

// Training modes of conversation projects.
const (
	TrainingModeStandard = "standard"
	TrainingModeAdvanced = "advanced"
)

// Conversations returns a client for the conversations authoring API
// ({endpoint}/language/authoring/analyze-conversations/...) of the same
// resource: CLU (Conversation) and orchestration workflow (Orchestration)
// projects. It shares everything with c (pipeline, credential, rate
// budget, retries, polling); every operation of Client works on it with the
// same semantics (export with stringIndexType Utf16CodeUnit, import of the
// exported bytes verbatim, jobs, models, deployments, delete).
func (c *Client) Conversations() *Client {
	cc := *c
	cc.family = familyConversations
	if c.convVersion != "" {
		cc.apiVersion = c.convVersion
	}
	return &cc
}

// ForKind returns c, or c.Conversations() for a conversation project kind.
func (c *Client) ForKind(kind langsync.ProjectKind) *Client {
	if kind.Conversational() {
		return c.Conversations()
	}
	return c
}

// IsConversations reports whether c talks to the conversations API.
func (c *Client) IsConversations() bool { return c.family == familyConversations }

func (c *Client) familyPath() string {
	if c.family == "" {
		return familyText
	}
	return c.family
}

// checkTrainingMode fills and checks TrainOptions.TrainingMode for the
// client's API: required (default standard) for conversations, refused
// for analyze-text, which has no such member.
func (c *Client) checkTrainingMode(opts *TrainOptions) error {
	if !c.IsConversations() {
		if opts.TrainingMode != "" {
			return fmt.Errorf("authoring: train: trainingMode %q applies to conversation projects only: leave it empty for text projects", opts.TrainingMode)
		}
		return nil
	}
	switch opts.TrainingMode {
	case "":
		opts.TrainingMode = TrainingModeStandard
	case TrainingModeStandard, TrainingModeAdvanced:
	default:
		return fmt.Errorf("authoring: train: trainingMode %q is not %q or %q", opts.TrainingMode, TrainingModeStandard, TrainingModeAdvanced)
	}
	return nil
}

// TrainingJobURL is the status URL of a training job of project on this
// client's API (the training job list carries ids, not URLs).
func (c *Client) TrainingJobURL(project, jobID string) string {
	return c.url(projectPath(url.PathEscape(project))+"/train/jobs/"+url.PathEscape(jobID), nil)
}

// SupportedPrebuiltEntities lists the prebuilt entity components a
// conversation project in language may use (empty: every language);
// multilingual asks for those of multilingual projects.
func (c *Client) SupportedPrebuiltEntities(ctx context.Context, language string, multilingual bool) ([]SupportedPrebuiltEntity, error) {
	if !c.IsConversations() {
		return nil, fmt.Errorf("%w: prebuilt entities belong to conversation projects: call it on Conversations()", ErrUnsupported)
	}
	q := url.Values{}
	if language != "" {
		q.Set("language", language)
	}
	if multilingual {
		q.Set("multilingual", "true")
	}
	return listAll[SupportedPrebuiltEntity](ctx, c, c.url("projects/global/prebuilt-entities", q))
}
