package authoring

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
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"

	"github.com/langsync/langsync/shared/internal/langhttp"
	"github.com/langsync/langsync/shared/langsync"
)

// API versions.
const (
	APIVersion20230401 = "2023-04-01"
	APIVersion20220501 = "2022-05-01"
	// APIVersion20251101 is the newest GA version of the conversations
	// authoring API (the text authoring API has none after 2023-04-01):
	// see ClientOptions.ConversationsAPIVersion.
	APIVersion20251101 = "2025-11-01"
	// DefaultAPIVersion is the newest GA version for text authoring.
	DefaultAPIVersion = APIVersion20230401
)

// KeyHeader is the header that carries a subscription key.
const KeyHeader = langhttp.KeyHeader

// EntraScope is the token scope for Microsoft Entra ID.
const EntraScope = langhttp.EntraScope

// Defaults of RetryOptions.
const (
	DefaultMaxRetries    = 4
	DefaultRetryDelay    = 500 * time.Millisecond
	DefaultMaxRetryDelay = 30 * time.Second
	DefaultTryTimeout    = 60 * time.Second
	// DefaultDownloadTimeout bounds one OpenExportResult download.
	DefaultDownloadTimeout = 15 * time.Minute
)

// RetryOptions tune the retries of one request. Zero fields take the
// defaults; tests shrink the delays so that nothing waits for seconds.
type RetryOptions struct {
	// MaxRetries is the number of retries after the first try; negative
	// means none.
	MaxRetries int
	// RetryDelay is the first backoff; it doubles per try, with jitter.
	RetryDelay time.Duration
	// MaxRetryDelay caps one backoff.
	MaxRetryDelay time.Duration
	// TryTimeout bounds one try, from sending to the end of the body.
	TryTimeout time.Duration
}

// ClientOptions configure a Client; nil means all defaults.
type ClientOptions struct {
	// APIVersion is "2023-04-01" (default) or "2022-05-01"; a preview
	// version may be named but is not tested.
	APIVersion string
	// ConversationsAPIVersion is the api-version of Conversations()
	// clients: "2023-04-01" or "2025-11-01" (GA); empty means APIVersion.
	ConversationsAPIVersion string
	// ConversationsAPIVersionSetting names where ConversationsAPIVersion
	// was chosen (e.g. "resources.secondary.conversationsApiVersion" in
	// the config, or a CLI flag): when the resource refuses that version
	// (ErrUnsupportedAPIVersion), the error says to change it. Optional.
	ConversationsAPIVersionSetting string
	// Transport sends the requests; an *http.Client works (a copy that
	// does not follow redirects is used). Another Transporter must not
	// follow redirects itself: a redirect would carry the key past the
	// host pin. Default: http.DefaultTransport without redirects.
	Transport policy.Transporter
	Retry     RetryOptions
	// Budget is the rate budget to share; default DefaultBudget, shared by
	// every client in the process.
	Budget *RateBudget
	// PollIntervals caps the adaptive poll interval per job kind (see
	// Poll); kinds not named keep their defaults.
	PollIntervals map[langsync.JobKind]time.Duration
	// MinPollInterval is the shortest interval Poll suggests (default 50ms).
	MinPollInterval time.Duration
	// UnknownStatusTimeout bounds how long Wait keeps polling a job whose
	// status is none of the documented values (a status added by a newer
	// service, or a garbled answer): once the job has reported unknown
	// statuses for longer than this without a break, Wait returns an error
	// matching ErrUnknownJobStatus that names the status. Default
	// DefaultUnknownStatusTimeout.
	UnknownStatusTimeout time.Duration
	// DownloadTimeout bounds OpenExportResult (default 15 minutes).
	DownloadTimeout time.Duration
	// Logger receives one debug line per HTTP try; default slog.Default().
	Logger *slog.Logger
	// InsecureAllowHTTP allows credentials over plain http to a host that
	// is not loopback (http to 127.0.0.1/localhost is always allowed, for
	// the emulator).
	InsecureAllowHTTP bool
	// OnThrottled, if set, is called once per answer 429 or 503 (a
	// throttled try), for the metrics.
	OnThrottled func()
}

