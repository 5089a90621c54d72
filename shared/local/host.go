package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/entry"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/metrics"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/queue"
)

// Restorer starts a restore run for a backup dropped under restore/ in the
// state container (key is the full key, "restore/<name>") and returns the
// wake-ups to schedule. The restore entry point of shared/pipeline
// implements it once restore runs exist; until then the host logs the drop
// and leaves the blob alone.
type Restorer interface {
	RestoreDropped(ctx context.Context, key string) ([]pipeline.Next, error)
}

// Options tune a Host; the zero value means defaults.
type Options struct {
	// Logger receives one line per decision and step; nil discards.
	Logger *slog.Logger
	// App adjusts the app options before the app is built (tests: fault
	// hooks, poll intervals).
	App func(*app.Options)
	// Workers is how many wake-ups are handled at once (default 2).
	Workers int
	// SweepEvery is how often overdue runs are re-woken (a wake-up lost to
	// an error); a run is overdue SweepEvery after its NextAt (default 1m).
	SweepEvery time.Duration
	// RestoreEvery is how often restore/ is listed (default 10s).
	RestoreEvery time.Duration
	// Restorer starts restores of dropped backups; nil: drops are logged
	// and left in place.
	Restorer Restorer
	// SyncOnStart runs the change check once at start-up, before the
	// schedule's first firing.
	SyncOnStart bool
	// StopGrace is how long actions in progress may take to finish after
	// the host is told to stop (default 30s); then they are cancelled, which
	// is safe (the run resumes from its state) but less tidy.
	StopGrace time.Duration
	// PollBudget bounds how long one wake-up polls a job before it
	// schedules the next one (default 5s: short, so that a stop is quick).
	PollBudget time.Duration
	// Metrics records the metrics GET /metrics serves (nil: none).
	Metrics *metrics.Recorder
	// Heartbeat is pinged after each scheduled sync (nil: none).
	Heartbeat entry.Beater
}

// Host is the local host. Build it with New and start it with Run.
type Host struct {
	App   *app.App
	Queue *queue.Memory
	// Points are the entry points' watch: run-end events and metrics, the
	// status page, alerts and the heartbeat, as in the other hosts.
	Points *entry.Points

	running  atomic.Bool
	cfg      *config.Config
	schedule *config.Schedule
	opts     Options
	log      *slog.Logger

	mu       sync.Mutex
	projects map[string]string // run id -> project, for step log lines
	receipts map[string]string // restore key -> ETag handled
	warned   map[string]bool   // restore key -> drop without restorer logged
}

// New builds the app from cfg and returns a host for it.
func New(ctx context.Context, cfg *config.Config, opts *Options) (*Host, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.SweepEvery, time.Minute)
	def(&o.RestoreEvery, 10*time.Second)
	def(&o.StopGrace, 30*time.Second)
	def(&o.PollBudget, 5*time.Second)
	if o.Workers <= 0 {
		o.Workers = 2
	}
	sched, err := config.ParseSchedule(cfg.Schedule)
	if err != nil {
		return nil, fmt.Errorf("local: schedule %q: %w (fix schedule: in the config)", cfg.Schedule, err)
	}
	h := &Host{cfg: cfg, schedule: sched, opts: o, log: o.Logger,
		projects: map[string]string{}, receipts: map[string]string{}, warned: map[string]bool{}}
	aopts := &app.Options{Logger: o.Logger, Metrics: o.Metrics}
	if o.App != nil {
		o.App(aopts)
	}
	inner := aopts.Pipeline
	aopts.Pipeline = func(po *pipeline.Options) {
		po.PollBudget = o.PollBudget
		if inner != nil {
			inner(po)
		}
		prev := po.OnProgress
		po.OnProgress = func(p pipeline.Progress) {
			h.stepLine(p)
			if prev != nil {
				prev(p)
			}
		}
	}
	a, err := app.New(ctx, cfg, aopts)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	h.App = a
	h.Queue = queue.NewMemory(nil)
	h.Points = entry.New(entry.Options{Pipeline: a.Pipeline, State: a.State, Logger: o.Logger,
		Metrics: o.Metrics, Heartbeat: o.Heartbeat, Backups: a.Backups, MaxLag: time.Duration(cfg.Alerts.MaxLag)})
	return h, nil
}

