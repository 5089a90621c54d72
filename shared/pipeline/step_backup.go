package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// ExportReader is what the backup step needs of the source: the export
// step's result.
type ExportReader interface {
	OpenExportResult(ctx context.Context, resultURL string) (io.ReadCloser, error)
}

func (x *exec) exportReader() (ExportReader, error) { return x.client(x.run.Source) }

// backup streams the export and its documents into a backup (Backups) and
// records the model's fingerprint; with SkipIfUnchanged, targets whose
// fingerprints did not move are skipped after the last backup.
func (x *exec) backup(ctx context.Context, s *langsync.Step) error {
	r := x.run
	exp := x.stepByID(langsync.Step{Name: langsync.StepExport, Model: s.Model}.ID())
	if exp.ResultURL == "" {
		return errors.New("export step recorded no result URL")
	}
	m, err := x.model(s.Model)
	if err != nil {
		return err
	}
	src, err := x.exportReader()
	if err != nil {
		return err
	}
	rc, err := src.OpenExportResult(ctx, exp.ResultURL)
	if errors.Is(err, ErrNotFound) && exp.Attempts < x.p.opts.MaxAttempts {
		// Export results expire (7 days in the examples): export again.
		exp.Status, exp.Job, exp.ResultURL, exp.Percent, exp.Finished = langsync.StepPending, nil, "", 0, time.Time{}
		exp.Attempts++
		exp.Note = "export result was gone; exporting again"
		x.log.Warn("export result gone; exporting again", "step", s.ID())
		return errRewind
	}
	if err != nil {
		return fmt.Errorf("reading the export result: %w", err)
	}
	defer rc.Close()
	res, err := x.p.opts.Backups.Create(ctx, BackupInput{Source: r.Source, Project: r.Project, Model: s.Model, Export: rc, SourceState: r.SourceState, RunID: r.ID, Kind: r.ProjectKind})
	if err != nil {
		return fmt.Errorf("writing the backup: %w", err)
	}
	m.Backup, m.Fingerprint, m.StorageContainer = res.Key, res.Fingerprint, res.Container
	if res.Created {
		s.Note = fmt.Sprintf("backup %s (%s)", res.Key, plural(res.Documents, "document"))
	} else {
		s.Note = fmt.Sprintf("unchanged since backup %s; no new backup written", res.Key)
	}
	for _, w := range res.Warnings {
		// A backup that was set aside is worth an operator's look.
		s.Note += "; " + w
		if !contains(r.Warnings, w) {
			r.Warnings = append(r.Warnings, w)
		}
		x.log.Warn("backup step", "step", s.ID(), "warning", w)
	}
	x.log.Info("backup", "step", s.ID(), "key", res.Key, "created", res.Created, "fingerprint", res.Fingerprint)
	if r.SkipIfUnchanged && x.lastBackup(s) {
		return x.skipUnchanged(ctx)
	}
	return nil
}

func (x *exec) lastBackup(s *langsync.Step) bool {
	for _, o := range x.run.Steps {
		if o.Name == langsync.StepBackup && o.ID() != s.ID() && !o.Status.Done() {
			return false
		}
	}
	return true
}

// skipUnchanged marks the target steps skipped for every pair whose last
// replicated fingerprints equal this run's: the source's timestamps moved
// but what it serves did not change, so nothing is retrained.
func (x *exec) skipUnchanged(ctx context.Context) error {
	fps := x.fingerprints()
	for _, pair := range x.run.Pairs {
		ps, _, err := x.p.loadPair(ctx, pair)
		if err != nil {
			return err
		}
		if contains(x.run.MustRetrain, pair.Target) || !equalMaps(ps.Fingerprints, fps) {
			continue
		}
		for i := range x.run.Steps {
			st := &x.run.Steps[i]
			if st.Target == pair.Target && st.Name != langsync.StepVerify && st.Status == langsync.StepPending {
				st.Status, st.Note = langsync.StepSkipped, "fingerprint unchanged since the last replication: not retrained"
			}
		}
		x.log.Info("fingerprint unchanged; target steps skipped", "target", pair.Target)
	}
	return nil
}

func (x *exec) fingerprints() map[string]string {
	fps := map[string]string{}
	for _, m := range x.run.Models {
		fps[m.Label] = m.Fingerprint
	}
	return fps
}

// CombinedFingerprint is the pair's fingerprint: the model's own when one
// model is replicated, else a sha256 over the sorted label=fingerprint lines.
func CombinedFingerprint(fps map[string]string) string {
	if len(fps) == 1 {
		for _, v := range fps {
			return v
		}
	}
	labels := make([]string, 0, len(fps))
	for l := range fps {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	h := sha256.New()
	for _, l := range labels {
		fmt.Fprintf(h, "%s=%s\n", l, fps[l])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
