package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/customhandler/customhandlertest"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/queue"
	"github.com/langsync/langsync/shared/sample"
	"github.com/langsync/langsync/shared/sbemulator/sbemulatortest"
)

// e2eRig is two Language emulators (Tickets seeded, trained and deployed
// on the source), Azurite, the Service Bus stand-in and the app settings
// that point langsync at them.
type e2eRig struct {
	p        *sample.Project
	src, tgt *emulatortest.Resource
	store    string
	sb       *sbemulatortest.Emulator
	env      map[string]string
}

// roomyBudget is a rate budget for the emulators, which enforce no limits:
// the service's 100 reads a minute (authoring.DefaultBudget, shared by the
// whole test process) would make polling tests wait out the window.
func roomyBudget() *authoring.RateBudget {
	return authoring.NewRateBudget(authoring.BudgetOptions{Writes: 100000, Reads: 100000})
}

// e2eAppOptions: the emulators enforce no limits, so a roomy budget keeps
// the tests fast; a tiny poll budget makes every job step hand over to a
// scheduled message, so a run travels through every queue and function. A
// process killed between a POST and its save is recovered at the claim's
// deadline, 10 s later (the default 20 s would only slow the kill test).
func e2eAppOptions(o *app.Options) {
	o.Authoring = &authoring.ClientOptions{Budget: roomyBudget()}
	o.Pipeline = func(po *pipeline.Options) {
		po.PollBudget = time.Millisecond
		po.BeginTimeout = 10 * time.Second
		po.PollIntervals = map[langsync.JobKind]time.Duration{
			langsync.JobExport: 100 * time.Millisecond, langsync.JobImport: 100 * time.Millisecond,
			langsync.JobTrain: 200 * time.Millisecond, langsync.JobDeploy: 100 * time.Millisecond,
		}
	}
}

func newE2ERig(t *testing.T, train time.Duration) *e2eRig {
	t.Helper()
	return newE2ERigWith(t, train, false)
}

// newE2ERigWith is newE2ERig, and with conversations also the Travel (CLU)
// and TravelRouter (orchestration) samples trained and deployed on the
// source and configured to replicate to the secondary beside Tickets.
func newE2ERigWith(t *testing.T, train time.Duration, conversations bool) *e2eRig {
	t.Helper()
	p := sample.Tickets()
	srcDocs, tgtDocs := t.TempDir(), t.TempDir()
	// Every job is still running at its first two status reads
	// (MinStatusReads), however loaded the machine: a step polls once
	// within its 1ms poll budget and hands over to a message, and the job
	// is seen running once more in the wake-up that message brings (a step
	// started inline by the one before it is still continued by its own
	// function).
	dur := map[string]time.Duration{"export": 300 * time.Millisecond, "import": 300 * time.Millisecond, "train": train, "deploy": 300 * time.Millisecond}
	src := emulatortest.Start(t, &emulator.Options{Name: "primary", Documents: emulator.DirDocuments(srcDocs), Clock: emulator.RealClock(), JobDurations: dur, MinStatusReads: 2})
	tgt := emulatortest.Start(t, &emulator.Options{Name: "secondary", Documents: emulator.DirDocuments(tgtDocs), Clock: emulator.RealClock(), JobDurations: dur, MinStatusReads: 2})
	if err := p.WriteDocs(srcDocs, p.Container); err != nil {
		t.Fatal(err)
	}
	var body any
	if err := json.Unmarshal(p.JSON, &body); err != nil {
		t.Fatal(err)
	}
	loc := src.Start202(http.MethodPost, "/language/authoring/analyze-text/projects/"+p.Name+"/:import?api-version=2023-04-01", body)
	if st := src.Wait(loc, 0); st["status"] != "succeeded" {
		t.Fatalf("seeding: %v", st)
	}
	src.TrainAndDeploy(p.Name, "model1", "production")
	more := ""
	if conversations {
		for _, cp := range sample.Conversations() {
			src.LoadConversation(cp.Name, cp.JSON)
			src.TrainAndDeployConversation(cp.Name, "model1", "production")
			more += fmt.Sprintf("  - {name: %s, source: primary, targets: [secondary]}\n", cp.Name)
		}
	}

	store := azuritetest.Start(t)
	sb := sbemulatortest.Start(t, nil)
	cfgYAML := fmt.Sprintf(`resources:
  primary: {endpoint: %q, key: "${SRC_KEY}", storage: %q}
  secondary: {endpoint: %q, key: "${TGT_KEY}", storage: %q}
projects:
  - {name: %s, source: primary, targets: [secondary]}
%sstore: "${LANGSYNC_STORE}"
`, src.URL, srcDocs, tgt.URL, tgtDocs, p.Name, more)
	env := map[string]string{
		"LANGSYNC_CONFIG":     cfgYAML,
		"SRC_KEY":             src.Key,
		"TGT_KEY":             tgt.Key,
		"LANGSYNC_STORE":      store,
		"LANGSYNC_SERVICEBUS": sb.ConnectionString,
		"LANGSYNC_SCHEDULE":   "0 0 2 * * *",
	}
	return &e2eRig{p: p, src: src, tgt: tgt, store: store, sb: sb, env: env}
}

