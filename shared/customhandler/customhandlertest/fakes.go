package customhandlertest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/langsync/langsync/shared/customhandler"
	"github.com/langsync/langsync/shared/langsync"
)

// Call is one recorded pipeline call.
type Call struct {
	// Method is Advance, Fail, Sync, Replicate, Restore or Status.
	Method    string
	Wakeup    langsync.Wakeup
	Run       string
	Reason    string
	Tick      customhandler.Tick
	Replicate customhandler.ReplicateRequest
	Restore   customhandler.RestoreRequest
	Status    customhandler.StatusRequest
}

// Pipeline is a recording stand-in for the pipeline entry points
// (customhandler.Runner, Starter and Reporter) for handler tests. Each On*
// func, when set, decides the answer; unset ones answer "nothing to do".
type Pipeline struct {
	OnAdvance   func(ctx context.Context, w langsync.Wakeup) ([]customhandler.Wake, error)
	OnFail      func(ctx context.Context, runID, reason string) error
	OnSync      func(ctx context.Context, t customhandler.Tick) ([]customhandler.Wake, error)
	OnReplicate func(ctx context.Context, r customhandler.ReplicateRequest) ([]customhandler.Wake, error)
	OnRestore   func(ctx context.Context, r customhandler.RestoreRequest) ([]customhandler.Wake, error)
	OnStatus    func(ctx context.Context, r customhandler.StatusRequest) (any, error)

	mu    sync.Mutex
	calls []Call
}

var (
	_ customhandler.Runner   = (*Pipeline)(nil)
	_ customhandler.Starter  = (*Pipeline)(nil)
	_ customhandler.Reporter = (*Pipeline)(nil)
)

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

// Advance implements customhandler.Runner.
func (p *Pipeline) Advance(ctx context.Context, w langsync.Wakeup) ([]customhandler.Wake, error) {
	p.record(Call{Method: "Advance", Wakeup: w, Run: w.Run})
	if p.OnAdvance != nil {
		return p.OnAdvance(ctx, w)
	}
	return nil, nil
}

// Fail implements customhandler.Runner.
func (p *Pipeline) Fail(ctx context.Context, runID, reason string) error {
	p.record(Call{Method: "Fail", Run: runID, Reason: reason})
	if p.OnFail != nil {
		return p.OnFail(ctx, runID, reason)
	}
	return nil
}

// Sync implements customhandler.Starter.
func (p *Pipeline) Sync(ctx context.Context, t customhandler.Tick) ([]customhandler.Wake, error) {
	p.record(Call{Method: "Sync", Tick: t})
	if p.OnSync != nil {
		return p.OnSync(ctx, t)
	}
	return nil, nil
}

// Replicate implements customhandler.Starter.
func (p *Pipeline) Replicate(ctx context.Context, r customhandler.ReplicateRequest) ([]customhandler.Wake, error) {
	p.record(Call{Method: "Replicate", Replicate: r})
	if p.OnReplicate != nil {
		return p.OnReplicate(ctx, r)
	}
	return nil, nil
}

// Restore implements customhandler.Starter.
func (p *Pipeline) Restore(ctx context.Context, r customhandler.RestoreRequest) ([]customhandler.Wake, error) {
	p.record(Call{Method: "Restore", Restore: r})
	if p.OnRestore != nil {
		return p.OnRestore(ctx, r)
	}
	return nil, nil
}

// Status implements customhandler.Reporter.
func (p *Pipeline) Status(ctx context.Context, r customhandler.StatusRequest) (any, error) {
	p.record(Call{Method: "Status", Status: r})
	if p.OnStatus != nil {
		return p.OnStatus(ctx, r)
	}
	return map[string]any{"pairs": []any{}}, nil
}

// Sent is one message a Sender was asked to send.
type Sent struct {
	Queue     string
	Body      []byte
	MessageID string
	// At is the scheduled time; zero for an immediate send.
	At time.Time
}

// Sender records sends (customhandler.Sender). Err, when set, fails them.
type Sender struct {
	Err error

	mu   sync.Mutex
	sent []Sent
}

var _ customhandler.Sender = (*Sender)(nil)

// Send implements customhandler.Sender.
func (s *Sender) Send(_ context.Context, queue string, body []byte, id string) error {
	return s.add(Sent{Queue: queue, Body: append([]byte(nil), body...), MessageID: id})
}

// Schedule implements customhandler.Sender.
func (s *Sender) Schedule(_ context.Context, queue string, body []byte, id string, at time.Time) error {
	return s.add(Sent{Queue: queue, Body: append([]byte(nil), body...), MessageID: id, At: at})
}

func (s *Sender) add(m Sent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	s.sent = append(s.sent, m)
	return nil
}

// Sent returns what was sent so far.
func (s *Sender) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// Keeper keeps failed inputs in memory (customhandler.Keeper). Err, when
// set, fails Keep.
type Keeper struct {
	Err error

	mu   sync.Mutex
	docs map[string][]byte
}

var _ customhandler.Keeper = (*Keeper)(nil)

// Keep implements customhandler.Keeper; a second Keep of one key fails, as
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
func (k *Keeper) Doc(key string) (customhandler.FailedInput, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	b, ok := k.docs[key]
	if !ok {
		return customhandler.FailedInput{}, false
	}
	var d customhandler.FailedInput
	if err := json.Unmarshal(b, &d); err != nil {
		return customhandler.FailedInput{}, false
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
