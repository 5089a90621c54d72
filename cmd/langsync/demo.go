package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/sample"
)

func demoCommand() Command {
	return Command{Name: "demo", Summary: "the whole product on this machine: emulators + Azurite, replicate, status, sync, restore, failover", Run: runDemo}
}

func runDemo(ctx context.Context, env *Env, args []string) error {
	d, err := parseDemo(env, args)
	if err != nil {
		return err
	}
	_, err = d.run(ctx)
	return err
}

// demo is one run of the demo scenario. `langsync demo` and its test both
// build it with parseDemo and call run.
type demo struct {
	env     *Env
	out     io.Writer
	dir     string
	keep    bool
	azurite string
	train   time.Duration
	budget  *authoring.RateBudget

	vars               map[string]string
	stops              []func()
	storeConn          string
	primary, secondary *demoEmulator
	cfgPath            string
	app                *app.App
	sample             *sample.Project
	travel             *sample.Project // the CLU sample, beside Tickets
	report             demoReport
}

// demoReport is what each step observed (the test asserts on it).
type demoReport struct {
	Steps []demoStepResult
	// Fingerprints replicated after step 1 and after step 3.
	Fingerprints []string
	// SyncLines are the decision lines of the two syncs of step 3.
	SyncLines []string
	// SecondSyncWrites is how many non-GET requests the second sync sent
	// to the secondary (0: it skipped).
	SecondSyncWrites int
	// Restored is the project restored on the secondary ("" if skipped).
	Restored string
	// Up and Down are the predictions with the primary up and down.
	Up, Down []demoPrediction
	// TravelUp and TravelDown are the CLU sample's (top intents).
	TravelUp, TravelDown []demoPrediction
}

type demoStepResult struct {
	Name   string
	Status string // passed, skipped or failed
	Detail string
}

type demoPrediction struct {
	Endpoint, Label, Text string
}

func parseDemo(env *Env, args []string) (*demo, error) {
	fs := newFlagSet(env, "demo")
	dir := fs.String("dir", "", "work `directory` for the config, documents and logs (default: a new temporary one, removed at the end)")
	keep := fs.Bool("keep", false, "keep the work directory")
	az := fs.String("azurite", "", "azurite-blob `path` (default $LANGSYNC_AZURITE, else .ci/node_modules/.bin/azurite-blob; `make deps` installs it)")
	train := fs.Duration("train-duration", time.Second, "how long a training job takes on the emulators")
	if err := parseNoArgs(fs, args); err != nil {
		return nil, err
	}
	if *train < 0 {
		return nil, usagef("langsync demo --help", "--train-duration must not be negative")
	}
	// The emulators enforce no rate limits: one roomy budget for every
	// command the demo runs (the service's 100 reads a minute, shared by
	// the commands of this one process, would stall it at step 2).
	budget := authoring.NewRateBudget(authoring.BudgetOptions{Writes: 1 << 20, Reads: 1 << 20})
	return &demo{env: env, out: env.Stdout, dir: *dir, keep: *keep || *dir != "", azurite: *az, train: *train, vars: map[string]string{}, budget: budget}, nil
}