// stepLine logs one line per step event (start, done, retry, fail, skip,
// wait); polls are logged only at debug level.
func (h *Host) stepLine(p pipeline.Progress) {
	level := slog.LevelInfo
	switch p.Event {
	case "poll":
		level = slog.LevelDebug
	case "retry":
		level = slog.LevelWarn
	case "fail":
		level = slog.LevelError
	}
	attrs := []any{"run", p.Run, "project", h.project(p.Run), "step", p.Step.ID(), "event", p.Event}
	if p.Event == "poll" {
		attrs = append(attrs, "percent", p.Step.Percent)
	}
	if p.Step.Error != "" && (p.Event == "retry" || p.Event == "fail") {
		attrs = append(attrs, "error", p.Step.Error)
	}
	if p.Step.Note != "" && p.Event == "done" {
		attrs = append(attrs, "note", p.Step.Note)
	}
	if p.Event == "wait" {
		// Another process (a `langsync replicate` beside this host) is
		// starting the step's job; say what and for how long at most.
		attrs = append(attrs, "reason", p.Message, "until", p.Until.Format(time.RFC3339))
	}
	if p.Elapsed > 0 && p.Event != "start" {
		attrs = append(attrs, "elapsed", p.Elapsed.Round(time.Millisecond).String())
	}
	h.log.Log(context.Background(), level, "step "+p.Event, attrs...)
}

func (h *Host) project(run string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.projects[run]
}

func (h *Host) remember(run, project string) {
	if run == "" || project == "" {
		return
	}
	h.mu.Lock()
	h.projects[run] = project
	h.mu.Unlock()
}

// Run serves until ctx ends: it resumes unfinished runs, fires the
// schedule, handles wake-ups, sweeps overdue runs and watches restore/.
// It returns nil after a clean stop.
func (h *Host) Run(ctx context.Context) error {
	defer h.Queue.Close(context.WithoutCancel(ctx))
	h.running.Store(true)
	defer h.running.Store(false)
	h.log.Info("local host starting", "schedule", h.schedule.String(), "next", h.schedule.Next(time.Now()).Format(time.RFC3339),
		"pairs", len(h.cfg.Pairs()), "state", h.cfg.Containers.State, "backups", h.cfg.Containers.Backups, "workers", h.opts.Workers)
	// Work outlives ctx by StopGrace so that an action in progress
	// finishes (between actions is where a stop is clean).
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopWatch := context.AfterFunc(ctx, func() {
		t := time.NewTimer(h.opts.StopGrace)
		defer t.Stop()
		select {
		case <-t.C:
			h.log.Warn("stop grace elapsed; cancelling actions in progress (their runs resume on the next start)", "grace", h.opts.StopGrace.String())
			cancelWork()
		case <-work.Done():
		}
	})
	defer stopWatch()

	if n, err := h.Resume(ctx); err != nil {
		h.log.Error("resuming unfinished runs", "err", err)
	} else {
		h.log.Info("resumed unfinished runs", "runs", n)
	}
	if h.opts.SyncOnStart {
		h.Fire(ctx)
	} else if h.opts.Metrics != nil {
		// The pair gauges from the start, not from the first sync.
		_, _ = h.Points.Observe(ctx)
	}

	var wg sync.WaitGroup
	for i := 0; i < h.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.worker(ctx, work)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.loop(ctx)
	}()
	wg.Wait()
	h.log.Info("local host stopped")
	return nil
}

