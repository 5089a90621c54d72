package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/langsync"
)

// This file holds the pure parts of the harness: stall computation, job
// attribution and duplicate counting, reason grouping. soak.go gathers the
// inputs from the processes, the emulators and the store.

// interval is a span of wall-clock time.
type interval struct{ From, To time.Time }

func (i interval) dur() time.Duration {
	if i.To.Before(i.From) {
		return 0
	}
	return i.To.Sub(i.From)
}

// event is a moment at which the product visibly made progress: a line of
// progress output, or a time recorded in a run document.
type event struct {
	T    time.Time
	What string
}

// stall is the longest gap between consecutive events, less the time in it
// that was covered by injected delays or by jobs running on the service.
type stall struct {
	Stall         time.Duration // the gap minus its covered time
	Gap           interval
	Before, After string // the events around the gap
}

// longestStall finds the worst gap in window. Events outside window are
// ignored; the window's ends count as events (drivers started; the last
// run ended), so a silent tail or head is a stall too. busy are the spans
// that do not count: injected latency, held connections, Retry-After waits
// and jobs running on an emulator.
func longestStall(window interval, events []event, busy []interval) stall {
	evs := []event{{T: window.From, What: "drivers started"}}
	for _, e := range events {
		if !e.T.Before(window.From) && !e.T.After(window.To) {
			evs = append(evs, e)
		}
	}
	evs = append(evs, event{T: window.To, What: "end of the run"})
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].T.Before(evs[j].T) })
	merged := mergeIntervals(busy)
	var worst stall
	for i := 1; i < len(evs); i++ {
		gap := interval{evs[i-1].T, evs[i].T}
		s := gap.dur() - covered(gap, merged)
		if s > worst.Stall {
			worst = stall{Stall: s, Gap: gap, Before: evs[i-1].What, After: evs[i].What}
		}
	}
	return worst
}

