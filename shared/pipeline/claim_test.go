package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// progressLog collects OnProgress events.
type progressLog struct {
	mu     sync.Mutex
	events []Progress
}

func (l *progressLog) add(p Progress) { l.mu.Lock(); l.events = append(l.events, p); l.mu.Unlock() }

func (l *progressLog) waits() []Progress {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Progress
	for _, e := range l.events {
		if e.Event == "wait" {
			out = append(out, e)
		}
	}
	return out
}

func (w *world) runTag(id string) string {
	w.state.mu.Lock()
	defer w.state.mu.Unlock()
	return fmt.Sprint(w.state.tags[langsync.RunKey(id)])
}

func stepOf(t *testing.T, r *langsync.Run, id string) langsync.Step {
	t.Helper()
	for _, s := range r.Steps {
		if s.ID() == id {
			return s
		}
	}
	t.Fatalf("run has no step %s", id)
	return langsync.Step{}
}

var jobSteps = []struct {
	id   string
	name langsync.StepName
	kind langsync.JobKind
	res  string
}{
	{"export/model1", langsync.StepExport, langsync.JobExport, "primary"},
	{"import/secondary/model1", langsync.StepImport, langsync.JobImport, "secondary"},
	{"train/secondary/model1", langsync.StepTrain, langsync.JobTrain, "secondary"},
	{"deploy/secondary/production", langsync.StepDeploy, langsync.JobDeploy, "secondary"},
}

// TestObserverWritesNothingWhileAnotherHandlerStarts: two pipelines on one
// state store. The owner is held after its POST, before it saves the job's
// location; the other advances the run meanwhile. The observer must write
// nothing (the run's ETag is unchanged) and say what it waits for, and the
// owner then saves and finishes without ever being stale or waiting for a
// claim.
func TestObserverWritesNothingWhileAnotherHandlerStarts(t *testing.T) {
	for _, st := range jobSteps {
		t.Run(st.id, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t, oneProject)
			w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
			held, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			owner := w.pipeline(func(o *Options) {
				o.Hook = func(at string) error {
					if at == st.id+":begun" {
						once.Do(func() { close(held); <-release })
					}
					return nil
				}
			})
			var seen progressLog
			observer := w.pipeline(func(o *Options) { o.OnProgress = seen.add })
			id := w.start(owner, Request{Project: "Tickets"})

			type result struct {
				stale, busy int
				err         error
			}
			done := make(chan result, 1)
			go func() {
				var res result
				for {
					n, err := owner.Advance(ctx, id)
					switch {
					case err != nil:
						res.err = err
					case n.Stale:
						res.stale++
						continue
					case n.Busy:
						res.busy++
					case !n.Done:
						if d := n.At.Sub(w.clock.Now()); d > 0 {
							w.clock.Advance(d)
						}
						continue
					}
					if err != nil || n.Done || res.busy > 0 {
						done <- res
						return
					}
				}
			}()
			<-held

			tag, puts := w.runTag(id), w.state.Puts()
			posts := w.svc[st.res].Posts()[st.kind]
			r, _ := observer.Run(ctx, id)
			claim := stepOf(t, r, st.id)
			n, err := observer.Advance(ctx, id)
			if err != nil || !n.Busy || n.Stale || n.Step != st.name || !n.At.Equal(claim.ClaimUntil) || n.Seq != r.Seq {
				t.Fatalf("observer: %+v %v; want Busy for %s until the claim's deadline %v at seq %d", n, err, st.name, claim.ClaimUntil, r.Seq)
			}
			if _, err := observer.Wake(ctx, n.Wakeup); err != nil {
				t.Fatal(err)
			}
			if w.runTag(id) != tag || w.state.Puts() != puts {
				t.Fatalf("the observer wrote: ETag %s -> %s, %d puts", tag, w.runTag(id), w.state.Puts()-puts)
			}
			if got := w.svc[st.res].Posts()[st.kind]; got != posts {
				t.Fatalf("the observer sent %d %s POSTs", got-posts, st.kind)
			}
			waits := seen.waits()
			if len(waits) != 2 || !waits[0].Until.Equal(claim.ClaimUntil) ||
				!strings.Contains(waits[0].Message, fmt.Sprintf("starting the %s job on %s", st.kind, st.res)) ||
				!strings.Contains(waits[0].Message, "waiting up to 10s") {
				t.Fatalf("wait events %+v", waits)
			}

			close(release)
			res := <-done
			if res.err != nil || res.stale != 0 || res.busy != 0 {
				t.Fatalf("owner: %+v; want it to finish without a conflict or a wait", res)
			}
			r, err = observer.Run(ctx, id)
			if err != nil || r.Phase != langsync.RunSucceeded {
				t.Fatalf("run %+v %v", r, err)
			}
			wantPosts(t, w.svc["primary"], map[langsync.JobKind]int{langsync.JobExport: 1})
			wantPosts(t, w.svc["secondary"], map[langsync.JobKind]int{langsync.JobImport: 1, langsync.JobTrain: 1, langsync.JobDeploy: 1})
		})
	}
}

