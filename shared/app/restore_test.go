package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/sample"
)

// restoreRig is the replication rig plus a third resource ("third") whose
// linked storage starts empty.
type restoreRig struct {
	*rig
	third     *emulatortest.Resource
	thirdDocs string
}

func newRestoreRig(t *testing.T, p *sample.Project) *restoreRig {
	t.Helper()
	r := &restoreRig{rig: newRig(t, nil, p), thirdDocs: t.TempDir()}
	r.third = emulatortest.Start(t, &emulator.Options{Name: "third", Documents: emulator.DirDocuments(r.thirdDocs), Clock: emulator.RealClock()})
	y := fmt.Sprintf(`resources:
  primary: {endpoint: %q, key: "${SRC_KEY}", storage: %q}
  secondary: {endpoint: %q, key: "${TGT_KEY}", storage: %q}
  third: {endpoint: %q, key: "${THIRD_KEY}", storage: %q}
projects:
  - {name: %s, source: primary, targets: [secondary]}
store: "${STORE}"
containers: {backups: %s, state: %s}
`, r.src.URL, r.srcDocs, r.tgt.URL, r.tgtDocs, r.third.URL, r.thirdDocs, p.Name, r.cfg.Containers.Backups, r.cfg.Containers.State)
	env := map[string]string{"SRC_KEY": r.src.Key, "TGT_KEY": r.tgt.Key, "THIRD_KEY": r.third.Key, "STORE": azuritetest.Shared(t)}
	cfg, err := config.Parse([]byte(y), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	r.cfg = cfg
	return r
}

// changeSource imports a new version of the sample project into the source
// (a different description) and retrains and redeploys it.
func (r *restoreRig) changeSource(p *sample.Project, description string) {
	r.t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(p.JSON, &doc); err != nil {
		r.t.Fatal(err)
	}
	doc["metadata"].(map[string]any)["description"] = description
	loc := r.src.Start202(http.MethodPost, "/language/authoring/analyze-text/projects/"+p.Name+"/:import?api-version="+apiVersion, doc)
	if st := r.src.Wait(loc, 0); st["status"] != "succeeded" {
		r.t.Fatalf("changing the source: %v", st)
	}
	r.src.TrainAndDeploy(p.Name, "model1", "production")
}

func (r *restoreRig) drive(a *app.App, id string) *langsync.Run {
	r.t.Helper()
	run, err := a.Drive(context.Background(), id)
	if err != nil {
		r.t.Fatalf("Drive: %v", err)
	}
	return run
}

// noWrites fails when a resource received a POST, PUT, PATCH or DELETE on
// its authoring API (predictions excluded).
func noWrites(t *testing.T, res *emulatortest.Resource, what string) {
	t.Helper()
	for _, q := range res.Server.Requests() {
		if q.Method != http.MethodGet && !strings.HasPrefix(q.Path, "/language/analyze-text/") {
			t.Errorf("%s: the target received %s %s", what, q.Method, q.Path)
		}
	}
}

// backupExportFingerprint is the canonical fingerprint of a backup's
// export under another project name.
func backupExportFingerprint(t *testing.T, a *app.App, key, name string) string {
	t.Helper()
	ar, err := backup.NewCatalog(a.Store, a.Config.Containers.Backups).Open(context.Background(), key)
	if err != nil {
		t.Fatalf("opening %s: %v", key, err)
	}
	defer ar.Close()
	renamed, err := pipeline.RenameProject(ar.Export(), name)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := backup.Fingerprint(bytes.NewReader(renamed), nil)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// TestRestorePointInTime replicates, changes the source twice (three
// backups), and restores the middle backup by time into a third resource
// under another name. The third resource's storage starts empty: the
// restore succeeds because the backup carries the documents.
func TestRestorePointInTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := sample.Tickets()
	r := newRestoreRig(t, p)
	logs := &syncBuffer{}
	a := r.appLogging(nil, logs)
	t.Cleanup(func() {
		out := logs.String()
		if !strings.Contains(out, "restore started") {
			t.Errorf("the restore was not logged")
		}
		for _, k := range []string{r.src.Key, r.tgt.Key, r.third.Key} {
			if strings.Contains(out, k) {
				t.Errorf("the logs contain a key")
			}
		}
	})
	base := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	var keys []string
	for i, desc := range []string{"", "second version", "third version"} {
		if desc != "" {
			r.changeSource(p, desc)
		}
		at := base.Add(time.Duration(i) * time.Hour)
		a.Backups.Now = func() time.Time { return at }
		run := r.replicate(a, p.Name)
		keys = append(keys, run.Models[0].Backup)
	}
	if keys[0] == keys[1] || keys[1] == keys[2] {
		t.Fatalf("want three backups, got %v", keys)
	}

	req := app.RestoreRequest{Project: p.Name, At: base.Add(90 * time.Minute), To: "third", As: "TicketsOld"}
	plan, err := a.PlanRestore(ctx, req)
	if err != nil {
		t.Fatalf("PlanRestore: %v", err)
	}
	noWrites(t, r.third, "planning")
	if plan.Backup.Key != keys[1] {
		t.Fatalf("picked %s, want the middle backup %s", plan.Backup.Key, keys[1])
	}
	if plan.ProjectAction != "create" || plan.Model != "model1" || plan.DocumentsToWrite != len(p.Locations()) || len(plan.MissingDocuments) != 0 {
		t.Errorf("plan %+v", plan)
	}
	if len(plan.Deployments) != 1 || plan.Deployments[0] != (app.DeploymentAction{Name: "production", Action: "create"}) {
		t.Errorf("deployments %+v, want production created (from the run that wrote the backup)", plan.Deployments)
	}

	_, tk, err := a.Restore(ctx, req)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	run := r.drive(a, tk.Run)
	if run.Phase != langsync.RunSucceeded || run.Kind != langsync.RunRestore {
		t.Fatalf("restore run %s %s: %s", run.Kind, run.Phase, run.Error)
	}
	if got, want := exportFingerprint(t, r.third, "TicketsOld"), backupExportFingerprint(t, a, keys[1], "TicketsOld"); got != want {
		t.Errorf("restored export fingerprint %s, want the middle backup's %s", got, want)
	}
	if got := exportFingerprint(t, r.third, "TicketsOld"); got == backupExportFingerprint(t, a, keys[2], "TicketsOld") {
		t.Errorf("the restored project equals the newest backup, not the middle one")
	}
	for _, probe := range p.Probes {
		if labels := predict(t, r.third, p.Kind, "TicketsOld", "production", probe.Text); len(labels) == 0 {
			t.Errorf("probe %q: the restored deployment answered no label", probe.Text)
		}
	}
	for _, loc := range p.Locations() {
		if _, err := os.Stat(filepath.Join(r.thirdDocs, p.Container, loc)); err != nil {
			t.Errorf("document %s was not written into the third resource's storage: %v", loc, err)
			break
		}
	}
	if n := r.third.Server.CountRequests(http.MethodPost, "/:import"); n != 1 {
		t.Errorf("%d imports on the third resource, want 1", n)
	}
	data, _, err := a.State.Get(ctx, langsync.RunKey(run.ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{r.src.Key, r.tgt.Key, r.third.Key} {
		if strings.Contains(string(data), k) {
			t.Errorf("the restore run's state holds a key")
		}
	}
}

// TestRestoreRefusals: each refusal happens before any change on the
// target, and says why.
func TestRestoreRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := sample.Tickets()
	r := newRestoreRig(t, p)
	a := r.app(nil)
	run := r.replicate(a, p.Name)
	key := run.Models[0].Backup

	// A backup that carries only the labels (no documents).
	ar, err := backup.NewCatalog(a.Store, a.Config.Containers.Backups).Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	labelsOnly, err := backup.NewCatalog(a.Store, a.Config.Containers.Backups).Save(ctx, ar.ExportReader(), nil, backup.ManifestInfo{Source: "labels"}, nil)
	ar.Close()
	if err != nil {
		t.Fatal(err)
	}

	// A copy of the backup with one byte changed.
	rc, info, err := a.Store.Get(ctx, a.Config.Containers.Backups, key)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	data[len(data)/2] ^= 0x01
	corruptKey := strings.Replace(key, "primary/", "corrupt/", 1)
	if _, err := a.Store.Put(ctx, a.Config.Containers.Backups, corruptKey, bytes.NewReader(data), &blobstore.PutOptions{Metadata: info.Metadata}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		req  app.RestoreRequest
		res  *emulatortest.Resource
		want []string
	}{
		{"LabelsOnlyMissingDocuments", app.RestoreRequest{Backup: labelsOnly.Ref.Key, To: "third", As: "T2"}, r.third, append([]string{"lacks", "does not carry"}, p.Locations()[:3]...)},
		{"Corrupted", app.RestoreRequest{Backup: corruptKey, To: "third", As: "T3"}, r.third, []string{"failed verification", corruptKey}},
		{"ExistingWithoutReplace", app.RestoreRequest{Backup: key, To: "secondary"}, r.tgt, []string{`project "Tickets" exists on secondary`, "--replace"}},
		{"UnknownBackup", app.RestoreRequest{Backup: "primary/Tickets/20200101T000000Z-000000000000.tar.gz", To: "third"}, r.third, []string{"no backup"}},
		{"NothingBeforeTime", app.RestoreRequest{Project: p.Name, At: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), To: "third"}, r.third, []string{"no verified backup"}},
		{"UnknownTarget", app.RestoreRequest{Backup: key, To: "nowhere"}, r.third, []string{`"nowhere" is not in the config`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.res.Server.ResetRequests()
			_, _, err := a.Restore(ctx, tt.req)
			t.Logf("refused: %v", err)
			if !errors.Is(err, app.ErrRefused) {
				t.Fatalf("err = %v, want a refusal", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			noWrites(t, tt.res, tt.name)
		})
	}

	// With Replace, the restore over the replica goes ahead.
	_, tk, err := a.Restore(ctx, app.RestoreRequest{Backup: key, To: "secondary", Replace: true})
	if err != nil {
		t.Fatalf("Restore with Replace: %v", err)
	}
	if run := r.drive(a, tk.Run); run.Phase != langsync.RunSucceeded {
		t.Fatalf("restore with Replace: %s", run.Error)
	}
}

// TestRestoreDropped drops files under restore/ in the state container: a
// plain Language Studio export restores into the place its path names, a
// file that is not a backup is moved aside with its reason.
func TestRestoreDropped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := sample.Tickets()
	r := newRestoreRig(t, p)
	a := r.app(nil)
	state := a.Config.Containers.State
	// The third resource's storage has the documents: a plain export
	// carries none.
	if err := p.WriteDocs(r.thirdDocs, p.Container); err != nil {
		t.Fatal(err)
	}
	drop := func(name string, body []byte) {
		t.Helper()
		if _, err := a.Store.Put(ctx, state, langsync.RestorePrefix+name, bytes.NewReader(body), nil); err != nil {
			t.Fatal(err)
		}
	}

	drop("third/FromStudio/export.json", p.JSON)
	nexts, err := a.RestoreDropped(ctx, "restore/third/FromStudio/export.json")
	if err != nil || len(nexts) != 1 {
		t.Fatalf("RestoreDropped: %v %v", nexts, err)
	}
	run := r.drive(a, nexts[0].Run)
	if run.Phase != langsync.RunSucceeded {
		t.Fatalf("restore of a dropped export: %s", run.Error)
	}
	if m := run.Models[0]; m.Label != app.DefaultRestoreModel || m.TrainingConfigVersion != app.DefaultTrainingConfig || m.Deployments[0] != app.DefaultRestoreDeployment {
		t.Errorf("defaults for a plain export: %+v", m)
	}
	if labels := predict(t, r.third, p.Kind, "FromStudio", app.DefaultRestoreDeployment, p.Probes[0].Text); len(labels) == 0 {
		t.Errorf("the restored deployment answered no label")
	}
	if _, err := a.Store.Stat(ctx, state, "restore/third/FromStudio/export.json"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("the handled drop is still there: %v", err)
	}
	if _, err := a.Store.Stat(ctx, a.Config.Containers.Backups, run.Models[0].Backup); err != nil {
		t.Errorf("the dropped export was not kept as a backup: %v", err)
	}
	// Handled already (a duplicate trigger): nothing happens.
	if nexts, err := a.RestoreDropped(ctx, "restore/third/FromStudio/export.json"); err != nil || len(nexts) != 0 {
		t.Errorf("a duplicate trigger: %v %v", nexts, err)
	}

	// A legacy 2021-11-01-preview export: first refused (the third
	// resource's storage lacks its documents; moved aside, naming them),
	// then restored once the documents are there.
	legacy, err := os.ReadFile(filepath.Join("testdata", "legacy-2021-11-01-preview.json"))
	if err != nil {
		t.Fatal(err)
	}
	r.third.Server.ResetRequests()
	drop("third/Legacy/support.json", legacy)
	_, err = a.RestoreDropped(ctx, "restore/third/Legacy/support.json")
	if !errors.Is(err, app.ErrRefused) || !strings.Contains(err.Error(), "s1.txt, s2.txt") {
		t.Fatalf("legacy drop without documents: %v", err)
	}
	noWrites(t, r.third, "legacy drop without documents")
	emulatortest.WriteDocs(t, r.thirdDocs, "support", map[string]string{"s1.txt": "I was charged twice", "s2.txt": "The site is down"})
	drop("third/Legacy/support.json", legacy)
	nexts, err = a.RestoreDropped(ctx, "restore/third/Legacy/support.json")
	if err != nil || len(nexts) != 1 {
		t.Fatalf("legacy drop: %v %v", nexts, err)
	}
	if run := r.drive(a, nexts[0].Run); run.Phase != langsync.RunSucceeded {
		t.Fatalf("restore of a legacy export: %s", run.Error)
	}
	if c, _, _ := r.third.Do(http.MethodGet, "/language/authoring/analyze-text/projects/Legacy/deployments/production?api-version="+apiVersion, nil); c != http.StatusOK {
		t.Errorf("legacy restore: deployment production answered %d", c)
	}
	for _, q := range []string{"restore-third~Legacy~support.json", "restore-third~Legacy~support.json.reason.json"} {
		if n := countSuffix(t, a, langsync.FailedPrefix, q); n != 1 {
			t.Errorf("failed/ holds %d of *%s, want 1", n, q)
		}
	}
	clearFailed(t, a)

	r.third.Server.ResetRequests()
	drop("junk.tar.gz", []byte("not really a backup"))
	_, err = a.RestoreDropped(ctx, "restore/junk.tar.gz")
	if !errors.Is(err, app.ErrRefused) || !strings.Contains(err.Error(), "not a valid backup") {
		t.Fatalf("junk drop: %v", err)
	}
	noWrites(t, r.third, "junk drop")
	noWrites(t, r.tgt, "junk drop")
	failed, _ := a.Store.List(ctx, state, langsync.FailedPrefix)
	if len(failed) != 2 || !strings.HasSuffix(failed[0].Key, "-restore-junk.tar.gz") || failed[1].Key != failed[0].Key+".reason.json" {
		t.Fatalf("failed/ holds %+v, want the junk and its reason", failed)
	}
	rc, _, err := a.Store.Get(ctx, state, failed[1].Key)
	if err != nil {
		t.Fatal(err)
	}
	reason, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(reason), "not a valid backup") {
		t.Errorf("reason file: %s", reason)
	}
	if left, _ := a.Store.List(ctx, state, langsync.RestorePrefix); len(left) != 0 {
		t.Errorf("restore/ still holds %v", left)
	}
}

// TestRestoreRequestedTwiceJoins: the same restore asked for again while it
// runs (a redelivered queue message) joins the run; another restore of the
// same target project is refused as busy.
func TestRestoreRequestedTwiceJoins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := sample.Tickets()
	r := newRestoreRig(t, p)
	a := r.app(nil)
	first := r.replicate(a, p.Name).Models[0].Backup
	r.changeSource(p, "second version")
	second := r.replicate(a, p.Name).Models[0].Backup

	req := app.RestoreRequest{Backup: first, To: "third", As: "Twice"}
	_, tk, err := a.Restore(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	_, again, err := a.Restore(ctx, req)
	if err != nil || !again.Joined || again.Run != tk.Run {
		t.Fatalf("second request: %+v %v; want to join run %s", again, err, tk.Run)
	}
	req.Backup = second
	if _, _, err := a.Restore(ctx, req); !errors.Is(err, pipeline.ErrBusy) {
		t.Fatalf("another backup into the busy project: %v, want ErrBusy", err)
	}
	if run := r.drive(a, tk.Run); run.Phase != langsync.RunSucceeded {
		t.Fatalf("restore: %s", run.Error)
	}
	if n := r.third.Server.CountRequests(http.MethodPost, "/:import"); n != 1 {
		t.Errorf("%d imports, want 1", n)
	}
}

func countSuffix(t *testing.T, a *app.App, prefix, suffix string) int {
	t.Helper()
	infos, err := a.Store.List(context.Background(), a.Config.Containers.State, prefix)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, i := range infos {
		if strings.HasSuffix(i.Key, "-"+suffix) {
			n++
		}
	}
	return n
}

func clearFailed(t *testing.T, a *app.App) {
	t.Helper()
	infos, _ := a.Store.List(context.Background(), a.Config.Containers.State, langsync.FailedPrefix)
	for _, i := range infos {
		if err := a.Store.Delete(context.Background(), a.Config.Containers.State, i.Key, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRestoreDropPaths: the drop's path picks the target. A file directly
// under restore/ goes to the project's configured replicas (replacing
// them); a project with none, or a path nested too deep, is refused.
func TestRestoreDropPaths(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := sample.Tickets()
	r := newRestoreRig(t, p)
	a := r.app(nil)
	key := r.replicate(a, p.Name).Models[0].Backup
	state := a.Config.Containers.State
	// An archive from the catalog, downloaded and dropped: the run that
	// wrote it still supplies the training config.
	rc, _, err := a.Store.Get(ctx, a.Config.Containers.Backups, key)
	if err != nil {
		t.Fatal(err)
	}
	archive, _ := io.ReadAll(rc)
	rc.Close()
	if _, err := a.Store.Put(ctx, state, "restore/third/Copy/b.tar.gz", bytes.NewReader(archive), nil); err != nil {
		t.Fatal(err)
	}
	nexts, err := a.RestoreDropped(ctx, "restore/third/Copy/b.tar.gz")
	if err != nil || len(nexts) != 1 {
		t.Fatalf("archive drop: %v %v", nexts, err)
	}
	copied := r.drive(a, nexts[0].Run)
	if m := copied.Models[0]; copied.Phase != langsync.RunSucceeded || m.Backup != key || m.Label != "model1" || m.TrainingConfigVersion == app.DefaultTrainingConfig {
		t.Fatalf("archive drop run %s (%s): %+v; want the catalog's backup and its run's training config", copied.Phase, copied.Error, m)
	}
	other, err := p.JSONFor("Other", p.Container)
	if err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name string
		body []byte
		want string
	}{
		{"Other.json", other, `project "Other" has no configured target`},
		{"a/b/c/d.json", p.JSON, "nested too deep"},
		{"nowhere/x.json", p.JSON, `resource "nowhere" is not in the config`},
		{"secondary/x.json", p.JSON, `project "Tickets" exists on secondary`},
	}
	r.tgt.Server.ResetRequests()
	for _, tt := range refused {
		if _, err := a.Store.Put(ctx, state, langsync.RestorePrefix+tt.name, bytes.NewReader(tt.body), nil); err != nil {
			t.Fatal(err)
		}
		_, err := a.RestoreDropped(ctx, langsync.RestorePrefix+tt.name)
		if !errors.Is(err, app.ErrRefused) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("drop %s: %v, want a refusal saying %q", tt.name, err, tt.want)
		}
	}
	noWrites(t, r.tgt, "refused drops")

	if _, err := a.Store.Put(ctx, state, "restore/tickets.json", bytes.NewReader(p.JSON), nil); err != nil {
		t.Fatal(err)
	}
	nexts, err = a.RestoreDropped(ctx, "restore/tickets.json")
	if err != nil || len(nexts) != 1 {
		t.Fatalf("drop into the configured replica: %v %v", nexts, err)
	}
	run := r.drive(a, nexts[0].Run)
	if run.Phase != langsync.RunSucceeded || run.Pairs[0].Target != "secondary" || run.Pairs[0].TargetName() != p.Name {
		t.Fatalf("restore of the replica: %s %+v %s", run.Phase, run.Pairs, run.Error)
	}
	if n := r.tgt.Server.CountRequests(http.MethodPost, "/:import"); n != 1 {
		t.Errorf("%d imports on the replica, want 1", n)
	}
}
