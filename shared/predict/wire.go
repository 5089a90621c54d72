package predict

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/langsync/langsync/shared/langsync"
)

// tokenScope is the Entra ID scope of Cognitive Services (spec §2).
const tokenScope = "https://cognitiveservices.azure.com/.default"

// maxBody bounds what is read of one response.
const maxBody = 32 << 20

// tryEndpoint runs the request on one endpoint, retrying failures there
// (MaxAttempts; a probe gets one attempt) and waiting out 429s within the
// Retry-After budget.
func (c *Client) tryEndpoint(ctx context.Context, e *endpoint, req Request, single bool) (*Result, error) {
	maxAttempts := c.opts.MaxAttempts
	if single {
		maxAttempts = 1
	}
	budget := c.opts.RetryAfterBudget
	throttled := 0
	for attempt := 1; ; {
		res, err := c.runJob(ctx, e, req)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil || classify(err) != kindFailure {
			return nil, err
		}
		var re *ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusTooManyRequests {
			wait := re.RetryAfter
			if wait <= 0 {
				wait = time.Second
			}
			if wait > budget || throttled >= 10 {
				return nil, fmt.Errorf("predict: %s: throttled beyond the Retry-After budget of %s: %w", e.name, c.opts.RetryAfterBudget, err)
			}
			budget -= wait
			throttled++
			c.log.DebugContext(ctx, "throttled; waiting Retry-After", "endpoint", e.name, "wait", wait)
			if err := c.opts.Clock.Sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		if attempt >= maxAttempts {
			return nil, err
		}
		c.log.DebugContext(ctx, "attempt failed; retrying on the same endpoint", "endpoint", e.name, "attempt", attempt, "error", err)
		if err := c.opts.Clock.Sleep(ctx, c.backoff(attempt)); err != nil {
			return nil, err
		}
		attempt++
	}
}

// backoff is RetryDelay doubled per attempt, with up to 50% jitter.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.RetryDelay << (attempt - 1)
	return d + time.Duration(c.opts.Rand()*0.5*float64(d))
}

// Wire types of the analyze-text jobs API (spec §8).
type (
	jobRequest struct {
		DisplayName   string        `json:"displayName"`
		AnalysisInput analysisInput `json:"analysisInput"`
		Tasks         []taskRequest `json:"tasks"`
	}
	analysisInput struct {
		Documents []inputDocument `json:"documents"`
	}
	inputDocument struct {
		ID       string `json:"id"`
		Language string `json:"language"`
		Text     string `json:"text"`
	}
	taskRequest struct {
		Kind       langsync.ProjectKind `json:"kind"`
		TaskName   string               `json:"taskName"`
		Parameters taskParameters       `json:"parameters"`
	}
	taskParameters struct {
		ProjectName     string `json:"projectName"`
		DeploymentName  string `json:"deploymentName"`
		StringIndexType string `json:"stringIndexType,omitempty"`
	}
	apiError struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError *struct {
			Code string `json:"code"`
		} `json:"innererror"`
	}
	jobState struct {
		JobID  string     `json:"jobId"`
		Status string     `json:"status"`
		Errors []apiError `json:"errors"`
		Tasks  struct {
			Items []struct {
				Kind    string       `json:"kind"`
				Status  string       `json:"status"`
				Results *taskResults `json:"results"`
			} `json:"items"`
		} `json:"tasks"`
	}
	taskResults struct {
		Errors []struct {
			ID    string   `json:"id"`
			Error apiError `json:"error"`
		} `json:"errors"`
		Documents []struct {
			ID       string     `json:"id"`
			Warnings []apiError `json:"warnings"`
			Class    []Class    `json:"class"`
			Entities []Entity   `json:"entities"`
		} `json:"documents"`
	}
)

