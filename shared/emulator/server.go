package emulator

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Server is one emulated Language resource. It is an http.Handler. Like the
// service, it writes operation-location and apim-request-id in lowercase on
// the wire: read them from an http.Response (whose headers are
// canonicalised), not from the map of an httptest.ResponseRecorder.
type Server struct {
	opts      Options
	clock     Clock
	durations map[string]time.Duration
	docs      DocumentSource
	log       *slog.Logger
	pageSize  int
	// versions are the training config versions offered, sorted by name.
	versions []configVersion

	mu      sync.Mutex
	st      *state
	dirty   bool
	faults  Faults
	rng     *mrand.Rand
	getWin  rateWindow
	postWin rateWindow
	rtWin   rateWindow
	reqs    []Request
	// convVersions are the conversations authoring api-versions served.
	convVersions []string
	closed       bool
	// loseLeft counts down Faults.LoseAcceptedCount.
	loseLeft int
	// lost is set by startJob when the answer of the request being served
	// (under mu) must be lost; serveLocked consumes it.
	lost bool
}

// Request is one request the resource received, as listed by
// GET /emulator/requests. It never carries a key or a query string
// other than the api-version.
type Request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// APIVersion is the request's api-version query parameter ("" when
	// it had none), so that tests see the version used on the wire.
	APIVersion string    `json:"apiVersion,omitempty"`
	Status     int       `json:"status"` // 0 when the connection was dropped
	Time       time.Time `json:"time"`   // when it was handled, after Latency
	// Fault names the injected fault that answered it (FaultDown,
	// FaultRateLimit, FaultThrottle, FaultError, FaultDrop, FaultLost);
	// empty when it was served normally.
	Fault string `json:"fault,omitempty"`
	// Latency is the injected latency the request waited before Time.
	Latency Duration `json:"latency,omitempty"`
	// Hold is how long a lost answer kept the connection open after Time.
	Hold Duration `json:"hold,omitempty"`
	// RetryAfter is the Retry-After (seconds) of an injected 429.
	RetryAfter int `json:"retryAfter,omitempty"`
}

// Authoring and runtime api-versions the emulator serves.
var (
	authoringVersions = []string{"2022-05-01", "2023-04-01"}
	// The conversations authoring API has a newer GA version; its
	// operations the emulator serves keep their 2023-04-01 shape
	// (docs/emulator.md#conversation-projects).
	convAuthoringVersions = []string{"2022-05-01", "2023-04-01", "2025-11-01"}
	runtimeVersions       = []string{"2022-05-01", "2023-04-01", "2024-11-01"}
)

// ConversationsAPIVersionsServed lists the conversations authoring
// api-versions the emulator knows, for Options.ConversationsAPIVersions.
func ConversationsAPIVersionsServed() []string { return slices.Clone(convAuthoringVersions) }

