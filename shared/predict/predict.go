package predict

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/langsync/langsync/shared/internal/langhttp"
	"github.com/langsync/langsync/shared/langsync"
)

// DefaultAPIVersion is the runtime API version sent by default.
const DefaultAPIVersion = "2023-04-01"

// Service limits of one prediction request
// (docs/reference/language-rest.md#throttling-and-limits).
const (
	MaxDocuments = 25
	MaxChars     = 125000
)

// Endpoint is one Language resource that serves the project. The first
// endpoint given to New is the primary; the others are secondaries, in the
// order they are tried.
type Endpoint struct {
	// Name names the endpoint in results, errors, state and logs ("primary").
	Name string
	// URL is https://<resource>.cognitiveservices.azure.com (no path).
	// Plain http is accepted for loopback hosts only (emulators).
	URL string
	// Key is the resource's subscription key. Set Key or Cred, not both.
	Key langsync.Secret
	// Cred gets Microsoft Entra ID tokens for the Cognitive Services scope.
	Cred azcore.TokenCredential
	// Projects maps a project name to its name on this endpoint, for a
	// replica restored under another name. Unlisted projects keep their name.
	Projects map[string]string
}

// Options configure a Client; the zero value (or nil) means the defaults.
type Options struct {
	// Kind is the task kind Classify sends. Default
	// CustomSingleLabelClassification.
	Kind langsync.ProjectKind
	// APIVersion of the runtime API. Default DefaultAPIVersion.
	APIVersion string
	// Language of the documents (BCP-47). Default "en-us".
	Language string
	// Transport sends the HTTP requests. Default http.DefaultTransport.
	// Redirects are never followed (a key must not follow them).
	Transport http.RoundTripper
	// Clock drives Retry-After waits, polls and breaker times. Default the
	// wall clock.
	Clock Clock
	// Rand returns a number in [0,1) for the jitter of probe times. Default
	// math/rand/v2.
	Rand func() float64
	// Logger receives breaker transitions and failovers, and at debug level
	// one line per HTTP try. Default discards.
	Logger *slog.Logger
	// Breaker configures each endpoint's circuit breaker.
	Breaker BreakerOptions
	// MaxAttempts is how often a request's submit is tried on one endpoint,
	// and how many jobs are submitted when one fails transiently, before
	// the request counts as failed there and goes to the next endpoint.
	// Default 3.
	MaxAttempts int
	// RetryDelay is the first backoff between tries (azcore's retry
	// policy, on the wall clock); it grows exponentially with jitter up to
	// RetryDelay << (MaxAttempts-1). Default 100ms.
	RetryDelay time.Duration
	// RetryAfterBudget is how long one request may wait on one endpoint for
	// 429 Retry-After answers before the throttling counts as a failure.
	// Default 5s.
	RetryAfterBudget time.Duration
	// AttemptTimeout bounds one HTTP try (real time). Default 10s.
	AttemptTimeout time.Duration
	// PollInterval is the wait between job polls when the service sends no
	// Retry-After. Default 250ms.
	PollInterval time.Duration
	// PollRetries is how often a failed poll GET is retried before the
	// request fails on the endpoint (the job already exists, so it is
	// polled again rather than resubmitted). Default 3.
	PollRetries int
	// JobTimeout bounds one prediction job from submit to result (Clock
	// time). Default 60s.
	JobTimeout time.Duration
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Kind == "" {
		r.Kind = langsync.SingleLabelClassification
	}
	if r.APIVersion == "" {
		r.APIVersion = DefaultAPIVersion
	}
	if r.Language == "" {
		r.Language = "en-us"
	}
	if r.Transport == nil {
		r.Transport = http.DefaultTransport
	}
	if r.Clock == nil {
		r.Clock = realClock{}
	}
	if r.Rand == nil {
		r.Rand = rand.Float64
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	r.Breaker = r.Breaker.withDefaults()
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 3
	}
	if r.RetryDelay <= 0 {
		r.RetryDelay = 100 * time.Millisecond
	}
	if r.RetryAfterBudget <= 0 {
		r.RetryAfterBudget = 5 * time.Second
	}
	if r.AttemptTimeout <= 0 {
		r.AttemptTimeout = 10 * time.Second
	}
	if r.PollInterval <= 0 {
		r.PollInterval = 250 * time.Millisecond
	}
	if r.PollRetries <= 0 {
		r.PollRetries = 3
	}
	if r.JobTimeout <= 0 {
		r.JobTimeout = 60 * time.Second
	}
	return r
}

