package entrytest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/langsync/langsync/shared/langsync"
)

// Call is one recorded pipeline call.
type Call struct {
	// Method is Advance, Fail, Sync, Replicate, Restore or Status.
	Method    string
	Wakeup    langsync.Wakeup
	Run       string
	Reason    string
	Tick      langsync.Tick
	Replicate langsync.ReplicateRequest
	Restore   langsync.RestoreRequest
	Status    langsync.StatusRequest
}

// Pipeline is a recording stand-in for the pipeline entry points (what
// entry.Points implements: each host's Runner, Starter and Reporter) for
// host tests. Each On*
// func, when set, decides the answer; unset ones answer "nothing to do".
type Pipeline struct {
	OnAdvance   func(ctx context.Context, w langsync.Wakeup) ([]langsync.Wake, error)
	OnFail      func(ctx context.Context, runID, reason string) error
	OnSync      func(ctx context.Context, t langsync.Tick) ([]langsync.Wake, error)
	OnReplicate func(ctx context.Context, r langsync.ReplicateRequest) ([]langsync.Wake, error)
	OnRestore   func(ctx context.Context, r langsync.RestoreRequest) ([]langsync.Wake, error)
	OnStatus    func(ctx context.Context, r langsync.StatusRequest) (any, error)

	mu    sync.Mutex
	calls []Call
}

func (p *Pipeline) record(c Call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, c)
}

// Calls returns the calls so far, in order.
func (p *Pipeline) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// CallsOf returns the calls of one method.
func (p *Pipeline) CallsOf(method string) []Call {
	var out []Call
	for _, c := range p.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Advance implements the hosts' Runner.
func (p *Pipeline) Advance(ctx context.Context, w langsync.Wakeup) ([]langsync.Wake, error) {
	p.record(Call{Method: "Advance", Wakeup: w, Run: w.Run})
	if p.OnAdvance != nil {
		return p.OnAdvance(ctx, w)
	}
	return nil, nil
}

// Fail implements the hosts' Runner.
func (p *Pipeline) Fail(ctx context.Context, runID, reason string) error {
	p.record(Call{Method: "Fail", Run: runID, Reason: reason})
	if p.OnFail != nil {
		return p.OnFail(ctx, runID, reason)
	}
	return nil
}

// Sync implements the hosts' Starter.
func (p *Pipeline) Sync(ctx context.Context, t langsync.Tick) ([]langsync.Wake, error) {
	p.record(Call{Method: "Sync", Tick: t})
	if p.OnSync != nil {
		return p.OnSync(ctx, t)
	}
	return nil, nil
}

// Replicate implements the hosts' Starter.
func (p *Pipeline) Replicate(ctx context.Context, r langsync.ReplicateRequest) ([]langsync.Wake, error) {
	p.record(Call{Method: "Replicate", Replicate: r})
	if p.OnReplicate != nil {
		return p.OnReplicate(ctx, r)
	}
	return nil, nil
}

// Restore implements the hosts' Starter.
func (p *Pipeline) Restore(ctx context.Context, r langsync.RestoreRequest) ([]langsync.Wake, error) {
	p.record(Call{Method: "Restore", Restore: r})
	if p.OnRestore != nil {
		return p.OnRestore(ctx, r)
	}
	return nil, nil
}

// Status implements the hosts' Reporter.
func (p *Pipeline) Status(ctx context.Context, r langsync.StatusRequest) (any, error) {
	p.record(Call{Method: "Status", Status: r})
	if p.OnStatus != nil {
		return p.OnStatus(ctx, r)
	}
	return map[string]any{"pairs": []any{}}, nil
}

// Keeper keeps failed inputs in memory (each host's Keeper). Err, when
// set, fails Keep.
type Keeper struct {
	Err error

	mu   sync.Mutex
	docs map[string][]byte
}

// Keep implements the hosts' Keeper; a second Keep of one key fails, as
// a write-once blob would.
func (k *Keeper) Keep(_ context.Context, key string, doc []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.Err != nil {
		return k.Err
	}
	if k.docs == nil {
		k.docs = map[string][]byte{}
	}
	if _, ok := k.docs[key]; ok {
		return fmt.Errorf("keeper: %s already exists", key)
	}
	k.docs[key] = append([]byte(nil), doc...)
	return nil
}

// Keys returns the kept keys, sorted.
func (k *Keeper) Keys() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys := make([]string, 0, len(k.docs))
	for key := range k.docs {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

// Doc returns a kept document decoded.
func (k *Keeper) Doc(key string) (langsync.FailedInput, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	b, ok := k.docs[key]
	if !ok {
		return langsync.FailedInput{}, false
	}
	var d langsync.FailedInput
	if err := json.Unmarshal(b, &d); err != nil {
		return langsync.FailedInput{}, false
	}
	return d, true
}

// Raw returns every kept document's text, joined (for leak checks).
func (k *Keeper) Raw() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var b strings.Builder
	for _, d := range k.docs {
		b.Write(d)
	}
	return b.String()
}