// mergeIntervals returns the union of spans as sorted, disjoint intervals.
func mergeIntervals(spans []interval) []interval {
	var in []interval
	for _, s := range spans {
		if s.To.After(s.From) {
			in = append(in, s)
		}
	}
	sort.Slice(in, func(i, j int) bool { return in[i].From.Before(in[j].From) })
	var out []interval
	for _, s := range in {
		if n := len(out); n > 0 && !s.From.After(out[n-1].To) {
			if s.To.After(out[n-1].To) {
				out[n-1].To = s.To
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// covered is how much of gap the merged (disjoint) spans cover.
func covered(gap interval, merged []interval) time.Duration {
	var d time.Duration
	for _, m := range merged {
		from, to := m.From, m.To
		if from.Before(gap.From) {
			from = gap.From
		}
		if to.After(gap.To) {
			to = gap.To
		}
		if to.After(from) {
			d += to.Sub(from)
		}
	}
	return d
}

// busyFromRequests turns an emulator's request log into the spans of
// injected delay: the latency before a request was handled, the hold of a
// lost answer and the Retry-After of an injected 429 (the client was told
// to wait).
func busyFromRequests(reqs []emulator.Request) []interval {
	var out []interval
	for _, r := range reqs {
		if lat := time.Duration(r.Latency); lat > 0 {
			out = append(out, interval{r.Time.Add(-lat), r.Time})
		}
		if h := time.Duration(r.Hold); h > 0 {
			out = append(out, interval{r.Time, r.Time.Add(h)})
		}
		if r.RetryAfter > 0 && r.Fault != "" {
			out = append(out, interval{r.Time, r.Time.Add(time.Duration(r.RetryAfter) * time.Second)})
		}
	}
	return out
}

// busyFromJobs is the time jobs ran on the service: waiting for one is not
// a stall of langsync.
func busyFromJobs(jobs []emulator.JobInfo) []interval {
	var out []interval
	for _, j := range jobs {
		end := j.Ended
		if end.IsZero() {
			end = j.Created.Add(time.Duration(j.Duration))
		}
		out = append(out, interval{j.Created, end})
	}
	return out
}

// runEvents are the times a run document records: created, ended, and each
// step's claim, start, job start and finish.
func runEvents(r *langsync.Run) []event {
	short := r.ID
	var out []event
	add := func(t time.Time, what string) {
		if !t.IsZero() {
			out = append(out, event{t, "run " + short + " " + what})
		}
	}
	add(r.Created, "created")
	add(r.Ended, string(r.Phase))
	for _, s := range r.Steps {
		add(s.Claimed, s.ID()+" claimed")
		add(s.Started, s.ID()+" started")
		if s.Job != nil {
			add(s.Job.Started, s.ID()+" job started")
		}
		add(s.Finished, s.ID()+" "+string(s.Status))
	}
	return out
}

// runSpan is what job attribution needs of a run.
type runSpan struct {
	ID      string
	Created time.Time
	Source  string
	Targets []string
}

func spanOf(r *langsync.Run) runSpan {
	s := runSpan{ID: r.ID, Created: r.Created, Source: r.Source}
	for _, p := range r.Pairs {
		s.Targets = append(s.Targets, p.Target)
	}
	return s
}

// resourceJobs are the jobs one emulator holds.
type resourceJobs struct {
	Resource string
	Jobs     []emulator.JobInfo
}

// jobCounts is the service-side view of jobs per run.
type jobCounts struct {
	// Duplicates per kind (import, train, deploy): jobs started for a step
	// while an earlier job of the same step had not failed.
	Duplicates map[string]int
	// Details name each duplicate.
	Details []string
	// ExportsPerRun counts export jobs on a run's source, per run id.
	ExportsPerRun map[string]int
	// Unattributed counts jobs that no run could have started (a job
	// before any run of its resource in the window).
	Unattributed int
	// Lost counts jobs whose 202 the emulator lost on purpose.
	Lost int
	// ExtraTrainings counts succeeded training jobs beyond one per target
	// and soak run (each soak run changes the source once, so one training
	// per target is all it needs; training is billed).
	ExtraTrainings  int
	TrainingDetails []string
}

// countJobs attributes each job to the run that was current on its
// resource when the job was created: the latest run created before it that
// covers the resource (as source for exports, as target for the rest).
// Runs of one pair never overlap by design, so this is exact when the
// product keeps its promise; when two runs overlap, their jobs fall to the
// later one, and a second job there is a duplicate — which it is.
//
// Within a run, a job of one step (kind + model label, or deployment) is a
// duplicate when an earlier job of that step had not ended failed or
// cancelled by the time it was created: a failed job may be replaced, a
// running or succeeded one may not.
func countJobs(runs []runSpan, resources []resourceJobs) jobCounts {
	jc := jobCounts{Duplicates: map[string]int{"import": 0, "train": 0, "deploy": 0}, ExportsPerRun: map[string]int{}}
	sorted := append([]runSpan(nil), runs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Created.Before(sorted[j].Created) })
	owner := func(resource, kind string, at time.Time) string {
		id := ""
		for _, r := range sorted {
			if r.Created.After(at) {
				break
			}
			covers := r.Source == resource
			if kind != "export" {
				covers = contains(r.Targets, resource)
			}
			if covers {
				id = r.ID
			}
		}
		return id
	}
	type stepKey struct{ run, resource, kind, what string }
	steps := map[stepKey][]emulator.JobInfo{}
	var order []stepKey
	for _, rj := range resources {
		for _, j := range rj.Jobs {
			if j.AnswerLost {
				jc.Lost++
			}
			switch j.Kind {
			case "export", "import", "train", "deploy":
			default:
				continue
			}
			run := owner(rj.Resource, j.Kind, j.Created)
			if run == "" {
				jc.Unattributed++
				continue
			}
			if j.Kind == "export" {
				jc.ExportsPerRun[run]++
				continue
			}
			what := j.ModelLabel
			if j.Kind == "deploy" {
				what = j.Deployment
			}
			if what == "" {
				what = "-" // an import names no model
			}
			k := stepKey{run, rj.Resource, j.Kind, what}
			if _, ok := steps[k]; !ok {
				order = append(order, k)
			}
			steps[k] = append(steps[k], j)
		}
	}
	for _, k := range order {
		jobs := steps[k]
		sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].Created.Before(jobs[j].Created) })
		for i := 1; i < len(jobs); i++ {
			for _, prev := range jobs[:i] {
				replaced := (prev.Status == "failed" || prev.Status == "cancelled") && !prev.Ended.After(jobs[i].Created)
				if !replaced {
					jc.Duplicates[k.kind]++
					lost := ""
					if prev.AnswerLost {
						lost = " (its answer was lost)"
					}
					jc.Details = append(jc.Details, fmt.Sprintf("run %s: %s/%s/%s job %s started while job %s was %s%s",
						k.run, k.kind, k.resource, k.what, jobs[i].ID, prev.ID, prev.Status, lost))
					break
				}
			}
		}
	}
	return jc
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var (
	reRunID    = regexp.MustCompile(`\b\d{8}T\d{6}Z-[0-9a-f]{8}\b`)
	reUUID     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(_\d+)?`)
	reURL      = regexp.MustCompile(`https?://[^\s"']+`)
	reHex      = regexp.MustCompile(`\b[0-9a-f]{12,}\b`)
	reTime     = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T[0-9:.]+Z?`)
	reDuration = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s|m|h)\b`)
	reNumber   = regexp.MustCompile(`\b\d+\b`)
)