// run runs every step in order, stops at the first failure (naming the
// step), and always stops what it started.
func (d *demo) run(ctx context.Context) (*demoReport, error) {
	defer d.stopAll()
	steps := []struct {
		name string
		fn   func(context.Context) (string, error)
	}{
		{"setup: start Azurite (state, backups and the primary's documents)", d.startStore},
		{"setup: start two Language emulators, primary and secondary", d.startEmulators},
		{"setup: load the Tickets and Travel (CLU) samples into the primary (documents, import, train, deploy)", d.loadSample},
		{"1/5 replicate Tickets and Travel to the secondary", d.replicate},
		{"2/5 status", d.status},
		{"3/5 change the primary; sync replicates it; sync again skips", d.syncTwice},
		{"4/5 restore an older backup under another name", d.restore},
		{"5/5 classify the probes with the primary up, then with the primary down", d.classify},
	}
	fmt.Fprintf(d.out, "langsync demo: two Language emulators and Azurite on loopback ports, the embedded Tickets sample,\nand the langsync commands run exactly as you would type them. Nothing is installed or left behind.\n")
	start := time.Now()
	for _, s := range steps {
		fmt.Fprintf(d.out, "\n==> %s\n", s.name)
		detail, err := s.fn(ctx)
		switch {
		case errors.Is(err, errDemoSkipped):
			d.report.Steps = append(d.report.Steps, demoStepResult{s.name, "skipped", detail})
			fmt.Fprintf(d.out, "    SKIPPED: %s\n", detail)
		case err != nil:
			d.report.Steps = append(d.report.Steps, demoStepResult{s.name, "failed", err.Error()})
			fmt.Fprintf(d.out, "\nDEMO FAILED at step %q: %v\n", s.name, err)
			return &d.report, fmt.Errorf("demo step %q: %w", s.name, err)
		default:
			d.report.Steps = append(d.report.Steps, demoStepResult{s.name, "passed", detail})
			fmt.Fprintf(d.out, "    ok: %s\n", detail)
		}
	}
	fmt.Fprintf(d.out, "\nDemo finished in %s: every step passed", time.Since(start).Round(100*time.Millisecond))
	for _, s := range d.report.Steps {
		if s.Status == "skipped" {
			fmt.Fprintf(d.out, " (skipped: %s)", s.Name)
		}
	}
	fmt.Fprintln(d.out, ". Stopping what the demo started.")
	return &d.report, nil
}

// errDemoSkipped marks a step this build cannot show.
var errDemoSkipped = errors.New("skipped")

func (d *demo) stopAll() {
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i]()
	}
	d.stops = nil
}

func (d *demo) startStore(ctx context.Context) (string, error) {
	if d.dir == "" {
		dir, err := os.MkdirTemp("", "langsync-demo-")
		if err != nil {
			return "", err
		}
		d.dir = dir
	} else if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return "", err
	}
	// The config names directories under it, and a store locator takes a
	// directory only as an explicit (here: absolute) path.
	abs, err := filepath.Abs(d.dir)
	if err != nil {
		return "", err
	}
	d.dir = abs
	if !d.keep {
		dir := d.dir
		d.stops = append(d.stops, func() { os.RemoveAll(dir) })
	}
	fmt.Fprintf(d.out, "    work directory: %s\n", d.dir)
	bin, err := findAzurite(d.azurite, d.env.Getenv)
	if err != nil {
		return "", err
	}
	azDir := filepath.Join(d.dir, "azurite")
	if err := os.MkdirAll(azDir, 0o755); err != nil {
		return "", err
	}
	ep, conn, stop, err := startAzurite(ctx, bin, azDir)
	if err != nil {
		return "", err
	}
	d.stops = append(d.stops, stop)
	d.storeConn = conn
	d.vars["LANGSYNC_STORE"] = conn
	return "Azurite (in memory) listening on " + ep, nil
}

func (d *demo) startEmulators(ctx context.Context) (string, error) {
	durations := map[string]time.Duration{
		emulator.KindExport: 200 * time.Millisecond, emulator.KindImport: 200 * time.Millisecond,
		emulator.KindTrain: d.train, emulator.KindDeploy: 300 * time.Millisecond,
	}
	docs, err := openStorageDocuments(ctx, d.storeConn)
	if err != nil {
		return "", fmt.Errorf("opening Azurite as the primary's linked storage: %w", err)
	}
	if d.primary, err = startDemoEmulator("primary", docs, durations); err != nil {
		return "", err
	}
	d.stops = append(d.stops, d.primary.stop)
	secDocs := filepath.Join(d.dir, "secondary-docs")
	if err := os.MkdirAll(secDocs, 0o755); err != nil {
		return "", err
	}
	if d.secondary, err = startDemoEmulator("secondary", emulator.DirDocuments(secDocs), durations); err != nil {
		return "", err
	}
	d.stops = append(d.stops, d.secondary.stop)
	d.vars["PRIMARY_KEY"], d.vars["SECONDARY_KEY"] = d.primary.key, d.secondary.key
	fmt.Fprintf(d.out, "    primary   %s  (linked storage: Azurite)\n    secondary %s  (linked storage: %s)\n", d.primary.url, d.secondary.url, d.rel(secDocs))

	d.sample = sample.Tickets()
	d.travel = sample.Travel()
	d.cfgPath = filepath.Join(d.dir, "langsync.yaml")
	probes, _ := json.Marshal(d.sample.ProbeTexts())
	cfg := fmt.Sprintf(`# Written by langsync demo. Keys and the store come from the environment.
resources:
  primary:
    endpoint: %s
    key: ${PRIMARY_KEY}
    storage: ${LANGSYNC_STORE}     # linked storage holding the documents: Azurite
  secondary:
    endpoint: %s
    key: ${SECONDARY_KEY}
    storage: %s
projects:
  - name: Tickets
    source: primary
    targets: [secondary]
    deployments: [production]
  - name: Travel                   # a CLU project: its utterances are in the project file
    source: primary
    targets: [secondary]
    deployments: [production]
store: ${LANGSYNC_STORE}           # state and backups in Azurite
containers: { backups: langsync-backups, state: langsync-state }
schedule: "0 0 2 * * *"
probes: %s
`, d.primary.url, d.secondary.url, secDocs, probes)
	if err := os.WriteFile(d.cfgPath, []byte(cfg), 0o600); err != nil {
		return "", err
	}
	c, err := config.Load(d.cfgPath, d.getenv)
	if err != nil {
		return "", err
	}
	if d.app, err = app.New(ctx, c, &app.Options{Authoring: &authoring.ClientOptions{Budget: d.budget}}); err != nil {
		return "", err
	}
	return "two emulators up; config written to " + d.rel(d.cfgPath), nil
}

