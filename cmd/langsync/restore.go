package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/local"
)

func restoreCommand() Command {
	return Command{Name: "restore", Summary: "restore a backup into a resource (point in time, another name, dry run)", Run: runRestore}
}

func init() {
	// The local host restores backups dropped under restore/ through the
	// same entry point.
	localRestorer = func(a *app.App) local.Restorer { return a }
}

func runRestore(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "restore")
	cfgPath := fs.String("config", "", "config file (langsync.yaml)")
	id := fs.String("backup", "", "backup to restore: its blob name (see langsync backups list), or <time>-<sha12> with --project")
	project := fs.String("project", "", "project whose backup to restore (with --at, or with a short --backup id)")
	at := fs.String("at", "", "restore the newest verified backup taken at or before this time (RFC 3339, e.g. 2026-11-20T00:00:00Z, or a date 2026-11-20 meaning its end, UTC)")
	to := fs.String("to", "", "resource to restore into (a name under resources: in the config)")
	as := fs.String("as", "", "project name on the target (default: the backup's project name)")
	var deps stringList
	fs.Var(&deps, "deployment", "deployment to create or replace (repeatable; default: the deployments the backed-up model served, else production)")
	replace := fs.Bool("replace", false, "allow restoring over an existing project of that name (its data is replaced)")
	dryRun := fs.Bool("dry-run", false, "print the plan and change nothing; exit 1 if the plan contains STOP (the restore would refuse)")
	asJSON := fs.Bool("json", false, "print the plan and the finished run as JSON")
	verbose := fs.Bool("v", false, "log every action to stderr")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	hint := "langsync restore --help"
	req := app.RestoreRequest{Backup: *id, Project: *project, To: *to, As: *as, Deployments: deps, Replace: *replace, Reason: "langsync restore"}
	switch {
	case *to == "":
		return usagef(hint, "--to is required: the resource to restore into")
	case *id != "" && *at != "":
		return usagef(hint, "give --backup or --at, not both")
	case *id == "" && (*project == "" || *at == ""):
		return usagef(hint, "name the backup: --backup ID, or --project P --at TIME")
	case *id != "" && *project == "" && strings.Count(*id, "/") != 2:
		// A short id (<time>-<sha12>) names a backup only within a project.
		return usagef("langsync backups list --config F --project P", "--backup %q is a short id: add --project P, or give the full <source>/<project>/<time>-<sha12>.tar.gz name (see langsync backups list)", *id)
	}
	// Names on the command line follow the service's rules: a bad one is
	// a usage error (exit 2), before the config or a backup is read.
	if *project != "" {
		if err := langsync.ValidateProjectName(*project); err != nil {
			return usagef(hint, "--project: %v", err)
		}
	}
	if *as != "" {
		if err := langsync.ValidateProjectName(*as); err != nil {
			return usagef(hint, "--as: %v", err)
		}
	}
	for _, d := range deps {
		if err := langsync.ValidateDeploymentName(d); err != nil {
			return usagef(hint, "--deployment: %v", err)
		}
	}
	if *at != "" {
		t, err := parseRestoreTime(*at)
		if err != nil {
			return usagef(hint, "%v", err)
		}
		req.At = t
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	if _, ok := cfg.Resource(*to); !ok {
		return usagef(hint, "--to %q is not a resource in %s (have %v)", *to, *cfgPath, cfg.ResourceNames())
	}
	var progress io.Writer
	if !*asJSON && !*dryRun {
		progress = env.Stdout
	}
	a, err := newApp(ctx, env, cfg, *verbose, progress)
	if err != nil {
		return err
	}
	if *dryRun {
		plan, err := a.PlanRestore(ctx, req)
		if err != nil {
			return err
		}
		if *asJSON {
			if err := encodeJSON(env.Stdout, map[string]any{"dryRun": true, "plan": plan}); err != nil {
				return err
			}
		} else {
			printPlan(env.Stdout, plan, true)
		}
		// A plan that would stop exits 1, so a dry run works as a preflight
		// check in scripts; the plan is still printed.
		if len(plan.Blockers) > 0 {
			return fmt.Errorf("dry run: the restore would stop: %s (nothing was changed)", strings.Join(plan.Blockers, "; "))
		}
		return nil
	}
	plan, ticket, err := a.Restore(ctx, req)
	if err != nil {
		if plan != nil && !*asJSON {
			printPlan(env.Stdout, plan, false)
		}
		return err
	}
	if !*asJSON {
		printPlan(env.Stdout, plan, false)
		fmt.Fprintf(env.Stdout, "started restore run %s\n", ticket.Run)
	}
	run, derr := a.Drive(ctx, ticket.Run)
	if *asJSON {
		if err := encodeJSON(env.Stdout, map[string]any{"plan": plan, "run": run}); err != nil {
			return err
		}
	}
	if derr != nil {
		return derr
	}
	if !*asJSON {
		line := fmt.Sprintf("run %s %s in %s", run.ID, run.Phase, run.Ended.Sub(run.Created).Round(time.Millisecond))
		if run.Error != "" {
			line += ": " + run.Error
		}
		fmt.Fprintln(env.Stdout, line)
	}
	if run.Phase != langsync.RunSucceeded {
		return fmt.Errorf("restore run %s failed: %s (the target keeps what it had before the failed step; see langsync status)", run.ID, run.Error)
	}
	if !*asJSON {
		fmt.Fprintf(env.Stdout, "restored %s into %s/%s\n", plan.Backup.Key, plan.Target, plan.TargetProject)
	}
	return nil
}

