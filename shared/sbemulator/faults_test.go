package sbemulator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/langsync/langsync/shared/sbemulator"
	"github.com/langsync/langsync/shared/sbemulator/sbemulatortest"
)

// fastRetries keeps the SDK's retry back-off short in fault tests.
func fastClient(t *testing.T, e *env) *azservicebus.Client {
	t.Helper()
	c, err := azservicebus.NewClientFromConnectionString(e.ConnectionString, &azservicebus.ClientOptions{
		RetryOptions: azservicebus.RetryOptions{MaxRetries: 3, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// 15. SDK recovery: connections dropped under a sender and a receiver; both
// recover, and a lock taken before the drop survives until it expires.
func TestRecoveryAfterDroppedConnections(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{LockDuration: time.Minute})
	c := fastClient(t, e)
	s, err := c.NewSender("q", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.NewReceiverForQueue("q", nil)
	if err != nil {
		t.Fatal(err)
	}
	send(t, s, "before", "")
	m := receiveN(t, r, 1)[0]
	if n := e.Server.DropConnections(); n == 0 {
		t.Fatal("DropConnections found no connection to drop")
	}
	send(t, s, "after", "")
	if cn := counts(t, e.Server, "q"); cn.Locked != 1 || cn.Active != 1 {
		t.Fatalf("after the drop: counts = %+v, want the old lock kept and 1 active", cn)
	}
	m2 := receiveN(t, r, 1)[0]
	if string(m2.Body) != "after" {
		t.Fatalf("after recovery got %q, want after", m2.Body)
	}
	if err := r.CompleteMessage(ctxT(t), m2, nil); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	m3 := receiveN(t, r, 1)[0]
	if string(m3.Body) != "before" || m3.DeliveryCount != 2 || *m3.SequenceNumber != *m.SequenceNumber {
		t.Fatalf("after lock expiry got %q DeliveryCount %d, want before with 2", m3.Body, m3.DeliveryCount)
	}
	if err := r.CompleteMessage(ctxT(t), m3, nil); err != nil {
		t.Fatal(err)
	}
	if cn := counts(t, e.Server, "q"); cn.Total() != 0 {
		t.Fatalf("counts = %+v, want empty", cn)
	}
}

func TestFaults(t *testing.T) {
	t.Run("SendServerBusyIsRetried", func(t *testing.T) {
		e := start(t, sbemulator.QueueConfig{})
		s, _ := fastClient(t, e).NewSender("q", nil)
		e.Server.InjectFault(sbemulator.Fault{Op: "send", Count: 2})
		send(t, s, "x", "")
		if msgs, _ := e.Server.Messages("q"); len(msgs) != 1 {
			t.Fatalf("queue holds %d messages, want 1", len(msgs))
		}
	})
	t.Run("SendFatalCondition", func(t *testing.T) {
		e := start(t, sbemulator.QueueConfig{})
		s, _ := fastClient(t, e).NewSender("q", nil)
		e.Server.InjectFault(sbemulator.Fault{Op: "send", Condition: "amqp:resource-limit-exceeded", Description: "quota exceeded"})
		err := s.SendMessage(ctxT(t), &azservicebus.Message{Body: []byte("x")}, nil)
		if err == nil || !strings.Contains(err.Error(), "resource-limit-exceeded") {
			t.Fatalf("SendMessage = %v, want resource-limit-exceeded", err)
		}
		if msgs, _ := e.Server.Messages("q"); len(msgs) != 0 {
			t.Fatalf("rejected message was stored")
		}
	})
	t.Run("RenewLock410", func(t *testing.T) {
		e := start(t, sbemulator.QueueConfig{})
		c := fastClient(t, e)
		s, _ := c.NewSender("q", nil)
		send(t, s, "x", "")
		r, _ := c.NewReceiverForQueue("q", nil)
		m := receiveN(t, r, 1)[0]
		e.Server.InjectFault(sbemulator.Fault{Op: "com.microsoft:renew-lock", Status: 410})
		var sbErr *azservicebus.Error
		if err := r.RenewMessageLock(ctxT(t), m, nil); !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeLockLost {
			t.Fatalf("RenewMessageLock = %v, want CodeLockLost", err)
		}
		if err := r.RenewMessageLock(ctxT(t), m, nil); err != nil {
			t.Fatalf("second RenewMessageLock (fault used up) = %v", err)
		}
	})
	t.Run("PutTokenRetried", func(t *testing.T) {
		e := start(t, sbemulator.QueueConfig{})
		e.Server.InjectFault(sbemulator.Fault{Op: "put-token", Status: 500})
		s, _ := fastClient(t, e).NewSender("q", nil)
		send(t, s, "x", "")
		if msgs, _ := e.Server.Messages("q"); len(msgs) != 1 {
			t.Fatalf("queue holds %d messages, want 1", len(msgs))
		}
	})
}

// With a key configured, put-token checks the SAS signature: the right key
// works, a wrong one gets CodeUnauthorizedAccess.
func TestSASKeyChecked(t *testing.T) {
	emu := sbemulatortest.Start(t, &sbemulator.Options{Key: "right-key", Queues: []sbemulator.QueueConfig{{Name: "q"}}})
	if !strings.Contains(emu.ConnectionString, "SharedAccessKey=right-key") {
		t.Fatalf("connection string %q does not carry the key", emu.ConnectionString)
	}
	for _, tt := range []struct {
		name, conn string
		ok         bool
	}{
		{"RightKey", emu.ConnectionString, true},
		{"WrongKey", strings.Replace(emu.ConnectionString, "right-key", "wrong-key", 1), false},
		{"WrongKeyName", strings.Replace(emu.ConnectionString, "RootManageSharedAccessKey", "Other", 1), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := azservicebus.NewClientFromConnectionString(tt.conn, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			s, _ := c.NewSender("q", nil)
			err = s.SendMessage(ctxT(t), &azservicebus.Message{Body: []byte("x")}, nil)
			if tt.ok {
				if err != nil {
					t.Fatalf("SendMessage: %v", err)
				}
				return
			}
			var sbErr *azservicebus.Error
			if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeUnauthorizedAccess {
				t.Fatalf("SendMessage = %v, want CodeUnauthorizedAccess", err)
			}
		})
	}
	if msgs, _ := emu.Server.Messages("q"); len(msgs) != 1 {
		t.Fatalf("%d messages stored, want 1 (only the right key)", len(msgs))
	}
}

// A forced detach of the queue's links: the SDK re-attaches and goes on
// sending and receiving; the lock taken before survives until it expires.
func TestDetachLinksRecovers(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	c := fastClient(t, e)
	s, _ := c.NewSender("q", nil)
	r, _ := c.NewReceiverForQueue("q", nil)
	send(t, s, "one", "")
	m := receiveN(t, r, 1)[0]
	if n := e.Server.DetachLinks("q"); n != 2 {
		t.Fatalf("DetachLinks detached %d links, want 2 (a sender and a receiver)", n)
	}
	send(t, s, "two", "")
	m2 := receiveN(t, r, 1)[0]
	if string(m2.Body) != "two" {
		t.Fatalf("after the detach got %q, want two", m2.Body)
	}
	if err := r.CompleteMessage(ctxT(t), m2, nil); err != nil {
		t.Fatal(err)
	}
	if cn := counts(t, e.Server, "q"); cn.Locked != 1 || cn.Total() != 1 {
		t.Fatalf("counts = %+v, want only the first message, still locked", cn)
	}
	e.clock.Advance(time.Minute)
	if m3 := receiveN(t, r, 1)[0]; *m3.SequenceNumber != *m.SequenceNumber || m3.DeliveryCount != 2 {
		t.Fatalf("after lock expiry got seq %d count %d", *m3.SequenceNumber, m3.DeliveryCount)
	}
}
