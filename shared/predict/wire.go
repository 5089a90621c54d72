package predict

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"

	"github.com/langsync/langsync/shared/internal/langhttp"
	"github.com/langsync/langsync/shared/langsync"
)

// tryEndpoint runs the request on one endpoint. The endpoint's pipeline
// retries each exchange and waits out 429s within the request's Retry-After
// budget (see tries); here a job that the endpoint accepted but that failed
// transiently or ran past JobTimeout is submitted again, MaxAttempts jobs in
// all. A probe (single) gets one try of its submit and one job.
func (c *Client) tryEndpoint(ctx context.Context, e *endpoint, req Request, single bool) (*Result, error) {
	t := &tries{submits: c.opts.MaxAttempts, budget: c.opts.RetryAfterBudget}
	if single {
		t.submits = 1
	}
	for job := 1; ; job++ {
		run := c.runJob
		if req.Kind.Conversational() {
			run = c.runConversations
		}
		res, err := run(ctx, e, t, req)
		if err == nil || job >= t.submits || ctx.Err() != nil || !resubmit(err) {
			return res, err
		}
		c.log.DebugContext(ctx, "job failed; submitting it again", "endpoint", e.name, "job", job, "error", err)
	}
}

// resubmit reports a job that the endpoint accepted but that failed for a
// reason another run may not meet. A failed exchange is not resubmitted:
// the pipeline has already spent its retries on it.
func resubmit(err error) bool {
	var re *ResponseError
	return errors.Is(err, ErrJobTimeout) || errors.As(err, &re) && re.JobStatus != "" && classify(err) == kindFailure
}

// Wire types of the analyze-text jobs API
// (docs/reference/language-rest.md#runtime-prediction-jobs).
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
func (c *Client) runJob(ctx context.Context, e *endpoint, t *tries, req Request) (*Result, error) {
	body, err := c.jobBody(e, req)
	if err != nil {
		return nil, err
	}
	submit := e.base.String() + "/language/analyze-text/jobs?api-version=" + url.QueryEscape(c.opts.APIVersion)
	resp, data, err := c.send(ctx, e, t, t.submits, http.MethodPost, submit, body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, c.answerError(e, http.MethodPost, resp, data)
	}
	loc := resp.Header.Get("Operation-Location")
	if loc == "" {
		re := responseError(e, http.MethodPost, resp, data)
		re.Code, re.Message = "MissingOperationLocation", "202 without an operation-location header"
		return nil, re
	}
	deadline := c.opts.Clock.Now().Add(c.opts.JobTimeout)
	for {
		// The job exists: a failed poll is polled again (PollRetries), never
		// resubmitted.
		resp, data, err := c.send(ctx, e, t, c.opts.PollRetries+1, http.MethodGet, loc, nil)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, c.answerError(e, http.MethodGet, resp, data)
		}
		var st jobState
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("predict: %s: GET %s: reading job state: %w", e.name, redact(loc), err)
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
		wait, _ := langhttp.ParseRetryAfter(resp.Header, time.Now())
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
		return nil, fmt.Errorf("predict: %s: GET %s: job %s succeeded without task results", e.name, redact(loc), st.JobID)
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

// send makes one exchange with the endpoint through its pipeline, which
// tries it up to max times (see tries) and refuses a URL off the endpoint's
// scheme and host: credentials go nowhere else.
func (c *Client) send(ctx context.Context, e *endpoint, t *tries, max int, method, rawURL string, body []byte) (*http.Response, []byte, error) {
	fail := func(err error) (*http.Response, []byte, error) {
		if errors.Is(err, ErrForeignHost) {
			return nil, nil, fmt.Errorf("predict: %s: %w", e.name, err)
		}
		err = langhttp.SanitizeErr(err)
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s: %w", c.opts.AttemptTimeout, err)
		}
		return nil, nil, fmt.Errorf("predict: %s: %s %s: %w", e.name, method, redact(rawURL), err)
	}
	t.max, t.failures, t.waited = max, 0, false
	ro := c.retry
	ro.MaxRetries = int32(max - 1 + maxThrottles)
	ro.ShouldRetry = t.shouldRetry
	req, err := runtime.NewRequest(policy.WithRetryOptions(ctx, ro), method, rawURL)
	if err != nil {
		return fail(err)
	}
	if body != nil {
		if err := req.SetBody(streaming.NopCloser(bytes.NewReader(body)), "application/json"); err != nil {
			return fail(err)
		}
	}
	req.Raw().Header.Set("Accept", "application/json")
	req.SetOperationValue(t)
	resp, err := e.pl.Do(req)
	if err != nil {
		return fail(err)
	}
	// azcore's body download policy has read the body already.
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fail(err)
	}
	return resp, data, nil
}

