package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// TestJobStates: partiallyCompleted ends a step (never a success, never
// retried), and a status langsync does not know is polled on only for
// UnknownStatusTimeout, counted across wake-ups from the step's saved
// UnknownStatusSince.
func TestJobStates(t *testing.T) {
	paused := langsync.JobStatus("paused")
	tests := []struct {
		name  string
		kind  langsync.JobKind
		bound time.Duration // UnknownStatusTimeout; 0 keeps the default
		// status reports the job's status by age ("" = the fake's usual).
		status  func(age time.Duration) langsync.JobStatus
		phase   langsync.RunPhase
		posts   int
		errHas  []string // in the run's error (a failed run)
		stepErr []string // in the failed step's error
	}{
		{
			name: "partiallyCompleted import fails the target", kind: langsync.JobImport,
			status: func(age time.Duration) langsync.JobStatus {
				if age < 2*time.Second {
					return langsync.JobRunning
				}
				return langsync.JobPartiallyCompleted
			},
			phase: langsync.RunFailed, posts: 1,
			stepErr: []string{"import job ended partiallyCompleted", "not a success", "2 of 10 documents failed"},
		},
		{
			name: "partiallyCompleted export fails the run", kind: langsync.JobExport,
			status: func(time.Duration) langsync.JobStatus { return langsync.JobPartiallyCompleted },
			phase:  langsync.RunFailed, posts: 1,
			errHas: []string{"export/model1", "export job ended partiallyCompleted"},
		},
		{
			name: "unknown status for a while is tolerated", kind: langsync.JobTrain,
			status: func(age time.Duration) langsync.JobStatus {
				if age < 3*time.Minute {
					return paused
				}
				return "" // then the usual: succeeded
			},
			phase: langsync.RunSucceeded, posts: 1,
		},
		{
			name: "unknown status forever fails the step", kind: langsync.JobDeploy,
			status: func(time.Duration) langsync.JobStatus { return paused },
			phase:  langsync.RunFailed, posts: 1,
			stepErr: []string{`deploy job has reported the status "paused"`, "does not know", "UnknownStatusTimeout 5m0s"},
		},
		{
			name: "a shorter bound from the options", kind: langsync.JobTrain, bound: time.Minute,
			status: func(age time.Duration) langsync.JobStatus {
				if age < 3*time.Minute {
					return paused
				}
				return ""
			},
			phase: langsync.RunFailed, posts: 1,
			stepErr: []string{`"paused"`, "UnknownStatusTimeout 1m0s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, oneProject)
			w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
			svc := w.svc["secondary"]
			if tt.kind == langsync.JobExport {
				svc = w.svc["primary"]
			}
			svc.statusOf = map[langsync.JobKind]func(time.Duration) langsync.JobStatus{tt.kind: tt.status}
			p := w.pipeline(func(o *Options) { o.UnknownStatusTimeout = tt.bound })
			start := w.clock.Now()
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
			for _, want := range tt.errHas {
				if !strings.Contains(r.Error, want) {
					t.Errorf("run error %q lacks %q", r.Error, want)
				}
			}
			var failed *langsync.Step
			for i := range r.Steps {
				if r.Steps[i].Status == langsync.StepFailed {
					failed = &r.Steps[i]
				}
				if tt.phase == langsync.RunSucceeded && !r.Steps[i].UnknownStatusSince.IsZero() {
					t.Errorf("step %s keeps unknownStatusSince %v after the spell ended", r.Steps[i].ID(), r.Steps[i].UnknownStatusSince)
				}
			}
			if len(tt.stepErr) > 0 {
				if failed == nil {
					t.Fatalf("no step failed")
				}
				for _, want := range tt.stepErr {
					if !strings.Contains(failed.Error, want) {
						t.Errorf("step %s error %q lacks %q", failed.ID(), failed.Error, want)
					}
				}
			}
			// An unknown status is given up soon after the bound, not
			// polled for ever, and not given up before it.
			if tt.name == "unknown status forever fails the step" {
				if took := failed.Finished.Sub(start); took < 5*time.Minute || took > 7*time.Minute {
					t.Errorf("gave up after %s, want just over the 5m bound", took)
				}
			}
		})
	}
}
