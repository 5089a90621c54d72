package customhandler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/langsync/langsync/shared/langsync"
)

// Runner is what the handler needs from the pipeline to move a run on.
// shared/entry's Points implements it (and Starter and Reporter) over
// shared/pipeline; the shapes it exchanges are shared/langsync's.
type Runner interface {
	// Advance performs the next action of the run w wakes and returns the
	// wake-ups to send next: none when the run finished, is waiting on
	// another wake-up, or w is stale (an older seq). It must be idempotent:
	// a redelivered or duplicate wake-up starts no second job.
	Advance(ctx context.Context, w langsync.Wakeup) ([]langsync.Wake, error)
	// Fail marks a run failed with reason. A run that does not exist or has
	// already ended is not an error.
	Fail(ctx context.Context, runID, reason string) error
}

// Starter is what the handler needs from the pipeline to start runs.
type Starter interface {
	// Sync is the timer: the change check of every pair and the sweep of
	// runs whose next wake-up is overdue. It returns the wake-ups to send.
	Sync(ctx context.Context, t langsync.Tick) ([]langsync.Wake, error)
	// Replicate starts (or joins) a forced replication run per target.
	Replicate(ctx context.Context, r langsync.ReplicateRequest) ([]langsync.Wake, error)
	// Restore starts a restore run.
	Restore(ctx context.Context, r langsync.RestoreRequest) ([]langsync.Wake, error)
}

// Reporter is what the status function needs.
type Reporter interface {
	// Status returns a JSON-serialisable report of pairs, runs and backups;
	// an error that Is fs.ErrNotExist answers 404.
	Status(ctx context.Context, r langsync.StatusRequest) (any, error)
}

// PageReporter is what the status function also offers when its Reporter
// has it: the HTML status page, for a browser (an Accept header with
// text/html, or ?format=html).
type PageReporter interface {
	StatusPage(ctx context.Context, r langsync.StatusRequest) ([]byte, error)
}

// Sender sends wake-ups; shared/queue's ServiceBus and Memory implement it.
type Sender interface {
	Send(ctx context.Context, queueName string, body []byte, messageID string) error
	Schedule(ctx context.Context, queueName string, body []byte, messageID string, at time.Time) error
}

// Keeper keeps an input that could not be processed, as key (failed/<time>-
// <id>.json) in the state container. shared/entry's StateKeeper implements
// it over a blobstore.Store.
type Keeper interface {
	Keep(ctx context.Context, key string, doc []byte) error
}

// Options configure a Handler. Runs, Starts, Status, Wakes and Failed are
// required.
type Options struct {
	Runs   Runner
	Starts Starter
	Status Reporter
	Wakes  Sender
	Failed Keeper
	// Logger receives JSON logs with function, run, project and step; the
	// default writes JSON to stdout (the host logs stderr lines as errors).
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// IsPermanent reports extra errors that a redelivery cannot cure
	// (entry.IsPermanent maps the pipeline's sentinels).
	// langsync.ErrMalformed and errors with a Permanent() bool method
	// returning true are always permanent (langsync.IsPermanent).
	IsPermanent func(error) bool
	// MaxDeliveries is the queues' max delivery count (default 10): on the
	// last delivery a transient failure keeps the input and answers 2xx
	// instead of letting it die in the dead-letter queue unseen.
	MaxDeliveries int
	// Timeout bounds one invocation (default 9m, under functionTimeout 10m).
	Timeout time.Duration
	// MaxBody bounds the request body (default 256 MiB).
	MaxBody int64
}

