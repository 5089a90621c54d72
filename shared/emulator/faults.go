package emulator

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Faults are the failures a resource injects. The zero value injects none.
// Ratios are in [0,1] and drawn from a random source seeded with Seed, so a
// test that sends the same requests in the same order sees the same faults.
type Faults struct {
	// RateLimit enforces the service's authoring limits per resource: 10
	// POSTs (any non-GET) and 100 GETs per sliding minute, answered with 429
	// and Retry-After. The runtime API gets its own 1,000 per minute.
	RateLimit bool `json:"rateLimit,omitempty"`
	// PostPerMinute and GetPerMinute override the limits (0 = the real ones).
	PostPerMinute int `json:"postPerMinute,omitempty"`
	GetPerMinute  int `json:"getPerMinute,omitempty"`
	// RateWindow replaces the minute of the limits (0 = one minute): a
	// benchmark runs the real limits on a scaled clock, e.g. 10 POSTs per
	// 4 s, to measure a fleet in seconds instead of minutes.
	RateWindow Duration `json:"rateWindow,omitempty"`
	// ThrottleRatio answers this share of requests with 429 + Retry-After.
	ThrottleRatio float64 `json:"throttleRatio,omitempty"`
	// RetryAfter is the Retry-After (seconds) of injected 429s (default 1).
	RetryAfter int `json:"retryAfterSeconds,omitempty"`
	// ErrorRatio answers this share of requests with ErrorStatus.
	ErrorRatio float64 `json:"errorRatio,omitempty"`
	// ErrorStatus is 500 or 503; 0 alternates between them.
	ErrorStatus int `json:"errorStatus,omitempty"`
	// Latency is added to every request (real time, not the Clock).
	Latency Duration `json:"latency,omitempty"`
	// DropRatio closes this share of connections without an answer.
	DropRatio float64 `json:"dropRatio,omitempty"`
	// JobFailureRatio makes this share of new jobs end "failed".
	JobFailureRatio float64 `json:"jobFailureRatio,omitempty"`
	// DocumentFailureRatio fails this share of the documents of each new
	// analyze-text (runtime) job on the service's side: each such
	// document gets an InternalServerError in its task's results.errors
	// instead of a result. A job with some documents failed so ends
	// partiallyCompleted, one with all of them failed ends failed (see
	// docs/emulator.md#what-it-serves).
	DocumentFailureRatio float64 `json:"documentFailureRatio,omitempty"`
	// LoseAcceptedRatio accepts this share of new jobs and loses the answer:
	// the job exists, runs and is listed like any other, but the client gets
	// no 202 (the connection is closed without a response). This is the
	// worst case for a client that must never start a job twice.
	LoseAcceptedRatio float64 `json:"loseAcceptedRatio,omitempty"`
	// LoseAcceptedCount loses the answers of the next N accepted jobs
	// (counted from the last change of faults), before the ratio applies.
	LoseAcceptedCount int `json:"loseAcceptedCount,omitempty"`
	// LoseAcceptedKinds limits the lost answers to these job kinds (export,
	// import, train, deploy, ...); empty means every authoring job kind.
	LoseAcceptedKinds []string `json:"loseAcceptedKinds,omitempty"`
	// LoseAcceptedHold keeps the connection open without an answer for this
	// long, or until the client gives up, before closing it; 0 closes it at
	// once.
	LoseAcceptedHold Duration `json:"loseAcceptedHold,omitempty"`
	// Down refuses every request ("region down"): the connection is closed
	// without an answer, or, with DownStatus 503, answered 503. Admin
	// endpoints under /emulator/ keep working so tests can bring it back.
	Down       bool `json:"down,omitempty"`
	DownStatus int  `json:"downStatus,omitempty"`
	// Seed seeds the random source of the ratios (0 means 1).
	Seed uint64 `json:"seed,omitempty"`
}