// Client is a Language authoring client for custom text classification
// and custom NER projects on one resource. It is safe for concurrent use.
type Client struct {
	endpoint   string // scheme://host[/prefix], no trailing slash
	origin     string
	apiVersion string
	// convVersion is the api-version of Conversations() clients ("" = apiVersion).
	convVersion string
	// convSetting names where convVersion was chosen, for the hint of an
	// ErrUnsupportedAPIVersion.
	convSetting string
	pl          runtime.Pipeline
	retry       policy.RetryOptions
	download    time.Duration
	budget      *RateBudget
	logger      *slog.Logger
	poll        pollConfig
	secret      langsync.Secret // only to scrub it from service messages; zero with Entra ID
	now         func() time.Time
	// family is the authoring API the paths go to: analyze-text, or
	// analyze-conversations for a client from Conversations.
	family string
}

var apiVersionRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)

// NewKeyClient returns a client that authenticates with a subscription key.
func NewKeyClient(endpoint string, key langsync.Secret, opts *ClientOptions) (*Client, error) {
	if key.IsZero() {
		return nil, errors.New("authoring: no key: give the resource's key (Keys and Endpoint in the Azure portal), or use Entra ID")
	}
	return newClient(endpoint, opts, key, nil)
}

// NewClient returns a client that authenticates with Microsoft Entra ID,
// for example azidentity.NewDefaultAzureCredential. The endpoint must be
// the resource's custom subdomain.
func NewClient(endpoint string, cred azcore.TokenCredential, opts *ClientOptions) (*Client, error) {
	if cred == nil {
		return nil, errors.New("authoring: no token credential")
	}
	return newClient(endpoint, opts, "", cred)
}

