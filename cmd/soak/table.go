package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// runResult is one soak run as measured: what ran, what the store and the
// emulators show afterwards.
type runResult struct {
	N    int
	Mode mode
	// Window is from the drivers' start to the end of the last run (or the
	// run's deadline when a run did not end).
	Window interval
	// Runs are the langsync runs created during the soak run, as stored.
	Runs []*langsync.Run
	// Targets every run should reach.
	Targets []string
	// DriverErrors are drivers that failed on their own (not killed by the
	// harness), with their last error line.
	DriverErrors []string
	// TimedOut: the run's deadline passed and its drivers were killed.
	TimedOut bool
	// Cut: the soak's budget (or an interrupt) ended the run early; it is
	// not done, but what it left in the store and on the emulators is
	// still accounted for.
	Cut bool
	// Measured is when its drivers were gone and measuring began.
	Measured time.Time
	Stall    stall
}

// outcome classifies a soak run: stuck (a run that did not end), failed (a
// run failed, a driver failed, or a target was not replicated) or
// succeeded; with the reasons.
func (r *runResult) outcome() (string, []string) {
	if r.Cut {
		return "cut", []string{"ended early by the soak's budget or an interrupt; not counted"}
	}
	var stuck, failed []string
	// A target is reached by a succeeded run created after this soak run's
	// change: a run joined from before read the source before the change.
	reached := map[string]bool{}
	older := map[string]string{}
	for _, run := range r.Runs {
		switch run.Phase {
		case langsync.RunSucceeded:
			for _, p := range run.Pairs {
				if run.Created.Before(r.Window.From) {
					older[p.Target] = run.ID
				} else {
					reached[p.Target] = true
				}
			}
		case langsync.RunFailed:
			failed = append(failed, run.Error)
		default:
			at := "before inspect"
			if i := run.Current(); i >= 0 {
				s := run.Steps[i]
				at = fmt.Sprintf("at %s (%s)", s.ID(), s.Status)
			}
			stuck = append(stuck, fmt.Sprintf("run %s still %s %s", run.ID, run.Phase, at))
		}
	}
	if len(stuck) > 0 {
		return "stuck", stuck
	}
	failed = append(failed, r.DriverErrors...)
	if len(failed) == 0 {
		for _, t := range r.Targets {
			switch {
			case reached[t]:
			case older[t] != "":
				failed = append(failed, fmt.Sprintf("the change was not replicated to %s: the driver joined run %s, which read the source before the change, and exited 0", t, older[t]))
			default:
				failed = append(failed, "no run replicated to "+t+" (no langsync run succeeded for it)")
			}
		}
	}
	if len(failed) > 0 {
		return "failed", failed
	}
	return "succeeded", nil
}

// backupCheck is the state of the backup container at the end.
type backupCheck struct {
	Written, Expected int
	// Duplicates: backups beyond the first with the same fingerprint.
	Duplicates int
	// Missing: backup keys that succeeded runs recorded but the container
	// does not hold.
	Missing []string
	// Unclaimed: backups whose fingerprint no run recorded (written by a
	// run killed before it saved its backup step, for example).
	Unclaimed  []string
	Verified   int
	Bad        []string
	VerifyErr  string
	ListErrors []string
}

// summary is the figures of the table.
type summary struct {
	Planned, Runs, Succeeded, Failed, Stuck int
	Cut                                     int
	Modes                                   map[mode]int
	Reasons                                 []reasonCount
	StuckDetails                            []string
	Langsync                                map[langsync.RunPhase]int
	LangsyncTotal                           int
	Jobs                                    jobCounts
	Exports, ExportRuns, MaxExports         int
	Backups                                 backupCheck
	Stall                                   stall
	StallRun                                int
	StallMode                               mode
	Secrets                                 []string
	Elapsed                                 time.Duration
	Budget                                  time.Duration
	OutOfTime                               bool
}

