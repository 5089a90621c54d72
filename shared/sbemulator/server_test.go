package sbemulator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/langsync/langsync/shared/sbemulator"
)

// 1. send + receive + complete.
func TestSendReceiveComplete(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	s := e.sender(t, "q")
	send(t, s, "hello", "id-1")
	if c := counts(t, e.Server, "q"); c.Active != 1 {
		t.Fatalf("after send: counts = %+v, want 1 active", c)
	}
	r := e.receiver(t, "q", nil)
	got := receiveN(t, r, 1)
	m := got[0]
	if string(m.Body) != "hello" || m.MessageID != "id-1" {
		t.Fatalf("got body %q id %q, want hello id-1", m.Body, m.MessageID)
	}
	if m.DeliveryCount != 1 || m.SequenceNumber == nil || *m.SequenceNumber != 1 || m.EnqueuedTime == nil || m.LockedUntil == nil {
		t.Fatalf("system properties: DeliveryCount=%d seq=%v enqueued=%v lockedUntil=%v", m.DeliveryCount, m.SequenceNumber, m.EnqueuedTime, m.LockedUntil)
	}
	if c := counts(t, e.Server, "q"); c.Locked != 1 {
		t.Fatalf("after receive: counts = %+v, want 1 locked", c)
	}
	if err := r.CompleteMessage(ctxT(t), m, nil); err != nil {
		t.Fatalf("CompleteMessage: %v", err)
	}
	if c := counts(t, e.Server, "q"); c.Total() != 0 {
		t.Fatalf("after complete: counts = %+v, want empty", c)
	}
}

// 2. batch send: each message of the batch becomes its own queue message.
func TestBatchSend(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	s := e.sender(t, "q")
	batch, err := s.NewMessageBatch(ctxT(t), nil)
	if err != nil {
		t.Fatalf("NewMessageBatch: %v", err)
	}
	for i := range 5 {
		if err := batch.AddMessage(&azservicebus.Message{Body: fmt.Appendf(nil, "m%d", i)}, nil); err != nil {
			t.Fatalf("AddMessage: %v", err)
		}
	}
	if err := s.SendMessageBatch(ctxT(t), batch, nil); err != nil {
		t.Fatalf("SendMessageBatch: %v", err)
	}
	msgs, err := e.Server.Messages("q")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 5 {
		t.Fatalf("queue holds %d messages, want 5", len(msgs))
	}
	r := e.receiver(t, "q", nil)
	got := receiveN(t, r, 5)
	for i, m := range got {
		if want := fmt.Sprintf("m%d", i); string(m.Body) != want {
			t.Errorf("message %d body %q, want %q (order kept)", i, m.Body, want)
		}
		if m.MessageID == "" {
			t.Errorf("message %d has no MessageID", i)
		}
	}
}

// 3. abandon: redelivered with DeliveryCount+1 and modified properties.
func TestAbandonRedelivers(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	s := e.sender(t, "q")
	if err := s.SendMessage(ctxT(t), &azservicebus.Message{Body: []byte("x"), ApplicationProperties: map[string]any{"n": int64(42), "i": int32(7)}}, nil); err != nil {
		t.Fatal(err)
	}
	r := e.receiver(t, "q", nil)
	m := receiveN(t, r, 1)[0]
	if m.DeliveryCount != 1 {
		t.Fatalf("first DeliveryCount = %d, want 1", m.DeliveryCount)
	}
	if err := r.AbandonMessage(ctxT(t), m, &azservicebus.AbandonMessageOptions{PropertiesToModify: map[string]any{"why": "busy"}}); err != nil {
		t.Fatalf("AbandonMessage: %v", err)
	}
	m2 := receiveN(t, r, 1)[0]
	if m2.DeliveryCount != 2 {
		t.Fatalf("redelivered DeliveryCount = %d, want 2", m2.DeliveryCount)
	}
	if *m2.SequenceNumber != *m.SequenceNumber {
		t.Fatalf("sequence number changed on redelivery: %d -> %d", *m.SequenceNumber, *m2.SequenceNumber)
	}
	props := m2.ApplicationProperties
	if props["n"] != int64(42) || props["i"] != int32(7) || props["why"] != "busy" {
		t.Fatalf("application properties = %#v (types must survive: int64 42, int32 7, why=busy)", props)
	}
	if err := r.CompleteMessage(ctxT(t), m2, nil); err != nil {
		t.Fatal(err)
	}
}

