package sbemulator

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/sbemulator/internal/amqp"
)

// An idle connection gets empty frames, so go-amqp's 60 s read deadline never
// fires (docs/reference/servicebus-amqp.md#sasl-open-and-heartbeats). Raw wire:
// SASL ANONYMOUS, open, then wait for a heartbeat.
func TestIdleConnectionGetsHeartbeats(t *testing.T) {
	srv, err := New(Options{Heartbeat: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	nc := rawOpen(t, srv)
	for i := 0; i < 2; i++ {
		f, err := amqp.ReadFrame(nc, 1<<20)
		if err != nil {
			t.Fatalf("waiting for heartbeat %d: %v", i, err)
		}
		if f.Code != 0 || f.Fields != nil {
			t.Fatalf("got frame 0x%x, want an empty heartbeat frame", f.Code)
		}
	}
}

// A client that sends an AMQP header the server does not speak (here the
// TLS protocol id, 2) gets the header it does speak back and is
// disconnected; the server keeps serving others. (Bytes that are not an
// AMQP header at all go to the management endpoint: TestListenerDemux.)
func TestBadProtocolHeader(t *testing.T) {
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	nc, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write([]byte("AMQP\x02\x01\x00\x00"))
	got, _ := io.ReadAll(nc)
	if !bytes.Equal(got, amqp.HeaderAMQP) {
		t.Fatalf("server answered %q, want the AMQP header then EOF", got)
	}
}

// rawOpen dials srv and does SASL ANONYMOUS and open by hand.
func rawOpen(t *testing.T, srv *Server) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	hdr := make([]byte, 8)
	expectHeader := func(want []byte) {
		t.Helper()
		if _, err := io.ReadFull(nc, hdr); err != nil || !bytes.Equal(hdr, want) {
			t.Fatalf("header = %q, %v; want %q", hdr, err, want)
		}
	}
	nc.Write(amqp.HeaderSASL)
	expectHeader(amqp.HeaderSASL)
	f, err := amqp.ReadFrame(nc, 1<<16)
	if err != nil || f.Code != amqp.SASLMechanisms {
		t.Fatalf("sasl-mechanisms: %+v, %v", f, err)
	}
	nc.Write(amqp.AppendFrame(nil, amqp.FrameTypeSASL, 0, amqp.SASLInit, amqp.List{amqp.Symbol("ANONYMOUS"), []byte("anonymous")}, nil))
	if f, err = amqp.ReadFrame(nc, 1<<16); err != nil || f.Code != amqp.SASLOutcome || f.Fields.Field(0) != uint8(0) {
		t.Fatalf("sasl-outcome: %+v, %v", f, err)
	}
	nc.Write(amqp.HeaderAMQP)
	expectHeader(amqp.HeaderAMQP)
	nc.Write(amqp.AppendFrame(nil, amqp.FrameTypeAMQP, 0, amqp.Open, amqp.List{"test", nil, uint32(65536)}, nil))
	if f, err = amqp.ReadFrame(nc, 1<<20); err != nil || f.Code != amqp.Open {
		t.Fatalf("open: %+v, %v", f, err)
	}
	return nc
}

// A protocol error closes that connection with an AMQP error; the server
// keeps accepting others.
func TestProtocolErrorClosesConnection(t *testing.T) {
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	nc := rawOpen(t, srv)
	nc.Write(amqp.AppendFrame(nil, amqp.FrameTypeAMQP, 5, amqp.Flow, amqp.List{uint32(0), uint32(1), uint32(0), uint32(1)}, nil))
	f, err := amqp.ReadFrame(nc, 1<<20)
	if err != nil || f.Code != amqp.Close {
		t.Fatalf("got %+v, %v; want close", f, err)
	}
	_, errFields, _ := amqp.DescribedList(f.Fields.Field(0))
	if errFields.Str(0) != "amqp:internal-error" || !strings.Contains(errFields.Str(1), "without a session") {
		t.Fatalf("close error = %v", errFields)
	}
	if _, err := amqp.ReadFrame(nc, 1<<20); err == nil {
		t.Fatal("connection still open after close")
	}
	rawOpen(t, srv) // still serving
}