func (c *Client) jobBody(e *endpoint, req Request) ([]byte, error) {
	jr := jobRequest{DisplayName: "langsync predict"}
	for i, t := range req.Texts {
		jr.AnalysisInput.Documents = append(jr.AnalysisInput.Documents, inputDocument{ID: strconv.Itoa(i + 1), Language: req.Language, Text: t})
	}
	p := taskParameters{ProjectName: e.projectName(req.Project), DeploymentName: req.Deployment}
	if req.Kind == langsync.EntityRecognition {
		// Offsets in the same unit as the authoring API's labels.
		p.StringIndexType = "Utf16CodeUnit"
	}
	jr.Tasks = []taskRequest{{Kind: req.Kind, TaskName: "langsync", Parameters: p}}
	b, err := json.Marshal(jr)
	if err != nil {
		return nil, fmt.Errorf("predict: encoding request: %w", err)
	}
	return b, nil
}

// runJob submits one analyze-text job and polls it to the end.
func (c *Client) runJob(ctx context.Context, e *endpoint, req Request) (*Result, error) {
	body, err := c.jobBody(e, req)
	if err != nil {
		return nil, err
	}
	submit := e.base.String() + "/language/analyze-text/jobs?api-version=" + url.QueryEscape(c.opts.APIVersion)
	resp, data, err := c.send(ctx, e, http.MethodPost, submit, body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, responseError(e, http.MethodPost, resp, data)
	}
	loc := resp.Header.Get("Operation-Location")
	if loc == "" {
		re := responseError(e, http.MethodPost, resp, data)
		re.Code, re.Message = "MissingOperationLocation", "202 without an operation-location header"
		return nil, re
	}
	if err := e.pinned(http.MethodGet, loc); err != nil {
		return nil, err
	}
	deadline := c.opts.Clock.Now().Add(c.opts.JobTimeout)
	pollFailures := 0
	for {
		resp, data, err := c.send(ctx, e, http.MethodGet, loc, nil)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = responseError(e, http.MethodGet, resp, data)
		}
		var st jobState
		if err == nil {
			if jerr := json.Unmarshal(data, &st); jerr != nil {
				err = fmt.Errorf("predict: %s: GET %s: reading job state: %w", e.name, stripQuery(loc), jerr)
			}
		}
		if err != nil {
			if ctx.Err() != nil || classify(err) != kindFailure || pollFailures >= c.opts.PollRetries {
				return nil, err
			}
			pollFailures++
			if err := c.opts.Clock.Sleep(ctx, c.backoff(pollFailures)); err != nil {
				return nil, err
			}
			continue
		}
		switch langsync.JobStatus(st.Status) {
		case langsync.JobSucceeded:
			return c.result(e, req, &st, loc)
		case langsync.JobFailed, langsync.JobCancelled, langsync.JobPartiallyCompleted:
			return nil, jobError(e, resp, loc, &st)
		}
		if !c.opts.Clock.Now().Before(deadline) {
			return nil, fmt.Errorf("predict: %s: job %s still %s after %s: %w", e.name, st.JobID, st.Status, c.opts.JobTimeout, ErrJobTimeout)
		}
		wait := retryAfter(resp)
		if wait <= 0 {
			wait = c.opts.PollInterval
		}
		if err := c.opts.Clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (c *Client) result(e *endpoint, req Request, st *jobState, loc string) (*Result, error) {
	var tr *taskResults
	for _, it := range st.Tasks.Items {
		if it.Results != nil {
			tr = it.Results
			break
		}
	}
	if tr == nil {
		return nil, fmt.Errorf("predict: %s: GET %s: job %s succeeded without task results", e.name, stripQuery(loc), st.JobID)
	}
	res := &Result{Project: req.Project, Deployment: req.Deployment, Kind: req.Kind, JobID: st.JobID}
	byID := map[string]int{}
	for i, t := range req.Texts {
		id := strconv.Itoa(i + 1)
		byID[id] = i
		res.Documents = append(res.Documents, Document{ID: id, Text: t, Error: "no result for this document"})
	}
	for _, d := range tr.Documents {
		i, ok := byID[d.ID]
		if !ok {
			continue
		}
		doc := &res.Documents[i]
		doc.Error = ""
		doc.Classes, doc.Entities = d.Class, d.Entities
		// Best class first (the service does not promise an order).
		sortClasses(doc.Classes)
		for _, w := range d.Warnings {
			doc.Warnings = append(doc.Warnings, w.Code+": "+w.Message)
		}
	}
	for _, de := range tr.Errors {
		if i, ok := byID[de.ID]; ok {
			res.Documents[i].Error = de.Error.Code + ": " + de.Error.Message
		}
	}
	return res, nil
}

func sortClasses(cs []Class) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].ConfidenceScore > cs[j-1].ConfidenceScore; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// send makes one HTTP exchange with the endpoint and reads the body. The URL
// must be on the endpoint's scheme and host: credentials go nowhere else.
func (c *Client) send(ctx context.Context, e *endpoint, method, rawURL string, body []byte) (*http.Response, []byte, error) {
	if err := e.pinned(method, rawURL); err != nil {
		return nil, nil, err
	}
	actx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(actx, method, rawURL, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("predict: %s: %s %s: %w", e.name, method, stripQuery(rawURL), err)
	}
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	hreq.Header.Set("Accept", "application/json")
	if err := e.authorize(actx, hreq); err != nil {
		return nil, nil, err
	}
	resp, err := c.hc.Do(hreq)
	if err == nil {
		var data []byte
		data, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err == nil {
			return resp, data, nil
		}
	}
	// url.Error repeats the whole URL; keep only the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() == nil && actx.Err() != nil {
		err = fmt.Errorf("no answer within %s: %w", c.opts.AttemptTimeout, err)
	}
	return nil, nil, fmt.Errorf("predict: %s: %s %s: %w", e.name, method, stripQuery(rawURL), err)
}

