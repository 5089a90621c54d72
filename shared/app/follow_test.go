package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/sample"
)

// TestReplicateBehindARunThatReadTheSource: a `replicate` made after the
// source changed joins a run that had read the source before the change.
// It must not report that run as replicating the change: the run's end
// starts another, the request drives it, and the target ends equal to the
// changed source. The follow-up retrains only if the first run's export
// missed the change. Over the wire: emulators and Azurite.
func TestReplicateBehindARunThatReadTheSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		point     string // when the source changes, in the first run
		wantTrain int
	}{
		{"changed after the export: the follow-up retrains", "backup/model1:done", 2},
		{"changed after inspect, before the export: the follow-up only exports", "inspect:done", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testReplicateBehind(t, tt.point, tt.wantTrain) })
	}
}

func testReplicateBehind(t *testing.T, point string, wantTrain int) {
	p := sample.Tickets()
	r := newRig(t, nil, p)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	late := r.app(nil)
	var (
		once    sync.Once
		since   time.Time
		tickets []pipeline.Ticket
		hookErr error
	)
	first := r.app(func(o *pipeline.Options) {
		o.Hook = func(at string) error {
			if at != point {
				return nil
			}
			once.Do(func() {
				// The run has read the source; now it changes, and then
				// the request comes.
				var doc map[string]any
				_ = json.Unmarshal(p.JSON, &doc)
				doc["metadata"].(map[string]any)["description"] = "changed after the run read it"
				loc := r.src.Start202(http.MethodPost, "/language/authoring/analyze-text/projects/"+p.Name+"/:import?api-version="+apiVersion, doc)
				r.src.Wait(loc, 0)
				r.src.TrainAndDeploy(p.Name, "model1", "production")
				since = late.Pipeline.Clock().Now()
				tickets, hookErr = late.Pipeline.Start(ctx, pipeline.Request{Project: p.Name, Trigger: langsync.TriggerCLI, Since: since})
			})
			return nil
		}
	})
	tk, err := first.Pipeline.Start(ctx, pipeline.Request{Project: p.Name, Trigger: langsync.TriggerCLI})
	if err != nil {
		t.Fatal(err)
	}
	old, err := first.Drive(ctx, tk[0].Run)
	if err != nil || old.Phase != langsync.RunSucceeded {
		t.Fatalf("first run: %v %+v", err, old)
	}
	if hookErr != nil || len(tickets) != 1 || tickets[0].Run != old.ID || !tickets[0].Owed {
		t.Fatalf("late request: %v %+v, want run %s joined and owed", hookErr, tickets, old.ID)
	}
	if old.ReadSourceAfter(since) || old.FollowedBy == "" {
		t.Fatalf("first run read after the request %v, followed by %q", old.ReadSourceAfter(since), old.FollowedBy)
	}

	var follows []string
	runs, err := late.DriveTickets(ctx, pipeline.Request{Trigger: langsync.TriggerCLI, Since: since}, tickets, func(from *langsync.Run, to pipeline.Ticket) {
		follows = append(follows, from.ID+"->"+to.Run)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := runs[0]
	if got.ID != old.FollowedBy || got.Phase != langsync.RunSucceeded || !got.ReadSourceAfter(since) {
		t.Fatalf("request ended with run %s (%s), want the follow-up %s, succeeded, read after the request", got.ID, got.Phase, old.FollowedBy)
	}
	if len(follows) != 1 || follows[0] != old.ID+"->"+old.FollowedBy {
		t.Errorf("hand-overs %v", follows)
	}
	if fs, ft := exportFingerprint(t, r.src, p.Name), exportFingerprint(t, r.tgt, p.Name); fs != ft {
		t.Errorf("the target does not have the change made before the request")
	}
	if n := r.tgt.Server.CountRequests(http.MethodPost, "/:train"); n != wantTrain {
		t.Errorf("%d trainings on the target, want %d", n, wantTrain)
	}
}
