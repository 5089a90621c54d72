package lambdahandler

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/langsync/langsync/shared/langsync"
)

// Runner is what the handler needs from the pipeline to move a run on.
// shared/entry's Points implements it (and Starter and Reporter) over
// shared/pipeline; the shapes it exchanges are shared/langsync's.
type Runner interface {
	// Advance performs the next action of the run w wakes and returns the
	// wake-ups it asks for next: none when the run finished, is waiting on
	// another wake-up, or w is stale (an older seq). It must be idempotent.
	Advance(ctx context.Context, w langsync.Wakeup) ([]langsync.Wake, error)
	// Fail marks a run failed with reason. A run that does not exist or has
	// already ended is not an error.
	Fail(ctx context.Context, runID, reason string) error
}

// Starter is what the handler needs from the pipeline to start runs.
type Starter interface {
	// Sync is the change check of every pair and the sweep of runs whose
	// next wake-up is due. It returns the wake-ups to perform.
	Sync(ctx context.Context, t langsync.Tick) ([]langsync.Wake, error)
	// Replicate starts (or joins) a forced replication run per target.
	Replicate(ctx context.Context, r langsync.ReplicateRequest) ([]langsync.Wake, error)
	// Restore starts a restore run.
	Restore(ctx context.Context, r langsync.RestoreRequest) ([]langsync.Wake, error)
}

// Reporter is what status requests need.
type Reporter interface {
	// Status returns a JSON-serialisable report of pairs, runs and backups;
	// an error that Is fs.ErrNotExist answers 404 over a Function URL.
	Status(ctx context.Context, r langsync.StatusRequest) (any, error)
}

// Keeper keeps an input that could not be processed, as key (failed/<time>-
// <id>.json) in the state container. shared/entry's StateKeeper implements
// it over a blobstore.Store.
type Keeper interface {
	Keep(ctx context.Context, key string, doc []byte) error
}

// Options configure a Handler. Runs, Starts and Status are required.
type Options struct {
	Runs   Runner
	Starts Starter
	Status Reporter
	// Failed keeps inputs that can never be processed (optional: without
	// it the error is only returned and logged).
	Failed Keeper
	// URLKey, when set, must be sent by Function URL callers in the
	// x-langsync-key header (for a URL with auth type NONE; with AWS_IAM,
	// Lambda has authenticated the caller already).
	URLKey langsync.Secret
	// Margin is how long before the invocation deadline inline advancing
	// stops (default 30s); what is left waits for the next sweep.
	Margin time.Duration
	// MaxSteps bounds inline advancing per invocation (default 100).
	MaxSteps int
	Logger   *slog.Logger
	Now      func() time.Time
}

// Handler is langsync's lambda.Handler.
type Handler struct{ opts Options }

var _ lambda.Handler = (*Handler)(nil)

