package amqp

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// Performative and other descriptor codes (AMQP 1.0 part 2 and 3).
const (
	Open        = 0x10
	Begin       = 0x11
	Attach      = 0x12
	Flow        = 0x13
	Transfer    = 0x14
	Disposition = 0x15
	Detach      = 0x16
	End         = 0x17
	Close       = 0x18
	ErrorCode   = 0x1d
	Received    = 0x23
	Accepted    = 0x24
	Rejected    = 0x25
	Released    = 0x26
	Modified    = 0x27
	Source      = 0x28
	Target      = 0x29

	SASLMechanisms = 0x40
	SASLInit       = 0x41
	SASLOutcome    = 0x44

	Header                     = 0x70
	DeliveryAnnotations        = 0x71
	MessageAnnotations         = 0x72
	Properties                 = 0x73
	ApplicationProperties      = 0x74
	Data                       = 0x75
	AMQPSequence               = 0x76
	AMQPValue                  = 0x77
	Footer                     = 0x78
	FrameTypeAMQP         byte = 0
	FrameTypeSASL         byte = 1
)

// Protocol headers.
var (
	HeaderAMQP = []byte{'A', 'M', 'Q', 'P', 0, 1, 0, 0}
	HeaderSASL = []byte{'A', 'M', 'Q', 'P', 3, 1, 0, 0}
)

// Frame is one decoded frame. Perf is nil for an empty (heartbeat) frame.
type Frame struct {
	Type    byte
	Channel uint16
	Code    uint64 // performative descriptor code
	Fields  List   // performative fields
	Payload []byte // bytes after the performative (transfer payload)
}

// ReadFrame reads one frame; frames larger than maxSize are refused.
func ReadFrame(r io.Reader, maxSize uint32) (Frame, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, err
	}
	size := binary.BigEndian.Uint32(h[:4])
	doff := int(h[4]) * 4
	if size < 8 || doff < 8 || uint32(doff) > size {
		return Frame{}, fmt.Errorf("amqp: bad frame header size=%d doff=%d", size, doff)
	}
	if size > maxSize {
		return Frame{}, fmt.Errorf("amqp: frame of %d bytes exceeds max-frame-size %d", size, maxSize)
	}
	buf := make([]byte, size-8)
	if _, err := io.ReadFull(r, buf); err != nil {
		return Frame{}, err
	}
	f := Frame{Type: h[5], Channel: binary.BigEndian.Uint16(h[6:8])}
	body := buf[doff-8:]
	if len(body) == 0 {
		return f, nil
	}
	d := &Decoder{B: body}
	v, err := d.Value()
	if err != nil {
		return Frame{}, fmt.Errorf("amqp: decoding performative: %w", err)
	}
	desc, ok := v.(Described)
	if !ok {
		return Frame{}, fmt.Errorf("amqp: frame body is %T, not a described performative", v)
	}
	f.Code, ok = desc.Descriptor.(uint64)
	if !ok {
		return Frame{}, fmt.Errorf("amqp: performative descriptor %v is not a code", desc.Descriptor)
	}
	f.Fields, _ = desc.Value.(List)
	f.Payload = body[d.Pos:]
	return f, nil
}

// AppendFrame encodes a frame with the performative code and fields (trailing
// nil fields are dropped) followed by payload.
func AppendFrame(b []byte, typ byte, channel uint16, code uint64, fields List, payload []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 2, typ, 0, 0)
	binary.BigEndian.PutUint16(b[start+6:], channel)
	for len(fields) > 0 && fields[len(fields)-1] == nil {
		fields = fields[:len(fields)-1]
	}
	b = Append(b, Described{Descriptor: code, Value: fields})
	b = append(b, payload...)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// EmptyFrame is a heartbeat.
var EmptyFrame = []byte{0, 0, 0, 8, 2, 0, 0, 0}

// Field returns fields[i] or nil.
func (l List) Field(i int) any {
	if i < len(l) {
		return l[i]
	}
	return nil
}

// Uint returns field i as a uint32 (any unsigned width), with ok=false when absent.
func (l List) Uint(i int) (uint32, bool) {
	switch v := l.Field(i).(type) {
	case uint32:
		return v, true
	case uint8:
		return uint32(v), true
	case uint16:
		return uint32(v), true
	case uint64:
		return uint32(v), true
	}
	return 0, false
}

// Bool returns field i as a bool (absent is false).
func (l List) Bool(i int) bool {
	b, _ := l.Field(i).(bool)
	return b
}

// Str returns field i as text (string or symbol).
func (l List) Str(i int) string {
	s, _ := keyText(l.Field(i))
	return s
}

// Bytes returns field i as binary.
func (l List) Bytes(i int) []byte {
	b, _ := l.Field(i).([]byte)
	return b
}

// Time returns v as a time if it is a timestamp.
func Time(v any) (time.Time, bool) {
	t, ok := v.(time.Time)
	return t, ok
}

// Text returns v as text when it is a string or symbol.
func Text(v any) (string, bool) { return keyText(v) }

// DescribedList returns the code and fields of a described list value
// (outcomes, source, target, error).
func DescribedList(v any) (uint64, List, bool) {
	d, ok := v.(Described)
	if !ok {
		return 0, nil, false
	}
	code, ok := d.Descriptor.(uint64)
	if !ok {
		return 0, nil, false
	}
	l, _ := d.Value.(List)
	return code, l, true
}

// NewError builds an AMQP error value.
func NewError(condition, description string) Described {
	return Described{Descriptor: uint64(ErrorCode), Value: List{Symbol(condition), description}}
}

// Outcome builds a delivery state with the given code and fields.
func Outcome(code uint64, fields ...any) Described {
	if fields == nil {
		fields = List{}
	}
	return Described{Descriptor: code, Value: List(fields)}
}