func (d *demo) loadSample(ctx context.Context) (string, error) {
	st, err := storeopen.Open(ctx, d.storeConn, nil)
	if err != nil {
		return "", err
	}
	if err := st.EnsureContainer(ctx, d.sample.Container); err != nil {
		return "", err
	}
	for _, loc := range d.sample.Locations() {
		if _, err := st.Put(ctx, d.sample.Container, loc, strings.NewReader(d.sample.Docs[loc]), nil); err != nil {
			return "", fmt.Errorf("writing document %s: %w", loc, err)
		}
	}
	fmt.Fprintf(d.out, "    wrote %d labelled documents to the primary's linked storage (Azurite container %q)\n", len(d.sample.Docs), d.sample.Container)
	file := filepath.Join(d.dir, "tickets.json")
	if err := os.WriteFile(file, d.sample.JSON, 0o644); err != nil {
		return "", err
	}
	if err := d.trainPrimary(ctx, "Tickets", file); err != nil {
		return "", err
	}
	file = filepath.Join(d.dir, "travel.json")
	if err := os.WriteFile(file, d.travel.JSON, 0o644); err != nil {
		return "", err
	}
	if err := d.trainPrimary(ctx, "Travel", file); err != nil {
		return "", err
	}
	return fmt.Sprintf("Tickets (%d documents, 4 classes) and the CLU project Travel (intents, entities and utterances in one file) trained as model v1 and deployed as production on the primary", len(d.sample.Docs)), nil
}