// newClient authenticates with key, or with cred when it is not nil.
func newClient(endpoint string, opts *ClientOptions, key langsync.Secret, cred azcore.TokenCredential) (*Client, error) {
	if opts == nil {
		opts = &ClientOptions{}
	}
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("authoring: endpoint %q is not an http(s) URL: use https://<resource>.cognitiveservices.azure.com", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("authoring: endpoint %s must not carry a query, fragment or user info", langhttp.RedactURL(u))
	}
	// Accept ".../language" as given in some portal pages: paths are built
	// below it.
	p := strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/language")
	if u.Scheme == "http" && !langhttp.IsLoopback(u.Hostname()) && !opts.InsecureAllowHTTP {
		return nil, fmt.Errorf("authoring: endpoint %s is plain http on a non-loopback host: use https (plain http is accepted only to localhost, for emulators)", langhttp.RedactURL(u))
	}
	v := opts.APIVersion
	if v == "" {
		v = DefaultAPIVersion
	}
	if !apiVersionRE.MatchString(v) {
		return nil, fmt.Errorf("authoring: api-version %q is not a version: use %s (default) or %s", v, APIVersion20230401, APIVersion20220501)
	}
	convVersion := opts.ConversationsAPIVersion
	if convVersion != "" && !apiVersionRE.MatchString(convVersion) {
		return nil, fmt.Errorf("authoring: conversations api-version %q is not a version: use %s or %s, or leave it empty for the api-version", convVersion, APIVersion20251101, APIVersion20230401)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	budget := opts.Budget
	if budget == nil {
		budget = DefaultBudget
	}
	r := opts.Retry
	ro := policy.RetryOptions{
		MaxRetries:    int32(r.MaxRetries),
		RetryDelay:    r.RetryDelay,
		MaxRetryDelay: r.MaxRetryDelay,
	}
	if ro.MaxRetries == 0 {
		ro.MaxRetries = DefaultMaxRetries
	}
	if ro.RetryDelay == 0 {
		ro.RetryDelay = DefaultRetryDelay
	}
	if ro.MaxRetryDelay == 0 {
		ro.MaxRetryDelay = DefaultMaxRetryDelay
	}
	tryTimeout := r.TryTimeout
	if tryTimeout == 0 {
		tryTimeout = DefaultTryTimeout
	}
	download := opts.DownloadTimeout
	if download <= 0 {
		download = DefaultDownloadTimeout
	}
	c := &Client{
		endpoint:    u.Scheme + "://" + u.Host + p,
		origin:      langhttp.OriginOf(u),
		apiVersion:  v,
		convVersion: convVersion,
		convSetting: opts.ConversationsAPIVersionSetting,
		retry:       ro,
		download:    download,
		budget:      budget,
		logger:      logger.With("endpoint", u.Scheme+"://"+u.Host),
		poll:        newPollConfig(opts),
		secret:      key,
		now:         time.Now,
	}
	c.pl = langhttp.NewPipeline(langhttp.Options{
		Name:        "authoring",
		Origin:      c.origin,
		ForeignHost: ErrForeignHost,
		Key:         key,
		Cred:        cred,
		AllowHTTP:   u.Scheme == "http",
		Transport:   opts.Transport,
		// Our retry decisions are per request (see send).
		Retry:        c.retry,
		TryTimeout:   tryTimeout,
		Logger:       c.logger,
		FailureLevel: slog.LevelWarn, // throttling and server errors are worth seeing
		PerTry: []policy.Policy{
			budgetPolicy{budget: c.budget, origin: c.origin},
			throttlePolicy{budget: c.budget, origin: c.origin, onThrottled: opts.OnThrottled},
		},
	})
	return c, nil
}

// APIVersion returns the api-version the client sends.
func (c *Client) APIVersion() string { return c.apiVersion }

// Endpoint returns the configured endpoint (scheme://host).
func (c *Client) Endpoint() string { return c.endpoint }

// request describes one call.
type request struct {
	method      string
	url         string
	body        io.ReadSeeker
	contentType string
	// startsJob marks a request that starts a long-running job (POST
	// :export/:import/:train/:cancel/:swap/:load-snapshot, PUT deployment,
	// DELETE project/deployment). See retryDecider.
	startsJob bool
	stream    bool
	timeout   time.Duration
}

// How duplicate jobs are avoided. A request that starts a job is re-sent
// only when the service cannot have acted on it:
//   - the transport failed before the request was completely written
//     (the send policy's httptrace saw no successful WroteRequest), or
//   - the service answered 429 or 503, which reject a request before it is
//     accepted (the API gateway throttles, the service is unavailable).
//
// A 500/502/504, a timeout or a reset after the request was written may
// hide an accepted job, so the error is returned marked ErrMaybeStarted and
// the caller decides (the pipeline looks for the job first: the run state
// holds the operation-location of every job it started). Reads and
// idempotent writes (PATCH project, DELETE model) retry on any transport
// error and on 408, 429, 500, 502, 503, 504.
//
// A resource that gives no answer at all (ErrUnreachable) is tried at most
// maxUnreachableRetries more times: a blip is covered, while a longer outage
// is the caller's to wait out (the pipeline has its own bounded schedule),
// so that retries do not stack (4 retries of 30 s dial timeouts each).
func retryDecider(startsJob bool) func(*http.Response, error) bool {
	decide := retryDeciderFor(startsJob)
	unreachable := 0
	return func(resp *http.Response, err error) bool {
		var na *langhttp.NoAnswerError
		if err != nil && errors.As(err, &na) {
			if unreachable++; unreachable > maxUnreachableRetries {
				return false
			}
		}
		return decide(resp, err)
	}
}

// maxUnreachableRetries: see retryDecider.
const maxUnreachableRetries = 1

func retryDeciderFor(startsJob bool) func(*http.Response, error) bool {
	if startsJob {
		return func(resp *http.Response, err error) bool {
			if err != nil {
				var se *langhttp.SentError
				return !errors.As(err, &se)
			}
			return (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && !waitTooLong(resp)
		}
	}
	return func(resp *http.Response, err error) bool {
		if err != nil {
			return true
		}
		if waitTooLong(resp) {
			return false
		}
		switch resp.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
}

// waitTooLong reports a Retry-After beyond MaxRetryAfter.
func waitTooLong(resp *http.Response) bool {
	d, ok := langhttp.ParseRetryAfter(resp.Header, time.Now())
	return ok && d > MaxRetryAfter
}

// send runs one call through the pipeline and turns failures into typed
// errors. A non-nil response has a status below 400.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	ro := c.retry
	ro.ShouldRetry = retryDecider(r.startsJob)
	ctx = policy.WithRetryOptions(ctx, ro)
	req, err := runtime.NewRequest(ctx, r.method, r.url)
	if err != nil {
		return nil, fmt.Errorf("authoring: building %s request: %w", r.method, langhttp.SanitizeErr(err))
	}
	req.Raw().Header.Set("Accept", "application/json")
	if r.body != nil {
		if err := req.SetBody(streaming.NopCloser(r.body), r.contentType); err != nil {
			return nil, fmt.Errorf("authoring: setting %s body: %w", r.method, err)
		}
	}
	if r.stream {
		runtime.SkipBodyDownload(req)
	}
	req.SetOperationValue(langhttp.TryOptions{Timeout: r.timeout, Stream: r.stream})
	resp, err := c.pl.Do(req)
	if err != nil {
		if errors.Is(err, ErrForeignHost) {
			return nil, err
		}
		var se *langhttp.SentError
		var ne *langhttp.NoAnswerError
		return nil, &requestError{
			method:       r.method,
			url:          langhttp.RedactURL(req.Raw().URL),
			err:          langhttp.SanitizeErr(err),
			maybeStarted: r.startsJob && errors.As(err, &se),
			unreachable:  errors.As(err, &ne),
		}
	}
	if resp.StatusCode >= http.StatusBadRequest {
		defer resp.Body.Close()
		return nil, c.responseError(req.Raw(), resp, r.startsJob)
	}
	if resp.StatusCode >= http.StatusMultipleChoices {
		resp.Body.Close()
		target := "elsewhere"
		if loc, err := req.Raw().URL.Parse(resp.Header.Get("Location")); err == nil && loc.Host != "" {
			target = langhttp.OriginOf(loc)
		}
		return nil, &ResponseError{
			StatusCode: resp.StatusCode, Method: r.method, URL: langhttp.RedactURL(req.Raw().URL),
			Message:   "the service redirected to " + target + "; redirects are not followed (they would carry the credentials)",
			RequestID: resp.Header.Get("Apim-Request-Id"),
		}
	}
	return resp, nil
}

// responseError builds a *ResponseError from an error response.
func (c *Client) responseError(req *http.Request, resp *http.Response, startsJob bool) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &ResponseError{
		StatusCode: resp.StatusCode,
		Method:     req.Method,
		URL:        langhttp.RedactURL(req.URL),
		RequestID:  resp.Header.Get("Apim-Request-Id"),
	}
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("X-Ms-Request-Id")
	}
	if d, ok := langhttp.ParseRetryAfter(resp.Header, c.now()); ok {
		e.RetryAfter = d
	}
	decodeErrorBody(body, e)
	if code := resp.Header.Get("X-Ms-Error-Code"); e.Code == "" && code != "" {
		e.Code = code
	}
	if e.Message == "" && len(body) > 0 && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		e.Message = msg
	}
	e.Message = c.scrub(e.Message)
	e.Target = c.scrub(e.Target)
	for ie := e.InnerError; ie != nil; ie = ie.InnerError {
		ie.Message = c.scrub(ie.Message)
	}
	if e.Is(ErrUnsupportedAPIVersion) {
		e.APIVersion = c.apiVersion
		if c.IsConversations() && c.convSetting != "" {
			e.Hint = fmt.Sprintf("the resource does not serve api-version %s of the conversations authoring API: set %s to a version it serves (%s, the default, or %s)",
				c.apiVersion, c.convSetting, APIVersion20230401, APIVersion20251101)
		}
	}
	if startsJob {
		switch resp.StatusCode {
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout, http.StatusRequestTimeout:
			e.maybeStarted = true
		}
	}
	return e
}

