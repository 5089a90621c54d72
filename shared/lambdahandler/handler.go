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
	"maps"
	"net/http"
	"os"
	"strconv"
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

// Sender puts a wake-up on the wake-up queue (SQS), to arrive after delay
// (0 to MaxDelay). shared/sqswake implements it; Lambda then delivers the
// message back to this function as an SQS event.
type Sender interface {
	SendWake(ctx context.Context, w langsync.Wake, delay time.Duration) error
}

// MaxDelay is the longest delay SQS allows on one message (DelaySeconds
// 900). A wake-up due later is left pending for the scheduled sync's sweep.
const MaxDelay = 15 * time.Minute

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
	// Wakes, when set, is the wake-up queue: wake-ups are sent to it
	// (with a delay up to MaxDelay) instead of being advanced inline, and
	// each arrives as its own SQS-triggered invocation.
	Wakes Sender
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
	// Sent counts the wake-ups put on the wake-up queue (Options.Wakes).
	Sent int `json:"sent,omitempty"`
	// Pending are the wake-ups left for a later sweep (due later, or no
	// time left in this invocation).
	Pending []langsync.Wake `json:"pending,omitempty"`
	// Failed lists runs whose inline steps failed (the sweep retries
	// transient failures; permanent ones are marked failed).
	Failed []string `json:"failed,omitempty"`
	// Report is the status report (status only).
	Report any `json:"report,omitempty"`
}