// New returns a resource with opts. It loads saved state from
// opts.DataDir when there is some.
func New(opts Options) (*Server, error) {
	if len(opts.Keys) == 0 {
		return nil, errors.New("emulator: no subscription key: set Options.Keys (--key) to at least one key")
	}
	for _, k := range opts.Keys {
		if k == "" {
			return nil, errors.New("emulator: empty subscription key: every key must be non-empty")
		}
	}
	if err := opts.Faults.Validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, clock: opts.Clock, docs: opts.Documents, log: opts.Logger, pageSize: opts.PageSize, st: newState()}
	if s.clock == nil {
		s.clock = RealClock()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.opts.Name == "" {
		s.opts.Name = "emulator"
	}
	s.log = s.log.With("resource", s.opts.Name)
	if s.pageSize <= 0 {
		s.pageSize = 100
	}
	s.durations = map[string]time.Duration{}
	for k, d := range DefaultJobDurations {
		s.durations[k] = d
	}
	for k, d := range opts.JobDurations {
		if _, ok := DefaultJobDurations[k]; !ok {
			return nil, fmt.Errorf("emulator: job duration for unknown kind %q (known: %s)", k, strings.Join(jobKinds(), ", "))
		}
		if d < 0 {
			return nil, fmt.Errorf("emulator: job duration for %s is negative", k)
		}
		s.durations[k] = d
	}
	s.convVersions = convAuthoringVersions
	if opts.ConversationsAPIVersions != nil {
		if len(opts.ConversationsAPIVersions) == 0 {
			return nil, errors.New("emulator: ConversationsAPIVersions is empty: name at least one of " + strings.Join(convAuthoringVersions, ", ") + ", or leave it nil for all")
		}
		for _, v := range opts.ConversationsAPIVersions {
			if !slices.Contains(convAuthoringVersions, v) {
				return nil, fmt.Errorf("emulator: conversations api-version %q is not one the emulator knows (%s)", v, strings.Join(convAuthoringVersions, ", "))
			}
		}
		s.convVersions = slices.Clone(opts.ConversationsAPIVersions)
	}
	s.setFaultsLocked(opts.Faults)
	if err := s.load(); err != nil {
		return nil, err
	}
	// Relative version expiries count from the resource's first start,
	// kept with its state so that a restart does not move them.
	if s.st.VersionsFrom.IsZero() {
		s.st.VersionsFrom = s.clock.Now().UTC()
	}
	vs := opts.TrainingConfigVersions
	if vs == nil {
		vs = DefaultTrainingConfigVersions
	}
	versions, err := resolveVersions(vs, s.st.VersionsFrom)
	if err != nil {
		return nil, err
	}
	s.versions = versions
	return s, nil
}

// Close saves the state; later requests get 503.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.save()
}

// Clock returns the server's clock (a *FakeClock when one was given).
func (s *Server) Clock() Clock { return s.clock }

// SetFaults replaces the injected faults; it also reseeds the random source
// and empties the rate-limit windows.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setFaultsLocked(f)
	return nil
}

func (s *Server) setFaultsLocked(f Faults) {
	s.faults = f
	seed := f.Seed
	if seed == 0 {
		seed = 1
	}
	s.rng = mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s.getWin, s.postWin, s.rtWin = rateWindow{}, rateWindow{}, rateWindow{}
	s.loseLeft = f.LoseAcceptedCount
}

// Faults returns the faults in force.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Requests returns the requests received so far (admin requests excluded).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// ResetRequests empties the request list.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
}

// CountRequests counts received requests with this method whose path ends
// with suffix (e.g. "POST", "/:train").
func (s *Server) CountRequests(method, suffix string) int {
	n := 0
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// statusRecorder remembers the status written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// ServeHTTP answers one request: admin endpoints first, then region-down,
// key check, injected faults, api-version, and the operation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/emulator/") {
		s.serveAdmin(w, r)
		return
	}
	setRaw(w.Header(), "apim-request-id", newUUID())
	setRaw(w.Header(), "x-content-type-options", "nosniff")
	setRaw(w.Header(), "strict-transport-security", "max-age=31536000; includeSubDomains; preload")
	start := time.Now()
	lat := time.Duration(s.Faults().Latency)
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	rec := &statusRecorder{ResponseWriter: w}
	status, hold := s.serveLocked(rec, r, lat)
	if hold >= 0 {
		// An accepted job whose answer is lost: nothing was written; keep
		// the connection silent for the hold (or until the client gives
		// up), then close it.
		if hold > 0 {
			t := time.NewTimer(hold)
			select {
			case <-t.C:
			case <-r.Context().Done():
			}
			t.Stop()
		}
		dropConnection(w)
	}
	// Only method, path and status: never a key, never the query string.
	s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", status, "elapsed", time.Since(start))
}