// simulate starts the host simulator against a handler URL.
func (r *e2eRig) simulate(t *testing.T, handlerURL string) (*customhandlertest.Host, *httptest.Server) {
	t.Helper()
	host, err := customhandlertest.New(customhandlertest.Options{
		FunctionsDir: filepath.Join("..", "..", "functions"),
		HandlerURL:   handlerURL,
		Settings:     func(k string) string { return r.env[k] },
		FunctionKey:  "fk-e2e",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close(context.Background()) })
	front := httptest.NewServer(host)
	t.Cleanup(front.Close)
	return host, front
}

// fireSync starts the host simulator against serve, fires the sync timer
// and runs the simulator's triggers until stop is called; done reports
// how Run ended.
func (r *e2eRig) fireSync(t *testing.T, ctx context.Context, s *served) (host *customhandlertest.Host, front *httptest.Server, done chan error, stop context.CancelFunc) {
	t.Helper()
	host, front = r.simulate(t, s.url)
	if err := host.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if res := host.FireTimer(ctx, "sync"); !res.OK() {
		t.Fatalf("timer: %v\n%s", res.Err, s.stderr)
	}
	done = make(chan error, 1)
	hctx, stop := context.WithCancel(ctx)
	go func() { done <- host.Run(hctx) }()
	return host, front, done, stop
}

// readBlob returns a blob's bytes.
func readBlob(t *testing.T, ctx context.Context, bs blobstore.Store, container, key string) []byte {
	t.Helper()
	rc, _, err := bs.Get(ctx, container, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitRun polls the status HTTP trigger until the pair's last run ended
// and returns its phase.
func (r *e2eRig) waitRun(t *testing.T, ctx context.Context, frontURL string, diag func() string) langsync.RunPhase {
	t.Helper()
	return r.waitProject(t, ctx, frontURL, r.p.Name, diag)
}

// waitProject is waitRun for the named project's (single) pair.
func (r *e2eRig) waitProject(t *testing.T, ctx context.Context, frontURL, project string, diag func() string) langsync.RunPhase {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last map[string]any
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("replication did not finish: last status %v\n%s", last, diag())
		case <-tick.C:
		}
		last = r.status(t, ctx, frontURL, project)
		pairs, _ := last["pairs"].([]any)
		if len(pairs) != 1 {
			continue
		}
		ps, _ := pairs[0].(map[string]any)
		if ps["activeRun"] != nil {
			continue
		}
		switch ph := ps["lastRunPhase"]; ph {
		case string(langsync.RunSucceeded), string(langsync.RunFailed):
			if ph == string(langsync.RunFailed) {
				t.Logf("run failed: %v", ps)
			}
			return langsync.RunPhase(ph.(string))
		}
	}
}

func (r *e2eRig) status(t *testing.T, ctx context.Context, frontURL, project string) map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, frontURL+"/api/status/"+project+"?code=fk-e2e", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("status body %s: %v", b, err)
	}
	return m
}

// targetWrites counts the non-GET requests the target received whose path
// contains part.
func (r *e2eRig) targetWrites(part string) int {
	n := 0
	for _, q := range r.tgt.Server.Requests() {
		if q.Method != http.MethodGet && strings.Contains(q.Path, part) {
			n++
		}
	}
	return n
}

