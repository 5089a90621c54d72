package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/langsync"
)

func backupsCommand() Command {
	return Command{Name: "backups", Summary: "list, show, verify, prune, quarantine and delete backups in the backup container", Run: runBackups}
}

func runBackups(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "backups")
	cfgPath := fs.String("config", "", "config file (langsync.yaml)")
	project := fs.String("project", "", "only this project")
	asJSON := fs.Bool("json", false, "print JSON")
	dryRun := fs.Bool("dry-run", false, "prune: list what would be deleted or quarantined, change nothing")
	reverify := fs.Bool("reverify", false, "prune: read every backup again instead of trusting the verification cache")
	keepLast := fs.Int("keep-last", 0, fmt.Sprintf("prune: keep the newest N verified backups per project and model, 0 to %d, 0 turns the rule off (default: config retention.keepLast)", backup.MaxKeepLast))
	keepDays := fs.Int("keep-days", 0, fmt.Sprintf("prune: keep verified backups newer than D days, 0 to %d, 0 turns the rule off (default: config retention.keepDays)", backup.MaxKeepDays))
	reason := fs.String("reason", "", "quarantine: why the backup is set aside (required)")
	yes := fs.Bool("yes", false, "delete: confirm the deletion (it cannot be undone)")
	force := fs.Bool("force", false, "delete: delete even the newest verified backup of its project and model")
	if backupsSubHelp(env, fs, args) {
		return nil
	}
	pos, err := parseFlags(fs, args)
	if ue := (*UsageError)(nil); errors.As(err, &ue) && len(args) > 0 && manual["backups "+args[0]].Synopsis != "" {
		ue.Hint = "langsync backups " + args[0] + " --help"
	}
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// The subcommands share one flag set; a flag that does not apply to
	// this one is a mistake, not something to ignore.
	if len(pos) > 0 {
		if p, ok := manual["backups "+pos[0]]; ok {
			for name := range set {
				if !keep(p.Flags, name) {
					return usagef("langsync backups "+pos[0]+" --help", "--%s does not apply to backups %s", name, pos[0])
				}
			}
		}
	}
	if len(pos) == 0 {
		return usagef("langsync backups --help", "missing subcommand: list, show, verify, prune, quarantine, unquarantine or delete")
	}
	sub, rest := pos[0], pos[1:]
	switch sub {
	case "list", "prune":
		if len(rest) > 0 {
			return usagef("langsync backups --help", "backups %s takes no arguments (got %q)", sub, strings.Join(rest, " "))
		}
	case "show", "quarantine", "unquarantine", "delete":
		if len(rest) != 1 {
			return usagef("langsync backups "+sub+" ID --config F", "backups %s needs exactly one backup id", sub)
		}
	case "verify":
	default:
		return usagef("langsync backups --help", "unknown subcommand %q: want list, show, verify, prune, quarantine, unquarantine or delete", sub)
	}
	// A bad value is never quietly replaced by the default.
	for _, f := range []struct {
		name string
		v    int
		max  int
	}{{"keep-last", *keepLast, backup.MaxKeepLast}, {"keep-days", *keepDays, backup.MaxKeepDays}} {
		if set[f.name] && (f.v < 0 || f.v > f.max) {
			return usagef("langsync backups prune --keep-last N --keep-days D", "--%s %d is out of range: want 0 (the rule off) to %d", f.name, f.v, f.max)
		}
	}
	switch {
	case sub == "quarantine" && strings.TrimSpace(*reason) == "":
		return usagef(`langsync backups quarantine ID --reason "why" --config F`, "backups quarantine needs --reason: say why the backup is set aside")
	case sub == "delete" && !*yes:
		return usagef("langsync backups delete ID --yes --config F", "deleting a backup cannot be undone: add --yes to confirm")
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	policy := backup.Retention{KeepLast: cfg.Retention.KeepLast, KeepDays: cfg.Retention.KeepDays}
	if set["keep-last"] {
		policy.KeepLast = *keepLast
	}
	if set["keep-days"] {
		policy.KeepDays = *keepDays
	}
	if err := policy.Validate(); sub == "prune" && err != nil {
		return &UsageError{Message: "config retention: " + err.Error(), Hint: "fix retention in the config file, or give --keep-last/--keep-days"}
	}
	store, err := storeopen.Open(ctx, cfg.Store.Reveal(), blobOptions(env, &lockedWriter{w: env.Stderr}))
	if err != nil {
		return err
	}
	cat := backup.NewCatalog(store, cfg.Containers.Backups)
	cat.StateContainer = cfg.Containers.State
	switch sub {
	case "verify":
		// Best effort: without it failures cannot be quarantined, which
		// the output then says.
		_ = store.EnsureContainer(ctx, cat.StateContainer)
	case "prune", "quarantine", "unquarantine", "delete":
		if err := store.EnsureContainer(ctx, cat.StateContainer); err != nil {
			return fmt.Errorf("state container %s (quarantine records live there): %w", cat.StateContainer, err)
		}
	}
	out := &backupsOutput{env: env, json: *asJSON}
	by := "langsync backups " + sub
	if u := env.Getenv("USER"); u != "" {
		by += " (user " + u + ")"
	}

	switch sub {
	case "list":
		refs, err := cat.List(ctx, *project)
		if err != nil {
			return err
		}
		return out.refs(refs)
	case "show":
		ref, err := findBackup(ctx, cat, *cfgPath, *project, rest[0])
		if err != nil {
			return err
		}
		kind, m, err := cat.Inspect(ctx, ref.Key)
		if err != nil {
			return err
		}
		return out.manifest(ref, kind, m)
	case "verify":
		var refs []langsync.BackupRef
		if len(rest) == 0 {
			if refs, err = cat.List(ctx, *project); err != nil {
				return err
			}
		}
		for _, id := range rest {
			ref, err := findBackup(ctx, cat, *cfgPath, *project, id)
			if err != nil {
				return err
			}
			refs = append(refs, ref)
		}
		return out.verify(ctx, cat, refs, by)
	case "quarantine":
		ref, err := findBackup(ctx, cat, *cfgPath, *project, rest[0])
		if err != nil {
			return err
		}
		q, created, err := cat.Quarantine(ctx, ref.Key, *reason, by)
		if err != nil {
			return err
		}
		ref.Quarantine = &q
		return out.quarantined(ref, created)
	case "unquarantine":
		ref, err := findBackup(ctx, cat, *cfgPath, *project, rest[0])
		if err != nil {
			return err
		}
		if err := cat.Unquarantine(ctx, ref.Key); err != nil {
			return err
		}
		ref.Quarantine = nil
		return out.unquarantined(ref)
	case "delete":
		ref, err := findBackup(ctx, cat, *cfgPath, *project, rest[0])
		if err != nil {
			return err
		}
		ref, err = cat.Remove(ctx, ref.Key, &backup.RemoveOptions{Force: *force, By: by})
		if errors.Is(err, backup.ErrNewestVerified) {
			return fmt.Errorf("%w; nothing was deleted (add --force to delete it anyway)", err)
		}
		if err != nil {
			return err
		}
		return out.deleted(ref)
	default: // prune
		res, err := cat.Prune(ctx, *project, policy, &backup.PruneOptions{DryRun: *dryRun, Reverify: *reverify, By: by})
		if perr := out.pruned(res, policy, *dryRun); perr != nil {
			return perr
		}
		return err
	}
}

