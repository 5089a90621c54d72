package sbemulator_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/langsync/langsync/shared/sbemulator"
	"github.com/langsync/langsync/shared/sbemulator/sbemulatortest"
)

// env is one stand-in plus a real azservicebus client connected to it.
type env struct {
	*sbemulatortest.Emulator
	client *azservicebus.Client
	clock  *sbemulator.FakeClock
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// start runs a stand-in with one queue "q" (configured by cfg) and a fake
// clock, and connects the real client.
func start(t testing.TB, cfg sbemulator.QueueConfig) *env {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "q"
	}
	clock := sbemulator.NewFakeClock(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	emu := sbemulatortest.Start(t, &sbemulator.Options{Queues: []sbemulator.QueueConfig{cfg}, Clock: clock})
	client, err := azservicebus.NewClientFromConnectionString(emu.ConnectionString, nil)
	if err != nil {
		t.Fatalf("NewClientFromConnectionString: %v", err)
	}
	t.Cleanup(func() { client.Close(context.Background()) })
	return &env{Emulator: emu, client: client, clock: clock}
}

func (e *env) sender(t testing.TB, queue string) *azservicebus.Sender {
	t.Helper()
	s, err := e.client.NewSender(queue, nil)
	if err != nil {
		t.Fatalf("NewSender(%s): %v", queue, err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func (e *env) receiver(t testing.TB, queue string, opts *azservicebus.ReceiverOptions) *azservicebus.Receiver {
	t.Helper()
	r, err := e.client.NewReceiverForQueue(queue, opts)
	if err != nil {
		t.Fatalf("NewReceiverForQueue(%s): %v", queue, err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func send(t testing.TB, s *azservicebus.Sender, body string, id string) {
	t.Helper()
	m := &azservicebus.Message{Body: []byte(body)}
	if id != "" {
		m.MessageID = &id
	}
	if err := s.SendMessage(ctxT(t), m, nil); err != nil {
		t.Fatalf("SendMessage(%q): %v", body, err)
	}
}

// receiveN receives exactly n messages (waiting as long as the test context).
func receiveN(t testing.TB, r *azservicebus.Receiver, n int) []*azservicebus.ReceivedMessage {
	t.Helper()
	var got []*azservicebus.ReceivedMessage
	ctx := ctxT(t)
	for len(got) < n {
		ms, err := r.ReceiveMessages(ctx, n-len(got), nil)
		if err != nil {
			t.Fatalf("ReceiveMessages after %d of %d: %v", len(got), n, err)
		}
		got = append(got, ms...)
	}
	return got
}

func counts(t testing.TB, srv *sbemulator.Server, queue string) sbemulator.Counts {
	t.Helper()
	c, err := srv.Counts(queue)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
