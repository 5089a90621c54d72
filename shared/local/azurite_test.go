package local_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/local"
)

// TestHostOnAzurite runs the host with its state and backups in Blob
// storage (Azurite) instead of a directory: the pair replicates, and a
// second host on the same store resumes nothing and finds it up to date.
func TestHostOnAzurite(t *testing.T) {
	t.Parallel()
	r := newRig(t, 200*time.Millisecond)
	cfg := r.config(t)
	cfg.Store = langsync.Secret(azuritetest.Start(t))
	logs := &logBuffer{}
	h, err := local.New(context.Background(), cfg, &local.Options{App: roomy, Logger: slog.New(slog.NewTextHandler(logs, nil)), SyncOnStart: true})
	if err != nil {
		t.Fatal(err)
	}
	stop := serve(t, h)
	waitFor(t, "pair in sync", 60*time.Second, func() bool { return inSync(t, h) }, logs)
	stop()
	backups, err := h.App.Store.List(context.Background(), cfg.Containers.Backups, langsync.BackupPrefix("primary", "Tickets"))
	if err != nil || len(backups) != 1 {
		t.Fatalf("backups in Azurite: %v (%v), want one", backups, err)
	}

	h2, err := local.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h2.Resume(context.Background()); err != nil || n != 0 {
		t.Errorf("Resume found %d unfinished runs (%v), want 0", n, err)
	}
	res := h2.Fire(context.Background())
	if res == nil || len(res.Decisions) != 1 || res.Decisions[0].Action != "none" {
		t.Errorf("second check: %+v, want none", res)
	}
}