// Client sends prediction requests to the first healthy endpoint. It is safe
// for concurrent use.
type Client struct {
	opts  Options
	eps   []*endpoint
	retry policy.RetryOptions // per exchange: see send
	log   *slog.Logger

	mu          sync.Mutex // guards the breakers and the fields below
	active      int        // index of the first closed endpoint, -1 if none
	activeSince time.Time
	failovers   int
	failbacks   int
}

// New returns a client over endpoints; the first is the primary.
func New(endpoints []Endpoint, opts *Options) (*Client, error) {
	o := opts.withDefaults()
	if len(endpoints) == 0 {
		return nil, errors.New("predict: no endpoints: give the primary and at least one secondary")
	}
	switch o.Kind {
	case langsync.SingleLabelClassification, langsync.MultiLabelClassification, langsync.EntityRecognition,
		langsync.Conversation, langsync.Orchestration:
	default:
		return nil, fmt.Errorf("predict: unknown kind %q (want %s, %s or %s)", o.Kind,
			langsync.SingleLabelClassification, langsync.MultiLabelClassification, langsync.EntityRecognition)
	}
	c := &Client{opts: o, log: o.Logger, activeSince: o.Clock.Now()}
	// azcore counts waited-out 429s as tries too: the cap keeps them from
	// growing the backoff past what MaxAttempts failures would reach.
	c.retry = policy.RetryOptions{RetryDelay: o.RetryDelay, MaxRetryDelay: o.RetryDelay << (o.MaxAttempts - 1)}
	seen := map[string]bool{}
	var problems []error
	for i, ep := range endpoints {
		e, err := newEndpoint(ep, o, c.retry)
		if err != nil {
			problems = append(problems, fmt.Errorf("endpoint %d: %w", i+1, err))
			continue
		}
		if seen[e.name] {
			problems = append(problems, fmt.Errorf("endpoint %d: name %q is used twice (names must be unique)", i+1, e.name))
		}
		seen[e.name] = true
		c.eps = append(c.eps, e)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("predict: %w", errors.Join(problems...))
	}
	return c, nil
}

type endpoint struct {
	name     string
	base     *url.URL // scheme://host[:port]
	pl       runtime.Pipeline
	projects map[string]string
	br       *breaker

	served, failed, notReplicated int64 // guarded by Client.mu
}

func newEndpoint(ep Endpoint, o Options, retry policy.RetryOptions) (*endpoint, error) {
	if strings.TrimSpace(ep.Name) == "" {
		return nil, errors.New("name is empty (give each endpoint a name, e.g. primary)")
	}
	u, err := url.Parse(strings.TrimRight(ep.URL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%s: URL %q is not an endpoint URL (want https://<resource>.cognitiveservices.azure.com)", ep.Name, ep.URL)
	}
	if u.Path != "" || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("%s: URL %s://%s%s has a path, query or user info (give only https://<resource>.cognitiveservices.azure.com)", ep.Name, u.Scheme, u.Host, u.Path)
	}
	if u.Scheme == "http" && !langhttp.IsLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%s: URL %s://%s uses plain http; credentials are sent over https only (http is allowed for 127.0.0.1 and localhost)", ep.Name, u.Scheme, u.Host)
	}
	switch {
	case ep.Key.IsZero() && ep.Cred == nil:
		return nil, fmt.Errorf("%s: no credential (set Key or Cred)", ep.Name)
	case !ep.Key.IsZero() && ep.Cred != nil:
		return nil, fmt.Errorf("%s: both Key and Cred are set (choose one)", ep.Name)
	}
	base := &url.URL{Scheme: u.Scheme, Host: u.Host}
	pl := langhttp.NewPipeline(langhttp.Options{
		Name:        "predict",
		Origin:      langhttp.OriginOf(base),
		ForeignHost: ErrForeignHost,
		Key:         ep.Key,
		Cred:        ep.Cred,
		AllowHTTP:   u.Scheme == "http", // loopback only, checked above
		Transport:   &http.Client{Transport: o.Transport},
		Retry:       retry,
		TryTimeout:  o.AttemptTimeout,
		Logger:      o.Logger.With("endpoint", ep.Name),
		// A failed try is routine here: the breaker and failover report
		// what matters.
		FailureLevel: slog.LevelDebug,
		PerTry:       []policy.Policy{throttlePolicy{name: ep.Name, clock: o.Clock, log: o.Logger}},
	})
	return &endpoint{
		name:     ep.Name,
		base:     base,
		pl:       pl,
		projects: ep.Projects,
		br:       newBreaker(o.Breaker, o.Rand),
	}, nil
}

