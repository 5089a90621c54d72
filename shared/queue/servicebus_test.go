package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/nettest"
	"github.com/langsync/langsync/shared/queue"
	"github.com/langsync/langsync/shared/queue/queuetest"
	"github.com/langsync/langsync/shared/sbemulator"
	"github.com/langsync/langsync/shared/sbemulator/sbemulatortest"
)

// The ServiceBus leg runs over the wire against the Service Bus stand-in,
// with the real azservicebus client on both sides.
func TestServiceBusContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) *queuetest.Harness {
		clock := sbemulator.NewFakeClock(t0)
		emu := sbemulatortest.Start(t, &sbemulator.Options{Clock: clock})
		sb, err := queue.NewServiceBus(emu.ConnectionString, &queue.Options{Now: clock.Now})
		if err != nil {
			t.Fatalf("NewServiceBus: %v", err)
		}
		t.Cleanup(func() { sb.Close(context.Background()) })
		rx := newReceivers(t, emu.ConnectionString)
		return &queuetest.Harness{
			Sender:  sb,
			Receive: rx.receive,
			Counts: func(q string) (int, int) {
				c, err := emu.Server.Counts(q)
				if err != nil {
					t.Fatal(err)
				}
				return c.Active, c.Scheduled
			},
			Now:     clock.Now,
			Advance: clock.Advance,
		}
	})
}

// receivers reads queues back with a separate azservicebus client, in
// peek-lock, completing what it takes.
type receivers struct {
	client *azservicebus.Client
	mu     sync.Mutex
	byName map[string]*azservicebus.Receiver
}