// maxThrottles bounds the 429s waited out for one request on one endpoint,
// however short their Retry-After.
const maxThrottles = 10

// tries is the retry state of one request on one endpoint, which azcore's
// retry policy consults through shouldRetry and throttlePolicy through the
// request's operation value. The Retry-After budget spans the request's
// submits and polls; the failure count is one exchange's.
type tries struct {
	submits   int           // tries of a submit, and jobs submitted
	budget    time.Duration // Retry-After still to be waited out
	throttled int           // 429s waited out

	max      int  // tries of the current exchange
	failures int  // failed tries of the current exchange
	waited   bool // throttlePolicy waited out the last answer, a 429
}

// shouldRetry retries a 429 that throttlePolicy waited out, and transport
// errors, 408 and 5xx until the exchange has failed max times. A 429 does
// not count as a failure: the Retry-After budget bounds it.
func (t *tries) shouldRetry(resp *http.Response, err error) bool {
	if err == nil {
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			waited := t.waited
			t.waited = false
			return waited
		case resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode < http.StatusInternalServerError:
			return false
		}
	}
	t.failures++
	return t.failures < t.max
}

// throttlePolicy waits out a 429's Retry-After (1s when it names none) on
// the client's Clock while the request's Retry-After budget lasts, after
// which shouldRetry lets azcore's retry policy send the request again; a
// 429 beyond the budget stands, and the endpoint counts as failing. The
// Retry-After of every error answer is hidden from azcore's retry policy,
// which would sleep it on the wall clock or give up when it exceeds
// MaxRetryDelay.
type throttlePolicy struct {
	name  string
	clock Clock
	log   *slog.Logger
}

func (p throttlePolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if err != nil || resp.StatusCode < http.StatusBadRequest {
		return resp, err
	}
	wait, _ := langhttp.HideRetryAfter(resp.Header, time.Now())
	var t *tries
	if resp.StatusCode != http.StatusTooManyRequests || !req.OperationValue(&t) {
		return resp, nil
	}
	if wait <= 0 {
		wait = time.Second
	}
	if wait > t.budget || t.throttled >= maxThrottles {
		return resp, nil
	}
	t.budget -= wait
	t.throttled++
	ctx := req.Raw().Context()
	p.log.DebugContext(ctx, "throttled; waiting Retry-After", "endpoint", p.name, "wait", wait)
	if err := p.clock.Sleep(ctx, wait); err != nil {
		return nil, err
	}
	t.waited = true
	return resp, nil
}

// answerError is the error for an answer the request cannot use. A 429
// that is still the answer after the pipeline is throttling beyond the
// request's Retry-After budget.
func (c *Client) answerError(e *endpoint, method string, resp *http.Response, data []byte) error {
	re := responseError(e, method, resp, data)
	if re.StatusCode == http.StatusTooManyRequests {
		return fmt.Errorf("predict: %s: throttled beyond the Retry-After budget of %s: %w", e.name, c.opts.RetryAfterBudget, re)
	}
	return re
}

func responseError(e *endpoint, method string, resp *http.Response, data []byte) *ResponseError {
	re := &ResponseError{
		Endpoint:   e.name,
		StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("apim-request-id"),
		Method:     method,
		URL:        langhttp.RedactURL(resp.Request.URL),
	}
	re.RetryAfter, _ = langhttp.ParseRetryAfter(resp.Header, time.Now())
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
		URL:        redact(loc),
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

// redact renders a URL string as scheme://host/path, for errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(bad URL)"
	}
	return langhttp.RedactURL(u)
}