// Invoke routes one event: an SQS event -> each record's body as a queue
// message, answered with the batch item failures; an EventBridge scheduled
// rule event -> sync; an API Gateway REST (v1) or Function URL request ->
// status, replicate, restore or sync by path; any other JSON -> a direct
// command shaped like langsync's queue messages, where an EventBridge
// Scheduler's default input {} is a sync
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
	case has(probe, "Records"):
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("lambdahandler: %w: decoding an event with Records: %v", langsync.ErrMalformed, err)
		}
		for _, rec := range ev.Records {
			if rec.EventSource != "aws:sqs" {
				return nil, fmt.Errorf("lambdahandler: %w: a record from %q: only SQS (aws:sqs) event sources are wired", langsync.ErrMalformed, rec.EventSource)
			}
		}
		return json.Marshal(h.sqs(ctx, log, ev))
	case has(probe, "httpMethod") && has(probe, "requestContext") && !has(probe, "rawPath"):
		var req events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, fmt.Errorf("lambdahandler: decoding API Gateway request: %w", err)
		}
		a := h.serveHTTP(ctx, log, apiGatewayRequest(req))
		return json.Marshal(events.APIGatewayProxyResponse{StatusCode: a.code, Headers: a.headers(), Body: a.body})
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
		a := h.serveHTTP(ctx, log, functionURLRequest(req))
		return json.Marshal(events.LambdaFunctionURLResponse{StatusCode: a.code, Headers: a.headers(), Body: a.body})
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
//
// EventBridge Scheduler sends its input bare; its default input {} (and an
// empty direct invoke) reads as a sync, and a "scheduledTime" (Scheduler's
// <aws.scheduler.scheduled-time>) is the tick's time.
func (h *Handler) direct(ctx context.Context, log *slog.Logger, probe map[string]json.RawMessage, payload []byte) (*Result, error) {
	tick := langsync.Tick{Scheduled: h.opts.Now().UTC()}
	if raw, ok := probe["scheduledTime"]; ok {
		var at time.Time
		if err := json.Unmarshal(raw, &at); err != nil {
			return nil, fmt.Errorf("lambdahandler: %w: \"scheduledTime\" must be an RFC 3339 time such as <aws.scheduler.scheduled-time> gives", langsync.ErrMalformed)
		}
		tick = langsync.Tick{Scheduled: at.UTC(), PastDue: h.opts.Now().Sub(at) > 5*time.Minute}
		delete(probe, "scheduledTime")
		payload, _ = json.Marshal(probe)
	}
	action := ""
	if raw, ok := probe["action"]; ok {
		if err := json.Unmarshal(raw, &action); err != nil {
			return nil, fmt.Errorf("lambdahandler: %w: \"action\" must be a string", langsync.ErrMalformed)
		}
		delete(probe, "action")
		payload, _ = json.Marshal(probe)
	}
	if action == "" && len(probe) == 0 {
		action = "sync" // EventBridge Scheduler's default input
	}
	switch action {
	case "sync":
		return h.sync(ctx, log, tick)
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
//
// With a wake-up queue (Options.Wakes) nothing is advanced inline: each
// wake-up due within MaxDelay is sent with the delay left, and arrives as
// an SQS-triggered invocation of its own; later ones, and those whose send
// failed, are pending for the sweep.
func (h *Handler) drive(ctx context.Context, log *slog.Logger, res *Result, wakes []langsync.Wake) {
	if h.opts.Wakes != nil {
		now := h.opts.Now()
		for _, wk := range wakes {
			delay := max(wk.At.Sub(now), 0)
			if delay > MaxDelay {
				res.Pending = append(res.Pending, wk)
				continue
			}
			l := log.With("run", wk.Run, "project", wk.Project, "step", wk.Step, "seq", wk.Seq)
			if err := h.opts.Wakes.SendWake(ctx, wk, delay); err != nil {
				l.Warn("sending the wake-up failed; the next sweep takes the run", "err", err)
				res.Pending = append(res.Pending, wk)
				continue
			}
			res.Sent++
			l.Info("wake-up sent", "delay", delay.String())
		}
		return
	}
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
	keyID := id
	if rec, ok := ctx.Value(recordKey{}).(*events.SQSMessage); ok {
		// One invocation carries many records: the message id names each.
		doc.Function = "lambda-sqs"
		doc.MessageID = rec.MessageId
		doc.DeliveryCount, _ = strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
		keyID = rec.MessageId
	}
	if json.Valid(body) {
		doc.Body = body
	} else {
		doc.BodyText = string(body)
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	key := langsync.FailedKey(now, keyID)
	if err := h.opts.Failed.Keep(ctx, key, b); err != nil {
		return fmt.Errorf("%w (and keeping the input failed: %v)", cause, err)
	}
	log.Error("input cannot be processed; kept", "kind", kind, "run", run, "kept", key, "err", cause)
	return keptError{fmt.Errorf("%w (input kept as %s)", cause, key)}
}

// httpRequest is what the HTTP routes need of a Function URL (payload 2.0)
// or an API Gateway REST (v1) request.
type httpRequest struct {
	method, path string
	headers      map[string]string
	query        map[string]string
	body         string
	base64       bool
}

func functionURLRequest(req events.LambdaFunctionURLRequest) httpRequest {
	return httpRequest{method: req.RequestContext.HTTP.Method, path: req.RawPath, headers: req.Headers,
		query: req.QueryStringParameters, body: req.Body, base64: req.IsBase64Encoded}
}

// apiGatewayRequest reads a REST API proxy request: path is the resource
// path without the stage; repeated headers and query parameters are
// comma-joined as a Function URL delivers them.
func apiGatewayRequest(req events.APIGatewayProxyRequest) httpRequest {
	headers := map[string]string{}
	for k, v := range req.MultiValueHeaders {
		headers[k] = strings.Join(v, ",")
	}
	maps.Copy(headers, req.Headers)
	query := map[string]string{}
	maps.Copy(query, req.QueryStringParameters)
	for k, v := range req.MultiValueQueryStringParameters {
		query[k] = strings.Join(v, ",")
	}
	return httpRequest{method: req.HTTPMethod, path: req.Path, headers: headers, query: query, body: req.Body, base64: req.IsBase64Encoded}
}

// httpAnswer is a status code and a JSON body.
type httpAnswer struct {
	code int
	body string
}

func (httpAnswer) headers() map[string]string {
	return map[string]string{"Content-Type": "application/json"}
}

// serveHTTP serves GET /status[/<pair>], POST /replicate, POST /restore and
// POST /sync, for a Function URL and an API Gateway REST API alike.
func (h *Handler) serveHTTP(ctx context.Context, log *slog.Logger, req httpRequest) httpAnswer {
	if !h.opts.URLKey.IsZero() {
		got := header(req.headers, "x-langsync-key")
		if subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.URLKey.Reveal())) != 1 {
			return answer(http.StatusUnauthorized, map[string]string{"error": "missing or wrong x-langsync-key header"})
		}
	}
	method := strings.ToUpper(req.method)
	path := strings.Trim(req.path, "/")
	body := []byte(req.body)
	if req.base64 {
		b, err := base64.StdEncoding.DecodeString(req.body)
		if err != nil {
			return answer(http.StatusBadRequest, map[string]string{"error": "body is not valid base64"})
		}
		body = b
	}
	log = log.With("method", method, "path", "/"+path)
	route, rest, _ := strings.Cut(path, "/")
	switch {
	case route == "status" && method == http.MethodGet:
		rep, err := h.opts.Status.Status(ctx, langsync.StatusRequest{Pair: rest, Query: req.query})
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

func result(res *Result, err error) httpAnswer {
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

func answer(code int, v any) httpAnswer {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": "encoding the answer: " + err.Error()})
	}
	return httpAnswer{code: code, body: string(b)}
}

// recordKey carries the SQS record being handled to keep.
type recordKey struct{}

// keptError is a permanent failure whose input was kept under failed/.
// Only such an SQS record is acknowledged despite failing; one that could
// not be kept is reported as a batch item failure, so that SQS redelivers
// it and, after maxReceiveCount, moves it to the dead-letter queue.
type keptError struct{ error }

func (e keptError) Unwrap() error { return e.error }

func isKept(err error) bool { var k keptError; return errors.As(err, &k) }

// sqs handles an SQS event: each record's body is a langsync message (a
// wake-up, a replicate or restore request, or a command), handled as a
// direct invoke. The answer is the partial batch response: the records
// that failed transiently (or could not be kept) are redelivered by SQS
// after the visibility timeout; a malformed record is kept under failed/
// and not failed, so that it is not redelivered forever. A duplicate
// delivery is harmless: a wake-up is idempotent by its run's sequence
// number (an older seq is stale and does nothing).
func (h *Handler) sqs(ctx context.Context, log *slog.Logger, ev events.SQSEvent) events.SQSEventResponse {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for i := range ev.Records {
		rec := &ev.Records[i]
		l := log.With("messageId", rec.MessageId)
		rctx := context.WithValue(ctx, recordKey{}, rec)
		res, err := h.record(rctx, l, []byte(rec.Body))
		switch {
		case err == nil:
			l.Info("sqs message handled", "kind", res.Kind, "advanced", res.Advanced, "sent", res.Sent, "pending", len(res.Pending))
			if len(res.Failed) > 0 {
				// Inline steps only run without a wake-up queue; their
				// failures are the sweep's, as for a scheduled sync.
				l.Warn("sqs message: run steps failed", "runs", res.Failed)
			}
		case isKept(err):
			l.Warn("sqs message cannot be processed; kept and not retried", "err", err)
		default:
			l.Error("sqs message failed; SQS redelivers it", "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp
}

// record handles one SQS message body.
func (h *Handler) record(ctx context.Context, log *slog.Logger, body []byte) (*Result, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil || probe == nil {
		return nil, h.keep(ctx, log, "sqs", "", body, fmt.Errorf("lambdahandler: %w: SQS message body is not a JSON object", langsync.ErrMalformed))
	}
	res, err := h.direct(ctx, log, probe, body)
	if err != nil && langsync.IsPermanent(err) && !isKept(err) {
		// e.g. an unknown action or a bad scheduledTime: keep it too.
		err = h.keep(ctx, log, "sqs", "", body, err)
	}
	return res, err
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
