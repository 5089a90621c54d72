package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

func replicateCommand() Command {
	return Command{Name: "replicate", Summary: "replicate projects to their targets now (export, backup, import, train, deploy, verify)", Run: runReplicate}
}

func runReplicate(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "replicate")
	cfgPath := fs.String("config", "", "config file (langsync.yaml)")
	project := fs.String("project", "", "replicate only this project (default: every configured project)")
	target := fs.String("target", "", "replicate only to this target resource")
	asJSON := fs.Bool("json", false, "print the finished runs as JSON")
	verbose := fs.Bool("v", false, "log every action to stderr")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	// Name what the config has, so a typo is fixed without opening it.
	var projects, allProjects, allTargets, projTargets []string
	for _, p := range cfg.Projects {
		if !containsString(allProjects, p.Name) {
			allProjects = append(allProjects, p.Name)
		}
		hasTarget := false
		for _, t := range p.Targets {
			if !containsString(allTargets, t.Resource) {
				allTargets = append(allTargets, t.Resource)
			}
			if *project == "" || p.Name == *project {
				if !containsString(projTargets, t.Resource) {
					projTargets = append(projTargets, t.Resource)
				}
			}
			hasTarget = hasTarget || t.Resource == *target
		}
		if (*project == "" || p.Name == *project) && (*target == "" || hasTarget) && !containsString(projects, p.Name) {
			projects = append(projects, p.Name)
		}
	}
	hint := "langsync replicate --config " + *cfgPath
	switch {
	case *project != "" && !containsString(allProjects, *project):
		return usagef(hint, "--project %q is not in %s: configured projects are %s", *project, *cfgPath, strings.Join(allProjects, ", "))
	case *target != "" && len(projects) == 0 && *project != "":
		return usagef(hint, "--target %q is not a target of project %q in %s: its targets are %s", *target, *project, *cfgPath, strings.Join(projTargets, ", "))
	case *target != "" && len(projects) == 0:
		return usagef(hint, "--target %q is not a target in %s: configured targets are %s", *target, *cfgPath, strings.Join(allTargets, ", "))
	case len(projects) == 0:
		return usagef(hint, "%s configures no projects", *cfgPath)
	}
	var progress io.Writer
	if !*asJSON {
		progress = env.Stdout
	}
	a, err := newApp(ctx, env, cfg, *verbose, progress)
	if err != nil {
		return err
	}
	// A run already going joins only if it reads the source after this
	// moment; otherwise the run that follows it is driven too.
	tmpl := pipeline.Request{Trigger: langsync.TriggerCLI, Reason: "langsync replicate", Since: a.Pipeline.Clock().Now()}
	var tickets []pipeline.Ticket
	for _, p := range projects {
		req := tmpl
		req.Project = p
		if *target != "" {
			req.Targets = []string{*target}
		}
		ts, err := a.Pipeline.Start(ctx, req)
		if errors.Is(err, pipeline.ErrUnknownProject) {
			return usagef("langsync replicate --config "+*cfgPath, "%v", err)
		}
		if err != nil {
			return err
		}
		for _, t := range ts {
			if !*asJSON {
				verb, note := "started", ""
				if t.Joined {
					verb = "joined active"
				}
				if t.Owed {
					note = " (it read the source before this request; a new run follows it)"
				}
				fmt.Fprintf(env.Stdout, "%s run %s for %s%s\n", verb, t.Run, pairList(t.Pairs), note)
			}
			tickets = append(tickets, t)
		}
	}
	var mu sync.Mutex
	runs, derr := a.DriveTickets(ctx, tmpl, tickets, func(from *langsync.Run, to pipeline.Ticket) {
		if *asJSON {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(env.Stdout, "run %s %s, having read the source before this request; following with run %s for %s\n", from.ID, from.Phase, to.Run, pairList(to.Pairs))
	})
	runs = uniqueRuns(runs)
	return reportRuns(env, runs, derr, *asJSON, true)
}

