package amqp

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecode: arbitrary bytes never panic the decoder, the frame reader or
// the message splitter, and whatever decodes re-encodes to something that
// decodes to the same value.
func FuzzDecode(f *testing.F) {
	f.Add(Append(nil, Map{{Key: Symbol("k"), Value: List{int64(1), "x", UUID{1}}}}))
	f.Add(Append(nil, Array{Code: CodeLong, Elems: []any{int64(7)}}))
	f.Add(Append(nil, time.UnixMilli(1).UTC()))
	f.Add(AppendFrame(nil, FrameTypeAMQP, 1, Attach, List{"name", uint32(0), true}, nil))
	f.Add(Section(Section(nil, Properties, List{"id"}), Data, []byte("body")))
	f.Add([]byte{0xf0, 0, 0, 0, 5, 0, 0, 0, 255, 0x81})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ReadFrame(bytes.NewReader(b), 1<<16)
		_, _ = ParseMessage(b)
		v, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Decode(Append(nil, v))
		if err != nil {
			t.Fatalf("re-encoded %#v does not decode: %v", v, err)
		}
		if !bytes.Equal(Append(nil, again), Append(nil, v)) {
			t.Fatalf("round trip changed %#v into %#v", v, again)
		}
	})
}