// TestKilledDuringPOSTRecoversAtItsDeadline: a handler dies right after
// claiming a job step (before the POST) or after the POST (before saving
// the job). The next handler waits only until the claim's deadline
// (BeginTimeout after the claim), writing nothing before it, then
// recovers: never a second import, train or deploy job. A claim written by
// an older langsync (no deadline recorded) still waits ClaimTimeout.
func TestKilledDuringPOSTRecoversAtItsDeadline(t *testing.T) {
	tests := []struct {
		step       string
		point      string
		legacy     bool
		wantExport int
	}{
		{"export/model1", "claimed", false, 1},
		{"export/model1", "begun", false, 2}, // no export job list; an export changes nothing
		{"import/secondary/model1", "begun", false, 1},
		{"train/secondary/model1", "claimed", false, 1},
		{"train/secondary/model1", "begun", false, 1},
		{"deploy/secondary/production", "begun", false, 1},
		{"train/secondary/model1", "begun", true, 1},
	}
	for _, tt := range tests {
		name := tt.step + ":" + tt.point
		if tt.legacy {
			name += "/older-claim"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t, oneProject)
			w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
			crashed := false
			killed := w.pipeline(func(o *Options) {
				o.Hook = func(at string) error {
					if at == tt.step+":"+tt.point && !crashed {
						crashed = true
						return errors.New("killed")
					}
					return nil
				}
			})
			id := w.start(killed, Request{Project: "Tickets"})
			if _, err := w.drive(killed, id); err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("drive: %v, want the kill", err)
			}
			r, _ := killed.Run(ctx, id)
			claim := stepOf(t, r, tt.step)
			want := claim.Claimed.Add(w.opts.BeginTimeout)
			if !claim.ClaimUntil.Equal(want) {
				t.Fatalf("claim deadline %v, want %v (claimed %v + BeginTimeout)", claim.ClaimUntil, want, claim.Claimed)
			}
			if tt.legacy {
				// As an older langsync wrote it: no deadline.
				for i := range r.Steps {
					r.Steps[i].ClaimUntil = time.Time{}
				}
				if _, err := killed.saveRun(ctx, r, w.runTag(id)); err != nil {
					t.Fatal(err)
				}
				want = claim.Claimed.Add(w.opts.ClaimTimeout)
			}

			var seen progressLog
			next := w.pipeline(func(o *Options) { o.OnProgress = seen.add })
			tag := w.runTag(id)
			n, err := next.Advance(ctx, id)
			if err != nil || !n.Busy || !n.At.Equal(want) {
				t.Fatalf("rerun: %+v %v; want Busy until %v", n, err, want)
			}
			if w.runTag(id) != tag {
				t.Fatal("the rerun wrote the run before the claim's deadline")
			}
			if ws := seen.waits(); len(ws) != 1 || !ws[0].Until.Equal(want) || ws[0].Message == "" {
				t.Fatalf("wait events %+v", ws)
			}
			w.clock.Advance(want.Sub(w.clock.Now()))
			if n, err := next.Advance(ctx, id); err != nil || n.Busy || n.Stale {
				t.Fatalf("at the deadline: %+v %v; want the step recovered", n, err)
			}
			if r, err := w.drive(next, id); err != nil || r.Phase != langsync.RunSucceeded {
				t.Fatalf("resume: %v %+v", err, r)
			}
			wantPosts(t, w.svc["primary"], map[langsync.JobKind]int{langsync.JobExport: tt.wantExport})
			wantPosts(t, w.svc["secondary"], map[langsync.JobKind]int{langsync.JobImport: 1, langsync.JobTrain: 1, langsync.JobDeploy: 1})
		})
	}
}

// silentTrain accepts the first training POST on the service but never
// answers it: the caller sees its context end.
type silentTrain struct {
	*fakeService
	mu       sync.Mutex
	silenced bool
	deadline bool
}

func (s *silentTrain) BeginTrain(ctx context.Context, name string, spec TrainSpec) (langsync.Job, error) {
	s.mu.Lock()
	first := !s.silenced
	s.silenced = true
	s.mu.Unlock()
	job, err := s.fakeService.BeginTrain(ctx, name, spec)
	if !first || err != nil {
		return job, err
	}
	if _, s.deadline = ctx.Deadline(); !s.deadline {
		return langsync.Job{}, errors.New("training POST sent without a deadline")
	}
	<-ctx.Done()
	return langsync.Job{}, ctx.Err()
}