// reportRuns prints the finished runs (as JSON, only when printJSON: a caller
// that printed its own document passes false) and fails when one failed.
func reportRuns(env *Env, runs []*langsync.Run, derr error, asJSON, printJSON bool) error {
	if asJSON && printJSON {
		var out []*langsync.Run
		for _, r := range runs {
			if r != nil {
				out = append(out, r)
			}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	var failed []string
	for _, r := range runs {
		if r == nil {
			continue
		}
		if !asJSON {
			line := fmt.Sprintf("run %s %s in %s", r.ID, r.Phase, r.Ended.Sub(r.Created).Round(time.Millisecond))
			if r.Error != "" {
				line += ": " + r.Error
			}
			fmt.Fprintln(env.Stdout, line)
			if r.Phase == langsync.RunFailed && len(r.Pairs) > 1 {
				// Which targets made it, one line each.
				for _, o := range pipeline.Summarize(r).Targets {
					out := fmt.Sprintf("  %s/%s: %s", o.Target, o.Project, o.Phase)
					if o.Step != "" && o.Phase == langsync.RunFailed {
						out += " at " + o.Step
					}
					fmt.Fprintln(env.Stdout, out)
				}
			}
			for _, w := range r.Warnings {
				fmt.Fprintf(env.Stdout, "  warning: %s\n", w)
			}
		}
		if r.Phase == langsync.RunFailed {
			failed = append(failed, r.ID+": "+r.Error)
		}
	}
	if derr != nil {
		return derr
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s failed: %v (nothing on the targets was deleted; they keep serving what they served)", countOf(len(failed), "run", "runs"), failed)
	}
	return nil
}

// uniqueRuns drops repeats (two tickets that ended in one run).
func uniqueRuns(runs []*langsync.Run) []*langsync.Run {
	var out []*langsync.Run
	seen := map[string]bool{}
	for _, r := range runs {
		if r != nil && seen[r.ID] {
			continue
		}
		if r != nil {
			seen[r.ID] = true
		}
		out = append(out, r)
	}
	return out
}

func pairList(pairs []langsync.Pair) string {
	s := ""
	for i, p := range pairs {
		if i > 0 {
			s += ", "
		}
		s += p.String()
	}
	return s
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// loadConfig reads --config; a missing flag or an invalid file is a usage
// error (exit 2) that lists every problem.
func loadConfig(env *Env, path string) (*config.Config, error) {
	if path == "" {
		return nil, usagef("langsync <command> --config langsync.yaml", "--config is required")
	}
	cfg, err := config.Load(path, env.Getenv)
	if err != nil {
		return nil, &UsageError{Message: err.Error(), Hint: "fix the config file; see docs/pipeline.md"}
	}
	return cfg, nil
}

// newApp wires langsync for a CLI command. With progress set, every step
// transition and job percent change prints a line there.
func newApp(ctx context.Context, env *Env, cfg *config.Config, verbose bool, progress io.Writer) (*app.App, error) {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	stderr := &lockedWriter{w: env.Stderr}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var printer *progressPrinter
	if progress != nil {
		printer = &progressPrinter{w: progress, last: map[string]string{}}
	}
	opts := &app.Options{Logger: logger, Blob: blobOptions(env, stderr), Pipeline: func(o *pipeline.Options) {
		if printer != nil {
			o.OnProgress = printer.print
		}
	}}
	if env.budget != nil {
		opts.Authoring = &authoring.ClientOptions{Budget: env.budget}
	}
	if env.appOptions != nil {
		env.appOptions(opts)
	}
	return app.New(ctx, cfg, opts)
}

type progressPrinter struct {
	mu   sync.Mutex
	w    io.Writer
	last map[string]string
}

// print writes one line per step event, per job percent change, and per
// claim of another process that this one waits for.
func (p *progressPrinter) print(ev pipeline.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := ev.Run + "/" + ev.Step.ID()
	state := ev.Event
	switch {
	case ev.Event == "poll" && ev.Step.Name == langsync.StepTrain:
		state = fmt.Sprintf("poll %d", ev.Step.Percent)
	case ev.Event == "wait":
		state = "wait " + ev.Until.String()
	case ev.Message != "":
		// Every retry is its own line: the message carries its number.
		state = ev.Event + " " + ev.Message
	}
	if p.last[key] == state {
		return
	}
	p.last[key] = state
	line := fmt.Sprintf("[%8s] %-34s %-7s", ev.Elapsed.Round(100*time.Millisecond), ev.Step.ID(), ev.Event)
	switch {
	case ev.Event == "poll" && ev.Step.Name == langsync.StepTrain:
		line += fmt.Sprintf(" %3d%%", ev.Step.Percent)
	case ev.Message != "":
		line += " " + ev.Message
	case ev.Event == "retry" || ev.Event == "fail":
		line += " " + ev.Step.Error
	case ev.Event == "skip" && ev.Step.Note != "":
		line += " " + ev.Step.Note
	case ev.Event == "done" && ev.Step.Note != "":
		line += " " + ev.Step.Note
	}
	fmt.Fprintln(p.w, line)
}
