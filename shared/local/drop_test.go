package local_test

import (
	"context"
	"testing"
	"time"
)

// TestDroppedBackupRestores replicates once, then drops a copy of the
// backup under restore/secondary/TicketsCopy/: the running host notices
// it, the app's restore entry point restores it into the secondary under
// that name, the drop is removed, and a later listing does nothing more.
func TestDroppedBackupRestores(t *testing.T) {
	t.Parallel()
	r := newRig(t, 200*time.Millisecond)
	cfg := r.config(t)
	h, logs := restoringHost(t, cfg, "first replication", 30*time.Second)
	ctx := context.Background()

	drop := dropBackup(t, h, "Tickets", "TicketsCopy")
	waitFor(t, "TicketsCopy deployed on the secondary", 30*time.Second, func() bool {
		code, _, _ := r.tgt.Do("GET", "/language/authoring/analyze-text/projects/TicketsCopy/deployments/production?api-version=2023-04-01", nil)
		return code == 200
	}, logs)
	waitFor(t, "the drop removed", 10*time.Second, func() bool {
		_, err := h.App.Store.Stat(ctx, cfg.Containers.State, drop)
		return err != nil
	}, logs)
	if n := writes(r.tgt, "TicketsCopy/:train"); n != 1 {
		t.Errorf("%d training POSTs for TicketsCopy, want 1\n%s", n, logs)
	}
}
