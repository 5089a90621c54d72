package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sample"
)

// The replicated project and its layout.
const (
	projectName = "Tickets"
	modelLabel  = "model1"
	deployment  = "production"
	source      = "primary"
)

var targets = []string{"secondary", "tertiary"}

// harness runs the soak: it owns the emulators, the store, the config and
// every langsync process it starts.
type harness struct {
	o   options
	out io.Writer
	log io.Writer // per-run lines

	dir      string
	bin      string
	emus     map[string]*emu
	storeLoc string
	store    blobstore.Store
	cfgPath  string
	env      []string // for langsync processes: keys and store, never argv
	keys     []string

	// The source project as the harness last imported it.
	export  map[string]any
	docs    map[string]string // location -> text, for new documents
	added   int
	runDurs []time.Duration // of unkilled replicate runs, to place kills

	procs    []*proc // every process, for the secret scan and cleanup
	runCache map[string]cachedRun
	stops    []func()
	results  []*runResult
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// setup starts the store and the emulators, writes the config and loads
// the sample project into the source.
func (h *harness) setup(ctx context.Context) error {
	var err error
	if h.bin, err = filepath.Abs(h.o.bin); err != nil {
		return err
	}
	if _, err := os.Stat(h.bin); err != nil {
		return fmt.Errorf("langsync binary %s: %w (run `make build`, or give -bin)", h.o.bin, err)
	}
	h.env = childEnv()
	switch h.o.store {
	case "azurite":
		azDir := filepath.Join(h.dir, "azurite")
		if err := os.MkdirAll(azDir, 0o755); err != nil {
			return err
		}
		p, conn, err := startAzurite(ctx, h.o.azurite, azDir)
		if err != nil {
			return err
		}
		h.stops = append(h.stops, func() { p.stop(3 * time.Second) })
		h.storeLoc = conn
	case "dir":
		h.storeLoc = filepath.Join(h.dir, "store")
	default:
		return fmt.Errorf("-store %q: want azurite or dir", h.o.store)
	}
	h.env = append(h.env, "LANGSYNC_STORE="+h.storeLoc)
	if h.store, err = storeopen.Open(ctx, h.storeLoc, nil); err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}

	h.emus = map[string]*emu{}
	for _, name := range append([]string{source}, targets...) {
		e := &emu{Name: name, Key: randomHex(16), DocsDir: filepath.Join(h.dir, "docs", name), http: &http.Client{Timeout: 30 * time.Second}}
		if err := os.MkdirAll(e.DocsDir, 0o755); err != nil {
			return err
		}
		// The emulator takes its key on the command line only; it is a
		// random key of this soak's own emulator, never a real one.
		p, err := h.startProc("emulator "+name, []string{"emulator", "language", "--addr", "127.0.0.1:0", "--key", e.Key,
			"--docs-dir", e.DocsDir, "--job-duration", h.o.jobDurations, "--name", name}, h.env)
		if err != nil {
			return err
		}
		h.stops = append(h.stops, func() { p.stop(5 * time.Second) })
		if e.URL, err = p.waitLine(ctx, emulatorListening, 30*time.Second); err != nil {
			return err
		}
		e.proc = p
		h.emus[name] = e
		h.keys = append(h.keys, e.Key)
		h.env = append(h.env, "SOAK_KEY_"+strings.ToUpper(name)+"="+e.Key)
	}
	if err := h.writeConfig(); err != nil {
		return err
	}
	return h.loadSource(ctx)
}