// New returns a Handler over the pipeline entry points.
func New(opts Options) (*Handler, error) {
	if opts.Runs == nil || opts.Starts == nil || opts.Status == nil {
		return nil, errors.New("lambdahandler: Options.Runs, Starts and Status are required")
	}
	if opts.Margin <= 0 {
		opts.Margin = 30 * time.Second
	}
	if opts.MaxSteps <= 0 {
		opts.MaxSteps = 100
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(os.Stdout, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{opts: opts}, nil
}

// Detect reports whether the process runs inside AWS Lambda (or the Runtime
// Interface Emulator): AWS_LAMBDA_RUNTIME_API is set
// (docs/reference/aws-lambda.md#how-the-library-detects-lambda).
func Detect(getenv func(string) string) bool { return getenv("AWS_LAMBDA_RUNTIME_API") != "" }

// Run builds the Handler and serves invocations until the process is
// stopped. When build fails, every invoke answers with the start-up error,
// so that it shows in the caller's response and in CloudWatch instead of a
// crash loop. Call it only when Detect is true: without the runtime API,
// aws-lambda-go exits the process.
func Run(ctx context.Context, log *slog.Logger, build func(context.Context) (*Handler, error)) {
	var h lambda.Handler
	built, err := build(ctx)
	if err != nil {
		log.Error("start-up failed", "err", err)
		h = initError{err}
	} else {
		h = built
	}
	lambda.StartWithOptions(h, lambda.WithContext(ctx), lambda.WithEnableSIGTERM())
}

// initError answers every invoke with the start-up error.
type initError struct{ err error }

func (e initError) Invoke(context.Context, []byte) ([]byte, error) {
	return nil, fmt.Errorf("langsync could not start: %w", e.err)
}

var _ lambda.Handler = initError{}

// Result is the answer to a scheduled event or a direct invoke.
type Result struct {
	// Kind is sync, replicate, restore, advance or status.
	Kind string `json:"kind"`
	// Advanced counts the run steps performed inline.
	Advanced int `json:"advanced"`
	// Pending are the wake-ups left for a later sweep (due later, or no
	// time left in this invocation).
	Pending []langsync.Wake `json:"pending,omitempty"`
	// Failed lists runs whose inline steps failed (the sweep retries
	// transient failures; permanent ones are marked failed).
	Failed []string `json:"failed,omitempty"`
	// Report is the status report (status only).
	Report any `json:"report,omitempty"`
}

// Invoke routes one event: an EventBridge scheduled rule event -> sync; a
// Function URL request -> status, replicate, restore or sync by path; any
// other JSON -> a direct command shaped like langsync's queue messages
// (docs/reference/aws-lambda.md#events-langsync-handles).
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	log := h.opts.Logger
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		log = log.With("requestId", lc.AwsRequestID)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(payload, &probe); err != nil || probe == nil {
		return nil, fmt.Errorf("lambdahandler: %w: payload is not a JSON object; send e.g. {\"project\":\"Tickets\"} or {\"action\":\"sync\"}", langsync.ErrMalformed)
	}
	switch {
	case has(probe, "detail-type") && has(probe, "source"):
		var ev events.EventBridgeEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("lambdahandler: decoding EventBridge event: %w", err)
		}
		if ev.Source != "aws.events" || ev.DetailType != "Scheduled Event" {
			return nil, fmt.Errorf("lambdahandler: %w: EventBridge event %q from %q is not a scheduled rule event", langsync.ErrMalformed, ev.DetailType, ev.Source)
		}
		tick := langsync.Tick{Scheduled: ev.Time, PastDue: h.opts.Now().Sub(ev.Time) > 5*time.Minute}
		res, err := h.sync(ctx, log, tick)
		return marshal(res, err)
	case has(probe, "rawPath") && has(probe, "requestContext"):
		var req events.LambdaFunctionURLRequest
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, fmt.Errorf("lambdahandler: decoding Function URL request: %w", err)
		}
		resp := h.functionURL(ctx, log, req)
		return json.Marshal(resp)
	}
	res, err := h.direct(ctx, log, probe, payload)
	return marshal(res, err)
}

func marshal(res *Result, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}

// direct handles a direct invoke (or an EventBridge Scheduler input, which
// arrives verbatim): {"action":"sync"}, {"action":"status","pair":"..."},
// or a queue-shaped message ({"project":...}, {"backup":...}, a wake-up),
// optionally with "action":"replicate|restore|advance".
func (h *Handler) direct(ctx context.Context, log *slog.Logger, probe map[string]json.RawMessage, payload []byte) (*Result, error) {
	action := ""
	if raw, ok := probe["action"]; ok {
		if err := json.Unmarshal(raw, &action); err != nil {
			return nil, fmt.Errorf("lambdahandler: %w: \"action\" must be a string", langsync.ErrMalformed)
		}
		delete(probe, "action")
		payload, _ = json.Marshal(probe)
	}
	switch action {
	case "sync":
		return h.sync(ctx, log, langsync.Tick{Scheduled: h.opts.Now().UTC()})
	case "status":
		var pair string
		if raw, ok := probe["pair"]; ok {
			_ = json.Unmarshal(raw, &pair)
		}
		rep, err := h.opts.Status.Status(ctx, langsync.StatusRequest{Pair: pair})
		if err != nil {
			return nil, fmt.Errorf("lambdahandler: status: %w", err)
		}
		return &Result{Kind: "status", Report: rep}, nil
	case "replicate":
		return h.message(ctx, log, langsync.QueueExport, payload)
	case "restore":
		return h.message(ctx, log, langsync.QueueImport, payload)
	case "advance":
		return h.message(ctx, log, langsync.QueueTrain, payload)
	case "":
	default:
		return nil, fmt.Errorf("lambdahandler: %w: unknown action %q (sync, status, replicate, restore, advance)", langsync.ErrMalformed, action)
	}
	switch {
	case has(probe, "run") || has(probe, "v"):
		return h.message(ctx, log, langsync.QueueTrain, payload)
	case has(probe, "backup") || has(probe, "at") || has(probe, "target") || has(probe, "as"):
		return h.message(ctx, log, langsync.QueueImport, payload)
	case has(probe, "project"):
		return h.message(ctx, log, langsync.QueueExport, payload)
	}
	return nil, h.keep(ctx, log, "direct", "", payload, fmt.Errorf("lambdahandler: %w: unknown event; send {\"project\":\"P\"}, {\"backup\":\"<id>\",\"target\":\"R\"}, {\"action\":\"sync\"} or {\"action\":\"status\"}", langsync.ErrMalformed))
}

