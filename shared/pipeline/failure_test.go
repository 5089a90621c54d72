package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// events records progress events.
type events struct {
	mu  sync.Mutex
	all []Progress
}

func (e *events) add(p Progress) { e.mu.Lock(); e.all = append(e.all, p); e.mu.Unlock() }

// messages returns "<step id> <event>: <message>" for events with a message.
func (e *events) messages() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, p := range e.all {
		if p.Message != "" {
			out = append(out, p.Step.ID()+" "+p.Event+": "+p.Message)
		}
	}
	return out
}

func (e *events) count(id, event string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, p := range e.all {
		if p.Step.ID() == id && p.Event == event {
			n++
		}
	}
	return n
}

func TestFailedJobRetries(t *testing.T) {
	tests := []struct {
		name     string
		config   string // extra top-level config
		kind     langsync.JobKind
		failures []string // error codes of the successive jobs
		phase    langsync.RunPhase
		posts    int      // jobs of the kind sent
		history  []string // codes recorded in the step's history
		messages []string // retry lines, in order
	}{
		{
			name: "service-side failure is retried and succeeds", kind: langsync.JobTrain,
			failures: []string{"InternalServerError"}, phase: langsync.RunSucceeded, posts: 2, history: []string{"InternalServerError"},
			messages: []string{"train/secondary/model1 retry: train job failed (InternalServerError), retry 1 of 2 in 15s (billed as another training)"},
		},
		{
			name: "retries run out", kind: langsync.JobTrain,
			failures: []string{"InternalServerError", "ServiceUnavailable", "Timeout"}, phase: langsync.RunFailed, posts: 3,
			history: []string{"InternalServerError", "ServiceUnavailable"},
			messages: []string{
				"train/secondary/model1 retry: train job failed (InternalServerError), retry 1 of 2 in 15s (billed as another training)",
				"train/secondary/model1 retry: train job failed (ServiceUnavailable), retry 2 of 2 in 30s (billed as another training)",
			},
		},
		{
			name: "data error fails at once", kind: langsync.JobTrain,
			failures: []string{"InvalidRequest"}, phase: langsync.RunFailed, posts: 1,
		},
		{
			name: "unknown code fails at once", kind: langsync.JobImport,
			failures: []string{"SomethingNew"}, phase: langsync.RunFailed, posts: 1,
		},
		{
			name: "jobRetries 0 fails at once", config: "jobRetries: 0\n", kind: langsync.JobTrain,
			failures: []string{"InternalServerError"}, phase: langsync.RunFailed, posts: 1,
		},
		{
			name: "gateway status code is service-side", kind: langsync.JobDeploy,
			failures: []string{"503"}, phase: langsync.RunSucceeded, posts: 2, history: []string{"503"},
			messages: []string{"deploy/secondary/production retry: deploy job failed (503), retry 1 of 2 in 15s"},
		},
		{
			name: "export is retried too", kind: langsync.JobExport,
			failures: []string{"OperationTimedOut"}, phase: langsync.RunSucceeded, posts: 2, history: []string{"OperationTimedOut"},
			messages: []string{"export/model1 retry: export job failed (OperationTimedOut), retry 1 of 2 in 15s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, oneProject+tt.config)
			w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
			svc := w.svc["secondary"]
			if tt.kind == langsync.JobExport {
				svc = w.svc["primary"]
			}
			svc.failJobs[tt.kind] = tt.failures
			var ev events
			p := w.pipeline(func(o *Options) { o.OnProgress = ev.add })
			r, err := w.drive(p, w.start(p, Request{Project: "Tickets"}))
			if err != nil {
				t.Fatal(err)
			}
			if r.Phase != tt.phase {
				t.Fatalf("phase %s (%s), want %s", r.Phase, r.Error, tt.phase)
			}
			if got := svc.Posts()[tt.kind]; got != tt.posts {
				t.Errorf("%d %s jobs sent, want %d", got, tt.kind, tt.posts)
			}
			id := map[langsync.JobKind]string{langsync.JobExport: "export/model1", langsync.JobImport: "import/secondary/model1",
				langsync.JobTrain: "train/secondary/model1", langsync.JobDeploy: "deploy/secondary/production"}[tt.kind]
			s := stepOf(t, r, id)
			var codes []string
			for _, a := range s.History {
				codes = append(codes, strings.Join(a.Codes, ","))
				if a.Job.Location == "" || a.Ended.IsZero() || !strings.Contains(a.Error, a.Codes[0]) || a.Status != langsync.JobFailed {
					t.Errorf("attempt recorded as %+v", a)
				}
			}
			if strings.Join(codes, " ") != strings.Join(tt.history, " ") {
				t.Errorf("history codes %q, want %q", codes, tt.history)
			}
			if len(s.History) > 0 && s.Job != nil && s.Job.Location == s.History[len(s.History)-1].Job.Location {
				t.Errorf("the step still points at the failed job %s", s.Job.Location)
			}
			if got := ev.messages(); strings.Join(got, "\n") != strings.Join(tt.messages, "\n") {
				t.Errorf("retry lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.messages, "\n"))
			}
			if tt.phase == langsync.RunFailed {
				code := tt.failures[len(tt.failures)-1]
				if !strings.Contains(r.Error, id) || !strings.Contains(r.Error, code) {
					t.Errorf("run error %q, want the step %s and the code %s", r.Error, id, code)
				}
			}
		})
	}
}

func TestJobFailedErrorServiceSide(t *testing.T) {
	tests := []struct {
		status langsync.JobStatus
		codes  []string
		want   bool
	}{
		{langsync.JobFailed, []string{"InternalServerError"}, true},
		{langsync.JobFailed, []string{"serviceunavailable"}, true},
		{langsync.JobFailed, []string{"Timeout", "OperationTimedOut"}, true},
		{langsync.JobFailed, []string{"TooManyRequests"}, true},
		{langsync.JobFailed, []string{"500"}, true},
		{langsync.JobFailed, []string{"429"}, true},
		{langsync.JobFailed, []string{"400"}, false},
		{langsync.JobFailed, []string{"InternalServerError", "InvalidDocument"}, false},
		{langsync.JobFailed, []string{"InvalidRequest"}, false},
		{langsync.JobFailed, []string{"InvalidArgument"}, false},
		{langsync.JobFailed, []string{"NotFound"}, false},
		{langsync.JobFailed, nil, false},
		{langsync.JobCancelled, []string{"InternalServerError"}, false},
		{langsync.JobPartiallyCompleted, []string{"InternalServerError"}, false},
	}
	for _, tt := range tests {
		e := &JobFailedError{Kind: langsync.JobTrain, Status: tt.status, Codes: tt.codes}
		if got := e.ServiceSide(); got != tt.want {
			t.Errorf("%s %v: ServiceSide = %v, want %v", tt.status, tt.codes, got, tt.want)
		}
	}
}

// twoTargets: steps run per target in name order, so secondary's steps
// come before third's.
const twoTargets = `
projects:
  - name: Tickets
    source: primary
    targets: [secondary, third]
`

var errRefused = fmt.Errorf("%w: authoring: POST https://secondary.example/: dial tcp 10.0.0.3:443: connect: connection refused", ErrUnreachable)

func TestUnreachableTargetFailsAfterBudgetOthersCarryOn(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, twoTargets)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	w.svc["secondary"].down = errRefused
	var ev events
	p := w.pipeline(func(o *Options) { o.OnProgress = ev.add })
	id := w.start(p, Request{Project: "Tickets"})
	r, err := w.drive(p, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Phase != langsync.RunFailed {
		t.Fatalf("phase %s, want failed", r.Phase)
	}
	for _, want := range []string{"1 of 2 targets failed", "secondary/Tickets failed at import/secondary/model1", "secondary unreachable for 2m0s", "connection refused", "(succeeded: third/Tickets)"} {
		if !strings.Contains(r.Error, want) {
			t.Errorf("run error %q lacks %q", r.Error, want)
		}
	}
	// The reachable target was replicated after the other one failed.
	wantPosts(t, w.svc["third"], map[langsync.JobKind]int{langsync.JobImport: 1, langsync.JobTrain: 1, langsync.JobDeploy: 1})
	if d := w.svc["third"].projects["Tickets"].deps["production"]; d.ModelID == "" {
		t.Errorf("third not deployed")
	}
	imp := stepOf(t, r, "import/secondary/model1")
	if imp.Status != langsync.StepFailed || imp.Unreachable == nil || imp.Unreachable.Resource != "secondary" || imp.Unreachable.Last.Sub(imp.Unreachable.Since) != 2*time.Minute {
		t.Errorf("failed step %+v (outage %+v)", imp, imp.Unreachable)
	}
	for _, id := range []string{"train/secondary/model1", "deploy/secondary/production", "verify/secondary"} {
		if s := stepOf(t, r, id); s.Status != langsync.StepSkipped || s.Note != "not run: import/secondary/model1 failed" {
			t.Errorf("%s: %s %q, want skipped naming the failed step", id, s.Status, s.Note)
		}
		if ev.count(id, "skip") != 1 {
			t.Errorf("%s: %d skip events, want 1", id, ev.count(id, "skip"))
		}
	}
	// Every retry was shown, with its number and delay, and the last one
	// fell on the budget's end.
	msgs := ev.messages()
	want := []string{"1 in 1s", "2 in 2s", "3 in 4s", "4 in 8s", "5 in 16s", "6 in 32s", "7 in 57s"}
	if len(msgs) != len(want) {
		t.Fatalf("retry lines:\n%s\nwant %d", strings.Join(msgs, "\n"), len(want))
	}
	for i, m := range msgs {
		if !strings.HasPrefix(m, "import/secondary/model1 retry: secondary unreachable (connection refused), retry "+want[i]+";") {
			t.Errorf("line %d: %q, want retry %s", i, m, want[i])
		}
	}
	// Per-target outcome: in the pair states and in the summary.
	pairs := map[string]*langsync.PairState{}
	for _, pair := range r.Pairs {
		ps, _, err := p.loadPair(ctx, pair)
		if err != nil {
			t.Fatal(err)
		}
		pairs[pair.Target] = ps
	}
	if ps := pairs["secondary"]; ps.ActiveRun != "" || ps.LastRun != id || ps.LastRunPhase != langsync.RunFailed || !strings.Contains(ps.LastError, "secondary unreachable") || ps.Fingerprint != "" {
		t.Errorf("secondary pair %+v", ps)
	}
	if ps := pairs["third"]; ps.ActiveRun != "" || ps.LastRunPhase != langsync.RunSucceeded || ps.Fingerprint == "" {
		t.Errorf("third pair %+v", ps)
	}
	sum := Summarize(r)
	got := map[string]TargetOutcome{}
	for _, o := range sum.Targets {
		got[o.Target] = o
	}
	if o := got["secondary"]; o.Phase != langsync.RunFailed || o.Step != "import/secondary/model1" || !strings.Contains(o.Error, "unreachable") {
		t.Errorf("secondary outcome %+v", o)
	}
	if o := got["third"]; o.Phase != langsync.RunSucceeded || o.Error != "" {
		t.Errorf("third outcome %+v", o)
	}
}

func TestUnreachableSourceFailsTheRun(t *testing.T) {
	w := newWorld(t, twoTargets+"unreachableBudget: 30s\n")
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	w.svc["primary"].failQueue["BeginExport"] = []error{errRefused, errRefused, errRefused, errRefused, errRefused, errRefused, errRefused, errRefused}
	p := w.pipeline()
	r, err := w.drive(p, w.start(p, Request{Project: "Tickets"}))
	if err != nil {
		t.Fatal(err)
	}
	if r.Phase != langsync.RunFailed || !strings.HasPrefix(r.Error, "export/model1: primary unreachable for 30s") {
		t.Fatalf("phase %s error %q, want the export failed naming primary", r.Phase, r.Error)
	}
	for _, target := range []string{"third", "secondary"} {
		if n := w.svc[target].TotalPosts(); n != 0 {
			t.Errorf("%s: %d jobs sent after the source failed", target, n)
		}
	}
}

func TestUnreachableSpell(t *testing.T) {
	t.Run("back within the budget", func(t *testing.T) {
		w := newWorld(t, oneProject)
		w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
		w.svc["secondary"].failQueue["BeginTrain"] = []error{errRefused, errRefused, errRefused}
		var ev events
		p := w.pipeline(func(o *Options) { o.OnProgress = ev.add })
		r, err := w.drive(p, w.start(p, Request{Project: "Tickets"}))
		if err != nil || r.Phase != langsync.RunSucceeded {
			t.Fatalf("%v %s %s", err, r.Phase, r.Error)
		}
		if s := stepOf(t, r, "train/secondary/model1"); s.Unreachable != nil || s.Attempts != 0 {
			t.Errorf("train step after the resource came back: outage %+v, attempts %d", s.Unreachable, s.Attempts)
		}
		if n := len(ev.messages()); n != 3 {
			t.Errorf("%d retry lines, want 3", n)
		}
		wantPosts(t, w.svc["secondary"], map[langsync.JobKind]int{langsync.JobImport: 1, langsync.JobTrain: 1, langsync.JobDeploy: 1})
	})
	t.Run("a driver killed mid-spell: the next one keeps the spell and its end", func(t *testing.T) {
		ctx := context.Background()
		w := newWorld(t, oneProject)
		w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
		w.svc["secondary"].down = errRefused
		p1 := w.pipeline()
		id := w.start(p1, Request{Project: "Tickets"})
		var first time.Time
		for i := 0; i < 50; i++ {
			n, err := p1.Advance(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := p1.Run(ctx, id)
			if o := stepOf(t, r, "import/secondary/model1").Unreachable; o != nil && o.Tries == 3 {
				first = o.Since
				break
			}
			w.clock.Advance(n.At.Sub(w.clock.Now()))
		}
		if first.IsZero() {
			t.Fatal("no unreachable spell of 3 tries")
		}
		// p1 is gone; a new process (a rerun of replicate joins the run)
		// drives it on.
		r, err := w.drive(w.pipeline(), id)
		if err != nil || r.Phase != langsync.RunFailed {
			t.Fatalf("%v %+v", err, r)
		}
		o := stepOf(t, r, "import/secondary/model1").Unreachable
		if !o.Since.Equal(first) || o.Last.Sub(o.Since) != 2*time.Minute || !strings.Contains(r.Error, "secondary unreachable for 2m0s") {
			t.Errorf("outage %+v, error %q: want the first spell ended at its budget", o, r.Error)
		}
	})
	t.Run("a host down for longer than the budget starts a new spell", func(t *testing.T) {
		ctx := context.Background()
		w := newWorld(t, oneProject)
		w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
		p := w.pipeline()
		id := w.start(p, Request{Project: "Tickets"})
		w.svc["secondary"].failQueue["BeginImport"] = []error{errRefused, errRefused}
		var n Next
		var err error
		for i := 0; i < 50; i++ {
			if n, err = p.Advance(ctx, id); err != nil {
				t.Fatal(err)
			}
			r, _ := p.Run(ctx, id)
			if s := stepOf(t, r, "import/secondary/model1"); s.Unreachable != nil {
				break
			}
			w.clock.Advance(n.At.Sub(w.clock.Now()))
		}
		// Nobody drives the run for an hour; the next failure is the
		// first of a new spell, not the end of the old one.
		w.clock.Advance(time.Hour)
		if _, err := p.Advance(ctx, id); err != nil {
			t.Fatal(err)
		}
		r, _ := p.Run(ctx, id)
		s := stepOf(t, r, "import/secondary/model1")
		if r.Phase != langsync.RunRunning || s.Unreachable == nil || s.Unreachable.Tries != 1 || !s.Unreachable.Since.Equal(w.clock.Now()) {
			t.Fatalf("phase %s outage %+v, want a new spell of 1 try", r.Phase, s.Unreachable)
		}
		// Status shows why the run waits.
		if sum := Summarize(r); !strings.HasPrefix(sum.Retrying, "secondary unreachable since ") || !strings.Contains(sum.Retrying, "(1 try)") || sum.Step != "import/secondary/model1" {
			t.Errorf("summary of the waiting run: %+v", sum)
		}
		if r, err = w.drive(p, id); err != nil || r.Phase != langsync.RunSucceeded {
			t.Fatalf("%v %+v", err, r)
		}
	})
}

func TestThrottlingWaitsAsAskedWithoutSpendingAttempts(t *testing.T) {
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	var q []error
	for range 12 { // more than MaxAttempts (8)
		q = append(q, &ThrottledError{RetryAfter: 10 * time.Minute, Err: fmt.Errorf("429 Too Many Requests")})
	}
	w.svc["secondary"].failQueue["BeginTrain"] = q
	var ev events
	p := w.pipeline(func(o *Options) { o.OnProgress = ev.add })
	start := w.clock.Now()
	r, err := w.drive(p, w.start(p, Request{Project: "Tickets"}))
	if err != nil || r.Phase != langsync.RunSucceeded {
		t.Fatalf("%v %s %s", err, r.Phase, r.Error)
	}
	if waited := w.clock.Now().Sub(start); waited < 12*10*time.Minute {
		t.Errorf("run took %s on the clock, want at least the 12 Retry-After waits", waited)
	}
	msgs := ev.messages()
	if len(msgs) != 12 || !strings.Contains(msgs[0], "secondary is throttling requests; retry in 10m0s, as it asked") {
		t.Errorf("%d retry lines, first %q", len(msgs), msgs)
	}
	if s := stepOf(t, r, "train/secondary/model1"); s.Attempts != 0 || s.Unreachable != nil {
		t.Errorf("throttling counted: attempts %d outage %+v", s.Attempts, s.Unreachable)
	}
}

func TestTargetFailureFreesItsPair(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, twoTargets)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	w.svc["secondary"].failJob[langsync.JobTrain] = "InvalidRequest"
	p := w.pipeline()
	id := w.start(p, Request{Project: "Tickets"})
	var r *langsync.Run
	for i := 0; i < 100; i++ {
		n, err := p.Advance(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		r, _ = p.Run(ctx, id)
		if stepOf(t, r, "train/secondary/model1").Status == langsync.StepFailed {
			break
		}
		w.clock.Advance(n.At.Sub(w.clock.Now()))
	}
	if r.Phase != langsync.RunRunning {
		t.Fatalf("run %s (%s) after one target failed, want running for the other", r.Phase, r.Error)
	}
	// The failed target is free at once: a new run may take it while the
	// first one finishes the other target.
	tk, err := p.Start(ctx, Request{Project: "Tickets", Targets: []string{"secondary"}})
	if err != nil || len(tk) != 1 || tk[0].Joined || tk[0].Run == id {
		t.Fatalf("Start for the failed target: %+v %v, want a new run", tk, err)
	}
	if r, err = w.drive(p, id); err != nil || r.Phase != langsync.RunFailed || !strings.Contains(r.Error, "secondary/Tickets failed at train/secondary/model1") {
		t.Fatalf("%v %s %q", err, r.Phase, r.Error)
	}
	ps, _, err := p.loadPair(ctx, langsync.Pair{Source: "primary", Project: "Tickets", Target: "secondary"})
	if err != nil || ps.ActiveRun != tk[0].Run {
		t.Errorf("secondary pair %+v %v: the end of the first run took the pair from the new one", ps, err)
	}
	ps, _, _ = p.loadPair(ctx, langsync.Pair{Source: "primary", Project: "Tickets", Target: "third"})
	if ps.LastRun != id || ps.LastRunPhase != langsync.RunSucceeded {
		t.Errorf("third pair %+v", ps)
	}
}

// A job POST whose fate is unknown is looked for again after a short wait
// (the retry only reads the service before any new POST), while other
// transient failures wait the full back-off.
func TestInDoubtPOSTIsRecheckedSoon(t *testing.T) {
	tests := []struct {
		name   string
		method string // the failing call
		err    error
		want   time.Duration
	}{
		{"train POST without an answer", "BeginTrain", fmt.Errorf("answer lost: %w", ErrTransient), inDoubtBackoff},
		{"train POST to an unreachable target", "BeginTrain", fmt.Errorf("connection reset: %w", ErrUnreachable), inDoubtBackoff},
		{"reading the target before the POST", "ListTrainingJobs", fmt.Errorf("503: %w", ErrTransient), 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, oneProject)
			w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
			w.svc["secondary"].failQueue[tt.method] = []error{tt.err}
			var retries []Progress
			p := w.pipeline(func(o *Options) {
				o.Backoff = 10 * time.Second
				o.OnProgress = func(ev Progress) {
					if ev.Event == "retry" {
						retries = append(retries, ev)
					}
				}
			})
			id := w.start(p, Request{Project: "Tickets"})
			w.advanceUntil(p, id, func(*langsync.Run) bool { return len(retries) > 0 })
			if len(retries) != 1 {
				t.Fatalf("%d retries, want 1", len(retries))
			}
			r, _ := p.Run(context.Background(), id)
			s := stepOf(t, r, "train/secondary/model1")
			if got := s.NotBefore.Sub(w.clock.Now()); got != tt.want {
				t.Errorf("retry in %s, want %s (%s)", got, tt.want, retries[0].Message)
			}
			if _, err := w.drive(p, id); err != nil {
				t.Fatal(err)
			}
			if got := w.svc["secondary"].Posts()[langsync.JobTrain]; got != 1 {
				t.Errorf("%d train POSTs, want 1", got)
			}
		})
	}
}
