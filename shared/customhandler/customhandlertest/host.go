package customhandlertest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/langsync/langsync/shared/customhandler"
)

// Options configure a Host.
type Options struct {
	// FunctionsDir holds <name>/function.json (the repo's functions/).
	FunctionsDir string
	// HandlerURL is the custom handler's base URL, http://127.0.0.1:<port>.
	HandlerURL string
	// Settings are the app settings (%NAME% in function.json, connection
	// names); nil means none.
	Settings func(string) string
	// ServiceBus overrides the connection string of every serviceBusTrigger
	// (default: the setting its "connection" names).
	ServiceBus string
	// FunctionKey is the key authLevel function HTTP triggers require (as
	// ?code= or x-functions-key).
	FunctionKey string
	// Blobs lists and reads blobs for blob triggers (ScanBlobs).
	Blobs BlobSource
	// Client calls the handler; default a client with no timeout beyond ctx.
	Client *http.Client
	// Now is the clock for payload timestamps; default time.Now.
	Now func() time.Time
}

// BlobSource is what the simulator needs of Blob storage to serve blob
// triggers: a listing and a read.
type BlobSource interface {
	List(ctx context.Context, container, prefix string) ([]Blob, error)
	Read(ctx context.Context, container, name string) ([]byte, error)
}

// Result is the outcome of one invocation.
type Result struct {
	Function     string
	InvocationID string
	// Request is the body the simulator sent.
	Request []byte
	// StatusCode is the handler's HTTP status (0 on a connection error).
	StatusCode int
	// Response is the decoded InvokeResponse on success.
	Response customhandler.InvokeResponse
	// Err is why the invocation failed (non-2xx, unreadable body, network).
	Err error
}

// OK reports whether the host would count the invocation a success.
func (r *Result) OK() bool { return r.Err == nil }

// Settlement is what the simulator did with a received message.
type Settlement struct {
	Function  string
	MessageID string
	// DeliveryCount as received (1 on the first delivery).
	DeliveryCount uint32
	// Completed is true when the message was completed, false when abandoned.
	Completed bool
	Result    *Result
}

// Host simulates the Azure Functions host for a custom handler.
type Host struct {
	opts  Options
	fns   map[string]*Function
	names []string

	mu          sync.Mutex
	results     []*Result
	settlements []Settlement
	sb          map[string]*azservicebus.Client
	receivers   map[string]*azservicebus.Receiver
	blobSeen    map[string]int // name@etag -> attempts
	invocations int
}

// New loads functions/*/function.json and returns a Host that invokes the
// handler at opts.HandlerURL.
func New(opts Options) (*Host, error) {
	if opts.HandlerURL == "" {
		return nil, errors.New("customhandlertest: HandlerURL is required")
	}
	fns, err := LoadFunctions(opts.FunctionsDir)
	if err != nil {
		return nil, err
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Host{opts: opts, fns: map[string]*Function{}, sb: map[string]*azservicebus.Client{},
		receivers: map[string]*azservicebus.Receiver{}, blobSeen: map[string]int{}}
	for i := range fns {
		f := fns[i]
		for j := range f.Bindings {
			b := &f.Bindings[j]
			b.QueueName = resolve(b.QueueName, opts.Settings)
			b.Schedule = resolve(b.Schedule, opts.Settings)
			b.Path = resolve(b.Path, opts.Settings)
		}
		h.fns[f.Name] = &f
		h.names = append(h.names, f.Name)
	}
	return h, nil
}

// SetBlobs sets the blob source for ScanBlobs.
func (h *Host) SetBlobs(b BlobSource) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opts.Blobs = b
}

// Functions returns the loaded function names, sorted.
func (h *Host) Functions() []string { return slices.Clone(h.names) }

// Function returns a loaded function.
func (h *Host) Function(name string) (*Function, bool) {
	f, ok := h.fns[name]
	return f, ok
}

// Results returns every invocation so far.
func (h *Host) Results() []*Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.results)
}

// Settlements returns what happened to every received message.
func (h *Host) Settlements() []Settlement {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.settlements)
}

func (h *Host) trigger(function, typ string) (*Function, *Binding, error) {
	f, ok := h.fns[function]
	if !ok {
		return nil, nil, fmt.Errorf("customhandlertest: no function %q (have %s)", function, strings.Join(h.names, ", "))
	}
	b := f.Trigger()
	if b.Type != typ {
		return nil, nil, fmt.Errorf("customhandlertest: function %s has a %s, not a %s", function, b.Type, typ)
	}
	return f, b, nil
}

// Invoke POSTs an envelope to /<function> as the host does
// (docs/reference/functions-protocol.md#the-invocation-request) and reads the
// answer as the host does (docs/reference/functions-protocol.md#the-response,
// docs/reference/functions-protocol.md#what-a-non-2xx-means): a non-2xx, a
// non-JSON media type or an unparsable body fails the invocation.
func (h *Host) Invoke(ctx context.Context, function string, env Envelope) *Result {
	body, err := json.Marshal(env)
	if err != nil {
		return h.record(&Result{Function: function, Err: fmt.Errorf("customhandlertest: encoding: %w", err)})
	}
	return h.InvokeRaw(ctx, function, body)
}