// decodeErrorBody fills e from an {"error": {...}} body
// (docs/reference/language-rest.md#error-body). The variable parts (details,
// innererror.details, the code's type) decode tolerantly; should the body
// still not fit ErrorDetail (a message that is not a string, say), code,
// message and target are read on their own, so that they are never lost to
// a member beside them.
func decodeErrorBody(body []byte, e *ResponseError) {
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != nil {
		e.Code = string(eb.Error.Code)
		e.Message = eb.Error.Message
		e.Target = eb.Error.Target
		e.Details = eb.Error.Details
		e.InnerError = eb.Error.InnerError
		return
	}
	var loose struct {
		Error *struct {
			Code    json.RawMessage `json:"code"`
			Message json.RawMessage `json:"message"`
			Target  json.RawMessage `json:"target"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &loose) == nil && loose.Error != nil {
		e.Code = looseText(loose.Error.Code)
		e.Message = looseText(loose.Error.Message)
		e.Target = looseText(loose.Error.Target)
	}
}

// scrub removes the key from text the service sent back, in case a proxy
// echoes request headers.
func (c *Client) scrub(s string) string {
	// A very short "key" (a typo) would garble ordinary words; real keys
	// are 32 characters.
	if len(c.secret.Reveal()) < 8 || s == "" {
		return s
	}
	return strings.ReplaceAll(s, c.secret.Reveal(), "[REDACTED]")
}

// url builds endpoint/language/authoring/analyze-text/<path>?api-version=..&query.
// Every name in path has been validated (no escaping needed).
func (c *Client) url(path string, query url.Values) string {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("api-version", c.apiVersion)
	return c.endpoint + "/language/authoring/" + c.familyPath() + "/" + path + "?" + q.Encode()
}

// followURL prepares a URL the service returned (operation-location,
// resultUrl, nextLink): used verbatim, with api-version added only when it
// is missing (the service requires it on every call). Host pinning happens
// in the pipeline.
func (c *Client) followURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return "", fmt.Errorf("authoring: service returned an unusable URL (%v)", langhttp.SanitizeErr(err))
	}
	if u.Query().Get("api-version") == "" {
		q := u.Query()
		q.Set("api-version", c.apiVersion)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// getJSON GETs url and decodes the body into out.
func (c *Client) getJSON(ctx context.Context, u string, out any) (*http.Response, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, url: u})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := decodeBody(resp, out); err != nil {
		return nil, err
	}
	return resp, nil
}

func decodeBody(resp *http.Response, out any) error {
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("authoring: decoding %s %s response: %w", resp.Request.Method, langhttp.RedactURL(resp.Request.URL), err)
	}
	return nil
}

// maxPages stops a service that keeps returning nextLinks.
const maxPages = 10000

// listAll GETs a list and follows nextLink verbatim (host-pinned) to the end.
func listAll[T any](ctx context.Context, c *Client, u string) ([]T, error) {
	var all []T
	seen := map[string]bool{}
	for i := 0; ; i++ {
		if i >= maxPages || seen[u] {
			return all, fmt.Errorf("authoring: list did not end after %d pages (nextLink repeats or never ends)", i)
		}
		seen[u] = true
		var p page[T]
		if _, err := c.getJSON(ctx, u, &p); err != nil {
			return all, err
		}
		all = append(all, p.Value...)
		if p.NextLink == nil || *p.NextLink == "" {
			return all, nil
		}
		next, err := c.followURL(*p.NextLink)
		if err != nil {
			return all, err
		}
		u = next
	}
}

// begin sends a job-starting request and returns the job handle from the
// operation-location header.
func (c *Client) begin(ctx context.Context, kind langsync.JobKind, r request) (langsync.Job, error) {
	r.startsJob = true
	started := c.now()
	resp, err := c.send(ctx, r)
	if err != nil {
		return langsync.Job{}, err
	}
	defer resp.Body.Close()
	loc := resp.Header.Get("Operation-Location")
	if loc == "" {
		return langsync.Job{}, fmt.Errorf("authoring: %s %s answered %d without an operation-location header", r.method, langhttp.RedactURL(resp.Request.URL), resp.StatusCode)
	}
	job := langsync.Job{Kind: kind, Location: loc, Started: started}
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() {
		return job, fmt.Errorf("authoring: %s %s returned an unusable operation-location", r.method, langhttp.RedactURL(resp.Request.URL))
	}
	if langhttp.OriginOf(u) != c.origin {
		// The job was started, but its status lives elsewhere: return the
		// handle so it can be recorded, and refuse to follow it.
		return job, fmt.Errorf("%w: operation-location %s is not on %s; the job was started but will not be polled there", ErrForeignHost, langhttp.RedactURL(u), c.origin)
	}
	return job, nil
}

// String names the client by endpoint and api-version; it exists so that
// printing a Client (%v, %+v) never walks into its fields.
func (c *Client) String() string {
	return "authoring.Client(" + c.endpoint + ", api-version " + c.apiVersion + ")"
}

// GoString is String for %#v.
func (c *Client) GoString() string { return c.String() }

// NewForResource returns a client for a configured resource: its key, or
// Microsoft Entra ID through cred when the resource says so (cred nil then
// means azidentity's DefaultAzureCredential, built by the caller: this
// package does not pick a credential on its own).
func NewForResource(r langsync.Resource, cred azcore.TokenCredential, opts *ClientOptions) (*Client, error) {
	if r.Entra {
		if cred == nil {
			return nil, fmt.Errorf("authoring: resource %q uses Entra ID but no token credential was given", r.Name)
		}
		return NewClient(r.Endpoint, cred, opts)
	}
	if r.Key.IsZero() {
		return nil, fmt.Errorf("authoring: resource %q has no key: set its key or `auth: entra`", r.Name)
	}
	return NewKeyClient(r.Endpoint, r.Key, opts)
}
