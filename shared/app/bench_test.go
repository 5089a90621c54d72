package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
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

// BenchmarkReplicationOverhead replicates a ticket project between two
// emulators whose jobs take a fixed time (export 300 ms, import 300 ms,
// train 2 s, deploy 300 ms: 2.9 s) and reports the wall time of a run over
// the sum of the job durations (1.0 = no orchestration overhead), with
// steps overlapped ("wall/jobs") and, in the same run, with every step
// strictly after the one before as langsync did before
// ("sequential-wall/jobs", pipeline.Options.Sequential): the baseline.
// "shared-storage" has source and target share linked storage; "docs-N"
// gives each resource its own (a directory, each document one fsync'd
// file) and copies N labelled documents. The goal is wall/jobs <= 1.10.
// (Azure Blob to Blob copies are measured by BenchmarkDocumentCopy:
// Azurite serves a few hundred small blobs a second on this machine, which
// would measure Azurite here.)
func BenchmarkReplicationOverhead(b *testing.B) {
	for _, n := range []int{0, 80, 2000, 20000} {
		name := "shared-storage"
		if n > 0 {
			name = fmt.Sprintf("docs-%d", n)
		}
		b.Run(name, func(b *testing.B) { benchReplication(b, n) })
	}
}

func benchReplication(b *testing.B, docs int) {
	durations := map[string]time.Duration{"export": 300 * time.Millisecond, "import": 300 * time.Millisecond, "train": 2 * time.Second, "deploy": 300 * time.Millisecond}
	var sum time.Duration
	for _, k := range []string{"export", "import", "train", "deploy"} {
		sum += durations[k]
	}
	p := sample.Tickets()
	if docs > 0 {
		p = scaledProject(b, p, docs)
	}
	r := newRigStorage(b, durations, docs == 0, p)
	b.ResetTimer()
	wall := map[bool]time.Duration{}
	for range b.N {
		for _, sequential := range []bool{true, false} {
			// Inside the service's limits: each replication gets the
			// default budget (10 writes and 100 reads a minute per
			// resource) afresh, as a run would once a minute.
			b.StopTimer()
			r.budget = authoring.NewRateBudget(authoring.BudgetOptions{})
			t0 := time.Now()
			a := r.app(func(o *pipeline.Options) {
				o.Sequential = sequential
				if os.Getenv("LANGSYNC_BENCH_TRACE") != "" {
					o.OnProgress = func(p pipeline.Progress) {
						if p.Event != "poll" || os.Getenv("LANGSYNC_BENCH_TRACE") == "poll" {
							fmt.Printf("sequential=%v %6dms %-30s %s %s\n", sequential, time.Since(t0).Milliseconds(), p.Step.ID(), p.Event, p.Message)
						}
					}
				}
			})
			// The target starts without documents, so every one is
			// copied, and every run writes its backup afresh (a reused
			// one is read back and verified instead).
			if docs > 0 {
				if err := os.RemoveAll(r.tgtDocs); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			infos, err := a.Store.List(ctx, r.cfg.Containers.Backups, "")
			if err != nil {
				b.Fatal(err)
			}
			for _, in := range infos {
				if err := a.Store.Delete(ctx, r.cfg.Containers.Backups, in.Key, ""); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			start := time.Now()
			t0 = start
			r.replicate(a, p.Name)
			wall[sequential] += time.Since(start)
		}
	}
	b.ReportMetric(float64(wall[false])/float64(b.N)/float64(sum), "wall/jobs")
	b.ReportMetric(float64(wall[true])/float64(b.N)/float64(sum), "sequential-wall/jobs")
	b.ReportMetric(sum.Seconds(), "jobs-s")
}

// scaledProject returns p with n documents: its own, repeated under new
// names (and labels) as often as needed, or the first n.
func scaledProject(tb testing.TB, p *sample.Project, n int) *sample.Project {
	tb.Helper()
	var doc map[string]json.RawMessage
	var assets map[string]json.RawMessage
	var list []map[string]any
	if err := json.Unmarshal(p.JSON, &doc); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(doc["assets"], &assets); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(assets["documents"], &list); err != nil {
		tb.Fatal(err)
	}
	out := make([]map[string]any, 0, n)
	q := *p
	q.Docs = make(map[string]string, n)
	for i := range n {
		d := map[string]any{}
		for k, v := range list[i%len(list)] {
			d[k] = v
		}
		orig := d["location"].(string)
		loc := orig
		if i >= len(list) {
			loc = fmt.Sprintf("%06d-%s", i, orig)
		}
		d["location"] = loc
		q.Docs[loc] = p.Docs[orig]
		out = append(out, d)
	}
	var err error
	if assets["documents"], err = json.Marshal(out); err != nil {
		tb.Fatal(err)
	}
	if doc["assets"], err = json.Marshal(assets); err != nil {
		tb.Fatal(err)
	}
	if q.JSON, err = json.Marshal(doc); err != nil {
		tb.Fatal(err)
	}
	return &q
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
