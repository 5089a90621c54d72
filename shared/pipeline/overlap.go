package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// Overlap: work that does not depend on the job in progress is started
// early, in the background of the same process, so that it runs while the
// service works instead of between jobs. Only idempotent work with no job
// on the service is overlapped: copying documents (it writes what is
// missing or different) and classifying the probe texts on the source
// (read only). The run state is untouched by it: the step that needs the
// result takes it when it runs (waiting for it if it is not done) and
// saves its completion as before, so a process that dies loses nothing but
// the head start, and another process simply does the work itself.
// Options.Sequential turns it off (the behaviour before; the benchmarks'
// baseline).

// bgTimeout bounds a background task whose step never comes to take it
// (the run failed or moved to another process).
const bgTimeout = 10 * time.Minute

// task is one piece of background work and, once done, its result.
type task struct {
	done chan struct{}
	val  any
	err  error
}

// tasks holds the background work of the runs this process advances, by
// run and purpose.
type tasks struct {
	mu sync.Mutex
	m  map[string]*task
}

// start runs fn in the background under key unless it is already started.
// fn runs under ctx's values but not its cancellation (the Advance that
// starts it may end first), bounded by bgTimeout.
func (t *tasks) start(ctx context.Context, key string, fn func(context.Context) (any, error)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[key]; ok {
		return
	}
	if t.m == nil {
		t.m = map[string]*task{}
	}
	k := &task{done: make(chan struct{})}
	t.m[key] = k
	go func() {
		defer close(k.done)
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bgTimeout)
		defer cancel()
		k.val, k.err = fn(bctx)
	}()
	// Forget the task if nobody takes it, so the map cannot grow without
	// bound in a long-running host.
	time.AfterFunc(bgTimeout+time.Minute, func() { t.drop(key, k) })
}

func (t *tasks) drop(key string, k *task) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m[key] == k {
		delete(t.m, key)
	}
}

// take waits for the task under key and removes it (keep leaves it for
// other takers, such as every target's verify for the source's probes). ok
// is false when no task was started under key (the caller does the work
// itself). A ctx that ends first returns its error.
func (t *tasks) take(ctx context.Context, key string, keep bool) (val any, ok bool, err error) {
	t.mu.Lock()
	k := t.m[key]
	t.mu.Unlock()
	if k == nil {
		return nil, false, nil
	}
	select {
	case <-k.done:
	case <-ctx.Done():
		return nil, true, ctx.Err()
	}
	if !keep {
		t.drop(key, k)
	}
	return k.val, true, k.err
}

// overlap starts, before step i runs, the background work of later steps
// that can already begin: the document copy of every pending documents
// step whose backup is known, and the source's probe predictions once the
// target's first job (import or train) is under way.
func (x *exec) overlap(ctx context.Context, i int) {
	if x.p.opts.Sequential {
		return
	}
	r := x.run
	cur := r.Steps[i].Name
	for j := i; j < len(r.Steps); j++ {
		s := r.Steps[j]
		if s.Name != langsync.StepDocuments || s.Status != langsync.StepPending {
			continue
		}
		m := r.Model(s.Model)
		if m == nil {
			continue
		}
		p, run, id, source, target, container, key := x.p, r.ID, s.ID(), r.Source, s.Target, m.StorageContainer, m.Backup
		if dm, ok := p.opts.Backups.(DocumentMirror); ok && container != "" && !x.backedUp(s.Model) {
			// Before the backup: copy the source's documents as they
			// are, while the export runs.
			p.bg.start(ctx, mirrorKey(run, id), func(ctx context.Context) (any, error) {
				return dm.MirrorDocuments(ctx, source, target, container)
			})
		}
		if key != "" {
			p.bg.start(ctx, docsKey(run, id, key), func(ctx context.Context) (any, error) {
				return p.copyDocuments(ctx, run, id, key, target, container)
			})
		}
	}
	if (cur == langsync.StepImport || cur == langsync.StepTrain) && r.Kind == langsync.RunReplicate && x.probing() {
		for _, m := range r.Models {
			for _, dep := range m.Deployments {
				source, project, texts := r.Source, r.Project, x.p.opts.Probes
				x.p.bg.start(ctx, probeKey(r.ID, dep), func(ctx context.Context) (any, error) {
					return x.p.opts.Prober.Classify(ctx, source, project, dep, texts)
				})
			}
		}
	}
}

func (x *exec) probing() bool { return x.p.opts.Prober != nil && len(x.p.opts.Probes) > 0 }

// docsKey names a documents step's background copy; the backup key is part
// of it, so a copy of an older backup (a rewound run) is never taken.
func docsKey(run, step, backup string) string {
	return "docs\x00" + run + "\x00" + step + "\x00" + backup
}

func mirrorKey(run, step string) string { return "mirror\x00" + run + "\x00" + step }

// backedUp reports whether the model's backup step is done.
func (x *exec) backedUp(label string) bool {
	return x.stepByID(langsync.Step{Name: langsync.StepBackup, Model: label}.ID()).Status.Done()
}

// copyDocuments writes a backup's documents into the target's storage:
// after the mirror started while the export ran, if any (what it copied at
// the ETag the backup read is not written again; its failure only means
// more is written here), then whatever the backup holds differently. It
// reads no run state, so it may run in the background.
func (p *Pipeline) copyDocuments(ctx context.Context, run, step, key, target, container string) (int, error) {
	mirrored := 0
	if v, ok, err := p.bg.take(ctx, mirrorKey(run, step), false); ok && err == nil {
		mirrored = v.(int)
	} else if ok {
		p.log.Warn("copying documents before the backup failed; writing them from the backup", "run", run, "step", step, "err", err)
	}
	n, err := p.opts.Backups.CopyDocuments(ctx, key, target, container)
	return mirrored + n, err
}

func probeKey(run, deployment string) string { return "probe\x00" + run + "\x00" + deployment }
