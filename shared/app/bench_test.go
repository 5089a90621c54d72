package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
	"github.com/langsync/langsync/shared/sample"
)

// BenchmarkReplicationOverhead replicates the Tickets sample (200
// documents) between two emulators whose jobs take a fixed time, and
// reports the wall time of the run over the sum of the job durations (1.0 =
// no orchestration overhead). "shared-storage" has source and target share
// linked storage; "separate-storage" also copies the documents.
func BenchmarkReplicationOverhead(b *testing.B) {
	for _, shared := range []bool{true, false} {
		name := "separate-storage"
		if shared {
			name = "shared-storage"
		}
		b.Run(name, func(b *testing.B) { benchReplication(b, shared) })
	}
}

func benchReplication(b *testing.B, shared bool) {
	durations := map[string]time.Duration{"export": 200 * time.Millisecond, "import": 200 * time.Millisecond, "train": time.Second, "deploy": 300 * time.Millisecond}
	var sum time.Duration
	for _, k := range []string{"export", "import", "train", "deploy"} {
		sum += durations[k]
	}
	p := sample.Tickets()
	r := newRigStorage(b, durations, shared, p)
	b.ResetTimer()
	var wall time.Duration
	for range b.N {
		// Inside the service's limits: each replication gets the default
		// budget (10 writes and 100 reads a minute per resource) afresh,
		// as a run would once a minute.
		b.StopTimer()
		r.budget = authoring.NewRateBudget(authoring.BudgetOptions{})
		a := r.app(nil)
		b.StartTimer()
		start := time.Now()
		r.replicate(a, p.Name)
		wall += time.Since(start)
	}
	b.ReportMetric(float64(wall)/float64(b.N)/float64(sum), "wall/jobs")
	b.ReportMetric(sum.Seconds(), "jobs-s")
}

// BenchmarkSync500 runs the daily check over 500 pairs that are up to date
// and reports its time and the requests it sends. It fails unless every
// request is a GET, at most 3 per pair (the goal; 4 before the target's
// project read was dropped), and nothing is written.
func BenchmarkSync500(b *testing.B) {
	const pairs = 500
	ctx := context.Background()
	src := emulatortest.Start(b, &emulator.Options{Name: "primary", Clock: emulator.RealClock()})
	tgt := emulatortest.Start(b, &emulator.Options{Name: "secondary", Clock: emulator.RealClock()})
	var yaml strings.Builder
	for i := range pairs {
		name := fmt.Sprintf("P%03d", i)
		proj := emulatortest.SingleLabelProject(name, "docs", 4)
		// Deployed on both sides, as a replicated production project is.
		for _, r := range []*emulatortest.Resource{src, tgt} {
			r.Load(proj)
			r.TrainAndDeploy(name, "model1", "production")
		}
		fmt.Fprintf(&yaml, "  - {name: %s, source: primary, targets: [secondary]}\n", name)
	}
	y := fmt.Sprintf("resources:\n  primary: {endpoint: %q, key: %q}\n  secondary: {endpoint: %q, key: %q}\nprojects:\n%sstore: %q\ncontainers: {backups: bench-backups, state: bench-state}\n",
		src.URL, src.Key, tgt.URL, tgt.Key, yaml.String(), azuritetest.Shared(b))
	cfg, err := config.Parse([]byte(y), func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	a, err := app.New(ctx, cfg, &app.Options{Authoring: &authoring.ClientOptions{Budget: authoring.NewRateBudget(authoring.BudgetOptions{Writes: 1 << 30, Reads: 1 << 30})}})
	if err != nil {
		b.Fatal(err)
	}
	// Record every pair as replicated, as a first sync would have.
	srcClient, _ := a.Client("primary")
	for _, pair := range cfg.Pairs() {
		m, err := srcClient.GetProject(ctx, pair.Project)
		if err != nil {
			b.Fatal(err)
		}
		ds, err := srcClient.ListDeployments(ctx, pair.Project)
		if err != nil {
			b.Fatal(err)
		}
		deps := map[string]string{}
		for _, d := range ds {
			deps[d.DeploymentName] = d.ModelID
		}
		ps := langsync.PairState{V: 1, Pair: pair, Fingerprint: "seeded", Fingerprints: map[string]string{"model1": "seeded"},
			Source: langsync.SourceState{LastModified: m.LastModifiedDateTime, LastTrained: m.LastTrainedDateTime, LastDeployed: m.LastDeployedDateTime, Deployments: deps}}
		data, _ := json.Marshal(ps)
		if _, err := a.State.Put(ctx, langsync.PairKey(pair), data, pipeline.Condition{}); err != nil {
			b.Fatal(err)
		}
	}
	src.Server.ResetRequests()
	tgt.Server.ResetRequests()
	b.ResetTimer()
	var elapsed time.Duration
	for range b.N {
		start := time.Now()
		res, err := a.Pipeline.Sync(ctx, pipeline.SyncOptions{})
		elapsed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		for _, d := range res.Decisions {
			if d.Action != pipeline.ActionNone {
				b.Fatalf("%s: %s (%s), want none", d.Pair, d.Action, d.Reason)
			}
		}
	}
	reqs := len(src.Server.Requests()) + len(tgt.Server.Requests())
	writes := writes(src) + writes(tgt)
	if writes != 0 {
		b.Fatalf("an unchanged sync sent %d writes", writes)
	}
	perPair := float64(reqs) / float64(b.N*pairs)
	if perPair > 3 {
		b.Fatalf("an up-to-date pair cost %.2f GETs, want at most 3", perPair)
	}
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/sync")
	b.ReportMetric(perPair, "gets/pair")
	b.ReportMetric(0, "writes")
	b.ReportMetric(float64(elapsed.Microseconds())/float64(b.N*pairs)/1000, "ms/pair")
}
