package sbemulator_test

import (
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/langsync/langsync/shared/sbemulator"
)

// Every user-visible property survives the trip, with its AMQP type.
func TestMessagePropertiesRoundTrip(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	ttl := 90 * time.Second
	sent := &azservicebus.Message{
		Body:          []byte(`{"v":1}`),
		MessageID:     to("r/train/3"),
		ContentType:   to("application/json"),
		CorrelationID: to("corr-1"),
		Subject:       to("wake"),
		ReplyTo:       to("elsewhere"),
		To:            to("someone"),
		TimeToLive:    &ttl,
		ApplicationProperties: map[string]any{
			"s": "text", "i32": int32(-5), "i64": int64(1) << 40, "b": true, "f": 2.5,
			"t": time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), "u8": uint8(3),
		},
	}
	if err := e.sender(t, "q").SendMessage(ctxT(t), sent, nil); err != nil {
		t.Fatal(err)
	}
	m := receiveN(t, e.receiver(t, "q", nil), 1)[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"MessageID", m.MessageID, "r/train/3"},
		{"ContentType", *m.ContentType, "application/json"},
		{"CorrelationID", *m.CorrelationID, "corr-1"},
		{"Subject", *m.Subject, "wake"},
		{"ReplyTo", *m.ReplyTo, "elsewhere"},
		{"To", *m.To, "someone"},
		{"TimeToLive", *m.TimeToLive, ttl},
		{"Body", string(m.Body), `{"v":1}`},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for k, want := range sent.ApplicationProperties {
		got := m.ApplicationProperties[k]
		if wt, ok := want.(time.Time); ok {
			if gt, ok := got.(time.Time); !ok || !gt.Equal(wt) {
				t.Errorf("property %s = %#v, want %v", k, got, wt)
			}
			continue
		}
		if got != want {
			t.Errorf("property %s = %#v (%T), want %#v (%T)", k, got, got, want, want)
		}
	}
}

// A deferred message received by sequence number is settled through the
// management link: abandon keeps it deferred (count+1), dead-letter moves it.
func TestDeferredSettledThroughManagement(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	send(t, e.sender(t, "q"), "d", "")
	r := e.receiver(t, "q", nil)
	m := receiveN(t, r, 1)[0]
	seq := *m.SequenceNumber
	if err := r.DeferMessage(ctxT(t), m, nil); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReceiveDeferredMessages(ctxT(t), []int64{seq}, nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("ReceiveDeferredMessages: %v", err)
	}
	if err := r.AbandonMessage(ctxT(t), got[0], nil); err != nil {
		t.Fatalf("AbandonMessage(deferred): %v", err)
	}
	if c := counts(t, e.Server, "q"); c.Deferred != 1 {
		t.Fatalf("after abandon: %+v, want still deferred", c)
	}
	got, err = r.ReceiveDeferredMessages(ctxT(t), []int64{seq}, nil)
	if err != nil || len(got) != 1 || got[0].DeliveryCount != 2 {
		t.Fatalf("second ReceiveDeferredMessages: %d messages, %v (want DeliveryCount 2 after one abandon)", len(got), err)
	}
	if err := r.RenewMessageLock(ctxT(t), got[0], nil); err != nil {
		t.Fatalf("RenewMessageLock(deferred): %v", err)
	}
	if err := r.DeadLetterMessage(ctxT(t), got[0], &azservicebus.DeadLetterOptions{Reason: to("gave up")}); err != nil {
		t.Fatalf("DeadLetterMessage(deferred): %v", err)
	}
	dl, _ := e.Server.Messages("q/$DeadLetterQueue")
	if len(dl) != 1 || dl[0].DeadLetterReason != "gave up" || dl[0].SequenceNumber != seq {
		t.Fatalf("dead-letter queue = %+v", dl)
	}
	// The DLQ can be peeked like any queue.
	peeked, err := e.receiver(t, "q", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter}).PeekMessages(ctxT(t), 10, nil)
	if err != nil || len(peeked) != 1 || string(peeked[0].Body) != "d" {
		t.Fatalf("PeekMessages(DLQ) = %d messages, %v", len(peeked), err)
	}
	// Asking for a sequence number that is not deferred fails cleanly.
	_, err = r.ReceiveDeferredMessages(ctxT(t), []int64{seq + 100}, nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeNotFound {
		t.Fatalf("ReceiveDeferredMessages(unknown) = %v, want CodeNotFound", err)
	}
}

// Refused attaches do not poison the connection: the same client can go on
// using good queues afterwards, and the DLQ of an unknown queue is refused too.
func TestUnknownEntityThenKnown(t *testing.T) {
	e := start(t, sbemulator.QueueConfig{})
	for _, name := range []string{"nope", "nope2"} {
		err := e.sender(t, name).SendMessage(ctxT(t), &azservicebus.Message{Body: []byte("x")}, nil)
		var sbErr *azservicebus.Error
		if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeNotFound {
			t.Fatalf("send to %s: %v, want CodeNotFound", name, err)
		}
	}
	_, err := e.receiver(t, "nope", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter}).ReceiveMessages(ctxT(t), 1, nil)
	if err == nil {
		t.Fatal("receive from the DLQ of an unknown queue succeeded")
	}
	send(t, e.sender(t, "q"), "ok", "")
	if m := receiveN(t, e.receiver(t, "q", nil), 1)[0]; string(m.Body) != "ok" {
		t.Fatalf("got %q", m.Body)
	}
}

// Message time to live: from the message's TTL or the queue default; expired
// messages are dropped or, when configured, dead-lettered.
func TestMessageExpiry(t *testing.T) {
	tests := []struct {
		name       string
		cfg        sbemulator.QueueConfig
		ttl        time.Duration // 0: none on the message
		wantDLQ    bool
		wantExpire bool
	}{
		{"MessageTTLDropped", sbemulator.QueueConfig{}, time.Minute, false, true},
		{"QueueDefaultTTL", sbemulator.QueueConfig{DefaultMessageTimeToLive: time.Minute}, 0, false, true},
		{"DeadLetterOnExpiration", sbemulator.QueueConfig{DeadLetterOnExpiration: true}, time.Minute, true, true},
		{"NoTTLNeverExpires", sbemulator.QueueConfig{}, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, tt.cfg)
			m := &azservicebus.Message{Body: []byte("x")}
			if tt.ttl > 0 {
				m.TimeToLive = &tt.ttl
			}
			if err := e.sender(t, "q").SendMessage(ctxT(t), m, nil); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(59 * time.Second)
			if c := counts(t, e.Server, "q"); c.Active != 1 {
				t.Fatalf("before expiry: %+v", c)
			}
			e.clock.Advance(time.Second)
			c := counts(t, e.Server, "q")
			if got := c.Active == 0; got != tt.wantExpire {
				t.Fatalf("after a minute: %+v, expired=%v want %v", c, got, tt.wantExpire)
			}
			if got := c.DeadLetter == 1; got != tt.wantDLQ {
				t.Fatalf("after a minute: %+v, dead-lettered=%v want %v", c, got, tt.wantDLQ)
			}
			if tt.wantDLQ {
				dl, _ := e.Server.Messages("q/$DeadLetterQueue")
				if dl[0].DeadLetterReason != sbemulator.ReasonTTLExpired {
					t.Fatalf("reason %q", dl[0].DeadLetterReason)
				}
			}
		})
	}
}