// summarize aggregates the soak runs. jobs is the service-side job count
// over all runs; backups and secrets are checked once at the end.
func summarize(planned int, results []*runResult, jobs jobCounts, backups backupCheck, secrets []string) summary {
	s := summary{Planned: planned, Modes: map[mode]int{}, Langsync: map[langsync.RunPhase]int{},
		Jobs: jobs, Backups: backups, Secrets: secrets}
	var reasons []string
	for _, run := range lastRuns(results) {
		s.LangsyncTotal++
		s.Langsync[run.Phase]++
		if run.Kind == langsync.RunReplicate || run.Kind == "" {
			s.ExportRuns++
			n := jobs.ExportsPerRun[run.ID]
			s.Exports += n
			s.MaxExports = max(s.MaxExports, n)
		}
	}
	for _, r := range results {
		if r.Cut {
			s.Cut++
			continue
		}
		s.Runs++
		s.Modes[r.Mode]++
		out, why := r.outcome()
		switch out {
		case "stuck":
			s.Stuck++
			for _, w := range why {
				s.StuckDetails = append(s.StuckDetails, fmt.Sprintf("run %d (%s): %s", r.N, r.Mode, w))
			}
		case "failed":
			s.Failed++
			reasons = append(reasons, why...)
		default:
			s.Succeeded++
		}
		if r.Stall.Stall > s.Stall.Stall {
			s.Stall, s.StallRun, s.StallMode = r.Stall, r.N, r.Mode
		}
	}
	s.Reasons = groupReasons(reasons)
	return s
}

// lastRuns returns every langsync run of the results once, in its last
// state: a run left running by one soak run and taken over by the next
// shows in both.
func lastRuns(results []*runResult) []*langsync.Run {
	last := map[string]*langsync.Run{}
	var ids []string
	for _, r := range results {
		for _, run := range r.Runs {
			if _, ok := last[run.ID]; !ok {
				ids = append(ids, run.ID)
			}
			last[run.ID] = run
		}
	}
	out := make([]*langsync.Run, 0, len(ids))
	for _, id := range ids {
		out = append(out, last[id])
	}
	return out
}

// problems lists the pass criteria that failed; empty means the soak
// passed.
func (s summary) problems(maxStall time.Duration) []string {
	var p []string
	if s.Runs < s.Planned {
		why := "interrupted"
		if s.OutOfTime {
			why = fmt.Sprintf("out of time (budget %s)", s.Budget)
		}
		p = append(p, fmt.Sprintf("only %d of %d runs done: %s", s.Runs, s.Planned, why))
	}
	if s.Stuck > 0 {
		p = append(p, fmt.Sprintf("%d stuck", s.Stuck))
	}
	if d := s.Jobs.Duplicates["import"] + s.Jobs.Duplicates["train"] + s.Jobs.Duplicates["deploy"]; d > 0 {
		p = append(p, fmt.Sprintf("%d duplicate jobs", d))
	}
	if n := len(s.Backups.Bad); n > 0 {
		p = append(p, fmt.Sprintf("%d backups fail verify", n))
	}
	if s.Backups.VerifyErr != "" {
		p = append(p, "backups could not be verified: "+s.Backups.VerifyErr)
	}
	if s.Stall.Stall > maxStall {
		p = append(p, fmt.Sprintf("stall of %s > %s", s.Stall.Stall.Round(100*time.Millisecond), maxStall))
	}
	if len(s.Secrets) > 0 {
		p = append(p, fmt.Sprintf("%d secrets leaked", len(s.Secrets)))
	}
	return p
}

func check(ok bool, rule string) string {
	if ok {
		return "ok (" + rule + ")"
	}
	return "FAIL (" + rule + ")"
}

