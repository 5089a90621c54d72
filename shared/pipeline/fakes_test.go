package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/langsync"
)

// fakeClock advances only when the pipeline sleeps or a test says so.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.Advance(d)
	return ctx.Err()
}
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// memState is an in-memory StateStore with ETags and locks.
type memState struct {
	mu    sync.Mutex
	docs  map[string][]byte
	tags  map[string]int
	locks map[string]bool
	puts  int
	// conflict, when set, is asked before each Put: true fails it as if
	// another handler had saved the document first.
	conflict func(key string, data []byte) bool
}

func newMemState() *memState {
	return &memState{docs: map[string][]byte{}, tags: map[string]int{}, locks: map[string]bool{}}
}

func (m *memState) Get(_ context.Context, key string) ([]byte, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.docs[key]
	if !ok {
		return nil, "", fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	return append([]byte(nil), d...), fmt.Sprint(m.tags[key]), nil
}

func (m *memState) Put(_ context.Context, key string, data []byte, cond Condition) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, exists := m.docs[key]
	if cond.IfNoneMatch && exists || cond.IfMatch != "" && (!exists || fmt.Sprint(m.tags[key]) != cond.IfMatch) ||
		m.conflict != nil && m.conflict(key, data) {
		return "", fmt.Errorf("put %s: %w", key, ErrConflict)
	}
	m.docs[key] = append([]byte(nil), data...)
	m.tags[key]++
	m.puts++
	return fmt.Sprint(m.tags[key]), nil
}

func (m *memState) Lock(_ context.Context, key string, _ time.Duration) (func(context.Context) error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks[key] {
		return nil, ErrLocked
	}
	m.locks[key] = true
	return func(context.Context) error { m.mu.Lock(); delete(m.locks, key); m.mu.Unlock(); return nil }, nil
}

func (m *memState) Puts() int { m.mu.Lock(); defer m.mu.Unlock(); return m.puts }

// fakeProject is one project on a fake resource.
type fakeProject struct {
	meta   Project
	export string // the working copy's export JSON
	models map[string]fakeModel
	deps   map[string]Deployment
}

type fakeModel struct {
	Model
	export string // the data it was trained on
	eval   json.RawMessage
}

type fakeJob struct {
	kind    langsync.JobKind
	doneAt  time.Time
	result  string
	fail    string
	label   string
	project string
	created time.Time
	mode    string // a training job's trainingMode
}

// fakeService is a Language resource: effects apply when a job is started,
// the job reports running until its duration has passed on the fake clock.
type fakeService struct {
	mu         sync.Mutex
	name       string
	clock      *fakeClock
	projects   map[string]*fakeProject
	jobs       map[string]*fakeJob
	posts      map[langsync.JobKind]int
	gets       int
	duration   time.Duration
	failNext   map[string]error // method name -> error returned once
	failJob    map[langsync.JobKind]string
	lastImport []byte
	seq        int

	// failQueue: method name -> errors returned in turn.
	failQueue map[string][]error
	// down, when set, is returned by every call (an unreachable region).
	down error
	// failJobs: error codes the next jobs of a kind end failed with, in
	// turn ("" succeeds); failJob applies once they are used up.
	failJobs map[langsync.JobKind][]string
	// statusOf, when set for a kind, decides the status a poll reports
	// from the job's age ("" falls back to the usual running/succeeded).
	statusOf map[langsync.JobKind]func(age time.Duration) langsync.JobStatus
	// versions are the training config versions offered (nil: none
	// listed, and training accepts any); BeginTrain refuses another or an
	// expired one, and a model expires with its version.
	versions []TrainingConfigVersion
	// trainedWith records the version of every training POST, and
	// trainedModes its trainingMode.
	trainedWith  []string
	trainedModes []string
	// noAdvanced refuses training in advanced mode (a language or region
	// without it), as a permanent 400.
	noAdvanced bool
	// slotsShut refuses every write slot (a budget whose queue is longer
	// than the Advance's deadline); reserved lists the keys granted, and
	// slotted counts the job POSTs sent with a reserved slot.
	slotsShut bool
	reserved  []string
	slotted   int
}

type slotKey struct{}

