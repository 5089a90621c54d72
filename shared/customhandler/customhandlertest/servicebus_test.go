package customhandlertest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/langsync/langsync/shared/customhandler"
	"github.com/langsync/langsync/shared/entry/entrytest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sbemulator/sbemulatortest"
)

// sbSender is a customhandler.Sender over azservicebus for these tests (the
// product's sender is shared/queue).
type sbSender struct{ client *azservicebus.Client }

func (s sbSender) Send(ctx context.Context, q string, body []byte, id string) error {
	snd, err := s.client.NewSender(q, nil)
	if err != nil {
		return err
	}
	defer snd.Close(ctx)
	return snd.SendMessage(ctx, &azservicebus.Message{Body: body, MessageID: &id}, nil)
}

func (s sbSender) Schedule(ctx context.Context, q string, body []byte, id string, at time.Time) error {
	snd, err := s.client.NewSender(q, nil)
	if err != nil {
		return err
	}
	defer snd.Close(ctx)
	_, err = snd.ScheduleMessages(ctx, []*azservicebus.Message{{Body: body, MessageID: &id}}, at, nil)
	return err
}

type wireFixture struct {
	*simFixture
	emu    *sbemulatortest.Emulator
	client *azservicebus.Client
}

// newWire runs the stand-in, the handler (its wake-ups go to the stand-in)
// and the simulator receiving from the stand-in.
func newWire(t *testing.T, p *entrytest.Pipeline) *wireFixture {
	t.Helper()
	emu := sbemulatortest.Start(t, nil)
	client, err := azservicebus.NewClientFromConnectionString(emu.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(context.Background()) })
	f := &simFixture{p: p, keeper: &entrytest.Keeper{}, blobs: &memBlobs{}}
	h, err := customhandler.New(customhandler.Options{
		Runs: p, Starts: p, Status: p, Wakes: sbSender{client}, Failed: f.keeper,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f.host, err = New(Options{
		FunctionsDir: functionsDir(t), HandlerURL: srv.URL,
		Settings: func(k string) string {
			return map[string]string{"LANGSYNC_SERVICEBUS": emu.ConnectionString}[k]
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.host.Close(context.Background()) })
	return &wireFixture{simFixture: f, emu: emu, client: client}
}

func (w *wireFixture) send(t *testing.T, queue, body, id string) {
	t.Helper()
	if err := (sbSender{w.client}).Send(context.Background(), queue, []byte(body), id); err != nil {
		t.Fatal(err)
	}
}

func (w *wireFixture) receive(t *testing.T, function string) *Settlement {
	t.Helper()
	s, err := w.host.ReceiveOnce(context.Background(), function, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		t.Fatalf("no message for %s within 10s", function)
	}
	return s
}

func (w *wireFixture) counts(t *testing.T, queue string) (total, dead int) {
	t.Helper()
	c, err := w.emu.Server.Counts(queue)
	if err != nil {
		t.Fatal(err)
	}
	return c.Total(), c.DeadLetter
}

// TestWireChain: a forced replication on langsync-export runs export, whose
// wake-up goes over the stand-in to langsync-train, which the simulator
// delivers to the train function; both messages are completed.
func TestWireChain(t *testing.T) {
	p := &entrytest.Pipeline{
		OnReplicate: func(context.Context, langsync.ReplicateRequest) ([]langsync.Wake, error) {
			return []langsync.Wake{{Wakeup: langsync.Wakeup{Run: "r1", Step: "train", Seq: 4}, Project: "Tickets"}}, nil
		},
	}
	w := newWire(t, p)
	w.send(t, "langsync-export", `{"project":"Tickets"}`, "force-1")
	s := w.receive(t, "export")
	if !s.Completed || s.MessageID != "force-1" || s.DeliveryCount != 1 {
		t.Fatalf("settlement %+v, want force-1 completed on first delivery", s)
	}
	if !strings.Contains(string(s.Result.Request), `"MessageId":"\"force-1\""`) {
		t.Fatalf("invocation lacks the host's double-encoded MessageId: %s", s.Result.Request)
	}
	s = w.receive(t, "train")
	if !s.Completed || s.MessageID != "r1/train/4" {
		t.Fatalf("settlement %+v, want the wake-up r1/train/4 completed", s)
	}
	if c := p.CallsOf("Advance"); len(c) != 1 || c[0].Wakeup != (langsync.Wakeup{V: 1, Run: "r1", Step: "train", Seq: 4}) {
		t.Fatalf("Advance calls %+v", c)
	}
	for _, q := range []string{"langsync-export", "langsync-train"} {
		if total, dead := w.counts(t, q); total != 0 || dead != 0 {
			t.Fatalf("%s holds %d messages, %d dead-lettered; want none", q, total, dead)
		}
	}
}

// TestWireMalformedNotRetried: a malformed message is completed once, kept,
// and never comes back.
func TestWireMalformedNotRetried(t *testing.T) {
	w := newWire(t, &entrytest.Pipeline{})
	w.send(t, "langsync-import", `{"restore": "everything please"}`, "bad-1")
	s := w.receive(t, "import")
	if !s.Completed {
		t.Fatalf("malformed message abandoned (%v): it would be retried in vain", s.Result.Err)
	}
	if keys := w.keeper.Keys(); len(keys) != 1 || !strings.Contains(keys[0], "bad-1") {
		t.Fatalf("kept %v, want failed/<time>-bad-1.json", keys)
	}
	if total, dead := w.counts(t, "langsync-import"); total != 0 || dead != 0 {
		t.Fatalf("queue holds %d, DLQ %d; want 0 and 0", total, dead)
	}
	if s, err := w.host.ReceiveOnce(context.Background(), "import", 300*time.Millisecond); err != nil || s != nil {
		t.Fatalf("redelivered: %+v %v", s, err)
	}
}

// TestWireTransientRedelivered: a transient failure abandons the message;
// Service Bus redelivers it with DeliveryCount 2, and it then completes.
func TestWireTransientRedelivered(t *testing.T) {
	var calls atomic.Int32
	p := &entrytest.Pipeline{
		OnAdvance: func(context.Context, langsync.Wakeup) ([]langsync.Wake, error) {
			if calls.Add(1) == 1 {
				return nil, errors.New("authoring: connection reset")
			}
			return nil, nil
		},
	}
	w := newWire(t, p)
	w.send(t, "langsync-deploy", `{"v":1,"run":"r9","step":"deploy","seq":3}`, "r9/deploy/3")
	if s := w.receive(t, "deploy"); s.Completed || s.Result.StatusCode != 500 {
		t.Fatalf("first delivery %+v, want abandoned after a 500", s)
	}
	s := w.receive(t, "deploy")
	if !s.Completed || s.DeliveryCount != 2 {
		t.Fatalf("second delivery %+v, want completed with DeliveryCount 2", s)
	}
	if !strings.Contains(string(s.Result.Request), `"DeliveryCount":"2"`) {
		t.Fatalf("invocation lacks DeliveryCount \"2\": %s", s.Result.Request)
	}
	if total, _ := w.counts(t, "langsync-deploy"); total != 0 {
		t.Fatalf("queue holds %d after completion", total)
	}
}

// TestWireRun: Run receives for every queue until cancelled.
func TestWireRun(t *testing.T) {
	done := make(chan langsync.Wakeup, 1)
	p := &entrytest.Pipeline{
		OnAdvance: func(_ context.Context, wk langsync.Wakeup) ([]langsync.Wake, error) {
			done <- wk
			return nil, nil
		},
	}
	w := newWire(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.host.Run(ctx) }()
	w.send(t, "langsync-import", `{"v":1,"run":"r5","step":"import","seq":1}`, "r5/import/1")
	select {
	case wk := <-done:
		if wk.Run != "r5" {
			t.Fatalf("advanced %+v", wk)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not deliver the message within 20s")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestWireHandlerRestart: while the handler process is down the invocation
// fails and the message is abandoned; the simulator then waits for the new
// process (readiness probe) and the redelivery completes.
func TestWireHandlerRestart(t *testing.T) {
	p := &entrytest.Pipeline{}
	w := newWire(t, p)
	// Point the simulator at a port where nothing listens yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	w.host.opts.HandlerURL = "http://" + addr
	w.send(t, "langsync-train", `{"v":1,"run":"r3","step":"train","seq":2}`, "r3/train/2")

	type out struct {
		s   *Settlement
		err error
	}
	first := make(chan out, 1)
	go func() {
		s, err := w.host.ReceiveOnce(context.Background(), "train", 10*time.Second)
		first <- out{s, err}
	}()
	// The failed delivery is recorded before the simulator waits for the
	// handler; start the handler only then.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for len(w.host.Settlements()) == 0 {
		select {
		case <-deadline:
			t.Fatal("no failed delivery recorded")
		case <-tick.C:
		}
	}
	h, err := customhandler.New(customhandler.Options{Runs: p, Starts: p, Status: p, Wakes: &Sender{}, Failed: &entrytest.Keeper{},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("re-listening on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	o := <-first
	if o.err != nil || o.s == nil || o.s.Completed || o.s.Result.StatusCode != 0 {
		t.Fatalf("first delivery %+v %v, want abandoned after a connection error", o.s, o.err)
	}
	s := w.receive(t, "train")
	if !s.Completed || s.DeliveryCount != 2 || len(p.CallsOf("Advance")) != 1 {
		t.Fatalf("redelivery %+v (Advance calls %d), want completed with DeliveryCount 2", s, len(p.CallsOf("Advance")))
	}
}