// childEnv is the environment of langsync processes: the harness's own,
// without settings that would point langsync elsewhere.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "LANGSYNC_") || strings.HasPrefix(k, "SOAK_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (h *harness) writeConfig() error {
	var b strings.Builder
	b.WriteString("# written by cmd/soak\nresources:\n")
	for _, name := range append([]string{source}, targets...) {
		e := h.emus[name]
		fmt.Fprintf(&b, "  %s:\n    endpoint: %s\n    key: ${SOAK_KEY_%s}\n    storage: %s\n", name, e.URL, strings.ToUpper(name), e.DocsDir)
	}
	fmt.Fprintf(&b, "projects:\n  - name: %s\n    source: %s\n    targets: [%s]\n    deployments: [%s]\n", projectName, source, strings.Join(targets, ", "), deployment)
	// Keep every backup: the soak counts them. The schedule only matters
	// to the local hosts, which should notice a change within seconds.
	b.WriteString("store: ${LANGSYNC_STORE}\nretention: { keepLast: 100000, keepDays: 36500 }\nschedule: \"*/2 * * * * *\"\n")
	h.cfgPath = filepath.Join(h.dir, "langsync.yaml")
	return os.WriteFile(h.cfgPath, []byte(b.String()), 0o644)
}

// loadSource writes the Tickets sample's documents into the source's
// storage and imports, trains and deploys it there.
func (h *harness) loadSource(ctx context.Context) error {
	t := sample.Tickets()
	if err := t.WriteDocs(h.emus[source].DocsDir, ""); err != nil {
		return err
	}
	if err := json.Unmarshal(t.JSON, &h.export); err != nil {
		return fmt.Errorf("sample project: %w", err)
	}
	h.docs = t.Docs
	return h.publish(ctx, "load")
}

// classes of the Tickets sample.
var classes = []string{"Billing", "Outage", "Account", "Shipping"}

// mutate adds one labelled document of class to the source project and
// publishes it: the deployed model changes, so every run has new data.
func (h *harness) mutate(ctx context.Context, n int, class string) error {
	assets := h.export["assets"].(map[string]any)
	docs := assets["documents"].([]any)
	var like string
	for _, d := range docs {
		m := d.(map[string]any)
		if m["class"].(map[string]any)["category"] == class {
			like = h.docs[m["location"].(string)]
			break
		}
	}
	h.added++
	loc := fmt.Sprintf("soak-%04d.txt", h.added)
	text := fmt.Sprintf("%s (soak run %d)", like, n)
	container := h.export["metadata"].(map[string]any)["storageInputContainerName"].(string)
	if err := os.WriteFile(filepath.Join(h.emus[source].DocsDir, container, loc), []byte(text), 0o644); err != nil {
		return err
	}
	h.docs[loc] = text
	assets["documents"] = append(docs, map[string]any{"location": loc, "language": "en-us", "dataset": "Train", "class": map[string]any{"category": class}})
	return h.publish(ctx, fmt.Sprintf("run %d", n))
}

// publish imports the export into the source, trains and deploys it,
// through the langsync CLI as an operator would.
func (h *harness) publish(ctx context.Context, why string) error {
	b, err := json.Marshal(h.export)
	if err != nil {
		return err
	}
	file := filepath.Join(h.dir, "source-export.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return err
	}
	e := h.emus[source]
	env := append(append([]string(nil), h.env...), "LANGSYNC_ENDPOINT="+e.URL, "LANGSYNC_KEY="+e.Key)
	for _, args := range [][]string{
		{"project", "import", projectName, file},
		{"project", "train", projectName, "--model", modelLabel},
		{"project", "deploy", projectName, deployment, "--model", modelLabel},
	} {
		p, err := h.startProc(strings.Join(args[:2], " "), args, env)
		if err != nil {
			return err
		}
		<-p.done
		if p.exitErr != nil {
			return fmt.Errorf("changing the source (%s): langsync %s: %v: %s", why, strings.Join(args, " "), p.exitErr, lastLines(p.Lines(), 3))
		}
	}
	return nil
}

func (h *harness) startProc(name string, args, env []string) (*proc, error) {
	p, err := start(name, h.bin, args, env, h.dir)
	if err != nil {
		return nil, err
	}
	h.procs = append(h.procs, p)
	return p, nil
}

func (h *harness) setFaults(ctx context.Context, faults map[string]emulator.Faults) error {
	for name, e := range h.emus {
		if err := e.setFaults(ctx, faults[name]); err != nil {
			return err
		}
	}
	return nil
}

