package sbemulator

import (
	"crypto/rand"
	"fmt"
	"sort"
	"time"

	"github.com/langsync/langsync/shared/sbemulator/internal/amqp"
)

// State is where a message stands in its queue.
type State string

// Message states.
const (
	StateActive    State = "active"
	StateLocked    State = "locked"
	StateScheduled State = "scheduled"
	StateDeferred  State = "deferred"
)

// Dead-letter reasons the broker itself gives.
const (
	ReasonMaxDelivery = "MaxDeliveryCountExceeded"
	ReasonTTLExpired  = "TTLExpiredException"
)

// message is one stored message. Everything is guarded by Server.mu.
type message struct {
	seq           int64
	enqueued      time.Time
	scheduledAt   time.Time
	deliveryCount uint32
	state         State
	deferred      bool // was deferred; comes back deferred after an abandon
	lockToken     amqp.UUID
	lockedUntil   time.Time
	expiresAt     time.Time // zero: never
	msgID         string
	m             *amqp.Message
	appModified   bool
}

// entity is a queue or a dead-letter subqueue.
type entity struct {
	name      string
	cfg       QueueConfig
	dlq       *entity // nil for a dead-letter queue
	parent    *entity
	msgs      map[int64]*message
	ready     []*message // active messages in sequence order
	locks     map[amqp.UUID]*message
	dedup     map[string]time.Time
	receivers []*link
	rr        int
	meta      queueMeta // management endpoint bookkeeping (queues only)
}

func newEntity(name string, cfg QueueConfig, parent *entity) *entity {
	return &entity{
		name:   name,
		cfg:    cfg,
		parent: parent,
		msgs:   map[int64]*message{},
		locks:  map[amqp.UUID]*message{},
		dedup:  map[string]time.Time{},
	}
}

// nextSeq hands out sequence numbers; a queue and its dead-letter queue share
// one counter so a dead-lettered message keeps a unique number.
func (s *Server) nextSeq(e *entity) int64 {
	if e.parent != nil {
		e = e.parent
	}
	s.seqs[e.name]++
	return s.seqs[e.name]
}

