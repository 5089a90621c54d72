package pipeline

import (
	"context"
	"sync"
	"testing"

	"github.com/langsync/langsync/shared/langsync"
)

// mirroringBackups is memBackups that also mirrors documents before the
// backup (DocumentMirror) and records what happened in which order.
type mirroringBackups struct {
	*memBackups
	mu       sync.Mutex
	mirrors  []string // source/target/container of each mirror
	mirrored bool     // a mirror has returned
	created  bool     // a backup has been created
	// copyAfterMirror: every CopyDocuments came after the mirror returned.
	copyAfterMirror bool
	copies          int
}

func (b *mirroringBackups) MirrorDocuments(_ context.Context, source, target, container string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mirrors = append(b.mirrors, source+"/"+target+"/"+container)
	b.mirrored = true
	return 40, nil
}

func (b *mirroringBackups) Create(ctx context.Context, in BackupInput) (BackupResult, error) {
	b.mu.Lock()
	b.created = true
	b.mu.Unlock()
	return b.memBackups.Create(ctx, in)
}

func (b *mirroringBackups) CopyDocuments(ctx context.Context, key, target, container string) (int, error) {
	b.mu.Lock()
	b.copies++
	b.copyAfterMirror = b.mirrored && (b.copies == 1 || b.copyAfterMirror)
	b.mu.Unlock()
	return b.memBackups.CopyDocuments(ctx, key, target, container)
}

// TestOverlapDocumentsAndProbes: with separate linked storage the
// documents are mirrored from the source's container before the backup,
// the documents step (planned after the import, so the copy runs while the
// import job does) writes from the backup only after the mirror returned
// and counts both, and the source's probes come from the background; with
// Options.Sequential nothing is overlapped and the old order holds.
func TestOverlapDocumentsAndProbes(t *testing.T) {
	for _, sequential := range []bool{false, true} {
		name := "overlapped"
		if sequential {
			name = "sequential"
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, oneProject)
			w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
			w.svc["primary"].projects["Tickets"].meta.StorageContainer = "tickets"
			bk := &mirroringBackups{memBackups: w.backups}
			var probes countingProber
			p := w.pipeline(func(o *Options) { o.Backups, o.Sequential, o.Prober = bk, sequential, &probes })
			r, err := w.drive(p, w.start(p, Request{Project: "Tickets", Trigger: langsync.TriggerCLI}))
			if err != nil || r.Phase != langsync.RunSucceeded {
				t.Fatalf("run %v: %v %s", r.Phase, err, r.Error)
			}
			order := map[string]int{}
			for i, s := range r.Steps {
				order[s.ID()] = i
			}
			imp, docs := order["import/secondary/model1"], order["documents/secondary/model1"]
			doc := r.Steps[docs]
			if sequential {
				if docs > imp || len(bk.mirrors) != 0 || doc.Note != `3 documents written to container "docs"` {
					t.Fatalf("sequential: documents at %d, import at %d, mirrors %v, note %q", docs, imp, bk.mirrors, doc.Note)
				}
			} else {
				if docs < imp || docs > order["train/secondary/model1"] {
					t.Fatalf("documents step at %d, import at %d: want it between the import and the training", docs, imp)
				}
				if len(bk.mirrors) != 1 || bk.mirrors[0] != "primary/secondary/tickets" || !bk.copyAfterMirror || bk.copies != 1 {
					t.Fatalf("mirrors %v, copy after mirror %v, copies %d", bk.mirrors, bk.copyAfterMirror, bk.copies)
				}
				if doc.Note != `43 documents written to container "docs"` {
					t.Fatalf("note %q, want the mirror's 40 and the backup's 3", doc.Note)
				}
			}
			// One source prediction per deployment either way (in the
			// background, or in verify), and one of the target's.
			if got := probes.count(); got["primary"] != 1 || got["secondary"] != 1 {
				t.Fatalf("predictions %v, want one per side", got)
			}
		})
	}
}

// countingProber answers every text with the same label and counts the
// calls per resource.
type countingProber struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingProber) Classify(_ context.Context, resource, _, _ string, texts []string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[resource]++
	out := make([]string, len(texts))
	for i := range out {
		out[i] = "Billing"
	}
	return out, nil
}

func (c *countingProber) count() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}