// message handles a queue-shaped message as if it arrived on queue.
func (h *Handler) message(ctx context.Context, log *slog.Logger, queue string, body []byte) (*Result, error) {
	m, err := langsync.ParseMessage(queue, body)
	if err != nil {
		return nil, h.keep(ctx, log, m.Kind(), langsync.PeekRun(body), body, err)
	}
	var wakes []langsync.Wake
	res := &Result{Kind: m.Kind()}
	switch {
	case m.Wakeup != nil:
		log = log.With("run", m.Wakeup.Run, "step", m.Wakeup.Step)
		wakes, err = h.opts.Runs.Advance(ctx, *m.Wakeup)
		if err == nil {
			res.Advanced++
		}
	case m.Replicate != nil:
		log = log.With("project", m.Replicate.Project)
		wakes, err = h.opts.Starts.Replicate(ctx, *m.Replicate)
	case m.Restore != nil:
		log = log.With("project", m.Restore.Project, "backup", m.Restore.Backup)
		wakes, err = h.opts.Starts.Restore(ctx, *m.Restore)
	}
	if err != nil {
		run := ""
		if m.Wakeup != nil {
			run = m.Wakeup.Run
		}
		if langsync.IsPermanent(err) {
			return nil, h.keep(ctx, log, m.Kind(), run, body, err)
		}
		return nil, fmt.Errorf("lambdahandler: %s: %w", m.Kind(), err)
	}
	h.drive(ctx, log, res, wakes)
	return res, nil
}

func (h *Handler) sync(ctx context.Context, log *slog.Logger, t langsync.Tick) (*Result, error) {
	wakes, err := h.opts.Starts.Sync(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("lambdahandler: sync: %w", err)
	}
	res := &Result{Kind: "sync"}
	h.drive(ctx, log, res, wakes)
	return res, nil
}

// drive performs due wake-ups inline, since Lambda has no queue of its own:
// each Advance may ask for more. Wake-ups due later, or left when the
// deadline is near, are reported as pending; the next scheduled sync's sweep
// of overdue runs picks them up.
func (h *Handler) drive(ctx context.Context, log *slog.Logger, res *Result, wakes []langsync.Wake) {
	queue := append([]langsync.Wake(nil), wakes...)
	for len(queue) > 0 {
		wk := queue[0]
		queue = queue[1:]
		now := h.opts.Now()
		if wk.At.After(now) || res.Advanced >= h.opts.MaxSteps || h.nearDeadline(ctx) {
			res.Pending = append(res.Pending, wk)
			continue
		}
		l := log.With("run", wk.Run, "project", wk.Project, "step", wk.Step, "seq", wk.Seq)
		next, err := h.opts.Runs.Advance(ctx, wk.Wakeup)
		if err != nil {
			res.Failed = append(res.Failed, wk.Run)
			if langsync.IsPermanent(err) {
				if ferr := h.opts.Runs.Fail(ctx, wk.Run, err.Error()); ferr != nil {
					l.Error("marking run failed", "err", ferr)
				}
				l.Error("run step failed permanently", "err", err)
			} else {
				l.Warn("run step failed; the next sweep retries it", "err", err)
			}
			continue
		}
		res.Advanced++
		l.Info("run step advanced", "next", len(next))
		queue = append(queue, next...)
	}
}

// nearDeadline compares the invocation deadline with the real clock (the
// deadline is real time even when Options.Now is a test clock).
func (h *Handler) nearDeadline(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < h.opts.Margin
}

