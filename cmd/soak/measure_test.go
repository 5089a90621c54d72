package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/langsync"
)

var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func span(from, to float64) interval { return interval{at(from), at(to)} }

func TestLongestStall(t *testing.T) {
	tests := []struct {
		name   string
		window interval
		events []event
		busy   []interval
		want   time.Duration
		before string
	}{
		{"no events: the whole window", span(0, 10), nil, nil, 10 * time.Second, "drivers started"},
		{"largest gap wins", span(0, 10), []event{{at(1), "a"}, {at(7), "b"}, {at(9), "c"}}, nil, 6 * time.Second, "a"},
		{"events outside the window are ignored", span(0, 10), []event{{at(-5), "x"}, {at(5), "a"}, {at(30), "y"}}, nil, 5 * time.Second, "drivers started"},
		{"injected delay inside a gap does not count", span(0, 10), []event{{at(1), "a"}, {at(7), "b"}},
			[]interval{span(2, 4)}, 4 * time.Second, "a"},
		{"overlapping busy spans are counted once", span(0, 10), []event{{at(1), "a"}, {at(9), "b"}},
			[]interval{span(2, 5), span(3, 6), span(8, 12)}, 3 * time.Second, "a"},
		{"a gap fully covered is no stall", span(0, 4), []event{{at(1), "a"}, {at(3), "b"}},
			[]interval{span(0, 5)}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := longestStall(tc.window, tc.events, tc.busy)
			if got.Stall != tc.want {
				t.Fatalf("stall %v (%q -> %q), want %v", got.Stall, got.Before, got.After, tc.want)
			}
			if tc.before != "" && got.Before != tc.before {
				t.Fatalf("stall after %q, want after %q", got.Before, tc.before)
			}
		})
	}
}

func TestMergeIntervals(t *testing.T) {
	got := mergeIntervals([]interval{span(5, 6), span(0, 2), span(1, 3), span(3, 4), span(9, 8)})
	want := []interval{span(0, 4), span(5, 6)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged %v, want %v (touching spans join, empty ones vanish)", got, want)
	}
}

func TestBusyFromRequests(t *testing.T) {
	reqs := []emulator.Request{
		{Time: at(10), Latency: emulator.Duration(time.Second)},
		{Time: at(20), Fault: emulator.FaultLost, Hold: emulator.Duration(2 * time.Second)},
		{Time: at(30), Status: 429, Fault: emulator.FaultThrottle, RetryAfter: 3},
		{Time: at(40), Status: 200},
	}
	got := busyFromRequests(reqs)
	want := []interval{span(9, 10), span(20, 22), span(30, 33)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("busy %v, want %v", got, want)
	}
	jobs := busyFromJobs([]emulator.JobInfo{
		{Created: at(1), Ended: at(3)},
		{Created: at(5), Duration: emulator.Duration(2 * time.Second)}, // still running
	})
	if want := []interval{span(1, 3), span(5, 7)}; !reflect.DeepEqual(jobs, want) {
		t.Fatalf("job spans %v, want %v", jobs, want)
	}
}

func TestRunEvents(t *testing.T) {
	r := &langsync.Run{ID: "R", Created: at(0), Ended: at(9), Phase: langsync.RunSucceeded, Steps: []langsync.Step{
		{Name: langsync.StepTrain, Target: "secondary", Model: "m", Status: langsync.StepSucceeded, Claimed: at(1), Started: at(1),
			Job: &langsync.Job{Started: at(2)}, Finished: at(5)},
		{Name: langsync.StepVerify, Target: "secondary", Status: langsync.StepPending},
	}}
	var got []string
	for _, e := range runEvents(r) {
		got = append(got, e.T.Sub(t0).String()+" "+e.What)
	}
	want := []string{"0s run R created", "9s run R succeeded", "1s run R train/secondary/m claimed", "1s run R train/secondary/m started",
		"2s run R train/secondary/m job started", "5s run R train/secondary/m succeeded"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events\n%q\nwant\n%q", got, want)
	}
}