// pinned refuses a URL on another scheme or host than the endpoint's.
func (e *endpoint) pinned(method, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("predict: %s: %s: bad URL from the service: %w", e.name, method, err)
	}
	if !strings.EqualFold(u.Scheme, e.base.Scheme) || !strings.EqualFold(u.Host, e.base.Host) {
		return fmt.Errorf("predict: %s: %s %s://%s%s is not on %s: %w", e.name, method, u.Scheme, u.Host, u.Path, e.base, ErrForeignHost)
	}
	return nil
}

// authorize adds the endpoint's key or bearer token.
func (e *endpoint) authorize(ctx context.Context, req *http.Request) error {
	if !e.key.IsZero() {
		req.Header.Set("Ocp-Apim-Subscription-Key", e.key.Reveal())
		return nil
	}
	tok, err := e.tok.get(ctx, e.cred)
	if err != nil {
		return fmt.Errorf("predict: %s: getting a Microsoft Entra ID token: %w", e.name, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// tokenCache keeps an endpoint's token until shortly before it expires.
type tokenCache struct {
	mu  sync.Mutex
	tok azcore.AccessToken
}

func (t *tokenCache) get(ctx context.Context, cred azcore.TokenCredential) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok.Token == "" || time.Until(t.tok.ExpiresOn) < 2*time.Minute {
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{tokenScope}})
		if err != nil {
			return "", err
		}
		t.tok = tok
	}
	return t.tok.Token, nil
}

func responseError(e *endpoint, method string, resp *http.Response, data []byte) *ResponseError {
	re := &ResponseError{
		Endpoint:   e.name,
		StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("apim-request-id"),
		Method:     method,
		URL:        stripQuery(resp.Request.URL.String()),
		RetryAfter: retryAfter(resp),
	}
	var body struct {
		Error apiError `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil {
		re.Code, re.Message = body.Error.Code, body.Error.Message
		if body.Error.InnerError != nil {
			re.InnerCode = body.Error.InnerError.Code
		}
	}
	if re.Code == "" {
		re.Code = resp.Header.Get("x-ms-error-code")
	}
	return re
}

func jobError(e *endpoint, resp *http.Response, loc string, st *jobState) *ResponseError {
	re := &ResponseError{
		Endpoint:   e.name,
		StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("apim-request-id"),
		Method:     http.MethodGet,
		URL:        stripQuery(loc),
		JobStatus:  st.Status,
	}
	if len(st.Errors) > 0 {
		re.Code, re.Message = st.Errors[0].Code, st.Errors[0].Message
		if st.Errors[0].InnerError != nil {
			re.InnerCode = st.Errors[0].InnerError.Code
		}
	}
	return re
}

// retryAfter reads Retry-After in seconds (or an HTTP date).
func retryAfter(resp *http.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

func stripQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(bad URL)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}