// parseRestoreTime reads RFC 3339, or a bare date meaning the end of that
// day (UTC), so "--at 2026-11-20" restores the last backup of that day.
func parseRestoreTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.Parse("2006-01-02", s); err == nil {
		return d.Add(24*time.Hour - time.Second), nil
	}
	return time.Time{}, fmt.Errorf("--at %q is not an RFC 3339 time (2026-11-20T00:00:00Z) or a date (2026-11-20)", s)
}

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printPlan(w io.Writer, p *app.RestorePlan, dryRun bool) {
	b := p.Backup
	fmt.Fprintf(w, "backup   %s\n", b.Key)
	fmt.Fprintf(w, "         verified; %s of project %s (%s), taken %s\n", p.Input, p.Project, dash(p.ProjectKind), b.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "         %s (%d carried in the backup)", countOf(p.Documents, "labelled document", "labelled documents"), p.DocumentsCarried)
	if p.Classes > 0 {
		fmt.Fprintf(w, ", %s", countOf(p.Classes, "class", "classes"))
	}
	if p.Entities > 0 {
		fmt.Fprintf(w, ", %s", countOf(p.Entities, "entity", "entities"))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "target   %s/%s: %s project\n", p.Target, p.TargetProject, p.ProjectAction)
	switch {
	case p.DocumentsNotChecked:
		fmt.Fprintf(w, "         documents: not checked (%s has no linked storage in the config)\n", p.Target)
	default:
		fmt.Fprintf(w, "         documents: %d to write into container %q\n", p.DocumentsToWrite, p.StorageContainer)
	}
	fmt.Fprintf(w, "         model %s: %s (training config %s; from %s)\n", p.Model, p.ModelAction, p.TrainingConfigVersion, p.ModelSource)
	for _, d := range p.Deployments {
		fmt.Fprintf(w, "         deployment %s: %s\n", d.Name, d.Action)
	}
	fmt.Fprintf(w, "steps    %s\n", strings.Join(p.Steps, ", "))
	for _, bl := range p.Blockers {
		fmt.Fprintf(w, "STOP     %s\n", bl)
	}
	if dryRun {
		if len(p.Blockers) > 0 {
			fmt.Fprintln(w, "dry run: the restore would stop before any change; nothing was changed")
		} else {
			fmt.Fprintln(w, "dry run: nothing was changed")
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// countOf is "1 class", "3 classes".
func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