// projectName is the project's name on this endpoint.
func (e *endpoint) projectName(p string) string {
	if n, ok := e.projects[p]; ok && n != "" {
		return n
	}
	return p
}

// Request is one prediction request.
type Request struct {
	// Kind is the task kind; empty means Options.Kind.
	Kind langsync.ProjectKind
	// Project and Deployment name what to call (the same on every endpoint,
	// unless Endpoint.Projects renames the project).
	Project, Deployment string
	// Texts are the documents, at most MaxDocuments, MaxChars in total.
	Texts []string
	// Language overrides Options.Language.
	Language string
}

// Result is the answer to one request.
type Result struct {
	// Endpoint names the endpoint that served the answer.
	Endpoint string `json:"endpoint"`
	// Failover is true when a secondary served it.
	Failover bool `json:"failover"`
	// Reason says why Endpoint answered: for a secondary, what happened on
	// each endpoint before it (its error and where that left its breaker,
	// or that its open breaker had it skipped); for the primary, that it is
	// first in order, or that this request was the probe that closed its
	// breaker. State().Reason is the client's state now, which can differ:
	// a primary that just failed once is still "active".
	Reason string `json:"reason"`
	// Project is the name the request used; Deployment likewise.
	Project    string               `json:"project"`
	Deployment string               `json:"deployment"`
	Kind       langsync.ProjectKind `json:"kind"`
	// JobID is the service's job id, for support.
	JobID string `json:"jobId,omitempty"`
	// Documents are in the order of the request's texts.
	Documents []Document `json:"documents"`
	// Attempts lists what failed before the answer (other endpoints).
	Attempts []Attempt `json:"attempts,omitempty"`
}