func job(kind, what string, created, ended float64, status string) emulator.JobInfo {
	j := emulator.JobInfo{ID: kind + "@" + at(created).Format("05.0"), Kind: kind, Created: at(created), Status: status}
	if ended > 0 {
		j.Ended = at(ended)
	}
	if kind == "deploy" {
		j.Deployment = what
	} else {
		j.ModelLabel = what
	}
	return j
}

func TestCountJobs(t *testing.T) {
	r1 := runSpan{ID: "R1", Created: at(0), Source: "primary", Targets: []string{"secondary", "tertiary"}}
	r2 := runSpan{ID: "R2", Created: at(100), Source: "primary", Targets: []string{"secondary"}}
	clean := []emulator.JobInfo{job("import", "m", 10, 11, "succeeded"), job("train", "m", 12, 13, "succeeded"), job("deploy", "prod", 14, 15, "succeeded")}
	tests := []struct {
		name      string
		runs      []runSpan
		resources []resourceJobs
		want      map[string]int
		exports   map[string]int
		unattrib  int
	}{
		{"one job per step and target", []runSpan{r1},
			[]resourceJobs{{"secondary", clean}, {"tertiary", clean}, {"primary", []emulator.JobInfo{job("export", "m", 1, 2, "succeeded")}}},
			map[string]int{}, map[string]int{"R1": 1}, 0},
		{"a job sent again after the first succeeded", []runSpan{r1},
			[]resourceJobs{{"secondary", append(clean, job("import", "m", 20, 21, "succeeded"))}},
			map[string]int{"import": 1}, map[string]int{}, 0},
		{"a job started while the first still ran", []runSpan{r1},
			[]resourceJobs{{"secondary", []emulator.JobInfo{job("train", "m", 10, 0, "running"), job("train", "m", 11, 0, "running")}}},
			map[string]int{"train": 1}, map[string]int{}, 0},
		{"a failed job replaced", []runSpan{r1},
			[]resourceJobs{{"secondary", []emulator.JobInfo{job("train", "m", 10, 11, "failed"), job("train", "m", 12, 13, "succeeded")}}},
			map[string]int{}, map[string]int{}, 0},
		{"a job started before the first failed", []runSpan{r1},
			[]resourceJobs{{"secondary", []emulator.JobInfo{job("train", "m", 10, 15, "failed"), job("train", "m", 12, 13, "succeeded")}}},
			map[string]int{"train": 1}, map[string]int{}, 0},
		{"two deployments are two steps", []runSpan{r1},
			[]resourceJobs{{"secondary", []emulator.JobInfo{job("deploy", "prod", 10, 11, "succeeded"), job("deploy", "staging", 12, 13, "succeeded")}}},
			map[string]int{}, map[string]int{}, 0},
		{"each run has its own steps", []runSpan{r2, r1},
			[]resourceJobs{{"secondary", append(clean, job("import", "m", 110, 111, "succeeded"))},
				{"primary", []emulator.JobInfo{job("export", "m", 1, 2, "succeeded"), job("export", "m", 3, 4, "succeeded"), job("export", "m", 101, 102, "succeeded")}}},
			map[string]int{}, map[string]int{"R1": 2, "R2": 1}, 0},
		{"a run that does not cover the resource", []runSpan{r1, r2},
			[]resourceJobs{{"tertiary", append(clean, job("import", "m", 110, 111, "succeeded"))}},
			map[string]int{"import": 1}, map[string]int{}, 0},
		{"a job before any run", []runSpan{r2},
			[]resourceJobs{{"secondary", clean}},
			map[string]int{}, map[string]int{}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := countJobs(tc.runs, tc.resources)
			want := map[string]int{"import": 0, "train": 0, "deploy": 0}
			for k, v := range tc.want {
				want[k] = v
			}
			if !reflect.DeepEqual(got.Duplicates, want) {
				t.Fatalf("duplicates %v, want %v (details %q)", got.Duplicates, want, got.Details)
			}
			if len(got.Details) != want["import"]+want["train"]+want["deploy"] {
				t.Fatalf("details %q do not match the counts", got.Details)
			}
			if !reflect.DeepEqual(got.ExportsPerRun, tc.exports) {
				t.Fatalf("exports per run %v, want %v", got.ExportsPerRun, tc.exports)
			}
			if got.Unattributed != tc.unattrib {
				t.Fatalf("unattributed %d, want %d", got.Unattributed, tc.unattrib)
			}
		})
	}
	lost := job("train", "m", 10, 11, "succeeded")
	lost.AnswerLost = true
	got := countJobs([]runSpan{r1}, []resourceJobs{{"secondary", []emulator.JobInfo{lost, job("train", "m", 20, 21, "succeeded")}}})
	if got.Lost != 1 || got.Duplicates["train"] != 1 || !strings.Contains(got.Details[0], "its answer was lost") {
		t.Fatalf("a job re-sent after a lost answer: %+v", got)
	}
}

