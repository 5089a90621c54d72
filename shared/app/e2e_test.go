package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/sample"
)

func TestMain(m *testing.M) { os.Exit(azuritetest.Main(m)) }

const apiVersion = "2023-04-01"

var containerSeq atomic.Int64

// syncBuffer is a bytes.Buffer safe for concurrent log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// rig is two emulated Language resources with separate linked storage
// (directories) and a state/backup store on Azurite.
type rig struct {
	t        testing.TB
	src, tgt *emulatortest.Resource
	srcDocs  string
	tgtDocs  string
	cfg      *config.Config
	budget   *authoring.RateBudget
}

func newRig(t testing.TB, durations map[string]time.Duration, projects ...*sample.Project) *rig {
	t.Helper()
	return newRigStorage(t, durations, false, projects...)
}

// newRigStorage with shared set gives both resources the same linked
// storage (no documents step).
func newRigStorage(t testing.TB, durations map[string]time.Duration, shared bool, projects ...*sample.Project) *rig {
	t.Helper()
	r := &rig{t: t, srcDocs: t.TempDir()}
	r.tgtDocs = r.srcDocs
	if !shared {
		r.tgtDocs = t.TempDir()
	}
	r.src = emulatortest.Start(t, &emulator.Options{Name: "primary", Documents: emulator.DirDocuments(r.srcDocs), Clock: emulator.RealClock(), JobDurations: durations})
	r.tgt = emulatortest.Start(t, &emulator.Options{Name: "secondary", Documents: emulator.DirDocuments(r.tgtDocs), Clock: emulator.RealClock(), JobDurations: durations})
	var yaml strings.Builder
	for _, p := range projects {
		r.seed(p, "model1", "production")
		fmt.Fprintf(&yaml, "  - {name: %s, source: primary, targets: [secondary]}\n", p.Name)
	}
	var probes []string
	for _, p := range projects {
		probes = append(probes, p.ProbeTexts()...)
	}
	probeJSON, _ := json.Marshal(probes)
	if len(probes) > 0 {
		fmt.Fprintf(&yaml, "probes: %s\n", probeJSON)
	}
	n := containerSeq.Add(1)
	y := fmt.Sprintf(`resources:
  primary: {endpoint: %q, key: "${SRC_KEY}", storage: %q}
  secondary: {endpoint: %q, key: "${TGT_KEY}", storage: %q}
projects:
%sstore: "${STORE}"
containers: {backups: backups-%d, state: state-%d}
`, r.src.URL, r.srcDocs, r.tgt.URL, r.tgtDocs, yaml.String(), n, n)
	env := map[string]string{"SRC_KEY": r.src.Key, "TGT_KEY": r.tgt.Key, "STORE": azuritetest.Shared(t)}
	cfg, err := config.Parse([]byte(y), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	r.cfg = cfg
	// The emulator enforces no limits; a roomy budget keeps the tests fast.
	r.budget = authoring.NewRateBudget(authoring.BudgetOptions{Writes: 100000, Reads: 100000})
	return r
}

// seed writes a sample project's documents to the source storage, imports
// it, trains label and deploys it.
func (r *rig) seed(p *sample.Project, label, deployment string) {
	r.t.Helper()
	if err := p.WriteDocs(r.srcDocs, p.Container); err != nil {
		r.t.Fatal(err)
	}
	var body any
	if err := json.Unmarshal(p.JSON, &body); err != nil {
		r.t.Fatal(err)
	}
	loc := r.src.Start202(http.MethodPost, "/language/authoring/analyze-text/projects/"+p.Name+"/:import?api-version="+apiVersion, body)
	if st := r.src.Wait(loc, 0); st["status"] != "succeeded" {
		r.t.Fatalf("seeding %s: %v", p.Name, st)
	}
	r.src.TrainAndDeploy(p.Name, label, deployment)
}

func (r *rig) app(mod func(*pipeline.Options)) *app.App {
	r.t.Helper()
	return r.appLogging(mod, nil)
}

// appLogging builds the app with every log line (debug and up) written to
// logs, when not nil.
func (r *rig) appLogging(mod func(*pipeline.Options), logs *syncBuffer) *app.App {
	r.t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := app.New(context.Background(), r.cfg, &app.Options{
		Logger:    logger,
		Authoring: &authoring.ClientOptions{Budget: r.budget},
		Pipeline: func(o *pipeline.Options) {
			if mod != nil {
				mod(o)
			}
		},
	})
	if err != nil {
		r.t.Fatalf("app.New: %v", err)
	}
	return a
}

func (r *rig) replicate(a *app.App, project string) *langsync.Run {
	r.t.Helper()
	tk, err := a.Pipeline.Start(context.Background(), pipeline.Request{Project: project, Trigger: langsync.TriggerCLI})
	if err != nil {
		r.t.Fatalf("Start: %v", err)
	}
	run, err := a.Drive(context.Background(), tk[0].Run)
	if err != nil {
		r.t.Fatalf("Drive: %v", err)
	}
	if run.Phase != langsync.RunSucceeded {
		r.t.Fatalf("run %s: %s", run.Phase, run.Error)
	}
	return run
}

// export exports a project (working copy) and returns its fingerprint
// without documents: the canonical form of the export.
func exportFingerprint(t *testing.T, res *emulatortest.Resource, project string) string {
	t.Helper()
	loc := res.Start202(http.MethodPost, "/language/authoring/analyze-text/projects/"+project+"/:export?stringIndexType=Utf16CodeUnit&api-version="+apiVersion, nil)
	st := res.Wait(loc, 0)
	u, _ := st["resultUrl"].(string)
	if u == "" {
		t.Fatalf("export of %s: %v", project, st)
	}
	code, _, body := res.Do(http.MethodGet, strings.TrimPrefix(u, res.URL), nil)
	if code != http.StatusOK {
		t.Fatalf("export result %d: %s", code, body)
	}
	fp, err := backup.Fingerprint(bytes.NewReader(body), nil)
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	return fp
}

// predict classifies text with a deployment through the runtime API and
// returns the labels (classes or entity categories).
func predict(t *testing.T, res *emulatortest.Resource, kind langsync.ProjectKind, project, deployment, text string) []string {
	t.Helper()
	params := map[string]any{"projectName": project, "deploymentName": deployment}
	if kind == langsync.EntityRecognition {
		params["stringIndexType"] = "Utf16CodeUnit"
	}
	loc := res.Start202(http.MethodPost, "/language/analyze-text/jobs?api-version="+apiVersion, map[string]any{
		"analysisInput": map[string]any{"documents": []any{map[string]any{"id": "1", "language": "en-us", "text": text}}},
		"tasks":         []any{map[string]any{"kind": string(kind), "taskName": "t", "parameters": params}},
	})
	st := res.Wait(loc, 0)
	raw, _ := json.Marshal(st)
	var job struct {
		Status string
		Tasks  struct {
			Items []struct {
				Results struct {
					Documents []struct {
						Class    []struct{ Category string }
						Entities []struct{ Category string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &job); err != nil || job.Status != "succeeded" || len(job.Tasks.Items) == 0 || len(job.Tasks.Items[0].Results.Documents) == 0 {
		t.Fatalf("prediction on %s/%s: %s", project, deployment, raw)
	}
	var labels []string
	d := job.Tasks.Items[0].Results.Documents[0]
	for _, c := range d.Class {
		labels = append(labels, c.Category)
	}
	for _, e := range d.Entities {
		labels = append(labels, e.Category)
	}
	return labels
}

func TestReplicateSampleProjects(t *testing.T) {
	t.Parallel()
	for _, p := range sample.All() {
		t.Run(p.Name, func(t *testing.T) {
			r := newRig(t, nil, p)
			a := r.app(nil)
			run := r.replicate(a, p.Name)
			// verify classified the probe texts on both sides and found
			// them in agreement.
			if n := r.tgt.Server.CountRequests(http.MethodPost, "/language/analyze-text/jobs"); n == 0 {
				t.Errorf("verify sent no prediction to the target")
			}
			if len(run.Warnings) != 0 {
				t.Errorf("warnings: %q", run.Warnings)
			}
			if fs, ft := exportFingerprint(t, r.src, p.Name), exportFingerprint(t, r.tgt, p.Name); fs != ft {
				t.Errorf("target export differs from source (fingerprints %s vs %s)", fs, ft)
			}
			for _, probe := range p.Probes {
				src := predict(t, r.src, p.Kind, p.Name, "production", probe.Text)
				tgt := predict(t, r.tgt, p.Kind, p.Name, "production", probe.Text)
				if strings.Join(src, ",") != strings.Join(tgt, ",") {
					t.Errorf("probe %q: source %v, target %v", probe.Text, src, tgt)
				}
				if len(tgt) == 0 {
					t.Errorf("probe %q: target deployment answered no label", probe.Text)
				}
			}
			// Documents were written into the target's own storage.
			for _, loc := range p.Locations() {
				if _, err := os.Stat(filepath.Join(r.tgtDocs, p.Container, loc)); err != nil {
					t.Errorf("document %s not in target storage: %v", loc, err)
					break
				}
			}
			infos, err := a.Store.List(context.Background(), r.cfg.Containers.Backups, langsync.BackupPrefix("primary", p.Name))
			if err != nil || len(infos) != 1 {
				t.Fatalf("backups %v %v", infos, err)
			}
			if m := run.Models[0]; m.Backup != infos[0].Key || m.Label != "model1" || m.Fingerprint == "" {
				t.Errorf("run model plan %+v", m)
			}
			blobs, _ := a.Store.List(context.Background(), r.cfg.Containers.State, "")
			for _, b := range blobs {
				rc, _, err := a.Store.Get(context.Background(), r.cfg.Containers.State, b.Key)
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				_, _ = buf.ReadFrom(rc)
				rc.Close()
				if strings.Contains(buf.String(), r.src.Key) || strings.Contains(buf.String(), r.tgt.Key) {
					t.Errorf("state blob %s holds a key", b.Key)
				}
			}
		})
	}
}

func writes(res *emulatortest.Resource) int {
	n := 0
	for _, q := range res.Server.Requests() {
		if q.Method != http.MethodGet && !strings.HasPrefix(q.Path, "/language/analyze-text/") {
			n++
		}
	}
	return n
}

func TestSyncEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := sample.Tickets()
	r := newRig(t, nil, p)
	logs := &syncBuffer{}
	a := r.appLogging(nil, logs)
	t.Cleanup(func() {
		out := logs.String()
		if !strings.Contains(out, "run succeeded") {
			t.Errorf("no run was logged; is the logger wired?")
		}
		if strings.Contains(out, r.src.Key) || strings.Contains(out, r.tgt.Key) {
			t.Errorf("the logs contain a key")
		}
	})
	sync := func() pipeline.Decision {
		t.Helper()
		res, err := a.Pipeline.Sync(ctx, pipeline.SyncOptions{})
		if err != nil {
			t.Fatalf("Sync: %v", err)
		}
		for _, n := range res.Wake {
			if run, err := a.Drive(ctx, n.Run); err != nil || run.Phase != langsync.RunSucceeded {
				t.Fatalf("run: %v %+v", err, run)
			}
		}
		return res.Decisions[0]
	}
	if d := sync(); d.Action != pipeline.ActionReplicate {
		t.Fatalf("first sync: %+v", d)
	}
	r.src.Server.ResetRequests()
	r.tgt.Server.ResetRequests()
	if d := sync(); d.Action != pipeline.ActionNone {
		t.Errorf("second sync: %+v", d)
	}
	if n := writes(r.src) + writes(r.tgt); n != 0 {
		t.Errorf("an unchanged sync sent %d POST/PUT/PATCH/DELETE requests", n)
	}
	// The source retrained on the same data: timestamps and model id move,
	// the fingerprint does not, so nothing is retrained or backed up again.
	r.src.TrainAndDeploy(p.Name, "model1", "production")
	r.tgt.Server.ResetRequests()
	if d := sync(); d.Action != pipeline.ActionReplicate || d.Retrain {
		t.Errorf("sync after a retrain on the same data: %+v", d)
	}
	if n := writes(r.tgt); n != 0 {
		t.Errorf("the target received %d writes although the fingerprint is unchanged", n)
	}
	if infos, _ := a.Store.List(ctx, r.cfg.Containers.Backups, ""); len(infos) != 1 {
		t.Errorf("%d backups, want 1 (no duplicate for an unchanged fingerprint)", len(infos))
	}
	if d := sync(); d.Action != pipeline.ActionNone {
		t.Errorf("sync after recording the new timestamps: %+v", d)
	}
	// A change in the source: new data, retrained and redeployed.
	changed := sample.Tickets()
	var doc map[string]any
	_ = json.Unmarshal(changed.JSON, &doc)
	doc["metadata"].(map[string]any)["description"] = "changed"
	loc := r.src.Start202(http.MethodPost, "/language/authoring/analyze-text/projects/"+p.Name+"/:import?api-version="+apiVersion, doc)
	r.src.Wait(loc, 0)
	r.src.TrainAndDeploy(p.Name, "model1", "production")
	r.tgt.Server.ResetRequests()
	d := sync()
	if d.Action != pipeline.ActionReplicate || !strings.Contains(d.Reason, "source changed") {
		t.Errorf("sync after a source change: %+v", d)
	}
	if n := r.tgt.Server.CountRequests(http.MethodPost, "/:train"); n != 1 {
		t.Errorf("%d train requests on the target after the change, want 1", n)
	}
	if fs, ft := exportFingerprint(t, r.src, p.Name), exportFingerprint(t, r.tgt, p.Name); fs != ft {
		t.Errorf("target export differs from the changed source")
	}
	st, err := a.Pipeline.Status(ctx)
	if err != nil || st[0].Lag != 0 || st[0].Fingerprint == "" || st[0].LastRunPhase != langsync.RunSucceeded {
		t.Errorf("status %+v %v", st, err)
	}
}

func TestCrashAtEveryStepStartsEachJobOnce(t *testing.T) {
	t.Parallel()
	p := sample.Reviews()
	points := []string{"inspect:done", "backup/model1:done", "documents/secondary/model1:done", "verify/secondary:done"}
	for _, s := range []string{"export/model1", "import/secondary/model1", "train/secondary/model1", "deploy/secondary/production"} {
		for _, pt := range []string{"claimed", "begun", "saved", "done"} {
			points = append(points, s+":"+pt)
		}
	}
	r := newRig(t, nil, p)
	for i, point := range points {
		t.Run(point, func(t *testing.T) {
			// Each case replicates into a fresh target project (as:) so that
			// the service's second-precision timestamps of the previous case
			// cannot be mistaken for this run's (evidence, see docs).
			n := containerSeq.Add(1)
			cfg := *r.cfg
			cfg.Containers = config.Containers{Backups: fmt.Sprintf("backups-%d", n), State: fmt.Sprintf("state-%d", n)}
			cfg.Projects = []config.Project{{Name: p.Name, Source: "primary", Targets: []config.Target{{Resource: "secondary", As: fmt.Sprintf("%s%d", p.Name, n)}}}}
			rr := *r
			rr.cfg = &cfg
			crashed := false
			crashing := rr.app(func(o *pipeline.Options) {
				// The crashed process ran a while ago: its claims have
				// passed their deadline when the next process resumes.
				o.Clock = offsetClock(-time.Hour)
				o.Hook = func(at string) error {
					if at == point && !crashed {
						crashed = true
						return fmt.Errorf("crash at %s", at)
					}
					return nil
				}
			})
			r.src.Server.ResetRequests()
			r.tgt.Server.ResetRequests()
			tk, err := crashing.Pipeline.Start(context.Background(), pipeline.Request{Project: p.Name})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := crashing.Drive(context.Background(), tk[0].Run); err == nil || !strings.Contains(err.Error(), "crash") {
				t.Fatalf("case %d: want the crash, got %v", i, err)
			}
			run, err := rr.app(nil).Drive(context.Background(), tk[0].Run)
			if err != nil || run.Phase != langsync.RunSucceeded {
				t.Fatalf("resume: %v %+v", err, run)
			}
			wantExport := 1
			if point == "export/model1:begun" {
				wantExport = 2 // no export job list; documented
			}
			checks := []struct {
				res    *emulatortest.Resource
				method string
				suffix string
				want   int
			}{
				{r.src, http.MethodPost, "/:export", wantExport},
				{r.tgt, http.MethodPost, "/:import", 1},
				{r.tgt, http.MethodPost, "/:train", 1},
				{r.tgt, http.MethodPut, "/deployments/production", 1},
			}
			for _, c := range checks {
				if got := c.res.Server.CountRequests(c.method, c.suffix); got != c.want {
					t.Errorf("%s %s: %d requests, want %d", c.method, c.suffix, got, c.want)
				}
			}
		})
	}
}

// offsetClock is the real clock moved by a fixed offset.
type offsetClock time.Duration

func (c offsetClock) Now() time.Time { return time.Now().UTC().Add(time.Duration(c)) }
func (c offsetClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestDuplicateWakeAndConcurrentJoin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := sample.Orders()
	r := newRig(t, nil, p)
	a := r.app(nil)
	results := make(chan []pipeline.Ticket, 2)
	for range 2 {
		go func() {
			tk, err := a.Pipeline.Start(ctx, pipeline.Request{Project: p.Name})
			if err != nil {
				t.Error(err)
			}
			results <- tk
		}()
	}
	t1, t2 := <-results, <-results
	if len(t1) != 1 || len(t2) != 1 || t1[0].Run != t2[0].Run || t1[0].Joined == t2[0].Joined {
		t.Fatalf("concurrent requests: %+v / %+v, want one run, one joined", t1, t2)
	}
	first := t1[0].Next
	if t2[0].Next.Seq > first.Seq {
		first = t2[0].Next
	}
	n, err := a.Pipeline.Wake(ctx, first.Wakeup)
	if err != nil || n.Stale {
		t.Fatalf("wake: %+v %v", n, err)
	}
	before := len(r.src.Server.Requests()) + len(r.tgt.Server.Requests())
	dup, err := a.Pipeline.Wake(ctx, first.Wakeup)
	if err != nil || !dup.Stale {
		t.Fatalf("duplicate wake: %+v %v", dup, err)
	}
	if after := len(r.src.Server.Requests()) + len(r.tgt.Server.Requests()); after != before {
		t.Errorf("a duplicate wake-up sent %d requests", after-before)
	}
	if run, err := a.Drive(ctx, n.Run); err != nil || run.Phase != langsync.RunSucceeded {
		t.Fatalf("%v %+v", err, run)
	}
}