// ReserveWrite plays the resource's write budget (WriteSlots).
func (f *fakeService) ReserveWrite(ctx context.Context, key string, _ time.Time) (context.Context, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.slotsShut {
		return ctx, func() {}, fmt.Errorf("no write slot of %s before the deadline", f.name)
	}
	f.reserved = append(f.reserved, key)
	return context.WithValue(ctx, slotKey{}, key), func() {}, nil
}

// noteSlot counts a job POST that carries a reserved slot. f.mu is held.
func (f *fakeService) noteSlot(ctx context.Context) {
	if ctx.Value(slotKey{}) != nil {
		f.slotted++
	}
}

func newFakeService(name string, clock *fakeClock) *fakeService {
	return &fakeService{name: name, clock: clock, projects: map[string]*fakeProject{}, jobs: map[string]*fakeJob{},
		posts: map[langsync.JobKind]int{}, duration: 3 * time.Second, failNext: map[string]error{}, failQueue: map[string][]error{},
		failJob: map[langsync.JobKind]string{}, failJobs: map[langsync.JobKind][]string{}}
}

func (f *fakeService) injected(method string) error {
	if f.down != nil {
		return f.down
	}
	if q := f.failQueue[method]; len(q) > 0 {
		f.failQueue[method] = q[1:]
		return q[0]
	}
	if err, ok := f.failNext[method]; ok {
		delete(f.failNext, method)
		return err
	}
	return nil
}

func (f *fakeService) proj(name string) (*fakeProject, error) {
	p, ok := f.projects[name]
	if !ok {
		return nil, fmt.Errorf("project %s: %w", name, ErrNotFound)
	}
	return p, nil
}

func (f *fakeService) GetProject(_ context.Context, name string) (*Project, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if err := f.injected("GetProject"); err != nil {
		return nil, err
	}
	p, err := f.proj(name)
	if err != nil {
		return nil, err
	}
	m := p.meta
	return &m, nil
}

func (f *fakeService) ListDeployments(_ context.Context, name string) ([]Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if err := f.injected("ListDeployments"); err != nil {
		return nil, err
	}
	p, err := f.proj(name)
	if err != nil {
		return nil, err
	}
	var out []Deployment
	for _, d := range p.deps {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeService) ListModels(_ context.Context, name string) ([]Model, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if err := f.injected("ListModels"); err != nil {
		return nil, err
	}
	p, err := f.proj(name)
	if err != nil {
		return nil, err
	}
	var out []Model
	for _, m := range p.models {
		out = append(out, m.Model)
	}
	return out, nil
}

func (f *fakeService) ListTrainingJobs(_ context.Context, name string) ([]TrainingJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if err := f.injected("ListTrainingJobs"); err != nil {
		return nil, err
	}
	var out []TrainingJob
	for loc, j := range f.jobs {
		if j.kind == langsync.JobTrain && j.project == name {
			st := langsync.JobRunning
			if j.fail == "" && !f.clock.Now().Before(j.doneAt) {
				st = langsync.JobSucceeded
			}
			out = append(out, TrainingJob{Job: langsync.Job{Location: loc}, ModelLabel: j.label, Created: j.created, Status: st, TrainingMode: j.mode})
		}
	}
	return out, nil
}

func (f *fakeService) ListTrainingConfigVersions(_ context.Context, kind langsync.ProjectKind) ([]TrainingConfigVersion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if err := f.injected("ListTrainingConfigVersions"); err != nil {
		return nil, err
	}
	return append([]TrainingConfigVersion(nil), f.versions...), nil
}

func (f *fakeService) EvaluationOptions(_ context.Context, name, label string) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("EvaluationOptions"); err != nil {
		return nil, err
	}
	p, err := f.proj(name)
	if err != nil {
		return nil, err
	}
	return p.models[label].eval, nil
}

