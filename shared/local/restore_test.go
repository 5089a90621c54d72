package local_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/local"
)

// TestWatchRestore drops backups under restore/: each new one is handed to
// the Restorer once, also across a restart (receipts in the state store),
// and a new version of a dropped name is handed over again. Without a
// Restorer a drop is logged once and left in place.
func TestWatchRestore(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0)
	cfg := r.config(t)
	ctx := context.Background()
	logs := &logBuffer{}
	h, err := local.New(ctx, cfg, &local.Options{App: roomy, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	drop := func(name, content string) {
		t.Helper()
		if _, err := h.App.Store.Put(ctx, cfg.Containers.State, "restore/"+name, strings.NewReader(content), nil); err != nil {
			t.Fatal(err)
		}
	}
	drop("a.tar.gz", "one")
	h.WatchRestore(ctx)
	h.WatchRestore(ctx)
	if got := strings.Count(logs.String(), "no restore runs"); got != 1 {
		t.Errorf("without a restorer: %d warnings, want 1\n%s", got, logs)
	}

	fr := &fakeRestorer{}
	h.SetRestorer(fr)
	h.WatchRestore(ctx)
	drop("b.json", "two")
	h.WatchRestore(ctx)
	h.WatchRestore(ctx)
	if got := strings.Join(fr.calls(), ","); got != "restore/a.tar.gz,restore/b.json" {
		t.Fatalf("restorer calls %q, want a then b once each", got)
	}

	h2, err := local.New(ctx, cfg, &local.Options{App: roomy, Restorer: fr})
	if err != nil {
		t.Fatal(err)
	}
	h2.WatchRestore(ctx)
	if n := len(fr.calls()); n != 2 {
		t.Fatalf("after a restart the restorer was called again (%d calls)", n)
	}
	drop("a.tar.gz", "one, replaced")
	h2.WatchRestore(ctx)
	if got := fr.calls(); len(got) != 3 || got[2] != "restore/a.tar.gz" {
		t.Fatalf("a replaced drop was not restored again: %v", got)
	}

	fr.err = errCrash
	drop("c.json", "three")
	h2.WatchRestore(ctx)
	fr.err = nil
	h2.WatchRestore(ctx)
	if got := fr.calls(); len(got) != 5 || got[3] != "restore/c.json" || got[4] != "restore/c.json" {
		t.Fatalf("a restore that failed to start was not retried: %v", got)
	}
}
