package sbemulator_test

import (
	"testing"

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