func TestGroupReasons(t *testing.T) {
	got := groupReasons([]string{
		"train/secondary/model1: train job ended failed: The job failed because of an internal error (injected by the emulator).",
		"train/secondary/model1: train job ended failed: The job failed because of an internal error (injected by the emulator).",
		"replicate#2: exit status 1: pipeline: taking lock locks/secondary/Tickets.lock for run 20261205T101924Z-6fcb59bd after 60s",
		"replicate#1: exit status 1: pipeline: taking lock locks/secondary/Tickets.lock for run 20261205T111111Z-0123abcd after 61s",
		"import: POST http://127.0.0.1:4321/language/x?api-version=1: EOF at 2026-12-05T10:21:30.463Z",
	})
	want := []reasonCount{
		{"replicate#N: exit status N: pipeline: taking lock locks/secondary/Tickets.lock for run <run> after <d>", 2},
		{"train/secondary/model1: train job ended failed: The job failed because of an internal error (injected by the emulator).", 2},
		{"import: POST <url> EOF at <time>", 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("groups\n%+v\nwant\n%+v", got, want)
	}
	if n := len([]rune(normalizeReason(strings.Repeat("x", 500)))); n != 160 {
		t.Fatalf("a long reason is %d runes, want it cut to 160", n)
	}
}

func TestOutcome(t *testing.T) {
	ok := func(id string, targets ...string) *langsync.Run {
		r := &langsync.Run{ID: id, Phase: langsync.RunSucceeded, Created: at(150)}
		for _, t := range targets {
			r.Pairs = append(r.Pairs, langsync.Pair{Target: t})
		}
		return r
	}
	failed := &langsync.Run{ID: "F", Phase: langsync.RunFailed, Error: "train/secondary/m: job failed"}
	running := &langsync.Run{ID: "S", Phase: langsync.RunRunning, Steps: []langsync.Step{
		{Name: langsync.StepInspect, Status: langsync.StepSucceeded},
		{Name: langsync.StepDeploy, Target: "secondary", Deployment: "prod", Status: langsync.StepStarting}}}
	tests := []struct {
		name    string
		r       runResult
		want    string
		reasons string
	}{
		{"every target reached", runResult{Runs: []*langsync.Run{ok("A", "secondary", "tertiary")}}, "succeeded", ""},
		{"reached by two runs", runResult{Runs: []*langsync.Run{ok("A", "secondary"), ok("B", "tertiary")}}, "succeeded", ""},
		{"a run failed", runResult{Runs: []*langsync.Run{failed, ok("A", "secondary", "tertiary")}}, "failed", "train/secondary/m: job failed"},
		{"a run still running is stuck", runResult{Runs: []*langsync.Run{failed, running}}, "stuck", "run S still running at deploy/secondary/prod (starting)"},
		{"a driver failed", runResult{Runs: []*langsync.Run{ok("A", "secondary", "tertiary")}, DriverErrors: []string{"replicate#2: exit status 1: locked"}}, "failed", "replicate#2: exit status 1: locked"},
		{"a target never reached", runResult{Runs: []*langsync.Run{ok("A", "secondary")}}, "failed", "no run replicated to tertiary (no langsync run succeeded for it)"},
		{"only an older run joined", runResult{Runs: []*langsync.Run{{ID: "A", Phase: langsync.RunSucceeded, Created: at(50),
			Pairs: []langsync.Pair{{Target: "secondary"}, {Target: "tertiary"}}}}}, "failed",
			"the change was not replicated to secondary: the driver joined run A, which read the source before the change, and exited 0; " +
				"the change was not replicated to tertiary: the driver joined run A, which read the source before the change, and exited 0"},
		{"no run at all", runResult{}, "failed", "no run replicated to secondary (no langsync run succeeded for it); no run replicated to tertiary (no langsync run succeeded for it)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.Targets = []string{"secondary", "tertiary"}
			if tc.r.Window.From.IsZero() {
				tc.r.Window = span(100, 200)
			}
			got, why := tc.r.outcome()
			if got != tc.want || strings.Join(why, "; ") != tc.reasons {
				t.Fatalf("outcome %s %q, want %s %q", got, why, tc.want, tc.reasons)
			}
		})
	}
}