// 4. dead-letter and the $DeadLetterQueue subqueue.
func TestDeadLetter(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	send(t, e.sender(t, "q"), "poison", "p-1")
	r := e.receiver(t, "q", nil)
	m := receiveN(t, r, 1)[0]
	reason, desc := "BadInput", "cannot parse"
	if err := r.DeadLetterMessage(ctxT(t), m, &azservicebus.DeadLetterOptions{Reason: &reason, ErrorDescription: &desc}); err != nil {
		t.Fatalf("DeadLetterMessage: %v", err)
	}
	if c := counts(t, e.Server, "q"); c.Total() != 0 || c.DeadLetter != 1 {
		t.Fatalf("counts = %+v, want empty queue and 1 dead-lettered", c)
	}
	dr := e.receiver(t, "q", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	d := receiveN(t, dr, 1)[0]
	if string(d.Body) != "poison" || d.DeadLetterReason == nil || *d.DeadLetterReason != reason ||
		d.DeadLetterErrorDescription == nil || *d.DeadLetterErrorDescription != desc {
		t.Fatalf("dead-lettered message: body %q reason %v description %v", d.Body, d.DeadLetterReason, d.DeadLetterErrorDescription)
	}
	// The service sets DeadLetterSource only on messages auto-forwarded out
	// of a dead-letter queue, never on plain dead-lettering.
	if d.DeadLetterSource != nil {
		t.Fatalf("DeadLetterSource = %q, want nil", *d.DeadLetterSource)
	}
	if err := dr.CompleteMessage(ctxT(t), d, nil); err != nil {
		t.Fatal(err)
	}
	if c := counts(t, e.Server, "q"); c.DeadLetter != 0 {
		t.Fatalf("dead-letter queue not emptied: %+v", c)
	}
}

// 4b. MaxDeliveryCount: the last abandon moves the message to the DLQ.
func TestMaxDeliveryCountDeadLetters(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{MaxDeliveryCount: 3})
	send(t, e.sender(t, "q"), "flaky", "")
	r := e.receiver(t, "q", nil)
	for i := 1; i <= 3; i++ {
		m := receiveN(t, r, 1)[0]
		if int(m.DeliveryCount) != i {
			t.Fatalf("delivery %d: DeliveryCount = %d", i, m.DeliveryCount)
		}
		if err := r.AbandonMessage(ctxT(t), m, nil); err != nil {
			t.Fatal(err)
		}
	}
	msgs, _ := e.Server.Messages("q/$DeadLetterQueue")
	if len(msgs) != 1 || msgs[0].DeadLetterReason != sbemulator.ReasonMaxDelivery {
		t.Fatalf("dead-letter queue = %+v, want one message with reason %s", msgs, sbemulator.ReasonMaxDelivery)
	}
	if c := counts(t, e.Server, "q"); c.Total() != 0 {
		t.Fatalf("queue still holds %+v", c)
	}
}

// 5. renew lock, and lock expiry on the fake clock -> lock lost + redelivery.
func TestLockRenewAndExpiry(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{LockDuration: 30 * time.Second})
	send(t, e.sender(t, "q"), "slow", "")
	r := e.receiver(t, "q", nil)
	m := receiveN(t, r, 1)[0]
	first := *m.LockedUntil
	if want := e.clock.Now().Add(30 * time.Second); !first.Equal(want.Truncate(time.Millisecond)) {
		t.Fatalf("LockedUntil = %v, want %v", first, want)
	}
	e.clock.Advance(20 * time.Second)
	if err := r.RenewMessageLock(ctxT(t), m, nil); err != nil {
		t.Fatalf("RenewMessageLock: %v", err)
	}
	if !m.LockedUntil.Equal(first.Add(20 * time.Second)) {
		t.Fatalf("renewed LockedUntil = %v, want %v", m.LockedUntil, first.Add(20*time.Second))
	}
	e.clock.Advance(20 * time.Second) // 40 s after receive: alive only thanks to the renewal
	if c := counts(t, e.Server, "q"); c.Locked != 1 {
		t.Fatalf("after renewal: %+v, want still locked", c)
	}
	e.clock.Advance(11 * time.Second)
	if c := counts(t, e.Server, "q"); c.Active != 1 {
		t.Fatalf("after expiry: %+v, want active again", c)
	}
	err := r.CompleteMessage(ctxT(t), m, nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeLockLost {
		t.Fatalf("CompleteMessage after expiry: %v, want CodeLockLost", err)
	}
	m2 := receiveN(t, r, 1)[0]
	if m2.DeliveryCount != 2 {
		t.Fatalf("after expiry DeliveryCount = %d, want 2 (expiry counts as a failed delivery)", m2.DeliveryCount)
	}
	err = r.RenewMessageLock(ctxT(t), m, nil)
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeLockLost {
		t.Fatalf("RenewMessageLock of an expired lock: %v, want CodeLockLost", err)
	}
}

