package sbemulator

import (
	"fmt"
	"sort"
	"time"

	"github.com/langsync/langsync/shared/sbemulator/internal/amqp"
)

// MessageInfo is a snapshot of one stored message, for tests.
type MessageInfo struct {
	SequenceNumber int64
	MessageID      string
	State          State
	// DeliveryCount is the number of failed deliveries so far (the SDK shows
	// this plus one).
	DeliveryCount    uint32
	EnqueuedTime     time.Time
	ScheduledTime    time.Time
	LockedUntil      time.Time
	Body             []byte // the data sections, concatenated
	Properties       map[string]any
	DeadLetterReason string
}

// Counts is how many messages a queue holds in each state.
type Counts struct {
	Active, Locked, Scheduled, Deferred, DeadLetter int
}

// Total is every message in the queue (not its dead-letter queue).
func (c Counts) Total() int { return c.Active + c.Locked + c.Scheduled + c.Deferred }

// Messages returns a snapshot of a queue's messages in sequence order; use
// "<queue>/$DeadLetterQueue" for the dead-letter queue.
func (s *Server) Messages(queue string) ([]MessageInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entities[queue]
	if e == nil {
		return nil, fmt.Errorf("sbemulator: no queue %q", queue)
	}
	out := make([]MessageInfo, 0, len(e.msgs))
	for _, m := range e.msgs {
		info := MessageInfo{
			SequenceNumber: m.seq, MessageID: m.msgID, State: m.state, DeliveryCount: m.deliveryCount,
			EnqueuedTime: m.enqueued, ScheduledTime: m.scheduledAt, Body: m.m.Data(),
			Properties: map[string]any{},
		}
		if m.state == StateLocked {
			info.LockedUntil = m.lockedUntil
		}
		for _, p := range m.m.AppProps {
			if k, ok := amqp.Text(p.Key); ok {
				info.Properties[k] = p.Value
			}
		}
		info.DeadLetterReason, _ = info.Properties["DeadLetterReason"].(string)
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SequenceNumber < out[j].SequenceNumber })
	return out, nil
}

// Counts returns the number of messages in each state of a queue, and its
// dead-letter queue's size.
func (s *Server) Counts(queue string) (Counts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entities[queue]
	if e == nil {
		return Counts{}, fmt.Errorf("sbemulator: no queue %q", queue)
	}
	return countsOf(e), nil
}

// countsOf counts e's messages by state; Server.mu is held.
func countsOf(e *entity) Counts {
	var c Counts
	for _, m := range e.msgs {
		switch m.state {
		case StateActive:
			c.Active++
		case StateLocked:
			c.Locked++
		case StateScheduled:
			c.Scheduled++
		case StateDeferred:
			c.Deferred++
		}
	}
	if e.dlq != nil {
		c.DeadLetter = len(e.dlq.msgs)
	}
	return c
}

// Queues lists the configured queue names.
func (s *Server) Queues() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name, e := range s.entities {
		if e.dlq != nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
