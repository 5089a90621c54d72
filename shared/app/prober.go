package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/predict"
)

// Prober classifies probe texts on one resource with shared/predict (one
// endpoint, no failover: verify must ask exactly the side it names). The
// task kind is read from the project.
type Prober struct {
	App *App
	// Transport for the prediction requests (tests); default http.DefaultTransport.
	Transport http.RoundTripper

	mu      sync.Mutex
	clients map[string]*predict.Client
}

var _ pipeline.Prober = (*Prober)(nil)

// Classify returns, per text, the predicted labels joined with ",".
func (p *Prober) Classify(ctx context.Context, resource, project, deployment string, texts []string) ([]string, error) {
	ac, err := p.App.Client(resource)
	if err != nil {
		return nil, err
	}
	// Text or conversations API, whichever has the project.
	_, meta, err := (&Authoring{C: ac}).findProject(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("reading project kind: %w", err)
	}
	c, err := p.client(resource, meta.ProjectKind)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(texts))
	for start := 0; start < len(texts); start += predict.MaxDocuments {
		end := min(start+predict.MaxDocuments, len(texts))
		res, err := c.Classify(ctx, project, deployment, texts[start:end])
		if err != nil {
			return nil, err
		}
		for _, d := range res.Documents {
			out = append(out, strings.Join(d.Labels(), ","))
		}
	}
	return out, nil
}

func (p *Prober) client(resource string, kind langsync.ProjectKind) (*predict.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := resource + "/" + string(kind)
	if c, ok := p.clients[key]; ok {
		return c, nil
	}
	res, ok := p.App.Config.Resource(resource)
	if !ok {
		return nil, fmt.Errorf("app: resource %q is not configured", resource)
	}
	ep := predict.Endpoint{Name: resource, URL: res.Endpoint, Key: res.Key}
	if res.Entra {
		p.App.mu.Lock()
		cred, err := p.App.credential()
		p.App.mu.Unlock()
		if err != nil {
			return nil, err
		}
		ep.Key, ep.Cred = "", cred
	}
	c, err := predict.New([]predict.Endpoint{ep}, &predict.Options{Kind: kind, Transport: p.Transport, Logger: p.App.Logger})
	if err != nil {
		return nil, fmt.Errorf("app: prediction client for %q: %w", resource, err)
	}
	if p.clients == nil {
		p.clients = map[string]*predict.Client{}
	}
	p.clients[key] = c
	return c, nil
}