// Validate reports a fault setting that cannot work.
func (f Faults) Validate() error {
	var bad []string
	for name, r := range map[string]float64{"throttleRatio": f.ThrottleRatio, "errorRatio": f.ErrorRatio, "dropRatio": f.DropRatio,
		"jobFailureRatio": f.JobFailureRatio, "loseAcceptedRatio": f.LoseAcceptedRatio, "documentFailureRatio": f.DocumentFailureRatio} {
		if r < 0 || r > 1 || math.IsNaN(r) {
			bad = append(bad, fmt.Sprintf("%s=%v (want 0..1)", name, r))
		}
	}
	if f.ErrorStatus != 0 && f.ErrorStatus != 500 && f.ErrorStatus != 503 {
		bad = append(bad, fmt.Sprintf("errorStatus=%d (want 500, 503 or 0 for both)", f.ErrorStatus))
	}
	if f.DownStatus != 0 && f.DownStatus != 503 {
		bad = append(bad, fmt.Sprintf("downStatus=%d (want 0 to close connections or 503)", f.DownStatus))
	}
	if f.PostPerMinute < 0 || f.GetPerMinute < 0 || f.RetryAfter < 0 || f.Latency < 0 || f.LoseAcceptedCount < 0 || f.LoseAcceptedHold < 0 || f.RateWindow < 0 {
		bad = append(bad, "limits, rateWindow, retryAfterSeconds, latency, loseAcceptedCount and loseAcceptedHold must not be negative")
	}
	for _, k := range f.LoseAcceptedKinds {
		if !isJobKind(k) {
			bad = append(bad, fmt.Sprintf("loseAcceptedKinds: %q is not a job kind (want %s)", k, strings.Join(acceptedJobKinds(), ", ")))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("emulator: bad faults: %s", strings.Join(bad, "; "))
	}
	return nil
}

// ParseFaults parses the --faults flag: comma-separated settings such as
// "ratelimit,throttle=0.2,errors=0.1,status=503,latency=50ms,drop=0.05,jobfail=0.5,docfail=0.1,down,seed=7"
// or "lose=0.5,losecount=1,losekinds=import+train,losehold=2s" (lost 202s).
func ParseFaults(s string) (Faults, error) {
	var f Faults
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		var err error
		switch k {
		case "ratelimit":
			f.RateLimit = true
		case "down":
			f.Down = true
		case "throttle":
			_, err = fmt.Sscan(v, &f.ThrottleRatio)
		case "retryafter":
			_, err = fmt.Sscan(v, &f.RetryAfter)
		case "errors":
			_, err = fmt.Sscan(v, &f.ErrorRatio)
		case "status":
			_, err = fmt.Sscan(v, &f.ErrorStatus)
		case "drop":
			_, err = fmt.Sscan(v, &f.DropRatio)
		case "jobfail":
			_, err = fmt.Sscan(v, &f.JobFailureRatio)
		case "docfail":
			_, err = fmt.Sscan(v, &f.DocumentFailureRatio)
		case "lose":
			_, err = fmt.Sscan(v, &f.LoseAcceptedRatio)
		case "losecount":
			_, err = fmt.Sscan(v, &f.LoseAcceptedCount)
		case "losekinds":
			// "+" separates kinds because "," separates faults.
			for _, k := range strings.Split(v, "+") {
				if k = strings.TrimSpace(k); k != "" {
					f.LoseAcceptedKinds = append(f.LoseAcceptedKinds, k)
				}
			}
		case "losehold":
			var d time.Duration
			d, err = time.ParseDuration(v)
			f.LoseAcceptedHold = Duration(d)
		case "seed":
			_, err = fmt.Sscan(v, &f.Seed)
		case "post":
			_, err = fmt.Sscan(v, &f.PostPerMinute)
		case "get":
			_, err = fmt.Sscan(v, &f.GetPerMinute)
		case "window":
			var d time.Duration
			d, err = time.ParseDuration(v)
			f.RateWindow = Duration(d)
		case "latency":
			var d time.Duration
			d, err = time.ParseDuration(v)
			f.Latency = Duration(d)
		default:
			return Faults{}, fmt.Errorf("emulator: unknown fault %q (known: ratelimit, throttle=R, retryafter=S, errors=R, status=500|503, latency=D, drop=R, jobfail=R, lose=R, losecount=N, losekinds=K+K, losehold=D, down, seed=N, post=N, get=N, window=D)", k)
		}
		if err != nil {
			return Faults{}, fmt.Errorf("emulator: fault %q: bad value: %w", part, err)
		}
	}
	return f, f.Validate()
}

// Duration is a time.Duration that reads and writes JSON as "250ms" (a bare
// number is taken as milliseconds).
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "250ms" or 250 (milliseconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("emulator: bad duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("emulator: bad duration %s: want \"250ms\" or milliseconds", b)
	}
	*d = Duration(time.Duration(ms * float64(time.Millisecond)))
	return nil
}

// rateWindow is a sliding window (a minute, or Faults.RateWindow) of
// request times.
type rateWindow struct{ times []time.Time }