func (f *fakeService) newJob(kind langsync.JobKind, project string) (langsync.Job, *fakeJob) {
	f.seq++
	f.posts[kind]++
	loc := fmt.Sprintf("https://%s.example/jobs/%s/%d", f.name, kind, f.seq)
	now := f.clock.Now()
	j := &fakeJob{kind: kind, doneAt: now.Add(f.duration), project: project, created: now, fail: f.failJob[kind]}
	if q := f.failJobs[kind]; len(q) > 0 {
		j.fail, f.failJobs[kind] = q[0], q[1:]
	}
	f.jobs[loc] = j
	return langsync.Job{Kind: kind, Location: loc, Started: now}, j
}

func (f *fakeService) BeginExport(ctx context.Context, name, label string) (langsync.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noteSlot(ctx)
	if err := f.injected("BeginExport"); err != nil {
		return langsync.Job{}, err
	}
	p, err := f.proj(name)
	if err != nil {
		return langsync.Job{}, err
	}
	data := p.export
	if label != "" {
		data = p.models[label].export
	}
	job, j := f.newJob(langsync.JobExport, name)
	j.result = data
	return job, nil
}

func (f *fakeService) OpenExportResult(_ context.Context, url string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("OpenExportResult"); err != nil {
		return nil, err
	}
	j, ok := f.jobs[strings.TrimSuffix(url, "/result")]
	if !ok {
		return nil, fmt.Errorf("result %s: %w", url, ErrNotFound)
	}
	return io.NopCloser(strings.NewReader(j.result)), nil
}

func (f *fakeService) BeginImport(ctx context.Context, name string, r io.ReadSeeker) (langsync.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noteSlot(ctx)
	if err := f.injected("BeginImport"); err != nil {
		return langsync.Job{}, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return langsync.Job{}, err
	}
	f.lastImport = data
	p := f.projects[name]
	if p == nil {
		p = &fakeProject{models: map[string]fakeModel{}, deps: map[string]Deployment{}}
		f.projects[name] = p
	}
	p.meta.Name, p.meta.LastModified, p.export = name, f.clock.Now(), string(data)
	job, _ := f.newJob(langsync.JobImport, name)
	return job, nil
}

func (f *fakeService) BeginTrain(ctx context.Context, name string, spec TrainSpec) (langsync.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noteSlot(ctx)
	if err := f.injected("BeginTrain"); err != nil {
		return langsync.Job{}, err
	}
	p, err := f.proj(name)
	if err != nil {
		return langsync.Job{}, err
	}
	now := f.clock.Now()
	var expires time.Time
	if f.versions != nil {
		ok := false
		for _, v := range f.versions {
			if v.Version == spec.TrainingConfigVersion && v.Expires.After(now) {
				ok, expires = true, v.Expires
			}
		}
		if !ok {
			return langsync.Job{}, fmt.Errorf("400 InvalidParameterValue: training config version %q is not supported or expired", spec.TrainingConfigVersion)
		}
	}
	f.trainedModes = append(f.trainedModes, spec.TrainingMode)
	if f.noAdvanced && spec.TrainingMode == "advanced" {
		return langsync.Job{}, fmt.Errorf("400 InvalidParameterValue: advanced training is not available for this project's language")
	}
	f.trainedWith = append(f.trainedWith, spec.TrainingConfigVersion)
	job, j := f.newJob(langsync.JobTrain, name)
	j.label, j.mode = spec.ModelLabel, spec.TrainingMode
	p.models[spec.ModelLabel] = fakeModel{Model: Model{Label: spec.ModelLabel, ModelID: fmt.Sprintf("%s-%d", spec.ModelLabel, f.seq), TrainingConfigVersion: spec.TrainingConfigVersion, LastTrained: now, Expires: expires}, export: p.export, eval: spec.EvaluationOptions}
	p.meta.LastTrained = now
	return job, nil
}

func (f *fakeService) BeginDeploy(ctx context.Context, name, dep, label string) (langsync.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noteSlot(ctx)
	if err := f.injected("BeginDeploy"); err != nil {
		return langsync.Job{}, err
	}
	p, err := f.proj(name)
	if err != nil {
		return langsync.Job{}, err
	}
	m, ok := p.models[label]
	if !ok {
		return langsync.Job{}, fmt.Errorf("model %s: %w", label, ErrNotFound)
	}
	job, _ := f.newJob(langsync.JobDeploy, name)
	now := f.clock.Now()
	p.deps[dep] = Deployment{Name: dep, ModelID: m.ModelID, LastDeployed: now, Expires: now.AddDate(0, 6, 0)}
	p.meta.LastDeployed = now
	return job, nil
}