// keep handles a permanent failure: mark the run failed (if any), keep the
// input under failed/ (if a Keeper is set) and return the error so the
// caller sees it.
func (h *Handler) keep(ctx context.Context, log *slog.Logger, kind, run string, body []byte, cause error) error {
	if run != "" {
		if err := h.opts.Runs.Fail(ctx, run, cause.Error()); err != nil {
			log.Error("marking run failed", "run", run, "err", err)
		}
	}
	if h.opts.Failed == nil {
		log.Error("input cannot be processed", "kind", kind, "run", run, "err", cause)
		return cause
	}
	now := h.opts.Now().UTC()
	id := "lambda"
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		id = lc.AwsRequestID
	}
	doc := langsync.FailedInput{Function: "lambda", InvocationID: id, Time: now, Reason: cause.Error(), Run: run, RunMarked: run != ""}
	if json.Valid(body) {
		doc.Body = body
	} else {
		doc.BodyText = string(body)
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	key := langsync.FailedKey(now, id)
	if err := h.opts.Failed.Keep(ctx, key, b); err != nil {
		return fmt.Errorf("%w (and keeping the input failed: %v)", cause, err)
	}
	log.Error("input cannot be processed; kept", "kind", kind, "run", run, "kept", key, "err", cause)
	return fmt.Errorf("%w (input kept as %s)", cause, key)
}

// functionURL serves a Lambda Function URL request (payload format 2.0):
// GET /status[/<pair>], POST /replicate, POST /restore, POST /sync.
func (h *Handler) functionURL(ctx context.Context, log *slog.Logger, req events.LambdaFunctionURLRequest) events.LambdaFunctionURLResponse {
	if !h.opts.URLKey.IsZero() {
		got := header(req.Headers, "x-langsync-key")
		if subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.URLKey.Reveal())) != 1 {
			return answer(http.StatusUnauthorized, map[string]string{"error": "missing or wrong x-langsync-key header"})
		}
	}
	method := strings.ToUpper(req.RequestContext.HTTP.Method)
	path := strings.Trim(req.RawPath, "/")
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return answer(http.StatusBadRequest, map[string]string{"error": "body is not valid base64"})
		}
		body = b
	}
	log = log.With("method", method, "path", "/"+path)
	route, rest, _ := strings.Cut(path, "/")
	switch {
	case route == "status" && method == http.MethodGet:
		rep, err := h.opts.Status.Status(ctx, langsync.StatusRequest{Pair: rest, Query: req.QueryStringParameters})
		return result(&Result{Kind: "status", Report: rep}, err)
	case rest == "" && method == http.MethodPost && (route == "replicate" || route == "restore"):
		queue := langsync.QueueExport
		if route == "restore" {
			queue = langsync.QueueImport
		}
		res, err := h.message(ctx, log, queue, bytes.TrimSpace(body))
		return result(res, err)
	case rest == "" && method == http.MethodPost && route == "sync":
		res, err := h.sync(ctx, log, langsync.Tick{Scheduled: h.opts.Now().UTC()})
		return result(res, err)
	case route == "status" || route == "replicate" || route == "restore" || route == "sync":
		return answer(http.StatusMethodNotAllowed, map[string]string{"error": "use GET /status[/<pair>], POST /replicate, POST /restore or POST /sync"})
	}
	return answer(http.StatusNotFound, map[string]string{"error": "no such path; use GET /status[/<pair>], POST /replicate, POST /restore or POST /sync"})
}

func result(res *Result, err error) events.LambdaFunctionURLResponse {
	switch {
	case err == nil:
		if res.Kind == "status" {
			return answer(http.StatusOK, res.Report)
		}
		return answer(http.StatusAccepted, res)
	case errors.Is(err, fs.ErrNotExist):
		return answer(http.StatusNotFound, map[string]string{"error": err.Error()})
	case langsync.IsPermanent(err):
		return answer(http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	return answer(http.StatusInternalServerError, map[string]string{"error": err.Error()})
}

func answer(code int, v any) events.LambdaFunctionURLResponse {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": "encoding the answer: " + err.Error()})
	}
	return events.LambdaFunctionURLResponse{
		StatusCode: code,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}
}

func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func has(m map[string]json.RawMessage, k string) bool { _, ok := m[k]; return ok }