// expectedRun estimates how long one replicate run takes, to place kills.
func (h *harness) expectedRun() time.Duration {
	if len(h.runDurs) == 0 {
		return 8 * time.Second
	}
	d := append([]time.Duration(nil), h.runDurs...)
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

// runOne performs soak run p and measures it.
func (h *harness) runOne(ctx context.Context, p plan) (*runResult, error) {
	if err := h.setFaults(ctx, nil); err != nil {
		return nil, err
	}
	if err := h.mutate(ctx, p.N, p.Class); err != nil {
		return nil, err
	}
	// The request logs now hold only the harness's own calls: drop them.
	for _, e := range h.emus {
		if _, err := e.takeRequests(ctx); err != nil {
			return nil, err
		}
	}
	if err := h.setFaults(ctx, p.Faults); err != nil {
		return nil, err
	}
	res := &runResult{N: p.N, Mode: p.Mode, Targets: targets}
	t0 := time.Now()
	deadline := t0.Add(h.o.runTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	var drivers []*proc
	defer func() {
		// On an early return, leave no driver behind.
		for _, d := range drivers {
			if !d.exited() {
				d.kill()
				<-d.done
			}
		}
	}()
	replicate := func(name string) (*proc, error) {
		p, err := h.startProc(name, []string{"replicate", "--config", h.cfgPath}, h.env)
		if err == nil {
			drivers = append(drivers, p)
		}
		return p, err
	}
	var driveErr error
	switch p.Mode {
	case modeSingle:
		if _, err := replicate("replicate"); err != nil {
			return nil, err
		}
		driveErr = waitAll(rctx, drivers)
		if driveErr == nil {
			h.runDurs = append(h.runDurs, time.Since(t0))
		}
	case modeDuplicate:
		for _, n := range []string{"replicate#1", "replicate#2"} {
			if _, err := replicate(n); err != nil {
				return nil, err
			}
		}
		driveErr = waitAll(rctx, drivers)
	case modeKill:
		first, err := replicate("replicate (killed)")
		if err != nil {
			return nil, err
		}
		at := time.Duration(p.Kill * float64(h.expectedRun()))
		if waitOne(rctx, first, at) == nil && !first.exited() {
			first.kill()
			<-first.done
			if _, err := replicate("replicate (after kill -9)"); err != nil {
				return nil, err
			}
		}
		driveErr = waitAll(rctx, drivers)
	case modeLocal:
		driveErr = h.driveLocal(rctx, p, t0, &drivers)
	}
	if errors.Is(driveErr, context.DeadlineExceeded) {
		res.TimedOut = true
	}
	for _, d := range drivers {
		if !d.exited() {
			d.kill()
			<-d.done
		}
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, ctx.Err()
	}
	res.Measured = time.Now()
	// Measure with the faults off, so the harness's own reads are clean.
	mctx := context.WithoutCancel(ctx)
	if err := h.setFaults(mctx, nil); err != nil {
		return nil, err
	}
	runs, err := h.runsSince(mctx, t0)
	if err != nil {
		return nil, err
	}
	res.Runs = runs
	for _, d := range drivers {
		if f := d.failure(); f != "" {
			res.DriverErrors = append(res.DriverErrors, f)
		}
	}
	end := time.Now()
	if last, ok := lastEnd(runs); ok {
		end = last
	}
	res.Window = interval{t0, end}

	var events []event
	for i, d := range drivers {
		events = append(events, progressEvents(d, p.Mode)...)
		h.saveLog(fmt.Sprintf("run-%03d-%d-%s.log", p.N, i+1, d.Name), d)
	}
	for _, r := range runs {
		events = append(events, runEvents(r)...)
	}
	var busy []interval
	for _, e := range h.emus {
		reqs, err := e.takeRequests(mctx)
		if err != nil {
			return nil, err
		}
		busy = append(busy, busyFromRequests(reqs)...)
		jobs, err := e.jobs(mctx)
		if err != nil {
			return nil, err
		}
		busy = append(busy, busyFromJobs(jobs)...)
	}
	res.Stall = longestStall(res.Window, events, busy)
	return res, nil
}

// driveLocal runs two `langsync local` hosts on the store until every
// target has a succeeded run of this soak run and no run is active (or the
// deadline passes); with p.Kill it kills one host -9 at a random moment and
// starts it again at once, as a service manager would.
func (h *harness) driveLocal(ctx context.Context, p plan, t0 time.Time, drivers *[]*proc) error {
	host := func(name string) (*proc, error) {
		pr, err := h.startProc(name, []string{"local", "--config", h.cfgPath, "--sync-now", "--log-format", "json", "-v"}, h.env)
		if err == nil {
			*drivers = append(*drivers, pr)
		}
		return pr, err
	}
	hosts := make([]*proc, 2)
	for i, name := range []string{"local A", "local B"} {
		pr, err := host(name)
		if err != nil {
			return err
		}
		hosts[i] = pr
	}
	var killAt <-chan time.Time
	if p.Kill > 0 {
		t := time.NewTimer(time.Duration(p.Kill * float64(h.expectedRun())))
		defer t.Stop()
		killAt = t.C
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-killAt:
			killAt = nil
			i := 0
			if p.KillSecond {
				i = 1
			}
			hosts[i].kill()
			<-hosts[i].done
			if _, err := host(hosts[i].Name + " (restarted after kill -9)"); err != nil {
				return err
			}
		case <-tick.C:
			runs, err := h.runsSince(ctx, t0)
			if err != nil {
				return err
			}
			if converged(runs, targets) {
				for _, d := range *drivers {
					if !d.exited() {
						d.stop(10 * time.Second)
					}
				}
				return nil
			}
		}
	}
}

// converged: every target reached by a succeeded run, and no run active.
func converged(runs []*langsync.Run, targets []string) bool {
	reached := map[string]bool{}
	for _, r := range runs {
		if !r.Phase.Terminal() {
			return false
		}
		if r.Phase == langsync.RunSucceeded {
			for _, p := range r.Pairs {
				reached[p.Target] = true
			}
		}
	}
	for _, t := range targets {
		if !reached[t] {
			return false
		}
	}
	return true
}

func lastEnd(runs []*langsync.Run) (time.Time, bool) {
	var last time.Time
	for _, r := range runs {
		if !r.Phase.Terminal() {
			return time.Time{}, false
		}
		if r.Ended.After(last) {
			last = r.Ended
		}
	}
	return last, !last.IsZero()
}

// waitAll waits for every process to exit, or for ctx.
func waitAll(ctx context.Context, ps []*proc) error {
	for _, p := range ps {
		select {
		case <-p.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// waitOne waits for p to exit or for d to pass.
func waitOne(ctx context.Context, p *proc, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// runsSince returns the run documents created or updated at or after t0:
// this soak run's runs, and an older run it took over (a run left running
// by an earlier soak run, joined by this one's driver). Documents are
// re-read only when their ETag changed.
func (h *harness) runsSince(ctx context.Context, t0 time.Time) ([]*langsync.Run, error) {
	infos, err := h.store.List(ctx, langsync.DefaultStateContainer, langsync.RunsPrefix)
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	if h.runCache == nil {
		h.runCache = map[string]cachedRun{}
	}
	var runs []*langsync.Run
	for _, info := range infos {
		c, ok := h.runCache[info.Key]
		if !ok || c.etag != info.ETag {
			r, err := h.readRun(ctx, info.Key)
			if err != nil {
				return nil, err
			}
			c = cachedRun{etag: info.ETag, run: r}
			h.runCache[info.Key] = c
		}
		if !c.run.Created.Before(t0) || !c.run.Updated.Before(t0) {
			runs = append(runs, c.run)
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Created.Before(runs[j].Created) })
	return runs, nil
}

type cachedRun struct {
	etag string
	run  *langsync.Run
}

func (h *harness) readRun(ctx context.Context, key string) (*langsync.Run, error) {
	rc, _, err := h.store.Get(ctx, langsync.DefaultStateContainer, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	defer rc.Close()
	var r langsync.Run
	if err := json.NewDecoder(rc).Decode(&r); err != nil {
		return nil, fmt.Errorf("reading %s: %w (an unreadable run document)", key, err)
	}
	return &r, nil
}

// saveLog keeps a driver's output in the work directory (see -keep).
func (h *harness) saveLog(name string, p *proc) {
	dir := filepath.Join(h.dir, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	var b strings.Builder
	for _, l := range p.Lines() {
		stream := "out"
		if l.Stderr {
			stream = "err"
		}
		fmt.Fprintf(&b, "%s %s %s\n", l.T.Format("15:04:05.000"), stream, l.Text)
	}
	name = strings.NewReplacer(" ", "_", "(", "", ")", "", "#", "", "/", "_").Replace(name)
	_ = os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644)
}

// progressEvents are the lines of a driver that report progress: every
// line of `langsync replicate`; for a local host, its run and step lines
// (not the periodic sync decisions).
func progressEvents(p *proc, m mode) []event {
	var out []event
	for _, l := range p.Lines() {
		text := strings.TrimSpace(l.Text)
		if text == "" {
			continue
		}
		if m == modeLocal {
			var rec map[string]any
			if json.Unmarshal([]byte(text), &rec) != nil {
				continue
			}
			msg, _ := rec["msg"].(string)
			if _, ok := rec["run"]; !ok || msg == "sync decision" || msg == "stale wake-up dropped" || msg == "wake-up scheduled" {
				continue
			}
			text = msg
			if s, ok := rec["step"].(string); ok {
				text += " " + s
			}
		}
		out = append(out, event{l.T, p.Name + ": " + text})
	}
	return out
}

// finish measures what only the end shows: service-side job counts over
// every run, the backup container, and secrets anywhere.
func (h *harness) finish(ctx context.Context) (jobCounts, backupCheck, []string, error) {
	all := lastRuns(h.results)
	var spans []runSpan
	for _, run := range all {
		spans = append(spans, spanOf(run))
	}
	var first time.Time
	if len(h.results) > 0 {
		first = h.results[0].Window.From
	}
	var res []resourceJobs
	for name, e := range h.emus {
		jobs, err := e.jobs(ctx)
		if err != nil {
			return jobCounts{}, backupCheck{}, nil, err
		}
		var keep []emulator.JobInfo
		for _, j := range jobs {
			// On the source only exports are langsync's; the harness's own
			// imports, trainings and deployments there are not counted.
			if j.Created.Before(first) || (name == source) != (j.Kind == "export") {
				continue
			}
			keep = append(keep, j)
		}
		res = append(res, resourceJobs{Resource: name, Jobs: keep})
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Resource < res[j].Resource })
	jc := countJobs(spans, res)
	jc.ExtraTrainings, jc.TrainingDetails = extraTrainings(h.results, res)

	bc, outputs, err := h.checkBackups(ctx, all)
	if err != nil {
		return jc, bc, nil, err
	}
	secrets, err := h.scanSecrets(ctx, outputs)
	return jc, bc, secrets, err
}

// checkBackups lists and verifies the backup container with the CLI and
// compares it with what the runs recorded.
func (h *harness) checkBackups(ctx context.Context, runs []*langsync.Run) (backupCheck, []string, error) {
	var bc backupCheck
	var outputs []string
	cli := func(args ...string) ([]byte, error) {
		p, err := h.startProc("backups "+args[1], args, h.env)
		if err != nil {
			return nil, err
		}
		select {
		case <-p.done:
		case <-ctx.Done():
			p.kill()
			return nil, ctx.Err()
		}
		var out strings.Builder
		for _, l := range p.Lines() {
			if !l.Stderr {
				out.WriteString(l.Text + "\n")
			}
		}
		outputs = append(outputs, out.String())
		if p.exitErr != nil {
			return []byte(out.String()), fmt.Errorf("langsync %s: %v: %s", strings.Join(args[:2], " "), p.exitErr, lastLines(p.Lines(), 2))
		}
		return []byte(out.String()), nil
	}
	listed, err := cli("backups", "list", "--config", h.cfgPath, "--json")
	if err != nil {
		return bc, outputs, err
	}
	var refs []langsync.BackupRef
	if err := json.Unmarshal(listed, &refs); err != nil {
		return bc, outputs, fmt.Errorf("backups list --json: %w", err)
	}
	bc.Written = len(refs)
	have := map[string]bool{}
	seen := map[string]bool{}
	for _, r := range refs {
		have[r.Key] = true
		if r.Fingerprint == "" {
			bc.ListErrors = append(bc.ListErrors, r.Key+": no fingerprint in its metadata")
			continue
		}
		if seen[r.Model+"/"+r.Fingerprint] {
			bc.Duplicates++
		}
		seen[r.Model+"/"+r.Fingerprint] = true
	}
	// Expected: one backup per source version that reached the backup
	// step. Every soak run changes the source once, so these are the
	// distinct fingerprints the runs backed up.
	want := map[string]bool{}
	for _, run := range runs {
		done := false
		for _, st := range run.Steps {
			if st.Name == langsync.StepBackup && st.Status == langsync.StepSucceeded {
				done = true
			}
		}
		for _, m := range run.Models {
			if done && m.Fingerprint != "" {
				want[m.Label+"/"+m.Fingerprint] = true
			}
			if m.Backup != "" && !have[m.Backup] {
				bc.Missing = append(bc.Missing, fmt.Sprintf("run %s recorded %s", run.ID, m.Backup))
			}
		}
	}
	bc.Expected = len(want)
	claimed := map[string]bool{}
	for k := range want {
		_, fp, _ := strings.Cut(k, "/")
		claimed[fp] = true
	}
	for _, r := range refs {
		if r.Fingerprint != "" && !claimed[r.Fingerprint] {
			bc.Unclaimed = append(bc.Unclaimed, fmt.Sprintf("%s (fingerprint %s; no run recorded a finished backup step for it)", r.Key, bkShort(r.Fingerprint)))
		}
	}
	verified, verr := cli("backups", "verify", "--config", h.cfgPath, "--json")
	var results []struct {
		Key   string `json:"key"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(verified, &results); err != nil {
		// verify exits 1 when a backup fails, after printing the JSON; an
		// unreadable answer is a problem of its own.
		msg := err.Error()
		if verr != nil {
			msg = verr.Error()
		}
		bc.VerifyErr = msg
		return bc, outputs, nil
	}
	for _, r := range results {
		if r.OK {
			bc.Verified++
		} else {
			bc.Bad = append(bc.Bad, r.Key+": "+r.Error)
		}
	}
	return bc, outputs, nil
}

// scanSecrets looks for the emulators' keys in everything langsync wrote:
// every process's output, the CLI answers, and every document in the
// state container.
func (h *harness) scanSecrets(ctx context.Context, outputs []string) ([]string, error) {
	var found []string
	look := func(where, text string) {
		for i, k := range h.keys {
			if strings.Contains(text, k) {
				found = append(found, fmt.Sprintf("key of %s in %s", []string{source, targets[0], targets[1]}[i], where))
			}
		}
	}
	for _, p := range h.procs {
		for _, l := range p.Lines() {
			look("output of "+p.Name, l.Text)
		}
	}
	for _, o := range outputs {
		look("backups CLI output", o)
	}
	infos, err := h.store.List(ctx, langsync.DefaultStateContainer, "")
	if err != nil {
		return nil, fmt.Errorf("listing the state container: %w", err)
	}
	for _, info := range infos {
		rc, _, err := h.store.Get(ctx, langsync.DefaultStateContainer, info.Key)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", info.Key, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", info.Key, err)
		}
		look("state "+info.Key, string(b))
	}
	return found, nil
}

// newRNG is the seeded source of every random choice.
func newRNG(seed uint64) *mrand.Rand { return mrand.New(mrand.NewPCG(seed, seed^0x5eed)) }

func bkShort(s string) string { return s[:min(12, len(s))] }