// trainPrimary imports file into the primary as project and trains and
// deploys v1.
func (d *demo) trainPrimary(ctx context.Context, project, file string) error {
	d.vars["LANGSYNC_ENDPOINT"], d.vars["LANGSYNC_KEY"] = d.primary.url, d.primary.key
	defer func() { delete(d.vars, "LANGSYNC_ENDPOINT"); delete(d.vars, "LANGSYNC_KEY") }()
	fmt.Fprintf(d.out, "    (LANGSYNC_ENDPOINT and LANGSYNC_KEY point at the primary)\n")
	for _, args := range [][]string{
		{"project", "import", project, file},
		{"project", "train", project, "--model", "v1"},
		{"project", "deploy", project, "production", "--model", "v1"},
	} {
		if _, err := d.cli(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) replicate(ctx context.Context) (string, error) {
	out, err := d.cli(ctx, "replicate", "--config", d.cfgPath)
	if err != nil {
		return "", err
	}
	if !strings.Contains(out, "succeeded") {
		return "", fmt.Errorf("replicate did not report a succeeded run")
	}
	fp, err := d.inSync(ctx, "Tickets")
	if err != nil {
		return "", err
	}
	tfp, err := d.inSync(ctx, "Travel")
	if err != nil {
		return "", err
	}
	d.report.Fingerprints = append(d.report.Fingerprints, fp)
	return fmt.Sprintf("the secondary serves Tickets/production (fingerprint %s) and Travel/production (CLU, fingerprint %s, no documents to copy)", fp[:12], tfp[:12]), nil
}

// inSync checks the pair's state and the secondary's deployment and
// returns the replicated fingerprint.
func (d *demo) inSync(ctx context.Context, project string) (string, error) {
	st, err := d.app.Pipeline.Status(ctx)
	if err != nil {
		return "", err
	}
	var ps *pipeline.PairStatus
	for i := range st {
		if st[i].Pair.Project == project {
			ps = &st[i]
		}
	}
	if ps == nil || ps.Fingerprint == "" || ps.ActiveRun != nil || ps.Lag != 0 {
		return "", fmt.Errorf("the pair of %s is not in sync: %+v", project, st)
	}
	c, err := d.app.Client("secondary")
	if err != nil {
		return "", err
	}
	_, err = c.GetDeployment(ctx, project, "production")
	if errors.Is(err, authoring.ErrNotFound) {
		_, err = c.Conversations().GetDeployment(ctx, project, "production") // a CLU project
	}
	if err != nil {
		return "", fmt.Errorf("the secondary has no deployment %s/production: %w", project, err)
	}
	return ps.Fingerprint, nil
}

func (d *demo) status(ctx context.Context) (string, error) {
	out, err := d.cli(ctx, "status", "--config", d.cfgPath)
	if err != nil {
		return "", err
	}
	fp := d.report.Fingerprints[0][:12]
	if !strings.Contains(out, fp) {
		return "", fmt.Errorf("status does not show the replicated fingerprint %s", fp)
	}
	return "status shows the pair replicated with fingerprint " + fp + " and no lag", nil
}

// demoChange is the document the demo adds to the primary's project.
const demoChange = "I was billed three times for the same order and want my money back"

func (d *demo) syncTwice(ctx context.Context) (string, error) {
	st, err := storeopen.Open(ctx, d.storeConn, nil)
	if err != nil {
		return "", err
	}
	const loc = "ticket-demo-001.txt"
	if _, err := st.Put(ctx, d.sample.Container, loc, strings.NewReader(demoChange), nil); err != nil {
		return "", err
	}
	changed, err := addDocument(d.sample.JSON, loc, "Billing")
	if err != nil {
		return "", err
	}
	file := filepath.Join(d.dir, "tickets-changed.json")
	if err := os.WriteFile(file, changed, 0o644); err != nil {
		return "", err
	}
	fmt.Fprintf(d.out, "    the primary's project gains one labelled document (%s, Billing) and is retrained:\n", loc)
	if err := d.trainPrimary(ctx, "Tickets", file); err != nil {
		return "", err
	}

	out, err := d.cli(ctx, "sync", "--config", d.cfgPath)
	if err != nil {
		return "", err
	}
	first := decisionLine(out)
	if !strings.Contains(first, ": replicate (") || !strings.Contains(out, "succeeded") {
		return "", fmt.Errorf("the first sync did not replicate the change (decision %q)", first)
	}
	fp, err := d.inSync(ctx, "Tickets")
	if err != nil {
		return "", err
	}
	if fp == d.report.Fingerprints[0] {
		return "", fmt.Errorf("the fingerprint did not change (%s)", fp[:12])
	}
	d.report.Fingerprints = append(d.report.Fingerprints, fp)

	before := d.secondary.writes("")
	out, err = d.cli(ctx, "sync", "--config", d.cfgPath)
	if err != nil {
		return "", err
	}
	second := decisionLine(out)
	d.report.SyncLines = []string{first, second}
	d.report.SecondSyncWrites = d.secondary.writes("") - before
	if !strings.Contains(second, ": none (") {
		return "", fmt.Errorf("the second sync did not skip (decision %q)", second)
	}
	if d.report.SecondSyncWrites != 0 {
		return "", fmt.Errorf("the second sync sent %d writes to the secondary, want none", d.report.SecondSyncWrites)
	}
	return fmt.Sprintf("first sync replicated (fingerprint %s -> %s); the second skipped and wrote nothing: %s",
		d.report.Fingerprints[0][:12], fp[:12], strings.TrimPrefix(second, "primary/Tickets -> secondary: ")), nil
}

// decisionLine returns the sync output's decision line for the pair.
func decisionLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "primary/Tickets -> secondary:") {
			return l
		}
	}
	return ""
}