// loop fires the schedule and runs the periodic sweep and restore watch.
func (h *Host) loop(ctx context.Context) {
	sweep := time.NewTicker(h.opts.SweepEvery)
	defer sweep.Stop()
	watch := time.NewTicker(h.opts.RestoreEvery)
	defer watch.Stop()
	h.WatchRestore(ctx)
	for {
		next := h.schedule.Next(time.Now())
		var fire <-chan time.Time
		var timer *time.Timer
		if !next.IsZero() {
			timer = time.NewTimer(time.Until(next))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-fire:
			h.log.Info("schedule fired", "schedule", h.schedule.String(), "at", next.Format(time.RFC3339))
			h.Fire(ctx)
		case <-sweep.C:
			h.sweep(ctx)
		case <-watch.C:
			h.WatchRestore(ctx)
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// Fire runs the change check once (what the schedule does) and schedules
// the wake-ups of the runs it started. It logs one line per decision.
func (h *Host) Fire(ctx context.Context) *pipeline.SyncResult {
	res, err := h.App.Pipeline.Sync(ctx, pipeline.SyncOptions{})
	if err != nil {
		h.log.Error("sync failed", "err", err)
	}
	if res == nil {
		h.Points.AfterSync(ctx, 0, true)
		return nil
	}
	started := 0
	for _, d := range res.Decisions {
		level := slog.LevelInfo
		if d.Action == pipeline.ActionError {
			level = slog.LevelError
		}
		h.remember(d.Run, d.Pair.Project)
		attrs := []any{"project", d.Pair.Project, "pair", d.Pair.String(), "action", string(d.Action), "reason", d.Reason}
		if d.Run != "" {
			attrs = append(attrs, "run", d.Run)
			started++
		}
		h.log.Log(ctx, level, "sync decision", attrs...)
	}
	h.enqueue(ctx, res.Wake)
	h.sweep(ctx)
	h.Points.AfterSync(ctx, started, err != nil)
	return res
}

func (h *Host) sweep(ctx context.Context) {
	nexts, err := h.App.Pipeline.Sweep(ctx, h.opts.SweepEvery)
	if err != nil && ctx.Err() == nil {
		h.log.Error("sweeping overdue runs", "err", err)
	}
	h.enqueue(ctx, nexts)
}

// Resume schedules the next wake-up of every unfinished run in the state
// store (at its NextAt, or now) and returns how many it found. Run calls
// it at start-up.
func (h *Host) Resume(ctx context.Context) (int, error) {
	infos, err := h.App.Store.List(ctx, h.cfg.Containers.State, langsync.RunsPrefix)
	if err != nil {
		return 0, fmt.Errorf("local: listing runs: %w", err)
	}
	var errs []error
	n := 0
	for _, info := range infos {
		id, ok := runID(info.Key)
		if !ok {
			continue
		}
		r, err := h.App.Pipeline.Run(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.Phase.Terminal() {
			continue
		}
		h.remember(r.ID, r.Project)
		next := pipeline.Next{Wakeup: langsync.Wakeup{Run: r.ID, Seq: r.Seq}, At: r.NextAt, Phase: r.Phase}
		if i := r.Current(); i >= 0 {
			next.Step = r.Steps[i].Name
		}
		h.log.Info("resuming run", "run", r.ID, "project", r.Project, "step", stepOf(r), "at", r.NextAt.Format(time.RFC3339))
		h.enqueue(ctx, []pipeline.Next{next})
		n++
	}
	return n, errors.Join(errs...)
}

func stepOf(r *langsync.Run) string {
	if i := r.Current(); i >= 0 {
		return r.Steps[i].ID()
	}
	return ""
}

// runID returns the run id of a key "runs/<id>.json".
func runID(key string) (string, bool) {
	const suffix = ".json"
	if len(key) <= len(langsync.RunsPrefix)+len(suffix) || key[:len(langsync.RunsPrefix)] != langsync.RunsPrefix || key[len(key)-len(suffix):] != suffix {
		return "", false
	}
	return key[len(langsync.RunsPrefix) : len(key)-len(suffix)], true
}

// enqueue puts wake-ups on the in-process queue.
func (h *Host) enqueue(ctx context.Context, nexts []pipeline.Next) {
	for _, n := range nexts {
		if n.Done || n.Stale || n.Run == "" {
			continue
		}
		w := n.Wakeup
		if w.Step == "" {
			w.Step = langsync.StepInspect
		}
		step := string(w.Step)
		q, _ := langsync.QueueFor(w.Step)
		body, err := queue.EncodeWakeup(w)
		if err == nil {
			err = h.Queue.Schedule(ctx, q, body, w.MessageID(), n.At)
		}
		if err != nil {
			if !errors.Is(err, queue.ErrClosed) && ctx.Err() == nil {
				h.log.Error("scheduling wake-up", "run", n.Run, "project", h.project(n.Run), "step", step, "err", err)
			}
			continue
		}
		h.log.Debug("wake-up scheduled", "run", n.Run, "project", h.project(n.Run), "step", step, "seq", n.Seq, "at", n.At.Format(time.RFC3339Nano))
	}
}

// worker takes wake-ups until stop ends, and handles each under work.
func (h *Host) worker(stop, work context.Context) {
	for {
		msg, err := h.Queue.Receive(stop)
		if err != nil {
			return // stopped or closed
		}
		w, err := queue.ParseWakeup(msg.Body)
		if err != nil {
			h.log.Error("dropping an unreadable wake-up", "queue", msg.Queue, "err", err)
			continue
		}
		next, err := h.App.Pipeline.Wake(work, w)
		log := h.log.With("run", w.Run, "project", h.project(w.Run), "step", w.Step)
		if next.Follow != nil {
			// The run's end started a run for requests that came too
			// late; it is woken even when this handler's own save of the
			// end then lost to another handler's (stale) or failed.
			h.enqueue(work, []pipeline.Next{*next.Follow})
		}
		switch {
		case err != nil && work.Err() != nil:
			log.Warn("action cancelled at stop; the run resumes from its state at the next start")
			continue
		case err != nil:
			// The run is as last saved; the sweep re-wakes it.
			log.Error("advancing run failed; the sweep will re-wake it", "err", err)
			continue
		case next.Stale:
			log.Debug("stale wake-up dropped", "seq", w.Seq)
			continue
		case next.Done:
			// The pipeline has logged the run's end; this line only closes
			// the wake-up chain.
			h.log.Debug("run ended; no further wake-up", "run", w.Run, "project", h.project(w.Run), "phase", string(next.Phase))
			h.Points.RunFinished(work, w.Run)
			continue
		}
		h.enqueue(work, []pipeline.Next{next})
	}
}

// receipt records a handled dropped backup (its ETag), so a restart does
// not restore it again.
type receipt struct {
	Key  string    `json:"key"`
	ETag string    `json:"etag"`
	Runs []string  `json:"runs,omitempty"`
	At   time.Time `json:"at"`
}

// ReceiptPrefix is where the host keeps receipts of dropped backups it has
// handled, in the state container.
const ReceiptPrefix = "local/restore-receipts/"

// WatchRestore lists restore/ once and starts a restore for each backup
// that was not handled before (a new name, or a new ETag under an old
// name).
func (h *Host) WatchRestore(ctx context.Context) {
	infos, err := h.App.Store.List(ctx, h.cfg.Containers.State, langsync.RestorePrefix)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Error("listing dropped backups", "prefix", langsync.RestorePrefix, "err", err)
		}
		return
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, info := range infos {
		if h.handled(ctx, info.Key, info.ETag) {
			continue
		}
		if h.opts.Restorer == nil {
			h.mu.Lock()
			first := !h.warned[info.Key]
			h.warned[info.Key] = true
			h.mu.Unlock()
			if first {
				h.log.Warn("backup dropped for restore, but this build has no restore runs; left in place", "blob", info.Key)
			}
			continue
		}
		nexts, err := h.opts.Restorer.RestoreDropped(ctx, info.Key)
		if err != nil {
			h.log.Error("restore of dropped backup failed to start", "blob", info.Key, "err", err)
			continue
		}
		var runs []string
		for _, n := range nexts {
			runs = append(runs, n.Run)
		}
		h.log.Info("restore of dropped backup started", "blob", info.Key, "runs", runs)
		h.enqueue(ctx, nexts)
		h.keepReceipt(ctx, receipt{Key: info.Key, ETag: info.ETag, Runs: runs, At: time.Now().UTC()})
	}
}

func (h *Host) handled(ctx context.Context, key, etag string) bool {
	h.mu.Lock()
	got, ok := h.receipts[key]
	h.mu.Unlock()
	if ok {
		return got == etag
	}
	data, _, err := h.App.State.Get(ctx, ReceiptPrefix+key[len(langsync.RestorePrefix):]+".json")
	if err != nil {
		return false
	}
	var r receipt
	if json.Unmarshal(data, &r) != nil {
		return false
	}
	h.mu.Lock()
	h.receipts[key] = r.ETag
	h.mu.Unlock()
	return r.ETag == etag
}

func (h *Host) keepReceipt(ctx context.Context, r receipt) {
	h.mu.Lock()
	h.receipts[r.Key] = r.ETag
	h.mu.Unlock()
	data, err := json.Marshal(r)
	if err != nil {
		return
	}
	key := ReceiptPrefix + r.Key[len(langsync.RestorePrefix):] + ".json"
	// Unconditional: the newest receipt for a name wins.
	if _, err := h.App.State.Put(ctx, key, data, pipeline.Condition{}); err != nil {
		h.log.Error("keeping restore receipt", "blob", r.Key, "err", err)
	}
}

// SetRestorer sets the restore entry point after New (it usually needs the
// app New built). Call it before Run.
func (h *Host) SetRestorer(r Restorer) { h.opts.Restorer = r }