func newToken() amqp.UUID {
	var u amqp.UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// duplicate reports whether id was accepted within the window, and records it.
func (s *Server) duplicate(e *entity, id string) bool {
	if !e.cfg.DuplicateDetection || id == "" {
		return false
	}
	now := s.clock.Now()
	if t, ok := e.dedup[id]; ok && now.Sub(t) < e.cfg.DuplicateWindow {
		return true
	}
	if len(e.dedup) > 4096 {
		for k, t := range e.dedup {
			if now.Sub(t) >= e.cfg.DuplicateWindow {
				delete(e.dedup, k)
			}
		}
	}
	e.dedup[id] = now
	return false
}

// enqueue accepts one parsed message from a sender. It returns the sequence
// number, or 0 when duplicate detection dropped it.
func (s *Server) enqueue(e *entity, m *amqp.Message, scheduleAt time.Time) int64 {
	id := m.MessageID()
	if s.duplicate(e, id) {
		s.log.Debug("sbemulator: duplicate dropped", "queue", e.name, "messageId", id)
		return 0
	}
	now := s.clock.Now()
	msg := &message{seq: s.nextSeq(e), enqueued: now, state: StateActive, msgID: id, m: m}
	if scheduleAt.IsZero() {
		if v, ok := m.Annotations.Get(amqp.Symbol("x-opt-scheduled-enqueue-time")); ok {
			scheduleAt, _ = amqp.Time(v)
		}
	}
	e.msgs[msg.seq] = msg
	if !scheduleAt.IsZero() && scheduleAt.After(now) {
		msg.state = StateScheduled
		msg.scheduledAt = scheduleAt
		s.noteDeadline(scheduleAt)
	} else {
		if !scheduleAt.IsZero() {
			msg.scheduledAt = scheduleAt
		}
		s.activate(e, msg, now)
	}
	return msg.seq
}

// activate makes a new (or newly due scheduled) message available: its
// enqueued time is now, and its time to live counts from there.
func (s *Server) activate(e *entity, msg *message, now time.Time) {
	msg.enqueued = now
	ttl := e.cfg.DefaultMessageTimeToLive
	if ms, ok := msg.m.Header.Field(2).(uint32); ok && ms > 0 {
		ttl = time.Duration(ms) * time.Millisecond
	}
	if ttl > 0 {
		msg.expiresAt = now.Add(ttl)
		s.noteDeadline(msg.expiresAt)
	}
	s.makeReady(e, msg)
}

func (s *Server) expired(msg *message, now time.Time) bool {
	return !msg.expiresAt.IsZero() && !now.Before(msg.expiresAt)
}

// expire drops an expired message, or dead-letters it when the queue says so.
func (s *Server) expire(e *entity, msg *message) {
	s.log.Debug("sbemulator: message expired", "queue", e.name, "seq", msg.seq)
	if e.cfg.DeadLetterOnExpiration && e.dlq != nil {
		s.deadLetter(e, msg, ReasonTTLExpired, "The message expired and was dead lettered.", nil)
		return
	}
	delete(e.msgs, msg.seq)
}

// makeReady puts msg back among the deliverable messages in sequence order.
func (s *Server) makeReady(e *entity, msg *message) {
	msg.state = StateActive
	msg.lockToken = amqp.UUID{}
	i := sort.Search(len(e.ready), func(i int) bool { return e.ready[i].seq >= msg.seq })
	e.ready = append(e.ready, nil)
	copy(e.ready[i+1:], e.ready[i:])
	e.ready[i] = msg
	s.pumpSoon(e)
}

// lock marks msg as locked by a new token until now + LockDuration.
func (s *Server) lock(e *entity, msg *message) {
	msg.state = StateLocked
	msg.lockToken = newToken()
	msg.lockedUntil = s.clock.Now().Add(e.cfg.LockDuration)
	e.locks[msg.lockToken] = msg
	s.noteDeadline(msg.lockedUntil)
}

// locked finds the message holding a live lock token.
func (s *Server) locked(e *entity, token amqp.UUID) *message {
	msg := e.locks[token]
	if msg == nil || msg.state != StateLocked || !s.clock.Now().Before(msg.lockedUntil) {
		return nil
	}
	return msg
}

func (s *Server) unlock(e *entity, msg *message) {
	delete(e.locks, msg.lockToken)
	msg.lockToken = amqp.UUID{}
}

// complete deletes a locked message.
func (s *Server) complete(e *entity, msg *message) {
	s.unlock(e, msg)
	delete(e.msgs, msg.seq)
}

// release returns a locked message without counting a failed delivery.
func (s *Server) release(e *entity, msg *message) {
	s.unlock(e, msg)
	s.reactivate(e, msg)
}

func (s *Server) reactivate(e *entity, msg *message) {
	if msg.deferred {
		msg.state = StateDeferred
		return
	}
	s.makeReady(e, msg)
}

// abandon counts a failed delivery: back to the queue, or to the dead-letter
// queue once MaxDeliveryCount is reached. In a dead-letter queue nothing is
// counted: the service leaves a dead-lettered message's delivery count as it
// was when it was dead-lettered
// (docs/reference/servicebus-amqp.md#service-behaviours-and-defaults).
func (s *Server) abandon(e *entity, msg *message, props amqp.Map) {
	s.unlock(e, msg)
	s.modifyProps(msg, props)
	if e.dlq == nil {
		s.reactivate(e, msg)
		return
	}
	msg.deliveryCount++
	if int(msg.deliveryCount) >= e.cfg.MaxDeliveryCount {
		s.deadLetter(e, msg, ReasonMaxDelivery,
			fmt.Sprintf("Message could not be consumed after %d delivery attempts.", e.cfg.MaxDeliveryCount), nil)
		return
	}
	s.reactivate(e, msg)
}

// defer marks a locked message deferred: only a receive by sequence number
// reaches it again.
func (s *Server) deferMsg(e *entity, msg *message, props amqp.Map) {
	s.unlock(e, msg)
	s.modifyProps(msg, props)
	msg.deferred = true
	msg.state = StateDeferred
}

// deadLetter moves msg to the entity's dead-letter queue with a reason.
func (s *Server) deadLetter(e *entity, msg *message, reason, desc string, props amqp.Map) {
	s.unlock(e, msg)
	delete(e.msgs, msg.seq)
	s.modifyProps(msg, props)
	if e.dlq == nil { // dead-lettering from a dead-letter queue: keep it there
		msg.state = StateActive
		e.msgs[msg.seq] = msg
		s.makeReady(e, msg)
		return
	}
	msg.m.AppProps = msg.m.AppProps.Set("DeadLetterReason", reason)
	msg.m.AppProps = msg.m.AppProps.Set("DeadLetterErrorDescription", desc)
	msg.appModified = true
	msg.deferred = false
	msg.expiresAt = time.Time{} // dead-lettered messages do not expire
	d := e.dlq
	d.msgs[msg.seq] = msg
	s.log.Debug("sbemulator: dead-lettered", "queue", e.name, "seq", msg.seq, "reason", reason)
	s.makeReady(d, msg)
}

func (s *Server) modifyProps(msg *message, props amqp.Map) {
	for _, p := range props {
		k, ok := amqp.Text(p.Key)
		if !ok {
			continue
		}
		msg.m.AppProps = msg.m.AppProps.Set(k, p.Value)
		msg.appModified = true
	}
}

// sweep expires locks and activates scheduled messages that are due, and
// returns the next deadline (zero when none).
func (s *Server) sweep() time.Time {
	now := s.clock.Now()
	var next time.Time
	note := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, e := range s.entityList() {
		for _, msg := range e.locks {
			if msg.state != StateLocked {
				continue
			}
			if !now.Before(msg.lockedUntil) {
				s.log.Debug("sbemulator: lock expired", "queue", e.name, "seq", msg.seq)
				s.abandon(e, msg, nil)
				continue
			}
			note(msg.lockedUntil)
		}
		var due []*message
		for _, msg := range e.msgs {
			if msg.state != StateScheduled {
				continue
			}
			if !now.Before(msg.scheduledAt) {
				due = append(due, msg)
				continue
			}
			note(msg.scheduledAt)
		}
		sort.Slice(due, func(i, j int) bool { return due[i].seq < due[j].seq })
		for _, msg := range due {
			s.activate(e, msg, now)
		}
		var live, gone []*message
		for _, msg := range e.ready {
			if s.expired(msg, now) {
				gone = append(gone, msg)
				continue
			}
			if !msg.expiresAt.IsZero() {
				note(msg.expiresAt)
			}
			live = append(live, msg)
		}
		e.ready = live
		for _, msg := range gone {
			s.expire(e, msg)
		}
	}
	return next
}

func (s *Server) entityList() []*entity {
	out := make([]*entity, 0, len(s.entities))
	for _, e := range s.entities {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// pumpSoon marks e as having something to deliver; the frame handler that
// holds the lock pumps before it returns.
func (s *Server) pumpSoon(e *entity) { s.dirty[e] = true }

// pumpAll delivers to every entity marked dirty.
func (s *Server) pumpAll() {
	for len(s.dirty) > 0 {
		for e := range s.dirty {
			delete(s.dirty, e)
			s.pump(e)
		}
	}
}

// pump hands ready messages to receiver links with credit, round robin.
func (s *Server) pump(e *entity) {
	for len(e.ready) > 0 && len(e.receivers) > 0 {
		var l *link
		for i := 0; i < len(e.receivers); i++ {
			c := e.receivers[(e.rr+i)%len(e.receivers)]
			if c.credit > 0 && !c.sess.conn.closed {
				l = c
				e.rr = (e.rr + i + 1) % len(e.receivers)
				break
			}
		}
		if l == nil {
			return
		}
		msg := e.ready[0]
		e.ready = e.ready[1:]
		if s.expired(msg, s.clock.Now()) {
			s.expire(e, msg)
			continue
		}
		s.deliver(e, l, msg)
	}
}

// encodeMessage builds the bytes of a message as a receiver sees it.
func (s *Server) encodeMessage(e *entity, msg *message, withLock bool) []byte {
	b := make([]byte, 0, 256+len(msg.m.Rest)+len(msg.m.PropertiesRaw)+len(msg.m.AppPropsRaw))
	h := msg.m.Header
	durable, _ := h.Field(0).(bool)
	priority, ok := h.Field(1).(uint8)
	if !ok {
		priority = 4
	}
	// first-acquirer is always false, as the service sends it
	// (docs/reference/servicebus-amqp.md#receiving-in-peek-lock).
	b = amqp.Section(b, amqp.Header, amqp.List{durable, priority, h.Field(2), false, msg.deliveryCount})
	// The sender's delivery annotations pass through, as on the service;
	// the lock token is ours.
	var da amqp.Map
	for _, p := range msg.m.DeliveryAnnotations {
		if k, _ := amqp.Text(p.Key); k != "x-opt-lock-token" {
			da = append(da, p)
		}
	}
	if withLock {
		da = append(amqp.Map{{Key: amqp.Symbol("x-opt-lock-token"), Value: msg.lockToken}}, da...)
	}
	if len(da) > 0 {
		b = amqp.Section(b, amqp.DeliveryAnnotations, da)
	}
	ann := make(amqp.Map, 0, len(msg.m.Annotations)+6)
	for _, p := range msg.m.Annotations {
		// x-opt-deadletter-source is never set: the service sets it only on
		// messages auto-forwarded out of a dead-letter queue, and the
		// stand-in does not forward
		// (docs/reference/servicebus-amqp.md#dead-letter-and-other-entity-paths).
		if k, _ := amqp.Text(p.Key); k == "x-opt-sequence-number" || k == "x-opt-enqueued-time" ||
			k == "x-opt-locked-until" || k == "x-opt-message-state" || k == "x-opt-deadletter-source" {
			continue
		}
		ann = append(ann, p)
	}
	ann = append(ann,
		amqp.Pair{Key: amqp.Symbol("x-opt-sequence-number"), Value: msg.seq},
		amqp.Pair{Key: amqp.Symbol("x-opt-enqueued-time"), Value: msg.enqueued})
	if msg.state == StateLocked {
		ann = append(ann, amqp.Pair{Key: amqp.Symbol("x-opt-locked-until"), Value: msg.lockedUntil})
	}
	switch {
	case msg.state == StateDeferred || msg.deferred:
		ann = append(ann, amqp.Pair{Key: amqp.Symbol("x-opt-message-state"), Value: int32(1)})
	case msg.state == StateScheduled:
		ann = append(ann, amqp.Pair{Key: amqp.Symbol("x-opt-message-state"), Value: int32(2)})
	}
	if !msg.scheduledAt.IsZero() {
		ann = ann.Set(amqp.Symbol("x-opt-scheduled-enqueue-time"), msg.scheduledAt)
	}
	b = amqp.Section(b, amqp.MessageAnnotations, ann)
	if msg.m.PropertiesRaw != nil {
		b = append(b, msg.m.PropertiesRaw...)
	} else {
		// The SDK reads system properties only when a properties section exists.
		b = amqp.Section(b, amqp.Properties, amqp.List{})
	}
	switch {
	case msg.appModified:
		b = amqp.Section(b, amqp.ApplicationProperties, msg.m.AppProps)
	case msg.m.AppPropsRaw != nil:
		b = append(b, msg.m.AppPropsRaw...)
	}
	return append(b, msg.m.Rest...)
}
