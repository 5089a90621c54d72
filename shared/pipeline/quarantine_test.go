package pipeline

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// quarantiningBackups is memBackups that tracks quarantined backups: a
// quarantined backup is never reused, as the real Backups do.
type quarantiningBackups struct {
	*memBackups
	qmu sync.Mutex
	q   map[string]QuarantinedBackup
	// warn is returned once as the next Create's warnings.
	warn []string
}

func newQuarantiningBackups() *quarantiningBackups {
	return &quarantiningBackups{memBackups: newMemBackups(), q: map[string]QuarantinedBackup{}}
}

var _ BackupQuarantine = (*quarantiningBackups)(nil)

func (b *quarantiningBackups) quarantine(key, model, reason string, at time.Time) {
	b.qmu.Lock()
	defer b.qmu.Unlock()
	b.q[key] = QuarantinedBackup{Key: key, Model: model, Reason: reason, Time: at}
}

func (b *quarantiningBackups) Create(ctx context.Context, in BackupInput) (BackupResult, error) {
	b.qmu.Lock()
	warn := b.warn
	b.warn = nil
	b.mu.Lock()
	lk := in.Project + "/" + in.Model
	if _, bad := b.q[b.latest[lk]]; bad {
		delete(b.latest, lk)
	}
	b.mu.Unlock()
	b.qmu.Unlock()
	res, err := b.memBackups.Create(ctx, in)
	res.Warnings = warn
	return res, err
}

func (b *quarantiningBackups) Quarantined(_ context.Context, source, project string) ([]QuarantinedBackup, error) {
	b.qmu.Lock()
	defer b.qmu.Unlock()
	var out []QuarantinedBackup
	for k, q := range b.q {
		if strings.HasPrefix(k, langsync.BackupPrefix(source, project)) {
			out = append(out, q)
		}
	}
	return out, nil
}

func (b *quarantiningBackups) Usable(_ context.Context, source, project, model, fingerprint string) (bool, error) {
	b.qmu.Lock()
	defer b.qmu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(fingerprint) < 12 {
		return false, nil
	}
	for k := range b.blobs {
		if _, bad := b.q[k]; !bad && strings.HasPrefix(k, langsync.BackupPrefix(source, project)) && strings.HasSuffix(k, "-"+fingerprint[:12]+".tar.gz") {
			return true, nil
		}
	}
	return false, nil
}

// TestSyncReplacesAQuarantinedBackup: a pair whose backup was set aside
// is not "up to date"; the run writes a fresh backup without retraining,
// and then the pair is up to date again.
func TestSyncReplacesAQuarantinedBackup(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, oneProject)
	qb := newQuarantiningBackups()
	w.opts.Backups = qb
	w.backups = qb.memBackups
	src, tgt := w.svc["primary"], w.svc["secondary"]
	src.seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	syncOnce := func(t *testing.T) Decision {
		t.Helper()
		res, err := p.Sync(ctx, SyncOptions{})
		if err != nil || len(res.Decisions) != 1 {
			t.Fatalf("Sync: %+v, %v", res, err)
		}
		for _, n := range res.Wake {
			if r, err := w.drive(p, n.Run); err != nil || r.Phase != langsync.RunSucceeded {
				t.Fatalf("run %s: %v %+v", n.Run, err, r)
			}
		}
		return res.Decisions[0]
	}
	if d := syncOnce(t); d.Action != ActionReplicate {
		t.Fatalf("first sync: %+v", d)
	}
	if d := syncOnce(t); d.Action != ActionNone {
		t.Fatalf("second sync: %+v", d)
	}
	ps, _, err := p.loadPair(ctx, langsync.Pair{Source: "primary", Project: "Tickets", Target: "secondary"})
	if err != nil {
		t.Fatal(err)
	}
	bad := ps.Backups["model1"]
	qb.quarantine(bad, "model1", "failed verification: documents/t02.txt: sha256 differs", w.clock.Now())

	trains, created := tgt.Posts()[langsync.JobTrain], qb.created
	d := syncOnce(t)
	if d.Action != ActionReplicate || d.Retrain || !strings.Contains(d.Reason, bad+" is quarantined") || !strings.Contains(d.Reason, "sha256 differs") {
		t.Fatalf("sync with a quarantined backup: %+v; want a replication without retraining", d)
	}
	if qb.created != created+1 {
		t.Errorf("%d backups written, want a fresh one", qb.created-created)
	}
	if got := tgt.Posts()[langsync.JobTrain]; got != trains {
		t.Errorf("retrained: %d train POSTs, want %d", got, trains)
	}
	if d := syncOnce(t); d.Action != ActionNone {
		t.Errorf("sync after the fresh backup: %+v", d)
	}

	st, err := p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := st[0].Quarantine
	if q == nil || q.Count != 1 || q.Newest != bad || !strings.Contains(q.Reason, "sha256 differs") {
		t.Errorf("status quarantine = %+v", q)
	}
}

func TestStatusShowsQuarantinedBackups(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, oneProject)
	qb := newQuarantiningBackups()
	w.opts.Backups = qb
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	st, err := p.Status(ctx)
	if err != nil || len(st) != 1 || st[0].Quarantine != nil {
		t.Fatalf("status without quarantine = %+v, %v", st, err)
	}
	now := w.clock.Now()
	qb.quarantine("primary/Tickets/20261101T000000Z-aaaaaaaaaaaa.tar.gz", "model1", "older reason", now.Add(-time.Hour))
	qb.quarantine("primary/Tickets/20261001T000000Z-bbbbbbbbbbbb.tar.gz", "model1", "set aside by ops", now)
	qb.quarantine("primary/Other/20261001T000000Z-cccccccccccc.tar.gz", "", "another project", now)
	st, err = p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := st[0].Quarantine
	if q == nil || q.Count != 2 || q.Reason != "set aside by ops" || q.Newest != "primary/Tickets/20261001T000000Z-bbbbbbbbbbbb.tar.gz" || !q.Time.Equal(now) {
		t.Errorf("status quarantine = %+v; want 2, the most recently quarantined", q)
	}
}

// TestBackupWarningsReachTheRun: when the backup step replaced a backup
// that failed verification, the run says so (warnings and the step note).
func TestBackupWarningsReachTheRun(t *testing.T) {
	w := newWorld(t, oneProject)
	qb := newQuarantiningBackups()
	warning := "backup primary/Tickets/x.tar.gz failed verification (truncated) and was quarantined; a fresh backup is written instead"
	qb.warn = []string{warning}
	w.opts.Backups = qb
	w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
	p := w.pipeline()
	r, err := w.drive(p, w.start(p, Request{Project: "Tickets", Trigger: langsync.TriggerCLI}))
	if err != nil || r.Phase != langsync.RunSucceeded {
		t.Fatalf("run: %v %+v", err, r)
	}
	if len(r.Warnings) != 1 || r.Warnings[0] != warning {
		t.Errorf("run warnings = %q", r.Warnings)
	}
	for _, s := range r.Steps {
		if s.Name == langsync.StepBackup && !strings.Contains(s.Note, "x.tar.gz failed verification") {
			t.Errorf("backup step note = %q", s.Note)
		}
	}
}