type backupsOutput struct {
	env  *Env
	json bool
}

func (o *backupsOutput) encode(v any) error {
	enc := json.NewEncoder(o.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (o *backupsOutput) refs(refs []langsync.BackupRef) error {
	if o.json {
		if refs == nil {
			refs = []langsync.BackupRef{}
		}
		return o.encode(refs)
	}
	if len(refs) == 0 {
		fmt.Fprintln(o.env.Stdout, "no backups")
		return nil
	}
	tw := tabwriter.NewWriter(o.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSOURCE\tPROJECT\tMODEL\tDOCS\tSIZE\tFINGERPRINT\tKEY\tQUARANTINED")
	for _, r := range refs {
		q := "-"
		if r.Quarantine != nil {
			q = "QUARANTINED: " + bkCut(r.Quarantine.Reason, 80)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.Time.UTC().Format(time.RFC3339), r.Source, r.Project, bkDash(r.Model),
			r.Documents, bkBytes(r.Size), bkShort(r.Fingerprint), r.Key, q)
	}
	return tw.Flush()
}

// kindNote says what a verified backup is when it is not our archive.
func kindNote(k backup.Kind) string {
	switch k {
	case backup.KindProjectJSON:
		return "a plain export JSON: it carries no documents and no per-file checksums; its sha256 matches and it parses as an export"
	case backup.KindLegacy:
		return "a legacy 2021-11-01-preview export JSON, converted on restore: no documents and no per-file checksums; its sha256 matches"
	}
	return ""
}

func (o *backupsOutput) manifest(ref langsync.BackupRef, kind backup.Kind, m *backup.Manifest) error {
	if o.json {
		return o.encode(struct {
			Backup   langsync.BackupRef `json:"backup"`
			Verified bool               `json:"verified"`
			Kind     backup.Kind        `json:"kind"`
			Manifest *backup.Manifest   `json:"manifest"`
		}{ref, true, kind, m})
	}
	w := o.env.Stdout
	if note := kindNote(kind); note != "" {
		fmt.Fprintf(w, "backup       %s (verified: %s)\n", ref.Key, note)
	} else {
		fmt.Fprintf(w, "backup       %s (verified: every sha256 matches)\n", ref.Key)
	}
	if q := ref.Quarantine; q != nil {
		fmt.Fprintf(w, "QUARANTINED  since %s by %s: %s\n", q.Time.UTC().Format(time.RFC3339), bkDash(q.By), q.Reason)
	}
	fmt.Fprintf(w, "project      %s (%s)\n", m.Project, m.ProjectKind)
	fmt.Fprintf(w, "source       %s %s\n", bkDash(m.Source.Name), m.Source.EndpointHost)
	fmt.Fprintf(w, "api version  %s\n", bkDash(m.APIVersion))
	if m.TrainedModelLabel != "" {
		fmt.Fprintf(w, "model        %s\n", m.TrainedModelLabel)
	}
	if !m.ExportedAt.IsZero() {
		fmt.Fprintf(w, "exported     %s\n", m.ExportedAt.UTC().Format(time.RFC3339))
	}
	if t := m.ProjectTimestamps.LastModified; t != nil {
		fmt.Fprintf(w, "modified     %s\n", t.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "fingerprint  %s\n", m.Fingerprint)
	fmt.Fprintf(w, "size         %s (sha256 %s)\n", bkBytes(ref.Size), ref.SHA256)
	fmt.Fprintf(w, "documents    %d named, %d stored (container %s)\n", m.Counts.Documents, m.Counts.DocumentsStored, bkDash(m.StorageContainer))
	if len(m.MissingDocuments) > 0 {
		fmt.Fprintf(w, "missing      %s\n", strings.Join(m.MissingDocuments, ", "))
	}
	fmt.Fprintf(w, "labels       %d classes, %d entities\n", m.Counts.Classes, m.Counts.Entities)
	return nil
}

type verifyResult struct {
	Key   string      `json:"key"`
	OK    bool        `json:"ok"`
	Kind  backup.Kind `json:"kind,omitempty"`
	Error string      `json:"error,omitempty"`
	// Quarantine is set when the backup is quarantined (before, or now
	// because it failed).
	Quarantine *langsync.Quarantine `json:"quarantine,omitempty"`
}

func (o *backupsOutput) verify(ctx context.Context, cat *backup.Catalog, refs []langsync.BackupRef, by string) error {
	results := []verifyResult{}
	failed := 0
	prog := newCountLine(o.env.Stderr, "backups verify:", len(refs))
	defer prog.finish()
	for i, r := range refs {
		prog.update(i)
		res := verifyResult{Key: r.Key, OK: true, Quarantine: r.Quarantine}
		kind, _, err := cat.Inspect(ctx, r.Key)
		var status string
		switch {
		case err == nil:
			res.Kind = kind
			status = "ok"
			if note := kindNote(kind); note != "" {
				status += " (" + note + ")"
			}
			if q := r.Quarantine; q != nil {
				status += "; still quarantined (" + q.Reason + "): unquarantine it to use it again"
			}
		case errors.Is(err, context.Canceled):
			return err
		default:
			res.OK, res.Error = false, err.Error()
			failed++
			status = "FAILED: " + res.Error
			switch {
			case r.Quarantine != nil:
				status += " (quarantined)"
			case !backup.IsCorrupt(err):
				status += " (could not be read; not quarantined)"
			default:
				q, _, qerr := cat.Quarantine(ctx, r.Key, "failed verification: "+err.Error(), by)
				if qerr != nil {
					status += fmt.Sprintf(" (quarantining it failed: %v)", qerr)
				} else {
					res.Quarantine = &q
					status += " (quarantined: kept aside, never reused, restored by time or pruned)"
				}
			}
		}
		results = append(results, res)
		if !o.json {
			fmt.Fprintf(o.env.Stdout, "%s  %s\n", r.Key, status)
		}
	}
	if o.json {
		if err := o.encode(results); err != nil {
			return err
		}
	} else if len(refs) == 0 {
		fmt.Fprintln(o.env.Stdout, "no backups")
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d backups failed verification; they will not be restored", failed, len(refs))
	}
	return nil
}

func (o *backupsOutput) quarantined(ref langsync.BackupRef, created bool) error {
	if o.json {
		return o.encode(struct {
			Backup  langsync.BackupRef `json:"backup"`
			Created bool               `json:"created"`
		}{ref, created})
	}
	q := ref.Quarantine
	if !created {
		fmt.Fprintf(o.env.Stdout, "%s was already quarantined since %s by %s: %s\n", ref.Key, q.Time.UTC().Format(time.RFC3339), bkDash(q.By), q.Reason)
		return nil
	}
	fmt.Fprintf(o.env.Stdout, "quarantined %s: %s\nIt stays in the backup container, listed and marked; it is not reused, restored by time or pruned.\n", ref.Key, q.Reason)
	return nil
}

func (o *backupsOutput) unquarantined(ref langsync.BackupRef) error {
	if o.json {
		return o.encode(struct {
			Backup langsync.BackupRef `json:"backup"`
		}{ref})
	}
	fmt.Fprintf(o.env.Stdout, "%s is no longer quarantined\n", ref.Key)
	return nil
}

func (o *backupsOutput) deleted(ref langsync.BackupRef) error {
	if o.json {
		return o.encode(struct {
			Deleted langsync.BackupRef `json:"deleted"`
		}{ref})
	}
	if q := ref.Quarantine; q != nil {
		fmt.Fprintf(o.env.Stdout, "deleted %s (it was quarantined: %s)\n", ref.Key, q.Reason)
		return nil
	}
	fmt.Fprintf(o.env.Stdout, "deleted %s\n", ref.Key)
	return nil
}

func (o *backupsOutput) pruned(res backup.PruneResult, policy backup.Retention, dryRun bool) error {
	if o.json {
		for _, l := range []*[]langsync.BackupRef{&res.Deleted, &res.Quarantined, &res.Unverified} {
			if *l == nil {
				*l = []langsync.BackupRef{}
			}
		}
		return o.encode(struct {
			DryRun    bool             `json:"dryRun"`
			Retention backup.Retention `json:"retention"`
			backup.PruneResult
		}{dryRun, policy, res})
	}
	verb, qverb := "deleted", "quarantined"
	if dryRun {
		verb, qverb = "would delete", "would quarantine"
	}
	w := o.env.Stdout
	for _, r := range res.Deleted {
		fmt.Fprintf(w, "%s %s\n", verb, r.Key)
	}
	for _, r := range res.Quarantined {
		fmt.Fprintf(w, "%s %s: %s\n", qverb, r.Key, r.Quarantine.Reason)
	}
	for _, r := range res.Unverified {
		fmt.Fprintf(w, "kept %s: it could not be verified (see the error below)\n", r.Key)
	}
	fmt.Fprintf(w, "%s %d backups, %s %d, %d kept (keep last %d, keep %d days; only verified backups count, the newest verified backup of each project and model is always kept, quarantined backups are never deleted)\n",
		verb, len(res.Deleted), qverb, len(res.Quarantined), res.Kept, policy.KeepLast, policy.KeepDays)
	return nil
}

func bkCut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func bkDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func bkShort(s string) string { return s[:min(12, len(s))] }

func bkBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// findBackup is cat.Find with a message for a name that is not a backup:
// the store's "stat …: not found: BlobNotFound" tells a user nothing.
func findBackup(ctx context.Context, cat *backup.Catalog, cfgPath, project, id string) (langsync.BackupRef, error) {
	ref, err := cat.Find(ctx, project, id)
	if err != nil && errors.Is(err, blobstore.ErrNotFound) {
		list := "langsync backups list --config " + cfgPath
		if project != "" {
			list += " --project " + project
		}
		return ref, fmt.Errorf("%q is not a backup in the backup container: list the backups with %s", id, list)
	}
	return ref, err
}
