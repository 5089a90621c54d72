// Command soak is the chaos harness behind `make soak` (docs/soak.md): it
// replicates a changing source project to two targets on three Language
// emulators, for many runs, under injected faults (429 + Retry-After,
// 500/503, dropped connections, latency, failing jobs, jobs whose 202 is
// lost), with kill -9 of the driver, duplicate drivers and two `langsync
// local` hosts on one store; then it prints one table and exits non-zero
// when a run is stuck, a job was started twice, a backup fails to verify
// or langsync stalled for longer than allowed.
//
// It drives the real binary (bin/langsync) and reads what the product
// wrote (the store) and what the service saw (the emulators' admin API).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

type options struct {
	runs         int
	seed         uint64
	timeout      time.Duration
	runTimeout   time.Duration
	maxStall     time.Duration
	bin          string
	azurite      string
	store        string
	dir          string
	keep         bool
	jobDurations string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: exit 0 passed, 1 failed, 2 usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "soak: %v\nTry: go run ./cmd/soak -h\n", err)
		return 2
	}
	h := &harness{o: o, out: stdout, log: stdout}
	code, err := h.soak(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "soak: %v\n", err)
		return 1
	}
	return code
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.runs, "runs", 40, "number of soak runs (each changes the source and replicates it)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice (modes, faults, kill moments); the same seed replays the same plan")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "budget for the whole soak; runs not started by then are reported as not done")
	fs.DurationVar(&o.runTimeout, "run-timeout", 5*time.Minute, "deadline of one run: a langsync run not ended by then is stuck")
	fs.DurationVar(&o.maxStall, "max-stall", 30*time.Second, "longest allowed stall outside injected latency")
	fs.StringVar(&o.bin, "bin", "bin/langsync", "the langsync binary (`make build`)")
	fs.StringVar(&o.azurite, "azurite", "", "azurite-blob binary (default $LANGSYNC_AZURITE, else .ci/node_modules/.bin/azurite-blob)")
	fs.StringVar(&o.store, "store", "", "where state and backups go: azurite or dir (default azurite when found, else dir)")
	fs.StringVar(&o.dir, "dir", "", "work directory (default a new temporary one, removed at the end unless -keep)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (config, documents, logs)")
	fs.StringVar(&o.jobDurations, "job-duration", "export=100ms,import=100ms,train=500ms,deploy=100ms", "emulator job durations (langsync emulator language --job-duration)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: soak [-runs N] [-seed S] [-timeout D] [-run-timeout D] [-bin bin/langsync] [-store azurite|dir]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.runs < 1:
		return o, fmt.Errorf("-runs %d: want at least 1", o.runs)
	case o.timeout <= 0 || o.runTimeout <= 0 || o.maxStall <= 0:
		return o, errors.New("-timeout, -run-timeout and -max-stall must be positive")
	}
	if o.azurite == "" {
		o.azurite = os.Getenv("LANGSYNC_AZURITE")
	}
	if o.azurite == "" {
		if p, err := filepath.Abs(filepath.Join(".ci", "node_modules", ".bin", "azurite-blob")); err == nil {
			o.azurite = p
		}
	}
	if o.store == "" {
		o.store = "dir"
		if _, err := os.Stat(o.azurite); err == nil {
			o.store = "azurite"
		}
	}
	if o.store == "azurite" {
		if _, err := os.Stat(o.azurite); err != nil {
			return o, fmt.Errorf("-store azurite: azurite-blob at %q: %v (run `make deps`, or give -azurite, or -store dir)", o.azurite, err)
		}
	}
	if o.store != "azurite" && o.store != "dir" {
		return o, fmt.Errorf("-store %q: want azurite or dir", o.store)
	}
	return o, nil
}

// soak sets up, runs every planned run within the budget, and reports.
func (h *harness) soak(ctx context.Context) (int, error) {
	start := time.Now()
	if h.o.dir == "" {
		dir, err := os.MkdirTemp("", "langsync-soak-")
		if err != nil {
			return 1, err
		}
		h.dir = dir
	} else {
		h.dir = h.o.dir
		if err := os.MkdirAll(h.dir, 0o755); err != nil {
			return 1, err
		}
	}
	defer func() {
		for i := len(h.stops) - 1; i >= 0; i-- {
			h.stops[i]()
		}
		for _, p := range h.procs {
			if !p.exited() {
				p.kill()
				<-p.done
			}
		}
		if !h.o.keep && h.o.dir == "" {
			os.RemoveAll(h.dir)
		}
	}()
	fmt.Fprintf(h.out, "langsync soak: %d runs, seed %d, store %s, jobs %s, budget %s (work directory %s)\n",
		h.o.runs, h.o.seed, h.o.store, h.o.jobDurations, h.o.timeout, h.dir)
	if err := h.setup(ctx); err != nil {
		return 1, fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(h.out, "setup done in %s: emulators %s, %s, %s; the Tickets sample deployed on %s\n",
		time.Since(start).Round(100*time.Millisecond), source, targets[0], targets[1], source)

	budget, cancel := context.WithDeadline(ctx, start.Add(h.o.timeout))
	defer cancel()
	rng := newRNG(h.o.seed)
	resources := append([]string{source}, targets...)
	outOfTime := false
	for n := 1; n <= h.o.runs; n++ {
		p := planRun(rng, n, resources, classes)
		if budget.Err() != nil {
			outOfTime = ctx.Err() == nil
			break
		}
		res, err := h.runOne(budget, p)
		if budget.Err() != nil {
			// Cut short by the budget or an interrupt, not by its own
			// deadline: it is not done, but its runs and jobs are in the
			// store and on the emulators, so they are still accounted for.
			outOfTime = ctx.Err() == nil
			if res != nil {
				res.Cut = true
				h.results = append(h.results, res)
				h.printRun(res)
			}
			break
		}
		if err != nil {
			return 1, fmt.Errorf("run %d (%s): %w", n, p.Mode, err)
		}
		h.results = append(h.results, res)
		h.printRun(res)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(h.out, "interrupted: reporting the runs done so far")
	}
	mctx := context.WithoutCancel(ctx)
	jobs, backups, secrets, err := h.finish(mctx)
	if err != nil {
		return 1, fmt.Errorf("final checks: %w", err)
	}
	s := summarize(h.o.runs, h.results, jobs, backups, secrets)
	s.Elapsed, s.Budget, s.OutOfTime = time.Since(start), h.o.timeout, outOfTime
	fmt.Fprintln(h.out)
	s.render(h.out, h.o.maxStall)
	if len(s.problems(h.o.maxStall)) > 0 {
		return 1, nil
	}
	return 0, nil
}

// printRun prints one line per soak run as it ends.
func (h *harness) printRun(r *runResult) {
	out, why := r.outcome()
	line := fmt.Sprintf("run %3d/%d %-18s %-9s in %6s, %d langsync run(s), stall %s", r.N, h.o.runs, r.Mode, out,
		r.Window.dur().Round(100*time.Millisecond), len(r.Runs), r.Stall.Stall.Round(100*time.Millisecond))
	if r.TimedOut {
		line += " (deadline passed)"
	}
	if len(why) > 0 {
		line += ": " + why[0]
		if len(why) > 1 {
			line += fmt.Sprintf(" (+%d more)", len(why)-1)
		}
	}
	fmt.Fprintln(h.log, line)
	if r.Stall.Stall >= h.o.maxStall/3 {
		fmt.Fprintf(h.log, "          stall from %q\n                  to %q\n", clip(r.Stall.Before, 200), clip(r.Stall.After, 200))
	}
}