func (f *fakeService) Poll(_ context.Context, job langsync.Job) (*JobState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if err := f.injected("Poll"); err != nil {
		return nil, err
	}
	j, ok := f.jobs[job.Location]
	if !ok {
		return nil, fmt.Errorf("job %s: %w", job.Location, ErrNotFound)
	}
	now := f.clock.Now()
	if fn := f.statusOf[j.kind]; fn != nil {
		if st := fn(now.Sub(j.created)); st != "" {
			js := &JobState{Status: st, Percent: -1}
			if st == langsync.JobPartiallyCompleted {
				js.Codes, js.Errors = []string{"InvalidDocument"}, []string{"InvalidDocument: 2 of 10 documents failed"}
			}
			return js, nil
		}
	}
	if now.Before(j.doneAt) {
		pct := int(100 * now.Sub(j.created) / j.doneAt.Sub(j.created))
		return &JobState{Status: langsync.JobRunning, Percent: pct}, nil
	}
	if j.fail != "" {
		return &JobState{Status: langsync.JobFailed, Codes: []string{j.fail}, Errors: []string{j.fail + ": the job failed"}}, nil
	}
	st := &JobState{Status: langsync.JobSucceeded, Percent: 100}
	if j.kind == langsync.JobExport {
		st.ResultURL = job.Location + "/result"
	}
	return st, nil
}

func (f *fakeService) Posts() map[langsync.JobKind]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[langsync.JobKind]int{}
	for k, v := range f.posts {
		out[k] = v
	}
	return out
}

func (f *fakeService) TotalPosts() int {
	n := 0
	for _, v := range f.Posts() {
		n += v
	}
	return n
}

// seed creates a deployed source project: one model per label, each
// deployment served by the given label.
// getCount is the number of reads served so far.
func (f *fakeService) getCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets
}

func (f *fakeService) seed(name string, deployments map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now().Add(-time.Hour)
	p := &fakeProject{meta: Project{Name: name, Kind: langsync.SingleLabelClassification, LastModified: now, LastTrained: now, LastDeployed: now},
		models: map[string]fakeModel{}, deps: map[string]Deployment{}}
	p.export = exportJSON(name, "working")
	for dep, label := range deployments {
		m, ok := p.models[label]
		if !ok {
			m = fakeModel{Model: Model{Label: label, ModelID: label + "-src", TrainingConfigVersion: "2022-05-01", LastTrained: now},
				export: exportJSON(name, label), eval: json.RawMessage(`{"kind":"percentage","trainingSplitPercentage":70,"testingSplitPercentage":30}`)}
			p.models[label] = m
		}
		p.deps[dep] = Deployment{Name: dep, ModelID: m.ModelID, LastDeployed: now, Expires: now.AddDate(1, 0, 0)}
	}
	f.projects[name] = p
}

func exportJSON(project, data string) string {
	return fmt.Sprintf(`{"projectFileVersion":"2023-04-01","stringIndexType":"Utf16CodeUnit","metadata":{"projectName":%q,"language":"en"},"assets":{"data":%q}}`, project, data)
}

// memBackups keeps backups in memory; the fingerprint is the export's sha256.
type memBackups struct {
	mu      sync.Mutex
	blobs   map[string][]byte
	latest  map[string]string // project/model -> key
	created int
	copied  int
}

func newMemBackups() *memBackups {
	return &memBackups{blobs: map[string][]byte{}, latest: map[string]string{}}
}

func (b *memBackups) Create(_ context.Context, in BackupInput) (BackupResult, error) {
	data, err := io.ReadAll(in.Export)
	if err != nil {
		return BackupResult{}, err
	}
	sum := sha256.Sum256(data)
	fp := hex.EncodeToString(sum[:])
	b.mu.Lock()
	defer b.mu.Unlock()
	lk := in.Project + "/" + in.Model
	if key, ok := b.latest[lk]; ok && strings.Contains(key, fp[:12]) {
		return BackupResult{Key: key, Fingerprint: fp, Container: "docs"}, nil
	}
	key := fmt.Sprintf("%s/%s/%d-%s.tar.gz", in.Source, in.Project, len(b.blobs), fp[:12])
	b.blobs[key] = data
	b.latest[lk] = key
	b.created++
	return BackupResult{Key: key, Fingerprint: fp, Created: true, Container: "docs"}, nil
}