// TestPOSTIsCutAtTheClaimDeadline: a POST that gets no answer is abandoned
// before the claim's deadline (so no later handler can race it), retried
// as transient, and the retry adopts the job the service accepted.
func TestPOSTIsCutAtTheClaimDeadline(t *testing.T) {
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	silent := &silentTrain{fakeService: w.svc["secondary"]}
	p := w.pipeline(func(o *Options) {
		// Real time: the fake blocks until the POST's context ends.
		o.BeginTimeout = 50 * time.Millisecond
		inner := o.Clients
		o.Clients = func(name string) (Authoring, error) {
			if name == "secondary" {
				return silent, nil
			}
			return inner(name)
		}
	})
	id := w.start(p, Request{Project: "Tickets"})
	r, err := w.drive(p, id)
	if err != nil || r.Phase != langsync.RunSucceeded {
		t.Fatalf("%v %+v", err, r)
	}
	if !silent.deadline {
		t.Error("the training POST ran without a deadline")
	}
	train := stepOf(t, r, "train/secondary/model1")
	if train.Attempts != 1 || !strings.Contains(train.Note, "adopted") {
		t.Errorf("train step %+v, want one retry that adopted the job", train)
	}
	wantPosts(t, w.svc["secondary"], map[langsync.JobKind]int{langsync.JobImport: 1, langsync.JobTrain: 1, langsync.JobDeploy: 1})
}

// TestEarlyWakeWritesNothing: a step waiting out a retry delay is woken
// early (a second driver, an early message): nothing is written.
func TestEarlyWakeWritesNothing(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, oneProject)
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	w.svc["primary"].failNext["BeginExport"] = fmt.Errorf("503: %w", ErrTransient)
	p := w.pipeline()
	id := w.start(p, Request{Project: "Tickets"})
	first, err := p.Advance(ctx, id)
	if err != nil || !first.At.After(w.clock.Now()) {
		t.Fatalf("first: %+v %v; want a retry later", first, err)
	}
	tag := w.runTag(id)
	n, err := p.Advance(ctx, id)
	if err != nil || !n.At.Equal(first.At) || n.Seq != first.Seq || n.Busy || n.Stale {
		t.Fatalf("early: %+v %v; want the same Next as %+v", n, err, first)
	}
	if w.runTag(id) != tag {
		t.Error("an early wake-up wrote the run")
	}
}

func TestAJobArticle(t *testing.T) {
	for kind, want := range map[string]string{"import": "an import job", "export": "an export job", "train": "a train job", "deploy": "a deploy job"} {
		if got := aJob(kind); got != want {
			t.Errorf("aJob(%q) = %q, want %q", kind, got, want)
		}
	}
}

func TestPlural(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string
	}{{0, "0 documents"}, {1, "1 document"}, {2, "2 documents"}} {
		if got := plural(tt.n, "document"); got != tt.want {
			t.Errorf("plural(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestWriteSlotBeforeClaim: a job step takes its resource's write slot
// before it claims the step, and sends its POST with it. While no slot is
// free by the Advance's deadline the step stays pending, unclaimed, and
// nothing is written (the run is advanced again at once); once one is,
// the run goes on and every job POST used its slot.
func TestWriteSlotBeforeClaim(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, oneProject)
	src, tgt := w.svc["primary"], w.svc["secondary"]
	src.seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	id := w.start(p, Request{Project: "Tickets"})
	tgt.mu.Lock()
	tgt.slotsShut = true
	tgt.mu.Unlock()
	var n Next
	for i := 0; i < 50; i++ {
		var err error
		if n, err = p.Advance(ctx, id); err != nil {
			t.Fatal(err)
		}
		r, _ := p.Run(ctx, id)
		if s := r.Steps[r.Current()]; s.Name == langsync.StepImport {
			if s.Status != langsync.StepPending || !s.Claimed.IsZero() {
				t.Fatalf("import step %s, claimed %v, without a write slot", s.Status, s.Claimed)
			}
			break
		}
		if d := n.At.Sub(w.clock.Now()); d > 0 {
			w.clock.Advance(d)
		}
	}
	puts := w.state.Puts()
	if n, err := p.Advance(ctx, id); err != nil || n.Busy || n.Done || n.At.After(w.clock.Now()) {
		t.Fatalf("advance without a slot: %+v %v; want to be advanced again now", n, err)
	}
	if w.state.Puts() != puts || tgt.TotalPosts() != 0 {
		t.Fatalf("waiting for a slot wrote %d documents and sent %d POSTs", w.state.Puts()-puts, tgt.TotalPosts())
	}
	tgt.mu.Lock()
	tgt.slotsShut = false
	tgt.mu.Unlock()
	if r, err := w.drive(p, id); err != nil || r.Phase != langsync.RunSucceeded {
		t.Fatalf("run: %v %+v", err, r)
	}
	want := []string{id + "/import/secondary/model1", id + "/train/secondary/model1", id + "/deploy/secondary/production"}
	if fmt.Sprint(tgt.reserved) != fmt.Sprint(want) || tgt.slotted != 3 || src.slotted != 1 {
		t.Fatalf("target slots %v (%d POSTs with one), source %d; want %v, 3 and 1", tgt.reserved, tgt.slotted, src.slotted, want)
	}
}
