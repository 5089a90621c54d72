package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// adminJobs reads GET /emulator/jobs (no key) with an optional query.
func adminJobs(t *testing.T, r *emulatortest.Resource, query string) []emulator.JobInfo {
	t.Helper()
	req, _ := http.NewRequest("GET", r.URL+"/emulator/jobs"+query, nil)
	code, _, b := send(t, req)
	if code != 200 {
		t.Fatalf("GET /emulator/jobs%s: %d %s", query, code, b)
	}
	var list struct {
		Value []emulator.JobInfo `json:"value"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("GET /emulator/jobs: %v: %s", err, b)
	}
	return list.Value
}

// TestFaultLoseAccepted: with the fault on, the client sees a closed
// connection instead of a 202, yet the job exists on the service: it is
// listed, it runs, its effect lands, and it shows in the project's own
// lists like any job. Kinds and counts select which answers are lost.
func TestFaultLoseAccepted(t *testing.T) {
	trainBody := map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"}
	tests := []struct {
		name   string
		faults emulator.Faults
		// Codes of: import, then train, then a second train.
		want [3]int
	}{
		{"every kind", emulator.Faults{LoseAcceptedRatio: 1}, [3]int{0, 0, 0}},
		{"only train", emulator.Faults{LoseAcceptedRatio: 1, LoseAcceptedKinds: []string{"train"}}, [3]int{202, 0, 0}},
		{"next one only", emulator.Faults{LoseAcceptedCount: 1}, [3]int{0, 202, 202}},
		{"next train only", emulator.Faults{LoseAcceptedCount: 1, LoseAcceptedKinds: []string{"train"}}, [3]int{202, 0, 202}},
		{"ratio zero, no count", emulator.Faults{LoseAcceptedKinds: []string{"import"}}, [3]int{202, 202, 202}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := emulatortest.Start(t, &emulator.Options{Faults: tc.faults, JobDurations: map[string]time.Duration{"import": time.Second, "train": time.Second}})
			p := emulatortest.SingleLabelProject("P", "docs", 3)
			r.WriteDocs(p.Container, p.Docs)
			var got [3]int
			got[0], _, _ = raw(t, r, "POST", projects+"/P/:import"+v23, p.Export)
			r.Advance(2 * time.Second)
			if code, _, b := r.Do("GET", projects+"/P"+v23, nil); code != 200 {
				t.Fatalf("project after the import whose answer was lost: %d %s (the job must have run)", code, b)
			}
			got[1], _, _ = raw(t, r, "POST", projects+"/P/:train"+v23, trainBody)
			r.Advance(2 * time.Second)
			got[2], _, _ = raw(t, r, "POST", projects+"/P/:train"+v23, trainBody)
			if got != tc.want {
				t.Fatalf("answers %v, want %v (0 = connection closed without an answer)", got, tc.want)
			}

			jobs := adminJobs(t, r, "")
			if len(jobs) != 3 {
				t.Fatalf("service has %d jobs, want 3 (lost answers still start jobs): %+v", len(jobs), jobs)
			}
			for i, j := range jobs {
				if lost := tc.want[i] == 0; j.AnswerLost != lost {
					t.Errorf("job %d (%s) answerLost=%v, want %v", i, j.Kind, j.AnswerLost, lost)
				}
			}
			if jobs[0].Kind != "import" || jobs[0].Status != "succeeded" || jobs[1].Kind != "train" || jobs[1].Status != "succeeded" {
				t.Fatalf("jobs %+v, want a succeeded import and a succeeded train", jobs)
			}
			// The trained model exists and the training jobs are listed by
			// the real API, lost answer or not.
			if code, _, b := r.Do("GET", projects+"/P/models/m1"+v23, nil); code != 200 {
				t.Fatalf("model after a train whose answer was lost: %d %s", code, b)
			}
			_, _, b := r.Do("GET", projects+"/P/train/jobs"+v23, nil)
			var tj struct {
				Value []struct {
					JobID string `json:"jobId"`
				} `json:"value"`
			}
			if err := json.Unmarshal(b, &tj); err != nil || len(tj.Value) != 2 || tj.Value[0].JobID != jobs[1].ID {
				t.Fatalf("training job list %s (err %v), want both training jobs, first %s", b, err, jobs[1].ID)
			}

			var lost []emulator.Request
			for _, q := range r.Server.Requests() {
				if q.Fault == emulator.FaultLost {
					lost = append(lost, q)
				}
			}
			nLost := 0
			for _, c := range tc.want {
				if c == 0 {
					nLost++
				}
			}
			if len(lost) != nLost {
				t.Fatalf("request log has %d lost answers, want %d: %+v", len(lost), nLost, r.Server.Requests())
			}
			for _, q := range lost {
				if q.Status != 0 || q.Method != "POST" {
					t.Fatalf("lost answer logged as %+v, want a POST with status 0", q)
				}
			}
		})
	}
}

// TestFaultLoseAcceptedHold: with a hold, the connection stays silent until
// the client gives up (here: cancels once the job exists), and the job runs.
// A short hold closes the connection by itself.
func TestFaultLoseAcceptedHold(t *testing.T) {
	accepted := make(chan struct{}, 1)
	logger := slog.New(handlerFunc(func(rec slog.Record) {
		if strings.Contains(rec.Message, "answer lost") {
			accepted <- struct{}{}
		}
	}))
	r := emulatortest.Start(t, &emulator.Options{Logger: logger,
		Faults: emulator.Faults{LoseAcceptedRatio: 1, LoseAcceptedHold: emulator.Duration(time.Hour)}})
	p := emulatortest.SingleLabelProject("P", "docs", 3)
	r.WriteDocs(p.Container, p.Docs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", r.URL+projects+"/P/:import"+v23, bodyReader(t, p.Export))
		req.Header.Set("Ocp-Apim-Subscription-Key", r.Key)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = errors.New("got an answer: " + resp.Status)
		}
		errc <- err
	}()
	<-accepted // the job is registered; the client is still waiting
	if jobs := adminJobs(t, r, "?kind=import"); len(jobs) != 1 || !jobs[0].AnswerLost {
		t.Fatalf("jobs while the client waits: %+v, want one import with its answer lost", jobs)
	}
	cancel() // the client gives up
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client error %v, want its own cancellation (no answer was ever sent)", err)
	}
	if code, _, b := r.Do("GET", projects+"/P"+v23, nil); code != 200 {
		t.Fatalf("project after the import: %d %s", code, b)
	}

	// A short hold ends with the connection closed, no answer.
	if err := r.Server.SetFaults(emulator.Faults{LoseAcceptedCount: 1, LoseAcceptedHold: emulator.Duration(20 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, _, _ := raw(t, r, "POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"})
	if code != 0 {
		t.Fatalf("train answered %d, want a closed connection", code)
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Fatalf("connection closed after %v, before the 20ms hold", el)
	}
	reqs := r.Server.Requests()
	last := reqs[len(reqs)-1]
	if last.Fault != emulator.FaultLost || time.Duration(last.Hold) != 20*time.Millisecond {
		t.Fatalf("request log %+v, want the lost train with its 20ms hold", last)
	}
}

// TestAdminJobs: GET /emulator/jobs filters by project and kind and
// refuses an unknown kind; the request log marks injected faults.
func TestAdminJobs(t *testing.T) {
	r := emulatortest.Start(t, nil)
	for _, name := range []string{"A", "B"} {
		p := emulatortest.SingleLabelProject(name, "docs", 3)
		r.Load(p)
		r.TrainAndDeploy(name, "m1", "prod")
	}
	tests := []struct {
		query string
		want  int
	}{
		{"", 6}, {"?project=A", 3}, {"?kind=train", 2}, {"?project=B&kind=deploy", 1}, {"?project=C", 0},
	}
	for _, tc := range tests {
		jobs := adminJobs(t, r, tc.query)
		if len(jobs) != tc.want {
			t.Errorf("GET /emulator/jobs%s: %d jobs, want %d: %+v", tc.query, len(jobs), tc.want, jobs)
		}
		for _, j := range jobs {
			if j.Status != "succeeded" || j.Created.IsZero() || j.Ended.IsZero() || j.AnswerLost {
				t.Errorf("job %+v, want succeeded with created and ended times", j)
			}
		}
	}
	if d := adminJobs(t, r, "?kind=deploy"); len(d) != 2 || d[0].Deployment != "prod" || d[0].ModelLabel != "m1" || d[0].Project != "A" {
		t.Fatalf("deploy jobs %+v, want A then B deploying m1 as prod", d)
	}
	for _, bad := range []string{"?kind=analyze", "?kind=bogus"} {
		req, _ := http.NewRequest("GET", r.URL+"/emulator/jobs"+bad, nil)
		if code, _, b := send(t, req); code != 400 || !strings.Contains(string(b), "kind") {
			t.Fatalf("GET /emulator/jobs%s: %d %s, want 400 naming the kind", bad, code, b)
		}
	}

	if err := r.Server.SetFaults(emulator.Faults{ThrottleRatio: 1, RetryAfter: 4}); err != nil {
		t.Fatal(err)
	}
	raw(t, r, "GET", projects+v23, nil)
	reqs := r.Server.Requests()
	if last := reqs[len(reqs)-1]; last.Fault != emulator.FaultThrottle || last.RetryAfter != 4 || last.Status != 429 {
		t.Fatalf("throttled request logged as %+v", last)
	}
}

func TestParseLoseFaults(t *testing.T) {
	f, err := emulator.ParseFaults("lose=0.25,losecount=2,losekinds=import+train,losehold=3s")
	if err != nil {
		t.Fatal(err)
	}
	if f.LoseAcceptedRatio != 0.25 || f.LoseAcceptedCount != 2 || strings.Join(f.LoseAcceptedKinds, ",") != "import,train" || time.Duration(f.LoseAcceptedHold) != 3*time.Second {
		t.Fatalf("parsed %+v", f)
	}
	for _, tc := range []struct{ in, want string }{
		{"lose=2", "loseAcceptedRatio"},
		{"losecount=-1", "loseAcceptedCount"},
		{"losekinds=import+bake", `"bake" is not a job kind`},
		{"losekinds=analyze", `"analyze" is not a job kind`},
		{"losehold=-1s", "loseAcceptedHold"},
	} {
		if _, err := emulator.ParseFaults(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFaults(%q) = %v, want an error naming %s", tc.in, err, tc.want)
		}
	}
}

// handlerFunc is a slog.Handler that calls fn for every record.
type handlerFunc func(slog.Record)

func (h handlerFunc) Enabled(context.Context, slog.Level) bool      { return true }
func (h handlerFunc) Handle(_ context.Context, r slog.Record) error { h(r); return nil }
func (h handlerFunc) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h handlerFunc) WithGroup(string) slog.Handler                 { return h }