func (b *memBackups) OpenExport(_ context.Context, key string) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.blobs[key]
	if !ok {
		return nil, fmt.Errorf("backup %s: %w", key, ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}

func (b *memBackups) CopyDocuments(_ context.Context, key, target, container string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.copied++
	return 3, nil
}

// world is a pipeline over fakes: resources "primary" and "secondary".
type world struct {
	t       *testing.T
	clock   *fakeClock
	state   *memState
	backups *memBackups
	svc     map[string]*fakeService
	cfg     *config.Config
	opts    Options
}

const testKey = "super-secret-key-value-123"

func newWorld(t *testing.T, yamlProjects string) *world {
	t.Helper()
	clock := newFakeClock()
	y := fmt.Sprintf(`
resources:
  primary: {endpoint: "https://p.example.com", key: %q, storage: /src}
  secondary: {endpoint: "https://s.example.com", key: %q, storage: /dst}
  third: {endpoint: "https://t.example.com", auth: entra}
store: /state
probes: ["hello"]
%s`, testKey, testKey, yamlProjects)
	cfg, err := config.Parse([]byte(y), func(string) string { return "" })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	w := &world{t: t, clock: clock, state: newMemState(), backups: newMemBackups(), cfg: cfg,
		svc: map[string]*fakeService{"primary": newFakeService("primary", clock), "secondary": newFakeService("secondary", clock), "third": newFakeService("third", clock)}}
	w.opts = Options{
		Config: cfg, Probes: cfg.Probes, ExpiryWindow: time.Duration(cfg.ExpiryWindow),
		JobRetries: cfg.JobRetries, UnreachableBudget: time.Duration(cfg.UnreachableBudget),
		State: w.state, Backups: w.backups, Clock: clock,
		Clients: func(name string) (Authoring, error) {
			s, ok := w.svc[name]
			if !ok {
				return nil, fmt.Errorf("no resource %q", name)
			}
			return s, nil
		},
		PollIntervals: map[langsync.JobKind]time.Duration{langsync.JobExport: time.Second, langsync.JobImport: time.Second, langsync.JobTrain: time.Second, langsync.JobDeploy: time.Second},
		PollBudget:    2 * time.Second,
		Backoff:       time.Second,
		BeginTimeout:  10 * time.Second,
		// Only for claims without a recorded deadline (older langsync).
		ClaimTimeout: 2 * time.Minute,
	}
	return w
}

func (w *world) pipeline(mod ...func(*Options)) *Pipeline {
	w.t.Helper()
	o := w.opts
	for _, m := range mod {
		m(&o)
	}
	p, err := New(o)
	if err != nil {
		w.t.Fatalf("New: %v", err)
	}
	return p
}

// drive advances a run until it is done, moving the fake clock to each
// Next.At, as a host scheduling wake-ups would.
func (w *world) drive(p *Pipeline, runID string) (*langsync.Run, error) {
	w.t.Helper()
	ctx := context.Background()
	for i := 0; i < 500; i++ {
		n, err := p.Advance(ctx, runID)
		if err != nil {
			return nil, err
		}
		if n.Done {
			return p.Run(ctx, runID)
		}
		if d := n.At.Sub(w.clock.Now()); d > 0 {
			w.clock.Advance(d)
		}
	}
	w.t.Fatalf("run %s did not finish in 500 wake-ups", runID)
	return nil, nil
}

func (w *world) start(p *Pipeline, req Request) string {
	w.t.Helper()
	tickets, err := p.Start(context.Background(), req)
	if err != nil {
		w.t.Fatalf("Start: %v", err)
	}
	if len(tickets) != 1 {
		w.t.Fatalf("Start: %d tickets, want 1", len(tickets))
	}
	return tickets[0].Run
}