// serveLocked answers the request under s.mu and returns the status sent
// (0 when the connection was dropped). A non-negative hold means the
// request started a job whose answer must be lost: nothing was written and
// the caller closes the connection after the hold.
func (s *Server) serveLocked(rec *statusRecorder, r *http.Request, lat time.Duration) (status int, hold time.Duration) {
	s.mu.Lock()
	now := s.clock.Now()
	in := s.admit(r, now)
	if in.drop || in.status != 0 {
		return s.refuse(rec, r, in, now, lat), -1
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && oneOf(tok, s.opts.ForbiddenTokens) {
		s.record(Request{Method: r.Method, Path: r.URL.Path, APIVersion: r.URL.Query().Get("api-version"), Status: http.StatusForbidden, Time: now, Latency: Duration(lat)})
		s.mu.Unlock()
		writeError(rec, &httpError{Status: http.StatusForbidden, Body: apiError{Code: "Forbidden",
			Message: "The identity has no role on this resource that allows this operation (for example Cognitive Services Language Owner)."}})
		return http.StatusForbidden, -1
	}
	if !s.authorized(r) {
		s.record(Request{Method: r.Method, Path: r.URL.Path, APIVersion: r.URL.Query().Get("api-version"), Status: http.StatusUnauthorized, Time: now, Latency: Duration(lat)})
		s.mu.Unlock()
		msg := msgUnauthorized
		if !hasCredential(r) {
			msg = msgMissingKey
		}
		writeError(rec, &httpError{Status: http.StatusUnauthorized, Body: apiError{Code: "401", Message: msg}})
		return http.StatusUnauthorized, -1
	}
	if in = s.decideFault(r, now); in.drop || in.status != 0 {
		return s.refuse(rec, r, in, now, lat), -1
	}
	defer s.mu.Unlock()
	s.lost = false
	setRaw(rec.Header(), "x-envoy-upstream-service-time", "1")
	if err := s.dispatch(rec, r, now); err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			s.log.Error("emulator: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
			he = &httpError{Status: 500, Body: apiError{Code: "InternalServerError", Message: err.Error()}}
		}
		writeError(rec, he)
	}
	if s.dirty {
		if err := s.save(); err != nil {
			s.log.Error("emulator: saving state", "err", err)
		}
		s.dirty = false
	}
	if s.lost && rec.status == 0 {
		s.lost = false
		h := time.Duration(s.faults.LoseAcceptedHold)
		s.record(Request{Method: r.Method, Path: r.URL.Path, APIVersion: r.URL.Query().Get("api-version"), Status: 0, Time: now, Fault: FaultLost, Latency: Duration(lat), Hold: Duration(h)})
		return 0, h
	}
	s.record(Request{Method: r.Method, Path: r.URL.Path, APIVersion: r.URL.Query().Get("api-version"), Status: rec.status, Time: now, Latency: Duration(lat)})
	return rec.status, -1
}

// refuse answers (or drops) a request refused by a fault; it unlocks s.mu.
func (s *Server) refuse(rec *statusRecorder, r *http.Request, in injected, now time.Time, lat time.Duration) int {
	req := Request{Method: r.Method, Path: r.URL.Path, APIVersion: r.URL.Query().Get("api-version"), Status: in.status, Time: now, Fault: in.fault, Latency: Duration(lat)}
	if in.status == http.StatusTooManyRequests {
		req.RetryAfter = in.retryAfter
	}
	s.record(req)
	s.mu.Unlock()
	if in.drop {
		dropConnection(rec.ResponseWriter)
		return 0
	}
	writeInjected(rec, in)
	return in.status
}

// admit handles region-down and a closed server, before the key check.
func (s *Server) admit(r *http.Request, now time.Time) injected {
	if s.closed {
		return injected{status: 503}
	}
	if s.faults.Down {
		if s.faults.DownStatus == 503 {
			return injected{status: 503, fault: FaultDown}
		}
		return injected{drop: true, fault: FaultDown}
	}
	return injected{}
}

func (s *Server) record(req Request) {
	s.reqs = append(s.reqs, req)
	// Bound memory for long-running emulators.
	if len(s.reqs) > 100000 {
		s.reqs = append([]Request(nil), s.reqs[len(s.reqs)-50000:]...)
	}
}

