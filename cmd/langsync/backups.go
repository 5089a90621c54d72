package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/langsync"
)

func backupsCommand() Command {
	return Command{Name: "backups", Summary: "list, show, verify and prune backups in the backup container", Run: runBackups}
}

const backupsUsage = `backups list|show|verify|prune --config F [--project P] [--json]

  list                    the backups, oldest first
  show ID                 one backup's manifest (downloads and verifies it)
  verify [ID...]          re-read backups and check every hash (default: all of --project, or all)
  prune [--dry-run]       apply the retention policy (config retention, or --keep-last/--keep-days)

ID is a blob name (<source>/<project>/<time>-<sha>.tar.gz) or, with --project, <time>-<sha>.`

func runBackups(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "backups", backupsUsage)
	cfgPath := fs.String("config", "", "config file (langsync.yaml)")
	project := fs.String("project", "", "only this project")
	asJSON := fs.Bool("json", false, "print JSON")
	dryRun := fs.Bool("dry-run", false, "prune: list what would be deleted, delete nothing")
	keepLast := fs.Int("keep-last", -1, "prune: keep the newest N backups per project (default: config retention.keepLast)")
	keepDays := fs.Int("keep-days", -1, "prune: keep backups newer than D days (default: config retention.keepDays)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("langsync backups --help", "missing subcommand: list, show, verify or prune")
	}
	sub, rest := pos[0], pos[1:]
	switch sub {
	case "list", "prune":
		if len(rest) > 0 {
			return usagef("langsync backups --help", "backups %s takes no arguments (got %q)", sub, strings.Join(rest, " "))
		}
	case "show":
		if len(rest) != 1 {
			return usagef("langsync backups show ID --config F", "backups show needs exactly one backup id")
		}
	case "verify":
	default:
		return usagef("langsync backups --help", "unknown subcommand %q: want list, show, verify or prune", sub)
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	store, err := blobstore.Open(ctx, cfg.Store.Reveal(), nil)
	if err != nil {
		return err
	}
	cat := backup.NewCatalog(store, cfg.Containers.Backups)
	out := &backupsOutput{env: env, json: *asJSON}

	switch sub {
	case "list":
		refs, err := cat.List(ctx, *project)
		if err != nil {
			return err
		}
		return out.refs(refs)
	case "show":
		ref, err := cat.Find(ctx, *project, rest[0])
		if err != nil {
			return err
		}
		m, err := cat.Verify(ctx, ref.Key)
		if err != nil {
			return err
		}
		return out.manifest(ref, m)
	case "verify":
		var refs []langsync.BackupRef
		if len(rest) == 0 {
			if refs, err = cat.List(ctx, *project); err != nil {
				return err
			}
		}
		for _, id := range rest {
			ref, err := cat.Find(ctx, *project, id)
			if err != nil {
				return err
			}
			refs = append(refs, ref)
		}
		return out.verify(ctx, cat, refs)
	default: // prune
		policy := backup.Retention{KeepLast: cfg.Retention.KeepLast, KeepDays: cfg.Retention.KeepDays}
		if *keepLast >= 0 {
			policy.KeepLast = *keepLast
		}
		if *keepDays >= 0 {
			policy.KeepDays = *keepDays
		}
		gone, err := cat.Prune(ctx, *project, policy, *dryRun)
		if perr := out.pruned(gone, policy, *dryRun); perr != nil {
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
	fmt.Fprintln(tw, "TIME\tSOURCE\tPROJECT\tMODEL\tDOCS\tSIZE\tFINGERPRINT\tKEY")
	for _, r := range refs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Time.UTC().Format(time.RFC3339), r.Source, r.Project, bkDash(r.Model),
			r.Documents, bkBytes(r.Size), bkShort(r.Fingerprint), r.Key)
	}
	return tw.Flush()
}

func (o *backupsOutput) manifest(ref langsync.BackupRef, m *backup.Manifest) error {
	if o.json {
		return o.encode(struct {
			Backup   langsync.BackupRef `json:"backup"`
			Verified bool               `json:"verified"`
			Manifest *backup.Manifest   `json:"manifest"`
		}{ref, true, m})
	}
	w := o.env.Stdout
	fmt.Fprintf(w, "backup       %s (verified: every sha256 matches)\n", ref.Key)
	fmt.Fprintf(w, "project      %s (%s)\n", m.Project, m.ProjectKind)
	fmt.Fprintf(w, "source       %s %s\n", m.Source.Name, m.Source.EndpointHost)
	fmt.Fprintf(w, "api version  %s\n", bkDash(m.APIVersion))
	if m.TrainedModelLabel != "" {
		fmt.Fprintf(w, "model        %s\n", m.TrainedModelLabel)
	}
	fmt.Fprintf(w, "exported     %s\n", m.ExportedAt.UTC().Format(time.RFC3339))
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
	Key   string `json:"key"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func (o *backupsOutput) verify(ctx context.Context, cat *backup.Catalog, refs []langsync.BackupRef) error {
	results := []verifyResult{}
	failed := 0
	for _, r := range refs {
		res := verifyResult{Key: r.Key, OK: true}
		if _, err := cat.Verify(ctx, r.Key); err != nil {
			if errors.Is(err, context.Canceled) {
				return err
			}
			res.OK, res.Error = false, err.Error()
			failed++
		}
		results = append(results, res)
		if !o.json {
			status := "ok"
			if !res.OK {
				status = "FAILED: " + res.Error
			}
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

func (o *backupsOutput) pruned(gone []langsync.BackupRef, policy backup.Retention, dryRun bool) error {
	if o.json {
		if gone == nil {
			gone = []langsync.BackupRef{}
		}
		return o.encode(struct {
			DryRun    bool                 `json:"dryRun"`
			Retention backup.Retention     `json:"retention"`
			Deleted   []langsync.BackupRef `json:"deleted"`
		}{dryRun, policy, gone})
	}
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	for _, r := range gone {
		fmt.Fprintf(o.env.Stdout, "%s %s\n", verb, r.Key)
	}
	fmt.Fprintf(o.env.Stdout, "%s %d backups (keep last %d, keep %d days; the newest of each project is always kept)\n", verb, len(gone), policy.KeepLast, policy.KeepDays)
	return nil
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