// 6. schedule and cancel (fake clock: no waiting).
func TestScheduleAndCancel(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	s := e.sender(t, "q")
	at := e.clock.Now().Add(time.Hour)
	seqs, err := s.ScheduleMessages(ctxT(t), []*azservicebus.Message{{Body: []byte("later")}, {Body: []byte("cancelled")}}, at, nil)
	if err != nil {
		t.Fatalf("ScheduleMessages: %v", err)
	}
	if len(seqs) != 2 {
		t.Fatalf("got %d sequence numbers, want 2", len(seqs))
	}
	if err := s.CancelScheduledMessages(ctxT(t), seqs[1:], nil); err != nil {
		t.Fatalf("CancelScheduledMessages: %v", err)
	}
	// ScheduledEnqueueTime on a plain send schedules too.
	at2 := at.Add(time.Minute)
	if err := s.SendMessage(ctxT(t), &azservicebus.Message{Body: []byte("later2"), ScheduledEnqueueTime: &at2}, nil); err != nil {
		t.Fatal(err)
	}
	if c := counts(t, e.Server, "q"); c.Scheduled != 2 || c.Active != 0 {
		t.Fatalf("counts = %+v, want 2 scheduled", c)
	}
	e.clock.Advance(time.Hour)
	if c := counts(t, e.Server, "q"); c.Scheduled != 1 || c.Active != 1 {
		t.Fatalf("after an hour counts = %+v, want 1 active 1 scheduled", c)
	}
	r := e.receiver(t, "q", nil)
	m := receiveN(t, r, 1)[0]
	if string(m.Body) != "later" || *m.SequenceNumber != seqs[0] || m.ScheduledEnqueueTime == nil || !m.ScheduledEnqueueTime.Equal(at) {
		t.Fatalf("got %q seq %d scheduled %v; want later seq %d at %v", m.Body, *m.SequenceNumber, m.ScheduledEnqueueTime, seqs[0], at)
	}
	if err := r.CompleteMessage(ctxT(t), m, nil); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if m := receiveN(t, r, 1)[0]; string(m.Body) != "later2" {
		t.Fatalf("got %q, want later2", m.Body)
	}
}