// take records a request at now if fewer than limit happened in the last
// span; otherwise it returns how long until one slot frees.
func (w *rateWindow) take(now time.Time, limit int, span time.Duration) (ok bool, wait time.Duration) {
	cut := now.Add(-span)
	i := 0
	for i < len(w.times) && !w.times[i].After(cut) {
		i++
	}
	w.times = w.times[i:]
	if len(w.times) >= limit {
		return false, w.times[0].Add(span).Sub(now)
	}
	w.times = append(w.times, now)
	return true, 0
}

// injected decides the fault for one request. It runs under s.mu.
type injected struct {
	drop       bool
	status     int
	retryAfter int
	fault      string // as listed in Request.Fault
}

func (s *Server) decideFault(r *http.Request, now time.Time) injected {
	f := s.faults
	if f.RateLimit {
		runtime := strings.HasPrefix(r.URL.Path, "/language/analyze-text/")
		var win *rateWindow
		limit := 0
		switch {
		case runtime:
			win, limit = &s.rtWin, 1000
		case r.Method == http.MethodGet:
			win, limit = &s.getWin, 100
			if f.GetPerMinute > 0 {
				limit = f.GetPerMinute
			}
		default:
			win, limit = &s.postWin, 10
			if f.PostPerMinute > 0 {
				limit = f.PostPerMinute
			}
		}
		span := time.Duration(f.RateWindow)
		if span <= 0 {
			span = time.Minute
		}
		if ok, wait := win.take(now, limit, span); !ok {
			return injected{status: 429, retryAfter: int(math.Ceil(wait.Seconds())), fault: FaultRateLimit}
		}
	}
	if f.DropRatio > 0 && s.rng.Float64() < f.DropRatio {
		return injected{drop: true, fault: FaultDrop}
	}
	if f.ThrottleRatio > 0 && s.rng.Float64() < f.ThrottleRatio {
		ra := f.RetryAfter
		if ra == 0 {
			ra = 1
		}
		return injected{status: 429, retryAfter: ra, fault: FaultThrottle}
	}
	if f.ErrorRatio > 0 && s.rng.Float64() < f.ErrorRatio {
		st := f.ErrorStatus
		if st == 0 {
			st = 500
			if s.rng.IntN(2) == 1 {
				st = 503
			}
		}
		return injected{status: st, fault: FaultError}
	}
	return injected{}
}

// Faults as named in Request.Fault (GET /emulator/requests), so that a
// harness can tell an injected failure from a real one.
const (
	FaultDown      = "down"
	FaultRateLimit = "ratelimit"
	FaultThrottle  = "throttle"
	FaultError     = "error"
	FaultDrop      = "drop"
	FaultLost      = "lost"
)

// loseAnswer decides whether the answer to a new job of this kind is lost.
// It runs under s.mu.
func (s *Server) loseAnswer(kind string) bool {
	f := s.faults
	if f.LoseAcceptedCount == 0 && f.LoseAcceptedRatio == 0 {
		return false
	}
	if len(f.LoseAcceptedKinds) > 0 && !slices.Contains(f.LoseAcceptedKinds, kind) {
		return false
	}
	if s.loseLeft > 0 {
		s.loseLeft--
		return true
	}
	return f.LoseAcceptedRatio > 0 && s.rng.Float64() < f.LoseAcceptedRatio
}

// isJobKind reports whether k names an authoring job kind (analyze, a
// runtime job, has no 202 to lose).
func isJobKind(k string) bool { return k != KindAnalyze && slices.Contains(jobKinds(), k) }

func acceptedJobKinds() []string {
	var out []string
	for _, k := range jobKinds() {
		if k != KindAnalyze {
			out = append(out, k)
		}
	}
	return out
}

func writeInjected(w http.ResponseWriter, in injected) {
	switch in.status {
	case 429:
		w.Header().Set("Retry-After", fmt.Sprint(in.retryAfter))
		writeError(w, &httpError{Status: 429, Body: apiError{Code: "429", Message: fmt.Sprintf(msgThrottled, in.retryAfter)}})
	case 500:
		writeError(w, &httpError{Status: 500, Body: apiError{Code: "InternalServerError", Message: "Internal server error."}})
	default:
		writeError(w, &httpError{Status: 503, Body: apiError{Code: "ServiceUnavailable", Message: "The service is temporarily unavailable. Please retry later."}})
	}
}