// Handler serves the Functions custom-handler protocol: POST /<function> for
// every route, and GET / as the readiness probe. It is safe for concurrent
// use (the host sends up to maxConcurrentCalls invocations at once).
type Handler struct {
	opts   Options
	mux    *http.ServeMux
	routes map[string]Route
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler over the given pipeline entry points.
func New(opts Options) (*Handler, error) {
	var missing []string
	if opts.Runs == nil {
		missing = append(missing, "Runs")
	}
	if opts.Starts == nil {
		missing = append(missing, "Starts")
	}
	if opts.Status == nil {
		missing = append(missing, "Status")
	}
	if opts.Wakes == nil {
		missing = append(missing, "Wakes")
	}
	if opts.Failed == nil {
		missing = append(missing, "Failed")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("customhandler: options missing %s", strings.Join(missing, ", "))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(os.Stdout, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxDeliveries <= 0 {
		opts.MaxDeliveries = 10
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 9 * time.Minute
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 256 << 20
	}
	h := &Handler{opts: opts, mux: http.NewServeMux(), routes: map[string]Route{}}
	h.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		// Readiness probe: any answer counts
		// (docs/reference/functions-protocol.md#process-start-and-readiness).
		w.WriteHeader(http.StatusOK)
	})
	for _, r := range routes {
		h.routes[r.Function] = r
		h.mux.HandleFunc("POST /"+r.Function, func(w http.ResponseWriter, req *http.Request) {
			h.invoke(w, req, r)
		})
	}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// invocation is one call in progress.
type invocation struct {
	route Route
	id    string
	req   InvokeRequest
	raw   []byte
	log   *slog.Logger
	now   time.Time
}

// outcome is what an invocation ends with: retry asks the host to retry
// (non-2xx); otherwise the response carries logs and outputs.
type outcome struct {
	retry   bool
	err     error
	logs    []string
	outputs map[string]any
}

func (h *Handler) invoke(w http.ResponseWriter, r *http.Request, route Route) {
	inv := &invocation{
		route: route,
		id:    r.Header.Get("X-Azure-Functions-InvocationId"),
		now:   h.opts.Now().UTC(),
	}
	inv.log = h.opts.Logger.With("function", route.Function, "invocationId", inv.id)
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()

	var out outcome
	func() {
		defer func() {
			if p := recover(); p != nil {
				out = outcome{retry: true, err: fmt.Errorf("customhandler: panic in %s: %v", route.Function, p)}
			}
		}()
		out = h.dispatch(ctx, r, inv)
	}()
	if out.retry {
		inv.log.Error("invocation failed; the host will retry", "err", out.err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": errText(out.err)})
		return
	}
	if out.outputs == nil {
		out.outputs = map[string]any{}
	}
	if out.logs == nil {
		out.logs = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(InvokeResponse{Outputs: out.outputs, Logs: out.logs})
}

func (h *Handler) dispatch(ctx context.Context, r *http.Request, inv *invocation) outcome {
	tooBig := func() outcome {
		// The same invocation will be as big next time: keep the reason.
		return h.permanent(ctx, inv, failure{reason: fmt.Sprintf("customhandler: %v: invocation is larger than %d bytes (for a big backup, send a restore message naming it instead of dropping it under restore/)", langsync.ErrMalformed, h.opts.MaxBody)})
	}
	if r.ContentLength > h.opts.MaxBody {
		// Refused from its declared length, before a byte is read.
		return tooBig()
	}
	raw, err := readBody(r, h.opts.MaxBody)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooBig()
	}
	if err != nil {
		// The host will send the same request again; a retry can help.
		return outcome{retry: true, err: fmt.Errorf("customhandler: reading invocation: %w", err)}
	}
	inv.raw = raw
	// A blob trigger's binding holds the blob's content, which the handler
	// never reads (it reads the blob from storage): skip it without a copy.
	keep := func(binding string) bool {
		return inv.route.Trigger != BlobTrigger || binding != inv.route.Binding
	}
	if inv.req, err = splitEnvelope(raw, keep); err != nil || inv.req.Data == nil {
		if err == nil {
			err = errors.New("no Data object")
		}
		return h.permanent(ctx, inv, failure{reason: fmt.Sprintf("customhandler: %v: invocation body is not a host envelope: %v", langsync.ErrMalformed, err)})
	}
	switch inv.route.Trigger {
	case TimerTrigger:
		return h.timer(ctx, inv)
	case ServiceBusTrigger:
		return h.serviceBus(ctx, inv)
	case BlobTrigger:
		return h.blob(ctx, inv)
	case HTTPTrigger:
		return h.http(ctx, inv)
	}
	return outcome{retry: true, err: fmt.Errorf("customhandler: route %s has unknown trigger %q", inv.route.Function, inv.route.Trigger)}
}

func (h *Handler) timer(ctx context.Context, inv *invocation) outcome {
	tick := langsync.Tick{Scheduled: inv.now}
	var ti TimerInfo
	// A timer firing is itself the signal: an unreadable TimerInfo is
	// logged, never a reason to skip the sync.
	if err := json.Unmarshal(Value(inv.req.Data[inv.route.Binding]), &ti); err != nil {
		inv.log.Warn("timer info unreadable; syncing anyway", "err", err)
	} else {
		tick.PastDue = ti.IsPastDue
		if ti.ScheduleStatus != nil {
			if t, err := Time(ti.ScheduleStatus.Next); err == nil {
				tick.Scheduled = t
			}
			if t, err := Time(ti.ScheduleStatus.Last); err == nil && t.Year() > 1 {
				tick.Last = t
			}
		}
	}
	log := inv.log.With("scheduled", tick.Scheduled, "pastDue", tick.PastDue)
	wakes, err := h.opts.Starts.Sync(ctx, tick)
	if err != nil {
		if h.isPermanent(err) {
			return h.permanent(ctx, inv, failure{reason: err.Error()})
		}
		// The timer's retry policy (function.json) re-runs it.
		return outcome{retry: true, err: fmt.Errorf("customhandler: sync: %w", err)}
	}
	if err := h.sendWakes(ctx, log, wakes); err != nil {
		return outcome{retry: true, err: err}
	}
	msg := fmt.Sprintf("sync: %d wake-up(s) sent", len(wakes))
	log.Info(msg, "wakes", len(wakes))
	return outcome{logs: []string{msg}}
}

func (h *Handler) serviceBus(ctx context.Context, inv *invocation) outcome {
	mi := ParseMessageInfo(inv.req.Metadata)
	inv.log = inv.log.With("queue", inv.route.Queue, "messageId", mi.MessageID, "deliveryCount", mi.DeliveryCount)
	fail := failure{message: &mi}
	body, err := Bytes(inv.req.Data[inv.route.Binding], inv.route.Binary)
	if err != nil {
		fail.reason = fmt.Sprintf("customhandler: %v: %v", langsync.ErrMalformed, err)
		return h.permanent(ctx, inv, fail)
	}
	fail.body = body
	msg, err := langsync.ParseMessage(inv.route.Queue, body)
	if err != nil {
		fail.reason = err.Error()
		fail.run = langsync.PeekRun(body)
		return h.permanent(ctx, inv, fail)
	}
	log := inv.log.With("kind", msg.Kind())
	var wakes []langsync.Wake
	switch {
	case msg.Wakeup != nil:
		wk := msg.Wakeup
		fail.run = wk.Run
		log = log.With("run", wk.Run, "step", wk.Step, "seq", wk.Seq)
		wakes, err = h.opts.Runs.Advance(ctx, *wk)
	case msg.Replicate != nil:
		log = log.With("project", msg.Replicate.Project)
		wakes, err = h.opts.Starts.Replicate(ctx, *msg.Replicate)
	case msg.Restore != nil:
		log = log.With("project", msg.Restore.Project, "backup", msg.Restore.Backup, "target", msg.Restore.Target)
		wakes, err = h.opts.Starts.Restore(ctx, *msg.Restore)
	}
	inv.log = log
	if err != nil {
		fail.reason = err.Error()
		if h.isPermanent(err) {
			return h.permanent(ctx, inv, fail)
		}
		if mi.DeliveryCount >= h.opts.MaxDeliveries {
			// The broker would dead-letter it after this attempt; keep it
			// where operators look, and let the timer's sweep heal the run.
			fail.reason = fmt.Sprintf("gave up after %d deliveries: %s", mi.DeliveryCount, err)
			fail.keepOnly = true
			return h.permanent(ctx, inv, fail)
		}
		return outcome{retry: true, err: err}
	}
	if err := h.sendWakes(ctx, log, wakes); err != nil {
		return outcome{retry: true, err: err}
	}
	line := fmt.Sprintf("%s %s: %d wake-up(s) sent", msg.Kind(), mi.MessageID, len(wakes))
	log.Info(line, "wakes", len(wakes))
	return outcome{logs: []string{line}}
}

func (h *Handler) blob(ctx context.Context, inv *invocation) outcome {
	name, _ := String(inv.req.Metadata["name"])
	uri, _ := String(inv.req.Metadata["Uri"])
	if name == "" {
		if _, after, ok := strings.Cut(uri, "/"+langsync.RestorePrefix); ok {
			name = after
		}
	}
	inv.log = inv.log.With("blob", name)
	fail := failure{blob: &langsync.FailedBlob{Name: name, URI: uri, Properties: inv.req.Metadata["Properties"]}}
	if name == "" || strings.Contains(name, "..") {
		fail.reason = fmt.Sprintf("customhandler: %v: blob trigger without a usable name (%q; Uri %q)", langsync.ErrMalformed, name, uri)
		return h.permanent(ctx, inv, fail)
	}
	req := langsync.RestoreRequest{Drop: langsync.RestorePrefix + name}
	wakes, err := h.opts.Starts.Restore(ctx, req)
	if err != nil {
		fail.reason = err.Error()
		if h.isPermanent(err) {
			return h.permanent(ctx, inv, fail)
		}
		// The blob trigger retries 5 times, then poisons the blob event.
		return outcome{retry: true, err: err}
	}
	if err := h.sendWakes(ctx, inv.log, wakes); err != nil {
		return outcome{retry: true, err: err}
	}
	line := fmt.Sprintf("restore of dropped %s: %d wake-up(s) sent", req.Drop, len(wakes))
	inv.log.Info(line, "wakes", len(wakes))
	return outcome{logs: []string{line}}
}

func (h *Handler) http(ctx context.Context, inv *invocation) outcome {
	var req HTTPRequest
	if err := json.Unmarshal(Value(inv.req.Data[inv.route.Binding]), &req); err != nil {
		return h.httpAnswer(inv, http.StatusBadRequest, map[string]string{"error": "unreadable request: " + err.Error()})
	}
	if req.Method != "" && !strings.EqualFold(req.Method, http.MethodGet) {
		return h.httpAnswer(inv, http.StatusMethodNotAllowed, map[string]string{"error": "status only answers GET"})
	}
	sr := langsync.StatusRequest{Pair: req.Params["pair"], Query: req.Query}
	inv.log = inv.log.With("pair", sr.Pair)
	if pr, ok := h.opts.Status.(PageReporter); ok && wantsHTML(req) {
		page, err := pr.StatusPage(ctx, sr)
		if err == nil {
			line := "status page: 200"
			inv.log.Info(line, "status", http.StatusOK)
			return outcome{logs: []string{line}, outputs: map[string]any{inv.route.Output: HTTPResponse{
				StatusCode: http.StatusOK,
				Body:       string(page),
				Headers:    map[string]string{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
			}}}
		}
		return h.statusError(inv, err)
	}
	report, err := h.opts.Status.Status(ctx, sr)
	if err == nil {
		return h.httpAnswer(inv, http.StatusOK, report)
	}
	return h.statusError(inv, err)
}

// wantsHTML: ?format=html, or a browser's Accept header (text/html); a
// script asking for JSON (or for anything) gets JSON.
func wantsHTML(req HTTPRequest) bool {
	if f := req.Query["format"]; f != "" {
		return strings.EqualFold(f, "html")
	}
	for k, vs := range req.Headers {
		if strings.EqualFold(k, "Accept") {
			for _, v := range vs {
				if strings.Contains(strings.ToLower(v), "text/html") {
					return true
				}
			}
		}
	}
	return false
}

func (h *Handler) statusError(inv *invocation, err error) outcome {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return h.httpAnswer(inv, http.StatusNotFound, map[string]string{"error": err.Error()})
	case h.isPermanent(err):
		return h.httpAnswer(inv, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	inv.log.Error("status failed", "err", err)
	return h.httpAnswer(inv, http.StatusInternalServerError, map[string]string{"error": err.Error()})
}

func (h *Handler) httpAnswer(inv *invocation, code int, v any) outcome {
	body, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		body, _ = json.Marshal(map[string]string{"error": "customhandler: encoding status: " + err.Error()})
	}
	line := fmt.Sprintf("status: %d", code)
	inv.log.Info(line, "status", code)
	return outcome{
		logs: []string{line},
		outputs: map[string]any{inv.route.Output: HTTPResponse{
			StatusCode: code,
			Body:       string(body),
			Headers:    map[string]string{"Content-Type": "application/json"},
		}},
	}
}

// failure describes an input that cannot be processed.
type failure struct {
	reason   string
	run      string
	body     []byte
	message  *MessageInfo
	blob     *langsync.FailedBlob
	keepOnly bool // keep the input but leave the run alone (the sweep heals it)
}

// readBody reads a request body of at most max bytes: into a buffer of
// exactly the declared length when there is one (no doubling while it
// grows), else through http.MaxBytesReader.
func readBody(r *http.Request, max int64) ([]byte, error) {
	body := http.MaxBytesReader(nil, r.Body, max)
	if r.ContentLength < 0 {
		return io.ReadAll(body)
	}
	raw := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(body, raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// inlineLimit: an input up to this size is kept inside the failed/ JSON
// document (readable at a glance); a larger one is kept once, as its raw
// bytes, in a blob beside it, so that escaping or re-encoding can never
// make the kept copy bigger than the input.
const inlineLimit = 64 << 10

// permanent handles an input a retry cannot cure: mark its run failed (if
// any), keep it under failed/, and answer 2xx so the host does not retry.
// Only a failure to keep it (storage down) asks for a retry.
func (h *Handler) permanent(ctx context.Context, inv *invocation, f failure) outcome {
	doc := langsync.FailedInput{
		Function:     inv.route.Function,
		InvocationID: inv.id,
		Time:         inv.now,
		Reason:       f.reason,
		Run:          f.run,
		Blob:         f.blob,
	}
	id := ""
	if f.message != nil {
		doc.MessageID = f.message.MessageID
		doc.DeliveryCount = f.message.DeliveryCount
		id = f.message.MessageID
	}
	if id == "" {
		id = inv.id
	}
	if id == "" {
		id = randomID()
	}
	key := langsync.FailedKey(inv.now, id)
	var raw []byte
	rawKey := strings.TrimSuffix(key, ".json")
	switch {
	case f.body == nil && inv.req.Data == nil && inv.route.Trigger == HTTPTrigger:
		// An HTTP invocation carries the caller's function key; keep only
		// the reason.
	case f.body == nil && inv.req.Data == nil && len(inv.raw) > inlineLimit:
		raw, rawKey = inv.raw, rawKey+".invocation"
	case f.body == nil && inv.req.Data == nil:
		doc.Invocation = string(inv.raw)
	case len(f.body) > inlineLimit:
		raw, rawKey = f.body, rawKey+".body"
	case json.Valid(f.body):
		doc.Body = json.RawMessage(f.body)
	case utf8.Valid(f.body):
		doc.BodyText = string(f.body)
	default:
		doc.BodyBase64 = f.body
	}
	if raw != nil {
		// The raw bytes first, so that the document never names a blob
		// that is not there.
		if err := h.opts.Failed.Keep(ctx, rawKey, raw); err != nil {
			return outcome{retry: true, err: fmt.Errorf("customhandler: keeping failed input as %s: %w", rawKey, err)}
		}
		doc.RawBlob, doc.RawSize = rawKey, len(raw)
	}
	log := inv.log
	if f.run != "" {
		log = log.With("run", f.run)
	}
	if f.run != "" && !f.keepOnly {
		if err := h.opts.Runs.Fail(ctx, f.run, f.reason); err != nil {
			return outcome{retry: true, err: fmt.Errorf("customhandler: marking run %s failed: %w", f.run, err)}
		}
		doc.RunMarked = true
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return outcome{retry: true, err: fmt.Errorf("customhandler: encoding failed input: %w", err)}
	}
	if err := h.opts.Failed.Keep(ctx, key, b); err != nil {
		return outcome{retry: true, err: fmt.Errorf("customhandler: keeping failed input as %s: %w", key, err)}
	}
	log.Error("input cannot be processed; kept, not retried", "reason", f.reason, "kept", key)
	out := outcome{logs: []string{fmt.Sprintf("not processed (kept as %s): %s", key, f.reason)}}
	if inv.route.Trigger == HTTPTrigger {
		out.outputs = map[string]any{inv.route.Output: HTTPResponse{
			StatusCode: http.StatusBadRequest,
			Body:       mustJSON(map[string]string{"error": f.reason}),
			Headers:    map[string]string{"Content-Type": "application/json"},
		}}
	}
	return out
}

func (h *Handler) isPermanent(err error) bool {
	if langsync.IsPermanent(err) {
		return true
	}
	return h.opts.IsPermanent != nil && h.opts.IsPermanent(err)
}

// sendWakes sends each wake now or schedules it.
func (h *Handler) sendWakes(ctx context.Context, log *slog.Logger, wakes []langsync.Wake) error {
	for _, wk := range wakes {
		if err := SendWake(ctx, h.opts.Wakes, h.opts.Now(), wk); err != nil {
			return err
		}
		l := log.With("run", wk.Run, "project", wk.Project, "step", wk.Step, "seq", wk.Seq)
		if wk.At.After(h.opts.Now()) {
			l.Info("wake-up scheduled", "at", wk.At)
		} else {
			l.Info("wake-up sent")
		}
	}
	return nil
}

// SendWake sends one wake-up to its step's queue with MessageId
// <run>/<step>/<seq>: now when At is not after now, else scheduled for At.
func SendWake(ctx context.Context, s Sender, now time.Time, wk langsync.Wake) error {
	q, err := langsync.StepQueue(wk.Step)
	if err != nil {
		return fmt.Errorf("customhandler: waking run %s: %w", wk.Run, err)
	}
	body, id := wk.Body(), wk.MessageID()
	if wk.At.After(now) {
		if err := s.Schedule(ctx, q, body, id, wk.At); err != nil {
			return fmt.Errorf("customhandler: scheduling wake-up %s on %s: %w", id, q, err)
		}
		return nil
	}
	if err := s.Send(ctx, q, body, id); err != nil {
		return fmt.Errorf("customhandler: sending wake-up %s to %s: %w", id, q, err)
	}
	return nil
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