// InvokeRaw POSTs body as is (for malformed-envelope tests).
func (h *Host) InvokeRaw(ctx context.Context, function string, body []byte) *Result {
	r := &Result{Function: function, InvocationID: newGUID(), Request: body}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(h.opts.HandlerURL, "/")+"/"+function, bytes.NewReader(body))
	if err != nil {
		r.Err = err
		return h.record(r)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Azure-Functions-InvocationId", r.InvocationID)
	req.Header.Set("X-Azure-Functions-HostVersion", "4.1036.1.23224")
	req.Header.Set("User-Agent", "Azure-Functions-Host/4.1036.1.23224")
	resp, err := h.opts.Client.Do(req)
	if err != nil {
		r.Err = fmt.Errorf("customhandlertest: invoking %s: %w", function, err)
		return h.record(r)
	}
	defer resp.Body.Close()
	r.StatusCode = resp.StatusCode
	data, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		r.Err = fmt.Errorf("customhandlertest: reading %s answer: %w", function, err)
	case resp.StatusCode/100 != 2:
		// EnsureSuccessStatusCode comes before the body is read.
		r.Err = fmt.Errorf("customhandlertest: %s answered %s", function, resp.Status)
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"):
		r.Err = fmt.Errorf("customhandlertest: %s answered Content-Type %q: Invalid HttpResponseMessage", function, resp.Header.Get("Content-Type"))
	default:
		if err := json.Unmarshal(data, &r.Response); err != nil {
			r.Err = fmt.Errorf("customhandlertest: %s answer is not an InvokeResponse: %w", function, err)
		}
	}
	return h.record(r)
}

func (h *Host) record(r *Result) *Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.results = append(h.results, r)
	h.invocations++
	return r
}

// WaitReady polls GET / until the handler answers anything, as the host's
// readiness probe does
// (docs/reference/functions-protocol.md#process-start-and-readiness), or ctx
// ends.
func (h *Host) WaitReady(ctx context.Context) error {
	t := time.NewTicker(25 * time.Millisecond)
	defer t.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(h.opts.HandlerURL, "/")+"/", nil)
		if resp, err := h.opts.Client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("customhandlertest: handler not ready: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// FireTimer invokes a timer function for the occurrence due now, as the
// host does on schedule (or on POST /admin/functions/<name>).
func (h *Host) FireTimer(ctx context.Context, function string) *Result {
	_, b, err := h.trigger(function, "timerTrigger")
	if err != nil {
		return h.record(&Result{Function: function, Err: err})
	}
	now := h.opts.Now()
	return h.Invoke(ctx, function, TimerInvocation(*b, function, now.Truncate(time.Second), time.Time{}, false, now))
}

// DeliverMessage invokes a Service Bus function with m, encoded per its
// binding, without a broker.
func (h *Host) DeliverMessage(ctx context.Context, function string, m Message) *Result {
	_, b, err := h.trigger(function, "serviceBusTrigger")
	if err != nil {
		return h.record(&Result{Function: function, Err: err})
	}
	return h.Invoke(ctx, function, ServiceBusInvocation(*b, function, m, h.opts.Now()))
}

// DeliverBlob invokes a blob function for blob; the blob's name must match
// the trigger's path.
func (h *Host) DeliverBlob(ctx context.Context, function string, blob Blob) *Result {
	_, b, err := h.trigger(function, "blobTrigger")
	if err != nil {
		return h.record(&Result{Function: function, Err: err})
	}
	container, captures, ok := matchBlobPath(b.Path, blob.Container, blob.Name)
	if !ok {
		return h.record(&Result{Function: function, Err: fmt.Errorf("customhandlertest: blob %s/%s does not match path %s", blob.Container, blob.Name, b.Path)})
	}
	blob.Container = container
	return h.Invoke(ctx, function, BlobInvocation(*b, function, blob, captures, h.opts.Now()))
}

// matchBlobPath matches container/name against a trigger path such as
// "langsync-state/restore/{name}"; {x} captures up to the next literal (the
// last one captures the rest).
func matchBlobPath(path, container, name string) (string, map[string]string, bool) {
	pc, pattern, ok := strings.Cut(path, "/")
	if !ok || pc != container {
		return "", nil, false
	}
	caps := map[string]string{}
	rest := name
	for pattern != "" {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			return container, caps, rest == pattern
		}
		if !strings.HasPrefix(rest, pattern[:i]) {
			return "", nil, false
		}
		rest = rest[i:]
		pattern = pattern[i+1:]
		j := strings.IndexByte(pattern, '}')
		if j < 0 {
			return "", nil, false
		}
		key := pattern[:j]
		pattern = pattern[j+1:]
		if pattern == "" {
			caps[key] = rest
			return container, caps, rest != ""
		}
		next := pattern
		if k := strings.IndexByte(next, '{'); k >= 0 {
			next = next[:k]
		}
		end := strings.Index(rest, next)
		if end <= 0 {
			return "", nil, false
		}
		caps[key] = rest[:end]
		rest = rest[end:]
	}
	return container, caps, rest == ""
}

