package amqp

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	ts := time.UnixMilli(1763632800123).UTC()
	tests := []struct {
		name string
		v    any
	}{
		{"null", nil},
		{"true", true},
		{"false", false},
		{"ubyte", uint8(200)},
		{"ushort", uint16(65000)},
		{"uint0", uint32(0)},
		{"smalluint", uint32(7)},
		{"uint", uint32(70000)},
		{"ulong0", uint64(0)},
		{"smallulong", uint64(9)},
		{"ulong", uint64(1 << 40)},
		{"byte", int8(-3)},
		{"short", int16(-300)},
		{"smallint", int32(-7)},
		{"int", int32(100000)},
		{"smalllong", int64(42)},
		{"long", int64(-1 << 40)},
		{"float", float32(1.5)},
		{"double", float64(-2.25)},
		{"char", Char('é')},
		{"timestamp", ts},
		{"uuid", UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
		{"vbin8", []byte("abc")},
		{"vbin32", bytes.Repeat([]byte("x"), 300)},
		{"str8", "héllo"},
		{"str32", string(bytes.Repeat([]byte("y"), 256))},
		{"sym8", Symbol("x-opt-lock-token")},
		{"list0", List{}},
		{"list", List{"a", int64(1), List{true}}},
		{"map", Map{{Key: Symbol("k"), Value: "v"}, {Key: "n", Value: int32(-1)}}},
		{"array long", Array{Code: CodeLong, Elems: []any{int64(1), int64(-2)}}},
		{"array timestamp", Array{Code: CodeTimestamp, Elems: []any{ts}}},
		{"array uuid", Array{Code: CodeUUID, Elems: []any{UUID{9}}}},
		{"array symbol", Array{Code: CodeSym32, Elems: []any{Symbol("ANONYMOUS"), Symbol("PLAIN")}}},
		{"described", Described{Descriptor: uint64(0x77), Value: "body"}},
		{"decimal", Decimal{Code: 0x74, Raw: []byte{1, 2, 3, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Append(nil, tt.v)
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(% x): %v", b, err)
			}
			if !reflect.DeepEqual(got, tt.v) {
				t.Fatalf("round trip: got %#v, want %#v", got, tt.v)
			}
		})
	}
}

// Encodings the client uses that the encoder never produces.
func TestDecodeForeignEncodings(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want any
	}{
		{"bool octet", []byte{0x56, 0x01}, true},
		{"list8", []byte{0xc0, 0x03, 0x02, 0x41, 0x42}, List{true, false}},
		{"map8", []byte{0xc1, 0x05, 0x02, 0xa3, 0x01, 'k', 0x40}, Map{{Key: Symbol("k"), Value: nil}}},
		{"array8 of sym8", []byte{0xe0, 0x06, 0x02, 0xa3, 0x01, 'a', 0x01, 'b'}, Array{Code: 0xa3, Elems: []any{Symbol("a"), Symbol("b")}}},
		{"str32", []byte{0xb1, 0, 0, 0, 2, 'h', 'i'}, "hi"},
		{"sym32", []byte{0xb3, 0, 0, 0, 1, 's'}, Symbol("s")},
		{"long", []byte{0x81, 0, 0, 0, 0, 0, 0, 0, 5}, int64(5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for name, in := range map[string][]byte{
		"truncated uint": {0x70, 0, 0},
		"unknown code":   {0x99},
		"list overruns":  {0xc0, 0x10, 0x01, 0x40},
		"odd map":        {0xc1, 0x02, 0x01, 0x40},
		"trailing":       {0x40, 0x40},
		"empty":          {},
	} {
		if _, err := Decode(in); err == nil {
			t.Errorf("%s: Decode(% x) succeeded, want an error", name, in)
		}
	}
}

func TestFrameRoundTrip(t *testing.T) {
	b := AppendFrame(nil, FrameTypeAMQP, 7, Transfer, List{uint32(1), uint32(2), []byte("tag"), nil, nil}, []byte("payload"))
	f, err := ReadFrame(bytes.NewReader(b), 1024)
	if err != nil {
		t.Fatal(err)
	}
	if f.Channel != 7 || f.Code != Transfer || len(f.Fields) != 3 || string(f.Payload) != "payload" {
		t.Fatalf("frame = %+v", f)
	}
	if _, err := ReadFrame(bytes.NewReader(b), 16); err == nil {
		t.Fatal("a frame over max-frame-size was accepted")
	}
	hb, err := ReadFrame(bytes.NewReader(EmptyFrame), 1024)
	if err != nil || hb.Fields != nil || hb.Code != 0 {
		t.Fatalf("heartbeat frame = %+v, %v", hb, err)
	}
}

func TestParseMessageKeepsRawSections(t *testing.T) {
	var b []byte
	b = Section(b, Header, List{true})
	b = Section(b, MessageAnnotations, Map{{Key: Symbol("x-opt-scheduled-enqueue-time"), Value: time.UnixMilli(5).UTC()}})
	b = Section(b, Properties, List{"id-1"})
	b = Section(b, ApplicationProperties, Map{{Key: "n", Value: int64(42)}})
	b = Section(b, Data, []byte("hello"))
	b = Section(b, Data, []byte(" world"))
	m, err := ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageID() != "id-1" || string(m.Data()) != "hello world" {
		t.Fatalf("id %q data %q", m.MessageID(), m.Data())
	}
	if v, _ := m.AppProps.Get("n"); v != int64(42) {
		t.Fatalf("app property n = %#v", v)
	}
	if !bytes.Equal(m.AppPropsRaw, Section(nil, ApplicationProperties, Map{{Key: "n", Value: int64(42)}})) {
		t.Fatal("raw application-properties not kept")
	}
	if !bytes.HasSuffix(b, m.Rest) || len(m.Rest) == 0 {
		t.Fatal("body bytes not kept verbatim")
	}
}