// normalizeReason turns a failure message into its kind, so that the same
// failure in different runs groups together: ids, URLs, times, durations
// and numbers are replaced by placeholders, and long messages are cut.
func normalizeReason(s string) string {
	s = strings.TrimSpace(s)
	s = reURL.ReplaceAllString(s, "<url>")
	s = reRunID.ReplaceAllString(s, "<run>")
	s = reUUID.ReplaceAllString(s, "<id>")
	s = reTime.ReplaceAllString(s, "<time>")
	s = reHex.ReplaceAllString(s, "<hex>")
	s = reDuration.ReplaceAllString(s, "<d>")
	s = reNumber.ReplaceAllString(s, "N")
	if r := []rune(s); len(r) > 160 {
		s = string(r[:157]) + "..."
	}
	return s
}

// reasonCount is one group of failures.
type reasonCount struct {
	Reason string
	Count  int
}

// groupReasons counts reasons after normalizing them, most frequent first.
func groupReasons(reasons []string) []reasonCount {
	counts := map[string]int{}
	for _, r := range reasons {
		counts[normalizeReason(r)]++
	}
	out := make([]reasonCount, 0, len(counts))
	for r, n := range counts {
		out = append(out, reasonCount{r, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

// extraTrainings counts, per soak run and target, the succeeded training
// jobs created while the soak run was driven beyond the first. Unlike a
// duplicate, an extra training may belong to another langsync run (a
// forced rerun re-replicating a target the killed run had finished): not
// wrong, but billed twice for the same data.
func extraTrainings(results []*runResult, resources []resourceJobs) (int, []string) {
	extra := 0
	var details []string
	for _, r := range results {
		if r.Cut {
			continue
		}
		for _, rj := range resources {
			n := 0
			for _, j := range rj.Jobs {
				if j.Kind == "train" && j.Status == "succeeded" && !j.Created.Before(r.Window.From) && !j.Created.After(r.Measured) {
					n++
				}
			}
			if n > 1 {
				extra += n - 1
				details = append(details, fmt.Sprintf("run %d (%s): %d trainings on %s", r.N, r.Mode, n, rj.Resource))
			}
		}
	}
	return extra, details
}
