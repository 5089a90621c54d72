package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"

	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/langsync"
)

// Conversation projects (CLU, orchestration) live under the conversations
// authoring API; the pipeline names projects, not APIs. The adapter finds a
// project's API once (the text API first, then the conversations API, or
// for an import the kind in the exported JSON) and remembers it per
// endpoint and project (docs/pipeline.md#conversation-projects).

// projectAPIs remembers, per endpoint and project, whether the project is
// a conversation project. Shared by every adapter of the process: the
// pipeline builds adapters freely.
var projectAPIs sync.Map // endpoint + "\x00" + project -> bool

func (a *Authoring) apiKey(project string) string { return a.C.Endpoint() + "\x00" + project }

// remember records the API of a project.
func (a *Authoring) remember(project string, conversational bool) {
	projectAPIs.Store(a.apiKey(project), conversational)
}

// forget drops what is remembered of a project (it was not found there).
func (a *Authoring) forget(project string) { projectAPIs.Delete(a.apiKey(project)) }

// api returns the client for a project's API, finding it when unknown: a
// project on neither API gets the text client (its calls then answer
// not found as they should).
func (a *Authoring) api(ctx context.Context, project string) *authoring.Client {
	if v, ok := projectAPIs.Load(a.apiKey(project)); ok {
		if v.(bool) {
			return a.C.Conversations()
		}
		return a.C
	}
	c, _, err := a.findProject(ctx, project)
	if err != nil {
		return a.C
	}
	return c
}

// findProject reads a project's metadata from the API that has it.
func (a *Authoring) findProject(ctx context.Context, project string) (*authoring.Client, *authoring.ProjectMetadata, error) {
	if v, ok := projectAPIs.Load(a.apiKey(project)); ok {
		c := a.C
		if v.(bool) {
			c = a.C.Conversations()
		}
		m, err := c.GetProject(ctx, project)
		if err == nil {
			return c, m, nil
		}
		if !errors.Is(err, authoring.ErrNotFound) {
			return c, nil, err
		}
		a.forget(project) // deleted, or re-created as another kind
	}
	m, err := a.C.GetProject(ctx, project)
	if err == nil {
		a.remember(project, false)
		return a.C, m, nil
	}
	if !errors.Is(err, authoring.ErrNotFound) {
		return a.C, nil, err
	}
	conv := a.C.Conversations()
	m, err = conv.GetProject(ctx, project)
	if err == nil {
		a.remember(project, true)
		return conv, m, nil
	}
	return a.C, nil, err
}

// exportKind reads metadata.projectKind of an exported project, rewinding
// the reader.
func exportKind(r io.ReadSeeker) (langsync.ProjectKind, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	var doc struct {
		Metadata struct {
			ProjectKind langsync.ProjectKind `json:"projectKind"`
		} `json:"metadata"`
	}
	err := json.NewDecoder(r).Decode(&doc)
	if _, serr := r.Seek(0, io.SeekStart); serr != nil {
		return "", serr
	}
	return doc.Metadata.ProjectKind, err
}

// ProjectKindOf returns the projectKind of an exported project JSON.
func ProjectKindOf(export []byte) (langsync.ProjectKind, error) {
	return exportKind(bytes.NewReader(export))
}
