package queue

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// Clock is the time source of a Memory queue. After must fire once the
// clock has reached now+d, so a fake clock can deliver scheduled messages
// without real waiting.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Message is a message taken from a Memory queue.
type Message struct {
	Queue        string
	MessageID    string
	Body         []byte
	EnqueuedTime time.Time
	// SequenceNumber increases per queue in the order messages were accepted.
	SequenceNumber int64
}

// MemoryOptions configure a Memory queue. Nil means defaults.
type MemoryOptions struct {
	// Queues that exist (default langsync.Queues(), langsync's four queues).
	Queues []string
	// DuplicateWindow is how long a MessageId is remembered (default 10 min,
	// the Service Bus default).
	DuplicateWindow time.Duration
	// Clock defaults to the real clock.
	Clock Clock
}

// Memory is an in-process Sender for the local host (and tests): the same
// contract as ServiceBus (duplicate detection, scheduling), plus Receive.
// Messages are lost when the process ends; run state in Blob is the source
// of truth and the timer's sweep re-sends overdue wake-ups.
type Memory struct {
	clock  Clock
	window time.Duration

	mu     sync.Mutex
	queues map[string]*memQueue
	seq    int64
	closed bool
	wake   chan struct{} // closed and replaced whenever something changes
}

type memQueue struct {
	msgs  []memMsg // sorted by (at, seq)
	dedup map[string]time.Time
}

type memMsg struct {
	Message
	at time.Time
}

// NewMemory returns an empty in-process queue set.
func NewMemory(opts *MemoryOptions) *Memory {
	var o MemoryOptions
	if opts != nil {
		o = *opts
	}
	if len(o.Queues) == 0 {
		o.Queues = langsync.Queues()
	}
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = 10 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	m := &Memory{clock: o.Clock, window: o.DuplicateWindow, queues: map[string]*memQueue{}, wake: make(chan struct{})}
	for _, q := range o.Queues {
		m.queues[q] = &memQueue{dedup: map[string]time.Time{}}
	}
	return m
}

// Send enqueues body now.
func (m *Memory) Send(ctx context.Context, queue string, body []byte, messageID string) error {
	return m.put(ctx, queue, body, messageID, time.Time{})
}

// Schedule enqueues body to become visible at `at`.
func (m *Memory) Schedule(ctx context.Context, queue string, body []byte, messageID string, at time.Time) error {
	return m.put(ctx, queue, body, messageID, at)
}

func (m *Memory) put(ctx context.Context, queue string, body []byte, messageID string, at time.Time) error {
	if err := checkArgs(queue, messageID); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("queue: sending %s to %s: %w", messageID, queue, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	q := m.queues[queue]
	if q == nil {
		return fmt.Errorf("queue: sending %s to %s: %w (known queues: %v)", messageID, queue, ErrUnknownQueue, m.names())
	}
	now := m.clock.Now()
	if t, ok := q.dedup[messageID]; ok && now.Sub(t) < m.window {
		return nil // dropped as a duplicate; the sender still succeeds, as on Service Bus
	}
	for id, t := range q.dedup {
		if now.Sub(t) >= m.window {
			delete(q.dedup, id)
		}
	}
	q.dedup[messageID] = now
	if at.Before(now) {
		at = now
	}
	m.seq++
	msg := memMsg{Message: Message{Queue: queue, MessageID: messageID, Body: append([]byte(nil), body...), EnqueuedTime: now, SequenceNumber: m.seq}, at: at}
	i := sort.Search(len(q.msgs), func(i int) bool {
		return q.msgs[i].at.After(at) || (q.msgs[i].at.Equal(at) && q.msgs[i].SequenceNumber > msg.SequenceNumber)
	})
	q.msgs = append(q.msgs, memMsg{})
	copy(q.msgs[i+1:], q.msgs[i:])
	q.msgs[i] = msg
	m.notify()
	return nil
}

func (m *Memory) names() []string {
	var out []string
	for n := range m.queues {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// notify wakes every Receive; m.mu is held.
func (m *Memory) notify() {
	close(m.wake)
	m.wake = make(chan struct{})
}

// Receive removes and returns the next message that is due on any of the
// given queues (all queues when none are given), waiting until one is due
// or ctx ends. Among due messages the earliest-due comes first.
func (m *Memory) Receive(ctx context.Context, queues ...string) (Message, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return Message{}, ErrClosed
		}
		if len(queues) == 0 {
			queues = m.names()
		}
		now := m.clock.Now()
		var best *memQueue
		var next time.Time
		for _, name := range queues {
			q := m.queues[name]
			if q == nil {
				m.mu.Unlock()
				return Message{}, fmt.Errorf("queue: receiving from %s: %w", name, ErrUnknownQueue)
			}
			if len(q.msgs) == 0 {
				continue
			}
			head := q.msgs[0]
			if !head.at.After(now) {
				if best == nil || head.at.Before(best.msgs[0].at) {
					best = q
				}
			} else if next.IsZero() || head.at.Before(next) {
				next = head.at
			}
		}
		if best != nil {
			msg := best.msgs[0].Message
			best.msgs = best.msgs[1:]
			m.mu.Unlock()
			return msg, nil
		}
		wake := m.wake
		var timer <-chan time.Time
		if !next.IsZero() {
			timer = m.clock.After(next.Sub(now))
		}
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-wake:
		case <-timer:
		}
	}
}

// Len returns how many messages on queue are due now and how many are
// scheduled for later.
func (m *Memory) Len(queue string) (due, scheduled int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.queues[queue]
	if q == nil {
		return 0, 0
	}
	now := m.clock.Now()
	for _, msg := range q.msgs {
		if msg.at.After(now) {
			scheduled++
		} else {
			due++
		}
	}
	return due, scheduled
}

// Close makes further sends fail with ErrClosed and wakes every Receive.
func (m *Memory) Close(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		m.notify()
	}
	return nil
}