// Document is the prediction for one text.
type Document struct {
	// ID is the document id sent (1-based position).
	ID   string `json:"id"`
	Text string `json:"text"`
	// Classes, for classification, best first.
	Classes []Class `json:"classes,omitempty"`
	// Entities, for NER and CLU, in text order.
	Entities []Entity `json:"entities,omitempty"`
	// TopIntent and Intents (best first), for CLU and orchestration
	// projects; Routed is what an orchestration's top intent routed to
	// (conversations.go).
	TopIntent string   `json:"topIntent,omitempty"`
	Intents   []Class  `json:"intents,omitempty"`
	Routed    *Routed  `json:"routed,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	// Error is set when the service could not process this document.
	Error string `json:"error,omitempty"`
}

// Class is a predicted class.
type Class struct {
	Category        string  `json:"category"`
	ConfidenceScore float64 `json:"confidenceScore"`
}

// Entity is a recognised entity. Offset and Length count UTF-16 code units
// (the client asks for stringIndexType Utf16CodeUnit).
type Entity struct {
	Text            string  `json:"text"`
	Category        string  `json:"category"`
	Offset          int     `json:"offset"`
	Length          int     `json:"length"`
	ConfidenceScore float64 `json:"confidenceScore"`
}

// Labels returns the predicted categories: the classes (best first) or the
// entity categories in text order.
func (d Document) Labels() []string {
	var l []string
	if d.TopIntent != "" {
		// CLU: the top intent, then the entities; orchestration: the
		// routed intent, then the target's top intent and entities.
		l = append(l, d.TopIntent)
		if d.Routed != nil && d.Routed.TopIntent != "" {
			l = append(l, d.Routed.TopIntent)
			for _, e := range d.Routed.Entities {
				l = append(l, e.Category)
			}
		}
	}
	for _, c := range d.Classes {
		l = append(l, c.Category)
	}
	for _, e := range d.Entities {
		l = append(l, e.Category)
	}
	return l
}

// Classify predicts texts with the project's deployment using the task kind
// of Options.Kind (single-label classification by default).
func (c *Client) Classify(ctx context.Context, project, deployment string, texts []string) (*Result, error) {
	return c.Analyze(ctx, Request{Project: project, Deployment: deployment, Texts: texts})
}

// Analyze runs one prediction request on the first endpoint that can serve it.
func (c *Client) Analyze(ctx context.Context, req Request) (*Result, error) {
	if req.Kind == "" {
		req.Kind = c.opts.Kind
	}
	if req.Language == "" {
		req.Language = c.opts.Language
	}
	if err := validate(req); err != nil {
		return nil, err
	}
	var attempts []Attempt
	tried := false
	for i, e := range c.eps {
		c.mu.Lock()
		now := c.opts.Clock.Now()
		ok, probe := e.br.allow(now)
		var why string
		if !ok {
			why = e.br.skipNote(now)
		}
		c.mu.Unlock()
		if !ok {
			attempts = append(attempts, Attempt{Endpoint: e.name, Skipped: true, Breaker: why})
			continue
		}
		tried = true
		res, done, note, err := c.serveFrom(ctx, i, e, req, probe)
		if done {
			if res != nil {
				answered(res, attempts, probe, false)
			}
			return res, err
		}
		attempts = append(attempts, Attempt{Endpoint: e.name, Err: err, Error: err.Error(), Breaker: note})
	}
	if !tried {
		// Every breaker is open and none is due a probe: try each once in
		// order anyway rather than fail without trying; a success closes
		// that endpoint's breaker as a probe would.
		attempts = attempts[:0]
		c.log.WarnContext(ctx, "every endpoint's breaker is open; trying each once", "project", req.Project, "deployment", req.Deployment)
		for i, e := range c.eps {
			res, done, note, err := c.serveFrom(ctx, i, e, req, true)
			if done {
				if res != nil {
					answered(res, attempts, true, true)
				}
				return res, err
			}
			attempts = append(attempts, Attempt{Endpoint: e.name, Err: err, Error: err.Error(), Breaker: note})
		}
	}
	return nil, &UnavailableError{Project: req.Project, Deployment: req.Deployment, Attempts: attempts}
}

// answered fills in res.Reason and res.Attempts from what happened on the
// endpoints tried (or skipped) before the one that answered.
func answered(res *Result, attempts []Attempt, probe, everyOpen bool) {
	var parts []string
	if everyOpen {
		parts = append(parts, "every endpoint's breaker was open, so each was tried once in order")
	}
	for _, a := range attempts {
		if a.Skipped {
			parts = append(parts, a.Endpoint+" skipped: breaker "+a.Breaker)
			continue
		}
		// The endpoint's name already heads the part.
		msg := strings.TrimPrefix(strings.TrimPrefix(a.Error, "predict: "), a.Endpoint+": ")
		part := a.Endpoint + " failed: " + msg
		if a.Breaker != "" {
			part += "; breaker " + a.Breaker
		}
		parts = append(parts, part)
	}
	switch {
	case probe:
		parts = append(parts, res.Endpoint+" answered as the half-open probe, so its breaker closed")
	case len(parts) == 0:
		parts = append(parts, "first in priority order, breaker closed")
	}
	res.Reason = strings.Join(parts, "; ")
	res.Attempts = failedOnly(attempts)
}

func failedOnly(as []Attempt) []Attempt {
	var out []Attempt
	for _, a := range as {
		if !a.Skipped {
			out = append(out, a)
		}
	}
	return out
}

// serveFrom tries the request on endpoint i. done reports that the outcome
// is final (an answer, or an error that another endpoint would not change);
// otherwise err is why this endpoint could not serve and the next is tried,
// and note says where that failure left the endpoint's breaker (empty when
// it did not count for the breaker).
func (c *Client) serveFrom(ctx context.Context, i int, e *endpoint, req Request, probe bool) (res *Result, done bool, note string, err error) {
	res, err = c.tryEndpoint(ctx, e, req, probe)
	now := c.opts.Clock.Now()
	if err == nil {
		c.record(ctx, e, probe, nil, now)
		res.Endpoint, res.Failover = e.name, i > 0
		return res, true, "", nil
	}
	if ctx.Err() != nil {
		c.mu.Lock()
		if probe {
			e.br.abandon(now)
		}
		c.mu.Unlock()
		return nil, true, "", fmt.Errorf("predict: %s: %w", e.name, ctx.Err())
	}
	switch classify(err) {
	case kindFatal:
		// The endpoint answered; the request is wrong. It says nothing
		// about the endpoint's health, except that it is up.
		c.record(ctx, e, probe, nil, now)
		return nil, true, "", err
	case kindNotFound:
		c.record(ctx, e, probe, nil, now)
		var re *ResponseError
		errors.As(err, &re)
		if i == 0 {
			return nil, true, "", err
		}
		c.mu.Lock()
		e.notReplicated++
		c.mu.Unlock()
		nr := &NotReplicatedError{Endpoint: e.name, Project: e.projectName(req.Project), Deployment: req.Deployment, Err: re}
		c.log.WarnContext(ctx, "project not replicated to secondary", "endpoint", e.name, "project", nr.Project, "deployment", req.Deployment)
		return nil, false, "", nr
	}
	note = c.record(ctx, e, probe, err, now)
	return nil, false, note, err
}

// record feeds an outcome to the endpoint's breaker and updates the active
// endpoint, logging transitions. For a failure it returns where the breaker
// stands now, read under the same lock so that a concurrent request cannot
// slip in between.
func (c *Client) record(ctx context.Context, e *endpoint, probe bool, err error, now time.Time) (note string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var changed bool
	if err == nil {
		e.served++
		changed = e.br.success(now, probe)
		if changed {
			c.log.InfoContext(ctx, "endpoint breaker closed", "endpoint", e.name, "reason", e.br.reason)
		}
	} else {
		e.failed++
		changed = e.br.failure(now, probe, err)
		if changed {
			c.log.WarnContext(ctx, "endpoint breaker open", "endpoint", e.name, "reason", e.br.reason,
				"error", e.br.lastErr, "next_probe", e.br.nextProbe)
		}
	}
	if changed {
		c.updateActiveLocked(ctx, now)
	}
	if err != nil {
		return e.br.failureNote(now)
	}
	return ""
}

func (c *Client) updateActiveLocked(ctx context.Context, now time.Time) {
	next := -1
	for i, e := range c.eps {
		if e.br.state == BreakerClosed {
			next = i
			break
		}
	}
	if next == c.active {
		return
	}
	prev := c.active
	c.active, c.activeSince = next, now
	switch {
	case next < 0:
		c.log.ErrorContext(ctx, "every endpoint's breaker is open")
	case prev < 0 || next > prev:
		c.failovers++
		c.log.WarnContext(ctx, "failover", "from", c.nameAt(prev), "to", c.eps[next].name)
	default:
		c.failbacks++
		c.log.InfoContext(ctx, "failback", "from", c.nameAt(prev), "to", c.eps[next].name)
	}
}

func (c *Client) nameAt(i int) string {
	if i < 0 {
		return "(none)"
	}
	return c.eps[i].name
}

func validate(req Request) error {
	switch req.Kind {
	case langsync.SingleLabelClassification, langsync.MultiLabelClassification, langsync.EntityRecognition,
		langsync.Conversation, langsync.Orchestration:
	default:
		return fmt.Errorf("predict: unknown kind %q: %w", req.Kind, ErrBadRequest)
	}
	if req.Project == "" || req.Deployment == "" {
		return fmt.Errorf("predict: project and deployment names are required: %w", ErrBadRequest)
	}
	if len(req.Texts) == 0 {
		return fmt.Errorf("predict: no texts to predict: %w", ErrBadRequest)
	}
	if len(req.Texts) > MaxDocuments {
		return fmt.Errorf("predict: %d texts in one request, the service takes at most %d (split them into batches): %w", len(req.Texts), MaxDocuments, ErrBadRequest)
	}
	total := 0
	for i, t := range req.Texts {
		if strings.TrimSpace(t) == "" {
			return fmt.Errorf("predict: text %d is empty (the service rejects empty documents): %w", i+1, ErrBadRequest)
		}
		total += utf8.RuneCountInString(t)
	}
	if total > MaxChars {
		return fmt.Errorf("predict: texts hold %d characters, the service takes at most %d per request (split them): %w", total, MaxChars, ErrBadRequest)
	}
	return nil
}