// 7. peek with paging, all states shown, nothing locked.
func TestPeek(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	s := e.sender(t, "q")
	for i := range 5 {
		send(t, s, fmt.Sprintf("p%d", i), "")
	}
	if _, err := s.ScheduleMessages(ctxT(t), []*azservicebus.Message{{Body: []byte("sched")}}, e.clock.Now().Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	r := e.receiver(t, "q", nil)
	var bodies []string
	var states []azservicebus.MessageState
	for {
		page, err := r.PeekMessages(ctxT(t), 4, nil)
		if err != nil {
			t.Fatalf("PeekMessages: %v", err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			bodies = append(bodies, string(m.Body))
			states = append(states, m.State)
		}
	}
	if got := strings.Join(bodies, ","); got != "p0,p1,p2,p3,p4,sched" {
		t.Fatalf("peeked %s", got)
	}
	if states[5] != azservicebus.MessageStateScheduled || states[0] != azservicebus.MessageStateActive {
		t.Fatalf("states = %v", states)
	}
	if c := counts(t, e.Server, "q"); c.Active != 5 || c.Locked != 0 {
		t.Fatalf("peek changed the queue: %+v", c)
	}
}

// 8. defer and receive deferred by sequence number.
func TestDefer(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	s := e.sender(t, "q")
	send(t, s, "later", "")
	send(t, s, "now", "")
	r := e.receiver(t, "q", nil)
	m := receiveN(t, r, 1)[0]
	if err := r.DeferMessage(ctxT(t), m, nil); err != nil {
		t.Fatalf("DeferMessage: %v", err)
	}
	if n := receiveN(t, r, 1)[0]; string(n.Body) != "now" {
		t.Fatalf("after defer got %q, want now", n.Body)
	} else if err := r.CompleteMessage(ctxT(t), n, nil); err != nil {
		t.Fatal(err)
	}
	if c := counts(t, e.Server, "q"); c.Deferred != 1 {
		t.Fatalf("counts = %+v, want 1 deferred", c)
	}
	got, err := r.ReceiveDeferredMessages(ctxT(t), []int64{*m.SequenceNumber}, nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("ReceiveDeferredMessages: %d messages, %v", len(got), err)
	}
	if string(got[0].Body) != "later" || got[0].State != azservicebus.MessageStateDeferred {
		t.Fatalf("deferred message %q state %v", got[0].Body, got[0].State)
	}
	if err := r.CompleteMessage(ctxT(t), got[0], nil); err != nil {
		t.Fatalf("CompleteMessage(deferred): %v", err)
	}
	if c := counts(t, e.Server, "q"); c.Total() != 0 {
		t.Fatalf("counts = %+v, want empty", c)
	}
}

// 9. ReceiveAndDelete: the message is gone as soon as it is delivered.
func TestReceiveAndDelete(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	send(t, e.sender(t, "q"), "once", "")
	r := e.receiver(t, "q", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	m := receiveN(t, r, 1)[0]
	if string(m.Body) != "once" {
		t.Fatalf("got %q", m.Body)
	}
	if c := counts(t, e.Server, "q"); c.Total() != 0 {
		t.Fatalf("counts = %+v, want empty", c)
	}
}

// 10. a message larger than one frame, both ways.
func TestLargeMessage(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	body := bytes.Repeat([]byte("0123456789abcdef"), 200*1024/16)
	if err := e.sender(t, "q").SendMessage(ctxT(t), &azservicebus.Message{Body: body}, nil); err != nil {
		t.Fatalf("SendMessage(200 KiB): %v", err)
	}
	m := receiveN(t, e.receiver(t, "q", nil), 1)[0]
	if !bytes.Equal(m.Body, body) {
		t.Fatalf("body of %d bytes came back as %d bytes", len(body), len(m.Body))
	}
	big := bytes.Repeat([]byte("x"), 300*1024)
	err := e.sender(t, "q").SendMessage(ctxT(t), &azservicebus.Message{Body: big}, nil)
	if !errors.Is(err, azservicebus.ErrMessageTooLarge) {
		t.Fatalf("SendMessage(300 KiB) = %v, want ErrMessageTooLarge", err)
	}
}

// 11. unknown entity: the put-token for it is refused with 404, which the
// client reports as CodeNotFound (see conformance_test.go for receivers).
func TestUnknownEntity(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	s := e.sender(t, "nope")
	err := s.SendMessage(ctxT(t), &azservicebus.Message{Body: []byte("x")}, nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeNotFound {
		t.Fatalf("send to unknown queue: %v, want CodeNotFound", err)
	}
}

// 12. duplicate detection by MessageId within the window.
func TestDuplicateDetection(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{DuplicateDetection: true, DuplicateWindow: time.Minute})
	s := e.sender(t, "q")
	send(t, s, "a", "run/train/1")
	send(t, s, "b", "run/train/1") // succeeds for the sender, dropped
	if _, err := s.ScheduleMessages(ctxT(t), []*azservicebus.Message{{Body: []byte("c"), MessageID: to("run/train/1")}}, e.clock.Now().Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	msgs, _ := e.Server.Messages("q")
	if len(msgs) != 1 || string(msgs[0].Body) != "a" {
		t.Fatalf("queue = %+v, want only the first message", msgs)
	}
	e.clock.Advance(time.Minute)
	send(t, s, "d", "run/train/1") // outside the window: accepted
	if msgs, _ := e.Server.Messages("q"); len(msgs) != 2 {
		t.Fatalf("after the window: %d messages, want 2", len(msgs))
	}
}

func to[T any](v T) *T { return &v }

// 13. competing receivers share the queue; each message goes to one.
func TestCompetingReceivers(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	s := e.sender(t, "q")
	const n = 20
	for i := range n {
		send(t, s, fmt.Sprint(i), "")
	}
	c2, err := azservicebus.NewClientFromConnectionString(e.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c2.Close(context.Background()) })
	r1 := e.receiver(t, "q", nil)
	r2, err := c2.NewReceiverForQueue("q", nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) >= n }
	deadline := ctxT(t)
	for _, r := range []*azservicebus.Receiver{r1, r2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done() && deadline.Err() == nil {
				ctx, cancel := context.WithTimeout(deadline, 200*time.Millisecond)
				ms, _ := r.ReceiveMessages(ctx, 3, nil)
				cancel()
				for _, m := range ms {
					if err := r.CompleteMessage(context.Background(), m, nil); err != nil {
						t.Errorf("CompleteMessage: %v", err)
					}
					mu.Lock()
					seen[string(m.Body)]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("received %d distinct messages, want %d", len(seen), n)
	}
	for b, k := range seen {
		if k != 1 {
			t.Errorf("message %s received %d times", b, k)
		}
	}
}
