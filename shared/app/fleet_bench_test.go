package app_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

// BenchmarkFleetReplicate replicates a fleet of projects (50; override
// with LANGSYNC_BENCH_FLEET, and the window below with
// LANGSYNC_BENCH_FLEET_WINDOW=1m for full scale) from one source to one
// target, both under the
// service's authoring limits as the emulator's ratelimit fault enforces
// them: 10 POSTs (any write) and 100 GETs per sliding window per resource.
//
// Scaling: at the real one-minute window 50 projects take about 14 minutes,
// so the window is scaled to 4 s (the emulator's rateWindow fault and the
// client's RateBudget.Per alike) and the job durations with it (the
// issue's 0.3 s export/import/deploy and 2 s training times 4/60). Every
// request count is unchanged, so the ratio below means the same as at full
// scale; what does not scale (Blob saves, loopback round trips, about
// 10-30 ms each) weighs 15 times more here than at full scale.
//
// The baseline, in the same run, is the time the target's POST budget
// alone allows: each project sends 3 writes to the target (import, train,
// deploy), so the last of them can go no earlier than
// (ceil(3N/10)-1) windows after the first, and the fleet is done one
// deploy job later. It reports wall/post-budget, the finish time of the
// first, median and last project (the spread: nobody starved), and the
// requests answered 429 on either resource (the budget mirrors the
// service's window, so every 429 would have been avoidable).
func BenchmarkFleetReplicate(b *testing.B) {
	n := 50
	if s := os.Getenv("LANGSYNC_BENCH_FLEET"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("LANGSYNC_BENCH_FLEET=%q: want a positive number of projects", s)
		}
		n = v
	}
	window := 4 * time.Second
	if s := os.Getenv("LANGSYNC_BENCH_FLEET_WINDOW"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			b.Fatalf("LANGSYNC_BENCH_FLEET_WINDOW=%q: want a duration such as 1m (the real window)", s)
		}
		window = d
	}
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) * window.Seconds() / 60) }
	durations := map[string]time.Duration{"export": scale(300 * time.Millisecond), "import": scale(300 * time.Millisecond),
		"train": scale(2 * time.Second), "deploy": scale(300 * time.Millisecond)}
	ctx := context.Background()
	docs := b.TempDir()
	src := emulatortest.Start(b, &emulator.Options{Name: "primary", Documents: emulator.DirDocuments(docs), Clock: emulator.RealClock(), JobDurations: durations})
	tgt := emulatortest.Start(b, &emulator.Options{Name: "secondary", Documents: emulator.DirDocuments(docs), Clock: emulator.RealClock(), JobDurations: durations})
	var yaml strings.Builder
	for i := range n {
		name := fmt.Sprintf("F%03d", i)
		proj := emulatortest.SingleLabelProject(name, strings.ToLower(name), 4)
		emulatortest.WriteDocs(b, docs, proj.Container, proj.Docs)
		loc := src.Start202(http.MethodPost, "/language/authoring/analyze-text/projects/"+name+"/:import?api-version="+apiVersion, proj.Export)
		if st := src.Wait(loc, 0); st["status"] != "succeeded" {
			b.Fatalf("seeding %s: %v", name, st)
		}
		src.TrainAndDeploy(name, "model1", "production")
		fmt.Fprintf(&yaml, "  - {name: %s, source: primary, targets: [secondary]}\n", name)
	}
	k := containerSeq.Add(1)
	y := fmt.Sprintf("resources:\n  primary: {endpoint: %q, key: %q, storage: %q}\n  secondary: {endpoint: %q, key: %q, storage: %q}\nprojects:\n%sstore: %q\ncontainers: {backups: fleet-backups-%d, state: fleet-state-%d}\n",
		src.URL, src.Key, docs, tgt.URL, tgt.Key, docs, yaml.String(), azuritetest.Shared(b), k, k)
	cfg, err := config.Parse([]byte(y), func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	limits := emulator.Faults{RateLimit: true, RateWindow: emulator.Duration(window)}
	writes := 3 * n
	bound := time.Duration(math.Ceil(float64(writes)/authoring.DefaultWritesPerMinute)-1)*window + durations["deploy"]
	b.ResetTimer()
	var ratio, first, median, last float64
	throttled := 0
	for range b.N {
		b.StopTimer()
		for _, r := range []*emulatortest.Resource{src, tgt} {
			r.Server.ResetRequests()
			if err := r.Server.SetFaults(limits); err != nil { // empties the rate windows too
				b.Fatal(err)
			}
		}
		a, err := app.New(ctx, cfg, &app.Options{Authoring: &authoring.ClientOptions{Budget: authoring.NewRateBudget(authoring.BudgetOptions{Per: window})}})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		finish := make([]time.Duration, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, p := range cfg.Projects {
			wg.Go(func() {
				tk, err := a.Pipeline.Start(ctx, pipeline.Request{Project: p.Name, Trigger: langsync.TriggerCLI})
				if err != nil {
					errs[i] = err
					return
				}
				run, err := a.Drive(ctx, tk[0].Run)
				finish[i] = time.Since(start)
				if err == nil && run.Phase != langsync.RunSucceeded {
					err = fmt.Errorf("run %s %s: %s", run.ID, run.Phase, run.Error)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		wall := time.Since(start)
		b.StopTimer()
		for i, err := range errs {
			if err != nil {
				b.Fatalf("%s: %v", cfg.Projects[i].Name, err)
			}
		}
		if got := countWrites(tgt); got != writes {
			b.Fatalf("the target got %d writes, want %d (3 per project)", got, writes)
		}
		slices.Sort(finish)
		ratio += wall.Seconds() / bound.Seconds()
		first += finish[0].Seconds()
		median += finish[n/2].Seconds()
		last += finish[n-1].Seconds()
		throttled += answered429(src) + answered429(tgt)
		b.StartTimer()
	}
	runs := float64(b.N)
	b.ReportMetric(ratio/runs, "wall/post-budget")
	b.ReportMetric(bound.Seconds(), "post-budget-s")
	b.ReportMetric(first/runs, "first-done-s")
	b.ReportMetric(median/runs, "median-done-s")
	b.ReportMetric(last/runs, "last-done-s")
	b.ReportMetric(float64(throttled)/runs, "answered-429")
}

// countWrites counts the writes a resource accepted (a 429 did nothing).
func countWrites(r *emulatortest.Resource) int {
	n := 0
	for _, q := range r.Server.Requests() {
		if q.Method != "GET" && q.Fault == "" && !strings.HasPrefix(q.Path, "/language/analyze-text/") {
			n++
		}
	}
	return n
}

func answered429(r *emulatortest.Resource) int {
	n := 0
	for _, q := range r.Server.Requests() {
		if q.Status == 429 {
			n++
		}
	}
	return n
}