// TestServeEndToEnd runs the production form on doubles that are real on
// the wire: two Language emulators, Azurite, the Service Bus stand-in,
// `langsync serve` and the host simulator driven by functions/*/function.json.
// The timer replicates a project through the export, import, train and
// deploy functions; status answers over the HTTP trigger with a function
// key; a duplicate and a redelivered wake-up start no second job; a
// malformed message is kept under failed/ and delivered once.
//
// That every step function completes a message and that training
// continues through a second wake-up hold on a loaded machine: the rig's
// emulators answer each job's first status read with running
// (emulator.Options.MinStatusReads).
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := testContext(t)
	defer cancel()
	r := newE2ERig(t, 300*time.Millisecond)
	// serve sends its wake-ups to the config's serviceBus key here
	// (TestServeKilledMidRun covers the LANGSYNC_SERVICEBUS setting); the
	// simulated host's triggers still read the app setting.
	serveEnv := maps.Clone(r.env)
	delete(serveEnv, "LANGSYNC_SERVICEBUS")
	serveEnv["LANGSYNC_CONFIG"] += fmt.Sprintf("serviceBus: %q\n", r.env["LANGSYNC_SERVICEBUS"])
	s := startServe(t, serveEnv, e2eAppOptions)
	host, front, runErr, hcancel := r.fireSync(t, ctx, s)
	if ph := r.waitRun(t, ctx, front.URL, func() string { return tail(s.stdout.String(), 30) }); ph != langsync.RunSucceeded {
		t.Fatalf("run %s", ph)
	}
	// Every step function completed a message.
	seen := map[string]bool{}
	for _, st := range host.Settlements() {
		if st.Completed {
			seen[st.Function] = true
		}
	}
	for _, fn := range []string{"export", "import", "train", "deploy"} {
		if !seen[fn] {
			t.Errorf("function %s never completed a message (settlements %v)", fn, host.Settlements())
		}
	}
	// Training outlasted the poll budget: it continued through scheduled
	// wake-ups with rising sequence numbers.
	trains := 0
	for _, st := range host.Settlements() {
		if st.Function == "train" && st.Completed {
			trains++
		}
	}
	if trains < 2 {
		t.Errorf("train completed %d wake-ups, want a continuation (>= 2)", trains)
	}
	// The target now serves the deployment.
	if code, _, b := r.tgt.Do(http.MethodGet, "/language/authoring/analyze-text/projects/"+r.p.Name+"/deployments/production?api-version=2023-04-01", nil); code != 200 {
		t.Fatalf("target deployment: %d %s", code, b)
	}

	// A duplicate (same MessageId) is dropped by Service Bus; a redelivered
	// copy (new MessageId) reaches the train function but starts no job.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	before := r.targetWrites("")
	var trainID string
	for _, st := range host.Settlements() {
		if st.Function == "train" {
			trainID = st.MessageID
		}
	}
	parts := strings.Split(trainID, "/")
	if len(parts) != 3 {
		t.Fatalf("train MessageId %q is not <run>/<step>/<seq>", trainID)
	}
	wake := []byte(fmt.Sprintf(`{"v":1,"run":%q,"step":"train","seq":%s}`, parts[0], parts[2]))
	snd, err := queue.NewServiceBus(r.sb.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close(context.Background())
	for _, id := range []string{trainID, trainID + "-again"} {
		if err := snd.Send(ctx, "langsync-train", wake, id); err != nil {
			t.Fatal(err)
		}
	}
	for redelivered := false; !redelivered; {
		select {
		case <-ctx.Done():
			t.Fatal("the redelivered wake-up was not handled")
		case <-tick.C:
		}
		for _, st := range host.Settlements() {
			if st.MessageID == trainID+"-again" && st.Completed {
				redelivered = true
			}
		}
	}
	orig := 0
	for _, st := range host.Settlements() {
		if st.MessageID == trainID {
			orig++
		}
	}
	if orig != 1 {
		t.Fatalf("wake-up %s delivered %d times, want 1 (duplicate detection)", trainID, orig)
	}
	if got := r.targetWrites(""); got != before {
		t.Fatalf("a duplicate wake-up sent %d more write requests to the target", got-before)
	}

	// A malformed message is completed once and kept under failed/.
	if err := snd.Send(ctx, "langsync-import", []byte(`{"restore":"everything"}`), "bad-e2e"); err != nil {
		t.Fatal(err)
	}
	bs, err := storeopen.Open(ctx, r.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kept []blobstore.Info
	for len(kept) == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("malformed message was not kept")
		case <-tick.C:
		}
		kept, _ = bs.List(ctx, langsync.DefaultStateContainer, langsync.FailedPrefix)
	}
	if !strings.Contains(kept[0].Key, "bad-e2e") {
		t.Fatalf("kept %v", kept)
	}
	// Restores. A request on langsync-import restores the replication's
	// backup into the secondary under another name; the same backup dropped
	// under restore/secondary/TicketsDrop/ in Azurite fires the restore blob
	// trigger (once) and restores under that name; a drop that is not a
	// backup is refused: moved aside, kept, not retried.
	backups, err := bs.List(ctx, langsync.DefaultBackupContainer, langsync.BackupPrefix("primary", r.p.Name))
	if err != nil || len(backups) == 0 {
		t.Fatalf("backups of %s: %v %v", r.p.Name, backups, err)
	}
	if err := snd.Send(ctx, "langsync-import", []byte(fmt.Sprintf(`{"backup":%q,"target":"secondary","as":"TicketsOld"}`, backups[0].Key)), "restore-1"); err != nil {
		t.Fatal(err)
	}
	archive := readBlob(t, ctx, bs, langsync.DefaultBackupContainer, backups[0].Key)
	host.SetBlobs(customhandlertest.StoreBlobs{Store: bs})
	for key, data := range map[string][]byte{
		"restore/secondary/TicketsDrop/tickets.tar.gz": archive,
		"restore/Tickets-junk.tar.gz":                  []byte("not really a backup"),
	} {
		if _, err := bs.Put(ctx, langsync.DefaultStateContainer, key, bytes.NewReader(data), nil); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := host.ScanBlobs(ctx); err != nil || n != 2 {
		t.Fatalf("blob scan delivered %d (%v), want 2", n, err)
	}
	for _, res := range host.Results() {
		if res.Function == "restore" && !res.OK() {
			t.Fatalf("restore invocation failed (it would be retried): %v", res.Err)
		}
	}
	if n, _ := host.ScanBlobs(ctx); n != 0 {
		t.Fatalf("drops were delivered again (%d)", n)
	}
	for _, name := range []string{"TicketsOld", "TicketsDrop"} {
		for {
			code, _, _ := r.tgt.Do(http.MethodGet, "/language/authoring/analyze-text/projects/"+name+"/deployments/production?api-version=2023-04-01", nil)
			if code == http.StatusOK {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("restore to %s did not finish\n%s", name, tail(s.stdout.String(), 30))
			case <-tick.C:
			}
		}
	}
	if left, _ := bs.List(ctx, langsync.DefaultStateContainer, langsync.RestorePrefix); len(left) != 0 {
		t.Fatalf("restore/ still holds %v", left)
	}
	kept, _ = bs.List(ctx, langsync.DefaultStateContainer, langsync.FailedPrefix)
	if len(kept) < 2 {
		t.Fatalf("failed/ holds %v, want the malformed message and the refused drop", kept)
	}
	hcancel()
	if err := <-runErr; err != nil {
		t.Fatalf("simulator: %v", err)
	}
	n := 0
	for _, st := range host.Settlements() {
		if st.MessageID == "bad-e2e" {
			n++
			if !st.Completed {
				t.Errorf("malformed message abandoned: %+v", st)
			}
		}
	}
	if n != 1 {
		t.Fatalf("malformed message delivered %d times, want 1", n)
	}
	c, _ := r.sb.Server.Counts("langsync-import")
	if c.DeadLetter != 0 || c.Total() != 0 {
		t.Fatalf("import queue %+v, want empty", c)
	}
	for _, secret := range []string{r.src.Key, r.tgt.Key} {
		if strings.Contains(s.stdout.String()+s.stderr.String(), secret) {
			t.Fatal("a Language key reached the logs")
		}
	}
	// Logs are JSON lines with run, project and step.
	var withRun bool
	for _, line := range strings.Split(strings.TrimSpace(s.stdout.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["run"] != nil && m["project"] == r.p.Name && m["step"] != nil {
			withRun = true
		}
	}
	if !withRun {
		t.Fatal("no log line carries run, project and step")
	}
}

// TestHelperServe is not a test: TestServeKilledMidRun runs the test binary
// with LANGSYNC_HELPER_SERVE=1 to get a `langsync serve` process (with the
// end-to-end app options) that it can kill.
func TestHelperServe(t *testing.T) {
	if os.Getenv("LANGSYNC_HELPER_SERVE") != "1" {
		t.Log("helper process for TestServeKilledMidRun; nothing to do on its own")
		return
	}
	e := &Env{Stdin: strings.NewReader(""), Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, appOptions: e2eAppOptions}
	os.Exit(run(context.Background(), e, []string{"serve"}))
}

// serveProcess starts `langsync serve` as a child process on port.
func serveProcess(t *testing.T, env map[string]string, port string, logs *serveBuffer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$")
	cmd.Env = append(os.Environ(), "LANGSYNC_HELPER_SERVE=1", "FUNCTIONS_CUSTOMHANDLER_PORT="+port)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// TestServeKilledMidRun kills the handler process (SIGKILL) right after it
// started the training job on the target; the host simulator abandons the
// in-flight message and waits for the restarted process, and the run
// completes without a second training job.
func TestServeKilledMidRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := testContext(t)
	defer cancel()
	r := newE2ERig(t, 2*time.Second)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	logs := &serveBuffer{}
	first := serveProcess(t, r.env, port, logs)
	host, front := r.simulate(t, "http://127.0.0.1:"+port)
	if err := host.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if res := host.FireTimer(ctx, "sync"); !res.OK() {
		t.Fatalf("timer: %v\n%s", res.Err, logs)
	}
	runErr := make(chan error, 1)
	hctx, hcancel := context.WithCancel(ctx)
	go func() { runErr <- host.Run(hctx) }()

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for r.targetWrites(":train") == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("training never started on the target\n%s", tail(logs.String(), 30))
		case <-tick.C:
		}
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	serveProcess(t, r.env, port, logs)
	// As the Functions host does, wait for the new process to answer before
	// calling it: until then the status trigger answers 500 (connection
	// refused), which a loaded machine makes long enough to be seen.
	if err := host.WaitReady(ctx); err != nil {
		t.Fatalf("restarted handler: %v\n%s", err, tail(logs.String(), 30))
	}

	if ph := r.waitRun(t, ctx, front.URL, func() string { return tail(logs.String(), 40) }); ph != langsync.RunSucceeded {
		t.Fatalf("run %s after the restart\n%s", ph, tail(logs.String(), 40))
	}
	hcancel()
	if err := <-runErr; err != nil {
		t.Fatalf("simulator: %v", err)
	}
	if n := r.targetWrites(":train"); n != 1 {
		t.Fatalf("%d training jobs started on the target, want 1", n)
	}
	for _, q := range []string{"langsync-export", "langsync-import", "langsync-train", "langsync-deploy"} {
		if c, _ := r.sb.Server.Counts(q); c.DeadLetter != 0 {
			t.Fatalf("%s dead-lettered %d messages", q, c.DeadLetter)
		}
	}
}