// addDocument appends a labelled Train document to an exported project.
func addDocument(export []byte, location, class string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(export, &doc); err != nil {
		return nil, err
	}
	assets, _ := doc["assets"].(map[string]any)
	docs, _ := assets["documents"].([]any)
	if assets == nil || docs == nil {
		return nil, errors.New("the sample export has no assets.documents")
	}
	assets["documents"] = append(docs, map[string]any{"location": location, "language": "en-us", "dataset": "Train", "class": map[string]any{"category": class}})
	return json.MarshalIndent(doc, "", "  ")
}

func (d *demo) restore(ctx context.Context) (string, error) {
	infos, err := d.app.Store.List(ctx, d.app.Config.Containers.Backups, langsync.BackupPrefix("primary", "Tickets"))
	if err != nil {
		return "", err
	}
	if len(infos) < 2 {
		return "", fmt.Errorf("want two backups of Tickets by now, found %d", len(infos))
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	older := infos[0].Key
	fmt.Fprintf(d.out, "    %d backups of Tickets in Azurite; the older one is %s\n", len(infos), older)
	if !hasCommand("restore") {
		return "`langsync restore` is not in this build yet (issue 7); would run: langsync restore --config langsync.yaml --backup " + older + " --to secondary --as TicketsOld", errDemoSkipped
	}
	out, err := d.cli(ctx, "restore", "--config", d.cfgPath, "--backup", older, "--to", "secondary", "--as", "TicketsOld")
	if err != nil {
		return "", err
	}
	// The older backup is the first replication's: its fingerprint, not
	// the current one, must be what the restore recorded.
	if old := d.report.Fingerprints[0][:12]; !strings.Contains(out, old) {
		return "", fmt.Errorf("the restore output does not name the older backup's fingerprint %s", old)
	}
	c, err := d.app.Client("secondary")
	if err != nil {
		return "", err
	}
	if _, err := c.GetProject(ctx, "TicketsOld"); err != nil {
		return "", fmt.Errorf("the secondary has no project TicketsOld after the restore: %w", err)
	}
	if _, err := c.GetDeployment(ctx, "TicketsOld", "production"); err != nil {
		return "", fmt.Errorf("TicketsOld on the secondary has no deployment production: %w", err)
	}
	d.report.Restored = "TicketsOld"
	return fmt.Sprintf("the older backup (fingerprint %s) now serves on the secondary as TicketsOld/production", d.report.Fingerprints[0][:12]), nil
}

func hasCommand(name string) bool {
	for _, c := range commands() {
		if c.Name == name {
			return true
		}
	}
	return false
}

func (d *demo) classify(ctx context.Context) (string, error) {
	args := append([]string{"classify", "--config", d.cfgPath, "--project", "Tickets", "--deployment", "production"}, d.sample.ProbeTexts()...)
	check := func(out, want string) ([]demoPrediction, error) {
		preds := parsePredictions(out)
		if len(preds) != len(d.sample.Probes) {
			return preds, fmt.Errorf("got %d predictions for %d probes", len(preds), len(d.sample.Probes))
		}
		for i, p := range d.sample.Probes {
			if preds[i].Endpoint != want || preds[i].Label != p.Want[0] {
				return preds, fmt.Errorf("probe %q: served by %s as %s, want %s as %s", p.Text, preds[i].Endpoint, preds[i].Label, want, p.Want[0])
			}
		}
		return preds, nil
	}
	out, err := d.cli(ctx, args...)
	if err != nil {
		return "", err
	}
	if d.report.Up, err = check(out, "primary"); err != nil {
		return "", err
	}
	if d.report.TravelUp, err = d.classifyTravel(ctx, "primary"); err != nil {
		return "", err
	}
	fmt.Fprintf(d.out, "    $ curl -X POST %s/emulator/faults -d '{\"down\":true}'    # the emulator's admin API: the primary region goes down\n", d.primary.url)
	if err := setFaults(ctx, d.primary.url, emulator.Faults{Down: true}); err != nil {
		return "", err
	}
	out, err = d.cli(ctx, args...)
	if err != nil {
		return "", err
	}
	if d.report.Down, err = check(out, "secondary"); err != nil {
		return "", err
	}
	if d.report.TravelDown, err = d.classifyTravel(ctx, "secondary"); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d Tickets probes and %d Travel (CLU) probes: same labels and top intents from the primary and, with it down, from the secondary", len(d.sample.Probes), len(d.travel.Probes)), nil
}

// parsePredictions reads classify's lines "<endpoint> <Class> (<score>)\t<text>".
func parsePredictions(out string) []demoPrediction {
	var preds []demoPrediction
	for _, l := range strings.Split(out, "\n") {
		left, text, ok := strings.Cut(l, "\t")
		f := strings.Fields(left)
		if !ok || len(f) < 2 {
			continue
		}
		preds = append(preds, demoPrediction{Endpoint: f[0], Label: f[1], Text: text})
	}
	return preds
}

func setFaults(ctx context.Context, url string, f emulator.Faults) error {
	body, err := json.Marshal(f)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/emulator/faults", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("setting faults: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("setting faults: %s %s", resp.Status, b)
	}
	return nil
}

