package sbemulator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/langsync/langsync/shared/sbemulator"
	"github.com/langsync/langsync/shared/sbemulator/sbemulatortest"
)

// startReal runs the stand-in on the real clock (the sweeper's timer path).
func startReal(t *testing.T, cfg sbemulator.QueueConfig) *env {
	t.Helper()
	emu := sbemulatortest.Start(t, &sbemulator.Options{Queues: []sbemulator.QueueConfig{cfg}})
	client, err := azservicebus.NewClientFromConnectionString(emu.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(context.Background()) })
	return &env{Emulator: emu, client: client}
}

// On the real clock a scheduled message appears when due, and an unsettled
// lock expires into a redelivery, with no test-side waiting beyond the
// blocking receive.
func TestRealClockScheduleAndLockExpiry(t *testing.T) {
	e := startReal(t, sbemulator.QueueConfig{Name: "q", LockDuration: 150 * time.Millisecond})
	s := e.sender(t, "q")
	at := time.Now().Add(100 * time.Millisecond)
	if _, err := s.ScheduleMessages(ctxT(t), []*azservicebus.Message{{Body: []byte("soon")}}, at, nil); err != nil {
		t.Fatal(err)
	}
	r := e.receiver(t, "q", nil)
	m := receiveN(t, r, 1)[0]
	if time.Now().Before(at.Truncate(time.Millisecond)) { // timestamps carry milliseconds
		t.Fatalf("scheduled message delivered %v early", time.Until(at))
	}
	m2 := receiveN(t, r, 1)[0] // not settled: comes back when the lock expires
	if *m2.SequenceNumber != *m.SequenceNumber || m2.DeliveryCount != 2 {
		t.Fatalf("redelivery seq %d count %d, want seq %d count 2", *m2.SequenceNumber, m2.DeliveryCount, *m.SequenceNumber)
	}
	if !time.Now().After(*m.LockedUntil) {
		t.Fatalf("redelivered before the first lock (%v) expired", m.LockedUntil)
	}
	if err := r.CompleteMessage(ctxT(t), m2, nil); err != nil {
		t.Fatal(err)
	}
}

// Session receivers are refused with a clear condition instead of half-working.
func TestSessionsRefused(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	_, err := e.client.AcceptSessionForQueue(ctxT(t), "q", "s1", nil)
	if err == nil || !containsAll(err.Error(), "not-implemented", "Sessions are not supported") {
		t.Fatalf("AcceptSessionForQueue = %v, want amqp:not-implemented", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
