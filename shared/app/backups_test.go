package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/sample"
)

// damageBlob flips one byte of a backup and keeps its metadata, as bit rot
// or a tampering writer would leave it.
func damageBlob(t *testing.T, a *app.App, key string) {
	t.Helper()
	ctx := context.Background()
	rc, info, err := a.Store.Get(ctx, a.Config.Containers.Backups, key)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	body[len(body)/2] ^= 0x01
	if _, err := a.Store.Put(ctx, a.Config.Containers.Backups, key, bytes.NewReader(body), &blobstore.PutOptions{IfMatch: info.ETag, Metadata: info.Metadata}); err != nil {
		t.Fatal(err)
	}
}

func catalogOf(a *app.App) *backup.Catalog {
	c := backup.NewCatalog(a.Store, a.Config.Containers.Backups)
	c.StateContainer = a.Config.Containers.State
	return c
}

// TestCorruptBackupIsReplacedNotReused is the case on the real
// wire (emulator, Azurite): the newest backup is damaged; a run whose
// export is unchanged used to reuse it by its metadata and fail the import
// on every run while sync said "up to date". Now the backup step verifies
// it, quarantines it and writes a fresh one, and the run says so.
func TestCorruptBackupIsReplacedNotReused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := sample.Tickets()
	r := newRig(t, nil, p)
	logs := &syncBuffer{}
	a := r.appLogging(nil, logs)
	sync := func() (pipeline.Decision, []*langsync.Run) {
		t.Helper()
		res, err := a.Pipeline.Sync(ctx, pipeline.SyncOptions{})
		if err != nil {
			t.Fatalf("Sync: %v", err)
		}
		var runs []*langsync.Run
		for _, n := range res.Wake {
			run, err := a.Drive(ctx, n.Run)
			if err != nil || run.Phase != langsync.RunSucceeded {
				t.Fatalf("run: %v %+v", err, run)
			}
			runs = append(runs, run)
		}
		return res.Decisions[0], runs
	}
	if d, _ := sync(); d.Action != pipeline.ActionReplicate {
		t.Fatalf("first sync: %+v", d)
	}
	cat := catalogOf(a)
	refs, err := cat.List(ctx, p.Name)
	if err != nil || len(refs) != 1 {
		t.Fatalf("backups after the first run: %v %v", refs, err)
	}
	first := refs[0].Key
	damageBlob(t, a, first)

	// The target lost its deployment: the run re-imports from the backup.
	if st := r.tgt.Wait(r.tgt.Start202("DELETE", "/language/authoring/analyze-text/projects/"+p.Name+"/deployments/production?api-version="+apiVersion, nil), 0); st["status"] != "succeeded" {
		t.Fatalf("deleting the target deployment: %v", st)
	}
	d, runs := sync()
	if d.Action != pipeline.ActionReplicate || len(runs) != 1 {
		t.Fatalf("sync after losing the deployment: %+v", d)
	}
	run := runs[0]
	if len(run.Warnings) != 1 || !strings.Contains(run.Warnings[0], first) || !strings.Contains(run.Warnings[0], "quarantined") {
		t.Errorf("run warnings = %q, want one naming %s", run.Warnings, first)
	}
	fresh := run.Models[0].Backup
	if fresh == first || fresh == "" {
		t.Fatalf("the run used backup %q, want a fresh one", fresh)
	}
	refs, _ = cat.List(ctx, p.Name)
	if len(refs) != 2 || refs[0].Key != first || refs[0].Quarantine == nil || refs[1].Key != fresh || refs[1].Quarantine != nil {
		t.Fatalf("backups: %+v", refs)
	}
	if _, err := cat.Verify(ctx, fresh); err != nil {
		t.Errorf("the fresh backup does not verify: %v", err)
	}
	if !strings.Contains(logs.String(), "backup failed verification before reuse") {
		t.Errorf("the logs do not warn about the damaged backup")
	}
	if d, _ := sync(); d.Action != pipeline.ActionNone {
		t.Errorf("sync after the repair: %+v", d)
	}

	// An operator sets the fresh backup aside: sync no longer calls the
	// pair up to date, and the run writes another backup without
	// retraining the target.
	if _, _, err := cat.Quarantine(ctx, fresh, "suspected tampering", "ops"); err != nil {
		t.Fatal(err)
	}
	r.tgt.Server.ResetRequests()
	d, runs = sync()
	if d.Action != pipeline.ActionReplicate || d.Retrain || !strings.Contains(d.Reason, "quarantined (suspected tampering)") {
		t.Fatalf("sync with the pair's backup quarantined: %+v", d)
	}
	if n := r.tgt.Server.CountRequests("POST", "/:train"); n != 0 {
		t.Errorf("the target was retrained (%d train requests)", n)
	}
	if third := runs[0].Models[0].Backup; third == fresh || third == first {
		t.Errorf("the run reused quarantined backup %s", third)
	}
	if d, _ := sync(); d.Action != pipeline.ActionNone {
		t.Errorf("sync after the fresh backup: %+v", d)
	}
	st, err := a.Pipeline.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if q := st[0].Quarantine; q == nil || q.Count != 2 || q.Newest != fresh || q.Reason != "suspected tampering" {
		t.Errorf("status quarantine = %+v", q)
	}
}

// TestRestoreAgreesWithVerifyOnExportJSON: an export JSON kept in the
// catalog verifies (as a plain export) and restores alike; once
// quarantined, it is refused by restore too.
func TestRestoreAgreesWithVerifyOnExportJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := sample.Tickets()
	r := newRestoreRig(t, p)
	a := r.app(nil)
	sum := sha256.Sum256(p.JSON)
	hexsum := hex.EncodeToString(sum[:])
	key := langsync.BackupKey("primary", p.Name, time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), hexsum)
	if _, err := a.Store.Put(ctx, a.Config.Containers.Backups, key, bytes.NewReader(p.JSON), &blobstore.PutOptions{IfNoneMatch: true, Metadata: map[string]string{"sha256": hexsum}}); err != nil {
		t.Fatal(err)
	}
	// The target holds the documents: a plain export carries none.
	if err := p.WriteDocs(r.thirdDocs, p.Container); err != nil {
		t.Fatal(err)
	}
	cat := catalogOf(a)
	kind, _, err := cat.Inspect(ctx, key)
	if err != nil || kind != backup.KindProjectJSON {
		t.Fatalf("verify: %s, %v", kind, err)
	}
	plan, err := a.PlanRestore(ctx, app.RestoreRequest{Backup: key, To: "third", As: "TicketsJSON"})
	if err != nil || plan.Input != backup.KindProjectJSON || len(plan.Blockers) != 0 {
		t.Fatalf("restore plan: %+v, %v", plan, err)
	}
	if _, _, err := cat.Quarantine(ctx, key, "not ours", "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PlanRestore(ctx, app.RestoreRequest{Backup: key, To: "third", As: "TicketsJSON"}); !errors.Is(err, app.ErrRefused) || !errors.Is(err, backup.ErrQuarantined) {
		t.Fatalf("restore of a quarantined backup = %v, want a refusal", err)
	}
}
