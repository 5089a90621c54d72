package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/sample"
)

// progressLog keeps the progress events of a run.
type progressLog struct {
	mu  sync.Mutex
	evs []pipeline.Progress
}

func (l *progressLog) add(p pipeline.Progress) { l.mu.Lock(); l.evs = append(l.evs, p); l.mu.Unlock() }

func (l *progressLog) retries(step string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, p := range l.evs {
		if p.Event == "retry" && p.Step.ID() == step {
			out = append(out, p.Message)
		}
	}
	return out
}

// TestUnreachableTargetOverTheWire: one target's endpoint is a closed port.
// Its steps are retried (each retry shown) within the unreachable budget,
// then that target fails naming the resource; the other target is
// replicated all the same, and the run ends failed only after it.
func TestUnreachableTargetOverTheWire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, nil, sample.Tickets())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	n := containerSeq.Add(1)
	// "dead" sorts before "secondary": its steps come first, so the
	// secondary is replicated after the failure.
	y := fmt.Sprintf(`resources:
  primary: {endpoint: %q, key: "${SRC_KEY}", storage: %q}
  secondary: {endpoint: %q, key: "${TGT_KEY}", storage: %q}
  dead: {endpoint: %q, key: "${DEAD_KEY}"}
projects:
  - {name: Tickets, source: primary, targets: [secondary, dead]}
store: "${STORE}"
containers: {backups: backups-%d, state: state-%d}
unreachableBudget: 1s
`, r.src.URL, r.srcDocs, r.tgt.URL, r.tgtDocs, dead, n, n)
	const deadKey = "dead-resource-key-0123456789abcdef"
	env := map[string]string{"SRC_KEY": r.src.Key, "TGT_KEY": r.tgt.Key, "DEAD_KEY": deadKey, "STORE": azuritetest.Shared(t)}
	cfg, err := config.Parse([]byte(y), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var prog progressLog
	logs := &syncBuffer{}
	// The client's own retry of a refused dial is made at once here (by
	// default it comes about 0.5 s later).
	a, err := app.New(ctx, cfg, &app.Options{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Authoring: &authoring.ClientOptions{Budget: r.budget,
			Retry: authoring.RetryOptions{MaxRetries: 1, RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond}},
		Pipeline: func(o *pipeline.Options) {
			o.Backoff = 20 * time.Millisecond
			o.OnProgress = prog.add
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := a.Pipeline.Start(ctx, pipeline.Request{Project: "Tickets", Trigger: langsync.TriggerCLI})
	if err != nil {
		t.Fatal(err)
	}
	run, err := a.Drive(ctx, tk[0].Run)
	if err != nil {
		t.Fatalf("Drive: %v", err)
	}
	if run.Phase != langsync.RunFailed {
		t.Fatalf("run %s, want failed", run.Phase)
	}
	for _, want := range []string{"1 of 2 targets failed", "dead/Tickets failed at import/dead/model1", "dead unreachable for", "connection refused", "(succeeded: secondary/Tickets)"} {
		if !strings.Contains(run.Error, want) {
			t.Errorf("run error %q lacks %q", run.Error, want)
		}
	}
	// The secondary was replicated: its deployment answers the probes.
	if n := r.tgt.Server.CountRequests(http.MethodPut, "/deployments/production"); n != 1 {
		t.Errorf("%d deploy requests on the secondary, want 1", n)
	}
	if got := predict(t, r.tgt, langsync.SingleLabelClassification, "Tickets", "production", sample.Tickets().ProbeTexts()[0]); len(got) == 0 {
		t.Errorf("secondary deployment answered no label")
	}
	// Every retry was shown naming the resource. (How many fit in the
	// budget depends on the machine; the fake-clock tests in the pipeline
	// check the schedule.)
	var imp langsync.Step
	for _, s := range run.Steps {
		if s.ID() == "import/dead/model1" {
			imp = s
		}
	}
	retries := prog.retries(imp.ID())
	if imp.Status != langsync.StepFailed || imp.Unreachable == nil || imp.Unreachable.Tries != len(retries)+1 {
		t.Errorf("import step %s, outage %+v, %d retry lines: want one line per retry", imp.Status, imp.Unreachable, len(retries))
	}
	for i, line := range retries {
		if want := fmt.Sprintf("dead unreachable (connection refused), retry %d in ", i+1); !strings.HasPrefix(line, want) {
			t.Errorf("retry line %q, want %q...", line, want)
		}
	}
	st, err := a.Pipeline.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		switch s.Pair.Target {
		case "dead":
			if s.LastRunPhase != langsync.RunFailed || s.ActiveRun != nil || !strings.Contains(s.LastError, "dead unreachable") {
				t.Errorf("dead status %+v", s)
			}
		case "secondary":
			if s.LastRunPhase != langsync.RunSucceeded || s.Fingerprint == "" {
				t.Errorf("secondary status %+v", s)
			}
		}
	}
	for _, text := range []string{run.Error, logs.String()} {
		for _, key := range []string{r.src.Key, r.tgt.Key, deadKey} {
			if strings.Contains(text, key) {
				t.Errorf("a key leaked into the run error or the logs")
			}
		}
	}
}

// TestFailedTrainingJobRetriedOverTheWire: the target's first training job
// ends failed with InternalServerError (an emulator fault); a new job is
// sent and the run succeeds, with the failed job kept in the step's history.
func TestFailedTrainingJobRetriedOverTheWire(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, sample.Tickets())
	var prog progressLog
	var once sync.Once
	a := r.app(func(o *pipeline.Options) {
		o.JobRetryBackoff = 10 * time.Millisecond
		o.OnProgress = func(p pipeline.Progress) {
			prog.add(p)
			if p.Step.Name != langsync.StepTrain {
				return
			}
			switch p.Event {
			case "start":
				// The first training job (and no other job) is created
				// while this holds.
				once.Do(func() {
					if err := r.tgt.Server.SetFaults(emulator.Faults{JobFailureRatio: 1}); err != nil {
						t.Error(err)
					}
				})
			case "retry":
				if err := r.tgt.Server.SetFaults(emulator.Faults{}); err != nil {
					t.Error(err)
				}
			}
		}
	})
	run := r.replicate(a, "Tickets")
	if n := r.tgt.Server.CountRequests(http.MethodPost, "/:train"); n != 2 {
		t.Errorf("%d training jobs sent, want 2", n)
	}
	var train langsync.Step
	for _, s := range run.Steps {
		if s.Name == langsync.StepTrain {
			train = s
		}
	}
	if len(train.History) != 1 || strings.Join(train.History[0].Codes, ",") != "InternalServerError" || train.History[0].Job.Location == train.Job.Location {
		t.Errorf("train history %+v (current job %+v)", train.History, train.Job)
	}
	retries := prog.retries(train.ID())
	if len(retries) != 1 || retries[0] != "train job failed (InternalServerError), retry 1 of 2 in 10ms (billed as another training)" {
		t.Errorf("retry lines %q", retries)
	}
}