// ScanBlobs delivers every blob under each blob trigger's path that has not
// been delivered successfully yet (per name and ETag), like the host's
// container scan with receipts. A failed delivery is retried on the next
// scan, up to 5 attempts (then the host would poison it). It returns the
// number of invocations made.
func (h *Host) ScanBlobs(ctx context.Context) (int, error) {
	h.mu.Lock()
	blobsrc := h.opts.Blobs
	h.mu.Unlock()
	if blobsrc == nil {
		return 0, errors.New("customhandlertest: Options.Blobs is not set")
	}
	n := 0
	for _, name := range h.names {
		b := h.fns[name].Trigger()
		if b.Type != "blobTrigger" {
			continue
		}
		container, pattern, _ := strings.Cut(b.Path, "/")
		prefix, _, _ := strings.Cut(pattern, "{")
		blobs, err := blobsrc.List(ctx, container, prefix)
		if err != nil {
			return n, fmt.Errorf("customhandlertest: listing %s/%s: %w", container, prefix, err)
		}
		for _, bl := range blobs {
			key := bl.Name + "@" + bl.ETag
			h.mu.Lock()
			attempts := h.blobSeen[key]
			h.mu.Unlock()
			if attempts < 0 || attempts >= 5 {
				continue
			}
			if _, _, ok := matchBlobPath(b.Path, container, bl.Name); !ok {
				continue
			}
			content, err := blobsrc.Read(ctx, container, bl.Name)
			if err != nil {
				return n, fmt.Errorf("customhandlertest: reading %s/%s: %w", container, bl.Name, err)
			}
			bl.Container, bl.Content = container, content
			r := h.DeliverBlob(ctx, name, bl)
			n++
			h.mu.Lock()
			if r.OK() {
				h.blobSeen[key] = -1 // receipt written
			} else {
				h.blobSeen[key] = attempts + 1
			}
			h.mu.Unlock()
		}
	}
	return n, nil
}

// ServeHTTP serves the HTTP triggers at /api/<route> like the host's front
// end: it checks the method and the function key, builds Data.req, invokes
// the function and writes Outputs.<http out> back; a failed invocation is a
// 500.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	for _, name := range h.names {
		f := h.fns[name]
		b := f.Trigger()
		if b.Type != "httpTrigger" {
			continue
		}
		route := b.Route
		if route == "" {
			route = name
		}
		params, ok := matchRoute(route, path)
		if !ok {
			continue
		}
		if len(b.Methods) > 0 && !slices.ContainsFunc(b.Methods, func(m string) bool { return strings.EqualFold(m, r.Method) }) {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if b.AuthLevel != "anonymous" && !h.keyOK(r) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		header := map[string][]string(r.Header.Clone())
		res := h.Invoke(r.Context(), name, HTTPInvocation(*b, name, &u, r.Method, header, params, body, h.opts.Now()))
		if !res.OK() {
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			return
		}
		out := f.Binding("http", "out")
		if out == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		raw, _ := json.Marshal(res.Response.Outputs[out.Name])
		var hr customhandler.HTTPResponse
		if err := json.Unmarshal(raw, &hr); err != nil {
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			return
		}
		for k, v := range hr.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(hr.StatusCode)
		_, _ = io.WriteString(w, hr.Body)
		return
	}
	http.NotFound(w, r)
}

func (h *Host) keyOK(r *http.Request) bool {
	if h.opts.FunctionKey == "" {
		return false
	}
	got := r.Header.Get("x-functions-key")
	if got == "" {
		got = r.URL.Query().Get("code")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.FunctionKey)) == 1
}

// matchRoute matches a route template ("status/{pair?}") against a path.
func matchRoute(route, path string) (map[string]string, bool) {
	rs := strings.Split(strings.Trim(route, "/"), "/")
	ps := strings.Split(strings.Trim(path, "/"), "/")
	if len(ps) == 1 && ps[0] == "" {
		ps = nil
	}
	params := map[string]string{}
	for i, seg := range rs {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			name := strings.TrimSuffix(strings.Trim(seg, "{}"), "?")
			optional := strings.HasSuffix(seg, "?}")
			if i >= len(ps) {
				if !optional {
					return nil, false
				}
				continue
			}
			v, err := url.PathUnescape(ps[i])
			if err != nil {
				return nil, false
			}
			params[name] = v
			continue
		}
		if i >= len(ps) || !strings.EqualFold(seg, ps[i]) {
			return nil, false
		}
	}
	if len(ps) > len(rs) {
		return nil, false
	}
	return params, true
}