// TestSummaryTable: the figures add up, the pass criteria fail the soak
// exactly when one is broken, and the table shows each measure.
func TestSummaryTable(t *testing.T) {
	okRun := func(n int, m mode, id string, stallSec float64) *runResult {
		return &runResult{N: n, Mode: m, Targets: []string{"secondary"}, Stall: stall{Stall: time.Duration(stallSec * float64(time.Second)), Before: "a", After: "b"},
			Runs: []*langsync.Run{{ID: id, Kind: langsync.RunReplicate, Phase: langsync.RunSucceeded, Pairs: []langsync.Pair{{Target: "secondary"}}}}}
	}
	bad := &runResult{N: 3, Mode: modeKill, Targets: []string{"secondary"},
		Runs: []*langsync.Run{{ID: "R3", Kind: langsync.RunReplicate, Phase: langsync.RunFailed, Error: "train/secondary/m: failed 3 times"}}}
	results := []*runResult{okRun(1, modeSingle, "R1", 2), okRun(2, modeDuplicate, "R2", 4.5), bad}
	jobs := jobCounts{Duplicates: map[string]int{"import": 0, "train": 0, "deploy": 0}, ExportsPerRun: map[string]int{"R1": 1, "R2": 2, "R3": 1}}
	backups := backupCheck{Written: 2, Expected: 2, Verified: 2}
	s := summarize(4, results, jobs, backups, nil)
	s.Budget = 15 * time.Minute
	if s.Runs != 3 || s.Succeeded != 2 || s.Failed != 1 || s.Stuck != 0 || s.Exports != 4 || s.ExportRuns != 3 || s.MaxExports != 2 ||
		s.StallRun != 2 || s.Langsync[langsync.RunFailed] != 1 || len(s.Reasons) != 1 || s.Reasons[0].Reason != "train/secondary/m: failed N times" {
		t.Fatalf("summary %+v", s)
	}
	// Only 3 of 4 planned runs were done: that alone fails the soak.
	if p := s.problems(30 * time.Second); len(p) != 1 || !strings.Contains(p[0], "only 3 of 4 runs") {
		t.Fatalf("problems %q, want only the missing run", p)
	}
	s.Planned = 3
	if p := s.problems(30 * time.Second); len(p) != 0 {
		t.Fatalf("problems %q, want none (a failed run is reported, not a criterion)", p)
	}
	breaks := []struct {
		name string
		edit func(*summary)
		want string
	}{
		{"stuck", func(s *summary) { s.Stuck = 1 }, "1 stuck"},
		{"duplicates", func(s *summary) { s.Jobs.Duplicates = map[string]int{"train": 2} }, "2 duplicate jobs"},
		{"bad backup", func(s *summary) { s.Backups.Bad = []string{"k: sha mismatch"} }, "1 backups fail verify"},
		{"stall", func(s *summary) { s.Stall.Stall = 31 * time.Second }, "stall of 31s > 30s"},
		{"secret", func(s *summary) { s.Secrets = []string{"key of primary in output of replicate"} }, "1 secrets leaked"},
	}
	for _, b := range breaks {
		c := s
		c.Jobs.Duplicates = map[string]int{}
		b.edit(&c)
		if p := c.problems(30 * time.Second); len(p) != 1 || p[0] != b.want {
			t.Errorf("%s: problems %q, want [%q]", b.name, p, b.want)
		}
	}

	var out bytes.Buffer
	s.render(&out, 30*time.Second)
	text := out.String()
	for _, want := range []string{
		"runs", "3 of 3 (single 1, duplicate drivers 1, kill -9 1)", "stuck", "duplicate jobs per step", "0 (import 0, train 0, deploy 0)",
		"exports per run", "1.33 (max 2", "backups written / expected", "2 / 2", "backups failing verify", "0 of 2",
		"longest stall (outside injected latency)", "4.5s in run 2 (duplicate drivers", "secrets in output, logs or state",
		"failure reasons", "1  train/secondary/m: failed N times", "SOAK PASSED",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
}

// TestPlanRun: a seed replays the same plan; every fault setting drawn is
// one the emulator accepts; every mode and the new fault occur.
func TestPlanRun(t *testing.T) {
	draw := func(seed uint64) []plan {
		rng := newRNG(seed)
		var ps []plan
		for n := 1; n <= 200; n++ {
			ps = append(ps, planRun(rng, n, []string{"primary", "secondary", "tertiary"}, classes))
		}
		return ps
	}
	a, b := draw(7), draw(7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed drew different plans")
	}
	if reflect.DeepEqual(a, draw(8)) {
		t.Fatal("different seeds drew the same plans")
	}
	modes := map[mode]int{}
	var lost, lostExportOnly, kills int
	for _, p := range a {
		modes[p.Mode]++
		if p.Kill > 0 {
			kills++
			if p.Kill >= 1 || (p.Mode != modeKill && p.Mode != modeLocal) {
				t.Fatalf("plan %d: kill at %v in mode %s", p.N, p.Kill, p.Mode)
			}
		}
		for name, f := range p.Faults {
			if err := f.Validate(); err != nil {
				t.Fatalf("plan %d %s: %v", p.N, name, err)
			}
			if f.LoseAcceptedCount > 0 || f.LoseAcceptedRatio > 0 {
				lost++
				if name == "primary" && len(f.LoseAcceptedKinds) == 0 {
					lostExportOnly++
				}
			}
		}
	}
	for _, m := range allModes {
		if modes[m] < 10 {
			t.Errorf("mode %s drawn %d times in 200", m, modes[m])
		}
	}
	if lost < 50 || lostExportOnly == 0 || kills < 50 {
		t.Errorf("lost-answer faults %d (source %d), kills %d in 200 plans", lost, lostExportOnly, kills)
	}
}

func TestParseFlags(t *testing.T) {
	t.Setenv("LANGSYNC_AZURITE", "")
	o, err := parseFlags([]string{"-store", "dir"}, &bytes.Buffer{})
	if err != nil || o.runs != 40 || o.timeout != 15*time.Minute || o.maxStall != 30*time.Second || o.seed != 1 {
		t.Fatalf("defaults %+v, %v", o, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-runs", "0"}, "-runs 0"},
		{[]string{"-store", "s3"}, `-store "s3"`},
		{[]string{"-store", "azurite", "-azurite", "/nonexistent/azurite-blob"}, "make deps"},
		{[]string{"-timeout", "-1s", "-store", "dir"}, "must be positive"},
		{[]string{"-store", "dir", "extra"}, "unexpected arguments"},
	} {
		if _, err := parseFlags(tc.args, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// TestSummaryCountsATakenOverRunOnce: a run left running by one soak run
// and finished by the next shows in both; the first is stuck, the run is
// counted once, in its last state.
func TestSummaryCountsATakenOverRunOnce(t *testing.T) {
	pairs := []langsync.Pair{{Target: "secondary"}}
	stuckRun := &langsync.Run{ID: "R1", Kind: langsync.RunReplicate, Phase: langsync.RunRunning, Pairs: pairs}
	finished := &langsync.Run{ID: "R1", Kind: langsync.RunReplicate, Phase: langsync.RunSucceeded, Pairs: pairs}
	next := &langsync.Run{ID: "R2", Kind: langsync.RunReplicate, Phase: langsync.RunSucceeded, Pairs: pairs}
	results := []*runResult{
		{N: 1, Mode: modeDuplicate, Targets: []string{"secondary"}, Runs: []*langsync.Run{stuckRun}},
		{N: 2, Mode: modeSingle, Targets: []string{"secondary"}, Runs: []*langsync.Run{finished, next}},
	}
	jobs := jobCounts{ExportsPerRun: map[string]int{"R1": 1, "R2": 1}}
	s := summarize(2, results, jobs, backupCheck{}, nil)
	if s.Stuck != 1 || s.Succeeded != 1 || s.LangsyncTotal != 2 || s.Langsync[langsync.RunSucceeded] != 2 || s.Langsync[langsync.RunRunning] != 0 ||
		s.ExportRuns != 2 || s.Exports != 2 {
		t.Fatalf("summary %+v", s)
	}
	if runs := lastRuns(results); len(runs) != 2 || runs[0] != finished || runs[1] != next {
		t.Fatalf("lastRuns %+v, want R1 in its finished state, then R2", runs)
	}
}

func TestExtraTrainings(t *testing.T) {
	results := []*runResult{
		{N: 1, Mode: modeKill, Window: span(0, 50), Measured: at(60)},
		{N: 2, Mode: modeSingle, Window: span(100, 150), Measured: at(160)},
		{N: 3, Mode: modeSingle, Window: span(200, 250), Measured: at(260), Cut: true},
	}
	resources := []resourceJobs{
		{"secondary", []emulator.JobInfo{
			job("train", "m", 10, 11, "succeeded"), job("train", "m", 30, 31, "succeeded"), // run 1: retrained by a rerun
			job("train", "m", 110, 111, "failed"), job("train", "m", 120, 121, "succeeded"), // run 2: a failed job replaced
			job("train", "m", 210, 211, "succeeded"), job("train", "m", 220, 221, "succeeded"), // run 3 was cut: not counted
		}},
		{"tertiary", []emulator.JobInfo{job("train", "m", 10, 11, "succeeded"), job("import", "-", 12, 13, "succeeded"), job("import", "-", 14, 15, "succeeded")}},
	}
	n, details := extraTrainings(results, resources)
	if n != 1 || len(details) != 1 || details[0] != "run 1 (kill -9): 2 trainings on secondary" {
		t.Fatalf("extra trainings %d %q, want 1 in run 1 on secondary", n, details)
	}
}

// TestCutRunIsNotDone: a run cut short by the budget is neither stuck nor
// failed; it is not counted as done, so the soak fails for lack of runs.
func TestCutRunIsNotDone(t *testing.T) {
	cut := &runResult{N: 2, Mode: modeDuplicate, Cut: true, Targets: []string{"secondary"}, Stall: stall{Stall: time.Hour},
		Runs: []*langsync.Run{{ID: "R2", Kind: langsync.RunReplicate, Phase: langsync.RunRunning}}}
	done := &runResult{N: 1, Mode: modeSingle, Targets: []string{"secondary"},
		Runs: []*langsync.Run{{ID: "R1", Kind: langsync.RunReplicate, Phase: langsync.RunSucceeded, Pairs: []langsync.Pair{{Target: "secondary"}}}}}
	s := summarize(2, []*runResult{done, cut}, jobCounts{ExportsPerRun: map[string]int{}}, backupCheck{}, nil)
	s.OutOfTime, s.Budget = true, time.Minute
	if s.Runs != 1 || s.Cut != 1 || s.Stuck != 0 || s.Stall.Stall != 0 || s.LangsyncTotal != 2 {
		t.Fatalf("summary %+v", s)
	}
	if p := s.problems(30 * time.Second); len(p) != 1 || p[0] != "only 1 of 2 runs done: out of time (budget 1m0s)" {
		t.Fatalf("problems %q", p)
	}
}