// TestLambdaEndToEnd wires the Lambda handler from the same app settings
// and replicates with a direct invoke: due wake-ups are advanced inline,
// and a scheduled EventBridge event's sweep finishes what the first
// invocation left pending.
func TestLambdaEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := testContext(t)
	defer cancel()
	r := newE2ERig(t, 300*time.Millisecond)
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return r.env[k] }, appOptions: func(o *app.Options) {
		e2eAppOptions(o)
		inner := o.Pipeline
		o.Pipeline = func(po *pipeline.Options) {
			inner(po)
			// Poll inline long enough for the emulator's jobs to finish.
			po.PollBudget = 5 * time.Second
		}
	}}
	h, err := buildLambdaHandler(ctx, env, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(ctx, []byte(`{"project":"`+r.p.Name+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Kind     string `json:"kind"`
		Advanced int    `json:"advanced"`
		Pending  []any  `json:"pending"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Kind != "replicate" || res.Advanced == 0 {
		t.Fatalf("invoke answered %s (%v), want a replicate with inline steps", out, err)
	}
	// Status over a direct invoke shows the replicated pair.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := h.Invoke(ctx, []byte(`{"action":"status","pair":"`+r.p.Name+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), `"lastRunPhase":"succeeded"`) {
			break
		}
		if strings.Contains(string(out), `"lastRunPhase":"failed"`) {
			t.Fatalf("run failed: %s", out)
		}
		// Whatever was pending is picked up by the next scheduled sync.
		if _, err := h.Invoke(ctx, []byte(`{"action":"sync"}`)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("replication did not finish: %s", out)
		case <-tick.C:
		}
	}
	if n := r.targetWrites(":train"); n != 1 {
		t.Fatalf("%d training jobs on the target, want 1", n)
	}
	// A direct restore invoke restores the backup under another name.
	bs, err := storeopen.Open(ctx, r.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	backups, err := bs.List(ctx, langsync.DefaultBackupContainer, langsync.BackupPrefix("primary", r.p.Name))
	if err != nil || len(backups) == 0 {
		t.Fatalf("backups: %v %v", backups, err)
	}
	out, err = h.Invoke(ctx, []byte(fmt.Sprintf(`{"backup":%q,"target":"secondary","as":"TicketsL"}`, backups[0].Key)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"kind":"restore"`) {
		t.Fatalf("restore invoke answered %s", out)
	}
	for {
		code, _, _ := r.tgt.Do(http.MethodGet, "/language/authoring/analyze-text/projects/TicketsL/deployments/production?api-version=2023-04-01", nil)
		if code == http.StatusOK {
			break
		}
		if _, err := h.Invoke(ctx, []byte(`{"action":"sync"}`)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("the restore did not finish")
		case <-tick.C:
		}
	}
}