func (s *Server) authorized(r *http.Request) bool {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok != "" {
		return oneOf(tok, s.opts.Tokens)
	}
	got := r.Header.Get("Ocp-Apim-Subscription-Key")
	return got != "" && oneOf(got, s.opts.Keys)
}

// hasCredential reports whether r carries a key or a bearer token at all
// (right or wrong): the gateway answers a missing one with its own message.
func hasCredential(r *http.Request) bool {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok != "" {
		return true
	}
	return r.Header.Get("Ocp-Apim-Subscription-Key") != ""
}

// oneOf compares in constant time so that timing does not reveal a key.
func oneOf(got string, want []string) bool {
	ok := false
	for _, k := range want {
		if subtle.ConstantTimeCompare([]byte(got), []byte(k)) == 1 {
			ok = true
		}
	}
	return ok
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// serveAdmin answers /emulator/...: faults, requests, jobs, clock. No key
// needed.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/emulator/faults" && r.Method == http.MethodGet:
		writeJSON(w, 200, s.Faults())
	case r.URL.Path == "/emulator/faults" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		var f Faults
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeError(w, errBadRequest("InvalidRequestBodyFormat", "faults: %v", err))
			return
		}
		if err := s.SetFaults(f); err != nil {
			writeError(w, errBadRequest("InvalidParameterValue", "%v", err))
			return
		}
		writeJSON(w, 200, f)
	case r.URL.Path == "/emulator/requests" && r.Method == http.MethodGet:
		reqs := s.Requests()
		if reqs == nil {
			reqs = []Request{}
		}
		writeJSON(w, 200, map[string]any{"value": reqs})
	case r.URL.Path == "/emulator/jobs" && r.Method == http.MethodGet:
		q := r.URL.Query()
		if k := q.Get("kind"); k != "" && !isJobKind(k) {
			writeError(w, errBadRequest("InvalidParameterValue", "jobs: unknown kind %q (want one of %s; runtime analyze jobs are not listed)", k, strings.Join(acceptedJobKinds(), ", ")))
			return
		}
		writeJSON(w, 200, map[string]any{"value": s.Jobs(q.Get("project"), q.Get("kind"))})
	case r.URL.Path == "/emulator/requests" && r.Method == http.MethodDelete:
		s.ResetRequests()
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/emulator/clock" && r.Method == http.MethodGet:
		writeJSON(w, 200, map[string]any{"now": s.clock.Now().UTC().Format(time.RFC3339Nano)})
	case r.URL.Path == "/emulator/clock" && r.Method == http.MethodPost:
		fc, ok := s.clock.(*FakeClock)
		if !ok {
			writeError(w, errConflict("the emulator runs on the real clock; start it with a fake clock to move time"))
			return
		}
		var body struct {
			Advance Duration  `json:"advance"`
			Set     time.Time `json:"set"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
			writeError(w, errBadRequest("InvalidRequestBodyFormat", `clock: want {"advance":"2s"} or {"set":"2026-01-01T00:00:00Z"}: %v`, err))
			return
		}
		if !body.Set.IsZero() {
			fc.Set(body.Set)
		}
		fc.Advance(time.Duration(body.Advance))
		writeJSON(w, 200, map[string]any{"now": fc.Now().UTC().Format(time.RFC3339Nano)})
	default:
		writeError(w, errNoRoute())
	}
}

// newUUID returns a random version-4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newJobID returns an id shaped like the service's: <uuid>_<.NET ticks of
// 00:00 UTC on the creation day> (docs/reference/language-rest.md#job-ids).
func newJobID(now time.Time) string {
	day := now.UTC().Truncate(24 * time.Hour)
	ticks := (day.Unix() + 62135596800) * 10000000
	return fmt.Sprintf("%s_%d", newUUID(), ticks)
}

var _ http.Handler = (*Server)(nil)
