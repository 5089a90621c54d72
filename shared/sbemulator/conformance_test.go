package sbemulator_test

import (
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/langsync/langsync/shared/sbemulator"
)

// Behaviours where the stand-in once differed from the service (issue 19,
// item 6), each checked through the real client.

// An unknown entity is CodeNotFound for senders, receivers, dead-letter
// receivers and peeks alike: the service refuses the $cbs put-token for it
// with status 404 (docs/reference/servicebus-amqp.md#cbs-put-token).
func TestUnknownEntityIsCodeNotFound(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	wantNotFound := func(what string, err error) {
		t.Helper()
		var sbErr *azservicebus.Error
		if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeNotFound {
			t.Fatalf("%s: %v, want azservicebus.Error{Code: CodeNotFound}", what, err)
		}
	}
	wantNotFound("SendMessage", e.sender(t, "nope").SendMessage(ctxT(t), &azservicebus.Message{Body: []byte("x")}, nil))
	ms, err := e.receiver(t, "nope", nil).ReceiveMessages(ctxT(t), 1, nil)
	if len(ms) != 0 {
		t.Fatalf("received %d messages from an unknown queue", len(ms))
	}
	wantNotFound("ReceiveMessages", err)
	_, err = e.receiver(t, "nope", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter}).ReceiveMessages(ctxT(t), 1, nil)
	wantNotFound("ReceiveMessages($DeadLetterQueue)", err)
	_, err = e.receiver(t, "nope", nil).PeekMessages(ctxT(t), 1, nil)
	wantNotFound("PeekMessages", err)
	// The same client goes on working with a queue that exists.
	send(t, e.sender(t, "q"), "ok", "")
	if m := receiveN(t, e.receiver(t, "q", nil), 1)[0]; string(m.Body) != "ok" {
		t.Fatalf("got %q", m.Body)
	}
}

// Abandoning a message received from the dead-letter queue puts it back
// there with its delivery count unchanged (and the properties to modify
// applied); only abandons in the queue itself count deliveries.
func TestDeadLetterAbandonKeepsDeliveryCount(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{MaxDeliveryCount: 3})
	send(t, e.sender(t, "q"), "hello", "")
	r := e.receiver(t, "q", nil)
	m := receiveN(t, r, 1)[0]
	if err := r.AbandonMessage(ctxT(t), m, nil); err != nil {
		t.Fatal(err)
	}
	m = receiveN(t, r, 1)[0]
	if m.DeliveryCount != 2 {
		t.Fatalf("DeliveryCount after one abandon = %d, want 2", m.DeliveryCount)
	}
	if err := r.DeadLetterMessage(ctxT(t), m, nil); err != nil {
		t.Fatal(err)
	}
	dr := e.receiver(t, "q", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	d := receiveN(t, dr, 1)[0]
	if d.DeliveryCount != 2 {
		t.Fatalf("dead-lettered DeliveryCount = %d, want 2 (dead-lettering counts nothing)", d.DeliveryCount)
	}
	// More abandons than MaxDeliveryCount: a dead-lettered message has
	// nowhere further to go, and its count stays put.
	for i := range 4 {
		if err := dr.AbandonMessage(ctxT(t), d, &azservicebus.AbandonMessageOptions{PropertiesToModify: map[string]any{"try": int64(i)}}); err != nil {
			t.Fatalf("abandon %d in the dead-letter queue: %v", i, err)
		}
		d = receiveN(t, dr, 1)[0]
		if d.DeliveryCount != 2 || d.ApplicationProperties["try"] != int64(i) {
			t.Fatalf("after abandon %d in the dead-letter queue: DeliveryCount %d, try %v; want 2 and %d", i, d.DeliveryCount, d.ApplicationProperties["try"], i)
		}
	}
	if infos, err := e.Server.Messages("q/$DeadLetterQueue"); err != nil || len(infos) != 1 || infos[0].DeliveryCount != 1 {
		t.Fatalf("server view of the dead-letter queue = %+v, %v; want one message with 1 failed delivery", infos, err)
	}
	if err := dr.CompleteMessage(ctxT(t), d, nil); err != nil {
		t.Fatal(err)
	}
}

// Every delivery's header carries first-acquirer false, as the service's
// do, on the first delivery as on redeliveries.
func TestFirstAcquirerFalse(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	send(t, e.sender(t, "q"), "hello", "")
	r := e.receiver(t, "q", nil)
	for i := range 2 {
		m := receiveN(t, r, 1)[0]
		h := m.RawAMQPMessage.Header
		if h == nil {
			t.Fatalf("delivery %d has no header section", i+1)
		}
		if h.FirstAcquirer {
			t.Fatalf("delivery %d: first-acquirer = true, want false", i+1)
		}
		if h.DeliveryCount != uint32(i) {
			t.Fatalf("delivery %d: header delivery-count = %d, want %d", i+1, h.DeliveryCount, i)
		}
		if err := r.AbandonMessage(ctxT(t), m, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// DeadLetterSource stays unset on messages dead-lettered by the receiver,
// by MaxDeliveryCount and by expiry: the service sets it only on messages
// auto-forwarded out of a dead-letter queue, which the stand-in never does.
func TestDeadLetterSourceNotSet(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{MaxDeliveryCount: 1, DeadLetterOnExpiration: true})
	s := e.sender(t, "q")
	send(t, s, "by receiver", "")
	send(t, s, "by delivery count", "")
	r := e.receiver(t, "q", nil)
	ms := receiveN(t, r, 2)
	if err := r.DeadLetterMessage(ctxT(t), ms[0], nil); err != nil {
		t.Fatal(err)
	}
	if err := r.AbandonMessage(ctxT(t), ms[1], nil); err != nil {
		t.Fatal(err)
	}
	ttl := time.Second
	if err := s.SendMessage(ctxT(t), &azservicebus.Message{Body: []byte("by expiry"), TimeToLive: &ttl}, nil); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)
	dr := e.receiver(t, "q", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	for _, d := range receiveN(t, dr, 3) {
		if d.DeadLetterSource != nil {
			t.Errorf("%s: DeadLetterSource = %q, want nil", d.Body, *d.DeadLetterSource)
		}
		if d.DeadLetterReason == nil {
			t.Errorf("%s: no DeadLetterReason", d.Body)
		}
	}
	// Peeking shows the same.
	peeked, err := dr.PeekMessages(ctxT(t), 10, nil)
	if err != nil || len(peeked) != 3 {
		t.Fatalf("PeekMessages = %d messages, %v; want 3", len(peeked), err)
	}
	for _, p := range peeked {
		if p.DeadLetterSource != nil {
			t.Errorf("peeked %s: DeadLetterSource = %q, want nil", p.Body, *p.DeadLetterSource)
		}
	}
}