func newReceivers(t *testing.T, conn string) *receivers {
	c, err := azservicebus.NewClientFromConnectionString(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return &receivers{client: c, byName: map[string]*azservicebus.Receiver{}}
}

func (r *receivers) receive(ctx context.Context, q string) (queue.Message, error) {
	r.mu.Lock()
	rc := r.byName[q]
	if rc == nil {
		var err error
		if rc, err = r.client.NewReceiverForQueue(q, nil); err != nil {
			r.mu.Unlock()
			return queue.Message{}, err
		}
		r.byName[q] = rc
	}
	r.mu.Unlock()
	ms, err := rc.ReceiveMessages(ctx, 1, nil)
	if err != nil {
		return queue.Message{}, err
	}
	if len(ms) == 0 {
		return queue.Message{}, errors.New("no message")
	}
	m := ms[0]
	if err := rc.CompleteMessage(ctx, m, nil); err != nil {
		return queue.Message{}, err
	}
	return queue.Message{Queue: q, MessageID: m.MessageID, Body: m.Body, SequenceNumber: *m.SequenceNumber, EnqueuedTime: *m.EnqueuedTime}, nil
}

func TestParseSetting(t *testing.T) {
	tests := []struct {
		in   string
		want queue.SettingKind
		err  string
	}{
		{"Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true", queue.SettingConnectionString, ""},
		{"Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s3cr3t", queue.SettingConnectionString, ""},
		{"langsync-prod.servicebus.windows.net", queue.SettingNamespace, ""},
		{"", 0, "is empty"},
		{"https://x.servicebus.windows.net/", 0, "bare namespace host name"},
		{"langsync-prod", 0, "not fully qualified"},
	}
	for _, tt := range tests {
		got, err := queue.ParseSetting(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, queue.ErrInvalid) {
				t.Errorf("ParseSetting(%q) = %v, want error containing %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSetting(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// A malformed connection string is refused without echoing its key.
func TestNewServiceBusKeepsKeyOutOfErrors(t *testing.T) {
	const key = "c2VjcmV0LWtleS12YWx1ZQ=="
	_, err := queue.NewServiceBus("Endpoint=nope;SharedAccessKeyName=k;SharedAccessKey="+key, nil)
	if err == nil {
		t.Fatal("malformed connection string accepted")
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("error leaks the key: %v", err)
	}
	if !errors.Is(err, queue.ErrInvalid) {
		t.Fatalf("error = %v, want ErrInvalid", err)
	}
}

// A namespace setting builds a client with the given credential without
// connecting (nothing is dialled until the first send).
func TestNewServiceBusNamespace(t *testing.T) {
	sb, err := queue.NewServiceBus("langsync-prod.servicebus.windows.net", &queue.Options{Credential: noCredential{}})
	if err != nil {
		t.Fatalf("NewServiceBus(namespace): %v", err)
	}
	if err := sb.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// A send the stand-in rejects as busy is retried by the SDK and lands once.
func TestServiceBusRetriesBusy(t *testing.T) {
	emu := sbemulatortest.Start(t, nil)
	sb, err := queue.NewServiceBus(emu.ConnectionString, &queue.Options{Retry: &azservicebus.RetryOptions{MaxRetries: 3, RetryDelay: 5 * time.Millisecond, MaxRetryDelay: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close(context.Background()) })
	emu.Server.InjectFault(sbemulator.Fault{Op: "send", Count: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := queue.SendWakeup(ctx, sb, langsync.QueueTrain, langsync.Wakeup{Run: "r1", Step: "train", Seq: 1}, time.Time{}); err != nil {
		t.Fatalf("SendWakeup: %v", err)
	}
	msgs, _ := emu.Server.Messages(langsync.QueueTrain)
	if len(msgs) != 1 || msgs[0].MessageID != "r1/train/1" {
		t.Fatalf("queue = %+v, want one message r1/train/1", msgs)
	}
}

// The key in the connection string never reaches logs or errors, whether a
// send succeeds or fails.
func TestServiceBusKeepsKeyOutOfLogsAndErrors(t *testing.T) {
	const key = "dGhpcy1pcy10aGUta2V5"
	emu := sbemulatortest.Start(t, nil)
	conn := strings.Replace(emu.ConnectionString, "SAS_KEY_VALUE", key, 1)
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	sb, err := queue.NewServiceBus(conn, &queue.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sb.Send(ctx, langsync.QueueExport, []byte(`{"project":"p"}`), "force/p/1"); err != nil {
		t.Fatalf("Send: %v", err)
	}
	err = sb.Send(ctx, "langsync-missing", []byte("x"), "id")
	if !errors.Is(err, queue.ErrUnknownQueue) {
		t.Fatalf("Send to a missing queue = %v, want ErrUnknownQueue", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "force/p/1") {
		t.Fatalf("debug log does not mention the send: %q", logs.String())
	}
	if strings.Contains(logs.String(), key) || strings.Contains(err.Error(), key) {
		t.Fatalf("key leaked: logs %q error %q", logs.String(), err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// A namespace that accepts the connection and never answers: each attempt
// ends at the try timeout, each retry is reported with the namespace host
// and the attempt, and the error names the host and what to check. The
// bounds are the test's (3 attempts of 200 ms).
func TestServiceBusUnansweredNamespace(t *testing.T) {
	const key = "dGhpcy1pcy10aGUta2V5"
	silent := nettest.NewSilent(t)
	var mu sync.Mutex
	var events []queue.RetryEvent
	sb, err := queue.NewServiceBus("Endpoint=sb://"+silent.Addr+";SharedAccessKeyName=k;SharedAccessKey="+key+";UseDevelopmentEmulator=true", &queue.Options{
		Retry:      &azservicebus.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond},
		TryTimeout: 200 * time.Millisecond,
		Tries:      3,
		OnRetry: func(e queue.RetryEvent) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(context.Background())
	err = sb.Send(context.Background(), langsync.QueueExport, []byte(`{}`), "id-1")
	var na *queue.NoAnswerError
	if !errors.As(err, &na) || na.Endpoint != silent.Addr || na.Tries != 3 {
		t.Fatalf("Send = %v, want a NoAnswerError for %s after 3 tries", err, silent.Addr)
	}
	for _, want := range []string{"Service Bus " + silent.Addr + " did not answer within 200ms (3 tries)", "LANGSYNC_SERVICEBUS", langsync.QueueExport} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 {
		t.Fatalf("retries reported: %+v, want attempts 2 and 3", events)
	}
	for i, e := range events {
		if e.Endpoint != silent.Addr || e.Attempt != i+2 || e.Attempts != 3 || e.Err.Error() != "no answer within 200ms" {
			t.Errorf("retry %d = %+v", i, e)
		}
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("key leaked: %v", err)
	}
	// Every attempt dialled again: the SDK kept no half-open connection.
	silent.WaitAccepted(t, 3)
}

// A refused connection is retried by the SDK (not an attempt timeout) and
// reported naming the namespace host, without the key.
func TestServiceBusRefusedNamespace(t *testing.T) {
	const key = "dGhpcy1pcy10aGUta2V5"
	addr := nettest.Refused(t)
	var retried bool
	sb, err := queue.NewServiceBus("Endpoint=sb://"+addr+";SharedAccessKeyName=k;SharedAccessKey="+key+";UseDevelopmentEmulator=true", &queue.Options{
		Retry:   &azservicebus.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond},
		OnRetry: func(queue.RetryEvent) { retried = true },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(context.Background())
	err = sb.Send(context.Background(), langsync.QueueExport, []byte(`{}`), "id-1")
	if err == nil || !strings.Contains(err.Error(), "cannot reach Service Bus "+addr) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Send = %v, want a refused connection to %s", err, addr)
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("key leaked: %v", err)
	}
	if retried {
		t.Error("OnRetry called for errors the SDK retries itself")
	}
}