// render prints the table and the verdict.
func (s summary) render(w io.Writer, maxStall time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(name, value, chk string) { fmt.Fprintf(tw, "%s\t%s\t%s\n", name, value, chk) }
	var modes []string
	for _, m := range allModes {
		if n := s.Modes[m]; n > 0 {
			modes = append(modes, fmt.Sprintf("%s %d", m, n))
		}
	}
	row("MEASURE", "VALUE", "CHECK")
	cut := ""
	if s.Cut > 0 {
		cut = fmt.Sprintf("; %d cut short by the budget, not counted", s.Cut)
	}
	row("runs", fmt.Sprintf("%d of %d (%s%s)", s.Runs, s.Planned, strings.Join(modes, ", "), cut), check(s.Runs == s.Planned, "all done"))
	row("  succeeded", fmt.Sprint(s.Succeeded), "")
	row("  failed", fmt.Sprint(s.Failed), "reasons below")
	row("  stuck", fmt.Sprint(s.Stuck), check(s.Stuck == 0, "must be 0"))
	row("langsync runs (runs/*.json)", fmt.Sprintf("%d: %d succeeded, %d failed, %d running", s.LangsyncTotal,
		s.Langsync[langsync.RunSucceeded], s.Langsync[langsync.RunFailed], s.Langsync[langsync.RunRunning]), "")
	d := s.Jobs.Duplicates
	dup := d["import"] + d["train"] + d["deploy"]
	row("duplicate jobs per step", fmt.Sprintf("%d (import %d, train %d, deploy %d)", dup, d["import"], d["train"], d["deploy"]), check(dup == 0, "must be 0"))
	if s.Jobs.Unattributed > 0 {
		row("  jobs before any run", fmt.Sprint(s.Jobs.Unattributed), "")
	}
	per := 0.0
	if s.ExportRuns > 0 {
		per = float64(s.Exports) / float64(s.ExportRuns)
	}
	row("exports per run", fmt.Sprintf("%.2f (max %d; %d export jobs, %d runs)", per, s.MaxExports, s.Exports, s.ExportRuns), "")
	row("trainings beyond one per target and run", fmt.Sprint(s.Jobs.ExtraTrainings), "billed twice; details below")
	row("lost 202s injected", fmt.Sprintf("%d (the job started, the answer was dropped)", s.Jobs.Lost), "")
	b := s.Backups
	row("backups written / expected", fmt.Sprintf("%d / %d (%d duplicate fingerprints, %d missing)", b.Written, b.Expected, b.Duplicates, len(b.Missing)),
		check(b.Written == b.Expected && b.Duplicates == 0 && len(b.Missing) == 0, "should match"))
	row("backups failing verify", fmt.Sprintf("%d of %d", len(b.Bad), b.Verified+len(b.Bad)), check(len(b.Bad) == 0 && b.VerifyErr == "", "must be 0"))
	st := "none"
	if s.Stall.Stall > 0 {
		st = fmt.Sprintf("%s in run %d (%s; events below)", s.Stall.Stall.Round(100*time.Millisecond), s.StallRun, s.StallMode)
	}
	row("longest stall (outside injected latency)", st, check(s.Stall.Stall <= maxStall, fmt.Sprintf("must be <= %s", maxStall)))
	row("secrets in output, logs or state", fmt.Sprint(len(s.Secrets)), check(len(s.Secrets) == 0, "must be 0"))
	row("elapsed", s.Elapsed.Round(time.Second).String(), check(!s.OutOfTime, "within "+s.Budget.String()))
	tw.Flush()

	if len(s.Reasons) > 0 {
		fmt.Fprintln(w, "\nfailure reasons (grouped; ids, times and numbers replaced):")
		for _, r := range s.Reasons {
			fmt.Fprintf(w, "  %3d  %s\n", r.Count, r.Reason)
		}
	}
	detail := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		sort.Strings(lines)
		for i, l := range lines {
			if i == 20 {
				fmt.Fprintf(w, "  ... and %d more\n", len(lines)-20)
				break
			}
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	if s.Stall.Stall > 0 {
		fmt.Fprintf(w, "\nlongest stall: %s of %s without progress (the rest was injected delay or a job running):\n  after  %s  %s\n  before %s  %s\n",
			s.Stall.Stall.Round(100*time.Millisecond), s.Stall.Gap.dur().Round(100*time.Millisecond),
			s.Stall.Gap.From.Format("15:04:05.000"), clip(s.Stall.Before, 300), s.Stall.Gap.To.Format("15:04:05.000"), clip(s.Stall.After, 300))
	}
	detail("stuck runs", s.StuckDetails)
	detail("duplicate jobs", s.Jobs.Details)
	detail("extra trainings", s.Jobs.TrainingDetails)
	detail("backups failing verify", b.Bad)
	detail("backups recorded by runs but missing", b.Missing)
	detail("backups no run recorded", b.Unclaimed)
	detail("backup listing problems", b.ListErrors)
	detail("secrets found", s.Secrets)

	if p := s.problems(maxStall); len(p) > 0 {
		fmt.Fprintf(w, "\nSOAK FAILED: %s\n", strings.Join(p, "; "))
	} else {
		fmt.Fprintln(w, "\nSOAK PASSED: 0 stuck, 0 duplicate jobs, 0 bad backups, no stall over "+maxStall.String())
	}
}

// clip shortens s to n runes.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-3]) + "..."
	}
	return s
}