// cli runs a langsync command in this process, exactly as typed, showing
// the command line and its indented output.
func (d *demo) cli(ctx context.Context, args ...string) (string, error) {
	shown := make([]string, len(args))
	for i, a := range args {
		a = d.rel(a)
		if strings.ContainsAny(a, " '\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		shown[i] = a
	}
	fmt.Fprintf(d.out, "    $ langsync %s\n", strings.Join(shown, " "))
	var buf bytes.Buffer
	iw := &indentWriter{w: d.out, prefix: "      "}
	// Progress (stdout) and logs (stderr) may come from several goroutines.
	w := &syncWriter{w: io.MultiWriter(iw, &buf)}
	e := &Env{Stdin: strings.NewReader(""), Stdout: w, Stderr: w, Getenv: d.getenv, budget: d.budget}
	code := run(ctx, e, args)
	iw.flush()
	if code != exitOK {
		return buf.String(), fmt.Errorf("`langsync %s` exited %d", strings.Join(shown, " "), code)
	}
	return buf.String(), nil
}

func (d *demo) getenv(k string) string { return d.vars[k] }

// rel shows paths inside the work directory relative to it.
func (d *demo) rel(s string) string {
	if d.dir != "" && strings.HasPrefix(s, d.dir+string(filepath.Separator)) {
		return s[len(d.dir)+1:]
	}
	return s
}

// syncWriter serialises writes.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// indentWriter prefixes every line.
type indentWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (iw *indentWriter) Write(p []byte) (int, error) {
	iw.buf = append(iw.buf, p...)
	for {
		i := bytes.IndexByte(iw.buf, '\n')
		if i < 0 {
			break
		}
		// A progress line rewritten in place keeps its last state only.
		line := iw.buf[:i]
		if j := bytes.LastIndexByte(line, '\r'); j >= 0 {
			line = line[j+1:]
		}
		fmt.Fprintf(iw.w, "%s%s\n", iw.prefix, line)
		iw.buf = iw.buf[i+1:]
	}
	return len(p), nil
}

func (iw *indentWriter) flush() {
	if len(iw.buf) > 0 {
		fmt.Fprintf(iw.w, "%s%s\n", iw.prefix, iw.buf)
		iw.buf = nil
	}
}

// classifyTravel classifies the CLU sample's probes and checks that want
// answered each with the probe's top intent.
func (d *demo) classifyTravel(ctx context.Context, want string) ([]demoPrediction, error) {
	out, err := d.cli(ctx, append([]string{"classify", "--config", d.cfgPath, "--project", "Travel", "--deployment", "production"}, d.travel.ProbeTexts()...)...)
	if err != nil {
		return nil, err
	}
	preds := parsePredictions(out)
	if len(preds) != len(d.travel.Probes) {
		return preds, fmt.Errorf("got %d Travel predictions for %d probes", len(preds), len(d.travel.Probes))
	}
	for i, p := range d.travel.Probes {
		if preds[i].Endpoint != want || preds[i].Label != p.Want[0] {
			return preds, fmt.Errorf("probe %q of Travel: served by %s as %s, want %s as %s", p.Text, preds[i].Endpoint, preds[i].Label, want, p.Want[0])
		}
	}
	return preds, nil
}
