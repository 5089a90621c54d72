package amqp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Symbol is an AMQP symbol (ASCII string used for keys and names).
type Symbol string

// UUID is an AMQP uuid in RFC 4122 byte order.
type UUID [16]byte

// String formats u the usual 8-4-4-4-12 way.
func (u UUID) String() string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// Char is an AMQP char (a UTF-32 code point); kept apart from int32.
type Char rune

// Decimal is an AMQP decimal32/64/128 kept as its raw bytes.
type Decimal struct {
	Code byte
	Raw  []byte
}

// Described is a described value: a descriptor (usually a ulong code or a
// symbol) and the value it describes.
type Described struct {
	Descriptor any
	Value      any
}

// List is an AMQP list.
type List []any

// Pair is one map entry.
type Pair struct {
	Key   any
	Value any
}

// Map is an AMQP map, kept ordered so that a decode and encode round trip
// gives back the same entries.
type Map []Pair

// Get returns the value under a key (string and Symbol keys compare by text).
func (m Map) Get(key any) (any, bool) {
	for _, p := range m {
		if keyEqual(p.Key, key) {
			return p.Value, true
		}
	}
	return nil, false
}

// Set replaces the value under key, or appends it.
func (m Map) Set(key, value any) Map {
	for i, p := range m {
		if keyEqual(p.Key, key) {
			m[i].Value = value
			return m
		}
	}
	return append(m, Pair{Key: key, Value: value})
}

// Delete removes key.
func (m Map) Delete(key any) Map {
	out := m[:0]
	for _, p := range m {
		if !keyEqual(p.Key, key) {
			out = append(out, p)
		}
	}
	return out
}

func keyEqual(a, b any) bool {
	as, aok := keyText(a)
	bs, bok := keyText(b)
	if aok && bok {
		return as == bs
	}
	return a == b
}

func keyText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case Symbol:
		return string(v), true
	}
	return "", false
}

// Array is an AMQP array: every element has the type of Code (the element
// constructor, e.g. 0x81 for long, 0x83 timestamp, 0x98 uuid, 0xb3 symbol).
type Array struct {
	Code  byte
	Elems []any
}

// Type codes used outside this file.
const (
	CodeLong      = 0x81
	CodeTimestamp = 0x83
	CodeUUID      = 0x98
	CodeSym32     = 0xb3
	CodeStr32     = 0xb1
	CodeVbin32    = 0xb0
)

// ErrShort means the input ended inside a value.
var ErrShort = errors.New("amqp: truncated value")

// Decoder reads AMQP values from a byte slice.
type Decoder struct {
	B   []byte
	Pos int
}

// More reports whether unread bytes remain.
func (d *Decoder) More() bool { return d.Pos < len(d.B) }

func (d *Decoder) take(n int) ([]byte, error) {
	if n < 0 || d.Pos+n > len(d.B) {
		return nil, ErrShort
	}
	b := d.B[d.Pos : d.Pos+n]
	d.Pos += n
	return b, nil
}

func (d *Decoder) u8() (byte, error) {
	b, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *Decoder) u32() (uint32, error) {
	b, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

// Value decodes one value.
func (d *Decoder) Value() (any, error) {
	code, err := d.u8()
	if err != nil {
		return nil, err
	}
	if code == 0x00 {
		desc, err := d.Value()
		if err != nil {
			return nil, err
		}
		v, err := d.Value()
		if err != nil {
			return nil, err
		}
		return Described{Descriptor: desc, Value: v}, nil
	}
	return d.body(code)
}

// Skip advances past one value and returns its encoded bytes.
func (d *Decoder) Skip() ([]byte, error) {
	start := d.Pos
	if _, err := d.Value(); err != nil {
		return nil, err
	}
	return d.B[start:d.Pos], nil
}

func (d *Decoder) body(code byte) (any, error) {
	switch code {
	case 0x40:
		return nil, nil
	case 0x41:
		return true, nil
	case 0x42:
		return false, nil
	case 0x56:
		b, err := d.u8()
		return b != 0, err
	case 0x50:
		b, err := d.u8()
		return b, err
	case 0x51:
		b, err := d.u8()
		return int8(b), err
	case 0x60, 0x61:
		b, err := d.take(2)
		if err != nil {
			return nil, err
		}
		v := binary.BigEndian.Uint16(b)
		if code == 0x61 {
			return int16(v), nil
		}
		return v, nil
	case 0x43:
		return uint32(0), nil
	case 0x52:
		b, err := d.u8()
		return uint32(b), err
	case 0x70:
		return d.u32()
	case 0x44:
		return uint64(0), nil
	case 0x53:
		b, err := d.u8()
		return uint64(b), err
	case 0x80:
		b, err := d.take(8)
		if err != nil {
			return nil, err
		}
		return binary.BigEndian.Uint64(b), nil
	case 0x54:
		b, err := d.u8()
		return int32(int8(b)), err
	case 0x71:
		v, err := d.u32()
		return int32(v), err
	case 0x55:
		b, err := d.u8()
		return int64(int8(b)), err
	case 0x81, 0x83:
		b, err := d.take(8)
		if err != nil {
			return nil, err
		}
		v := int64(binary.BigEndian.Uint64(b))
		if code == 0x83 {
			return time.UnixMilli(v).UTC(), nil
		}
		return v, nil
	case 0x72:
		v, err := d.u32()
		return math.Float32frombits(v), err
	case 0x82:
		b, err := d.take(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	case 0x73:
		v, err := d.u32()
		return Char(v), err
	case 0x98:
		b, err := d.take(16)
		if err != nil {
			return nil, err
		}
		var u UUID
		copy(u[:], b)
		return u, nil
	case 0x74, 0x84, 0x94:
		n := map[byte]int{0x74: 4, 0x84: 8, 0x94: 16}[code]
		b, err := d.take(n)
		if err != nil {
			return nil, err
		}
		// Decimals are kept opaque; nothing here interprets them.
		return Decimal{Code: code, Raw: append([]byte(nil), b...)}, nil
	case 0xa0, 0xa1, 0xa3, 0xb0, 0xb1, 0xb3:
		var n int
		if code&0xf0 == 0xa0 {
			b, err := d.u8()
			if err != nil {
				return nil, err
			}
			n = int(b)
		} else {
			v, err := d.u32()
			if err != nil {
				return nil, err
			}
			n = int(v)
		}
		b, err := d.take(n)
		if err != nil {
			return nil, err
		}
		switch code & 0x0f {
		case 0x00:
			return append([]byte(nil), b...), nil
		case 0x01:
			return string(b), nil
		default:
			return Symbol(b), nil
		}
	case 0x45:
		return List{}, nil
	case 0xc0, 0xd0, 0xc1, 0xd1:
		count, end, err := d.compound(code == 0xc0 || code == 0xc1)
		if err != nil {
			return nil, err
		}
		items := make([]any, 0, min(count, 1024))
		for i := 0; i < count; i++ {
			v, err := d.Value()
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		if d.Pos != end {
			return nil, fmt.Errorf("amqp: compound size mismatch")
		}
		if code == 0xc0 || code == 0xd0 {
			return List(items), nil
		}
		if len(items)%2 != 0 {
			return nil, fmt.Errorf("amqp: map with odd number of items")
		}
		m := make(Map, 0, len(items)/2)
		for i := 0; i < len(items); i += 2 {
			m = append(m, Pair{Key: items[i], Value: items[i+1]})
		}
		return m, nil
	case 0xe0, 0xf0:
		count, end, err := d.compound(code == 0xe0)
		if err != nil {
			return nil, err
		}
		ec, err := d.u8()
		if err != nil {
			return nil, err
		}
		var desc any
		if ec == 0x00 {
			if desc, err = d.Value(); err != nil {
				return nil, err
			}
			if ec, err = d.u8(); err != nil {
				return nil, err
			}
		}
		arr := Array{Code: ec, Elems: make([]any, 0, min(count, 1024))}
		for i := 0; i < count; i++ {
			v, err := d.body(ec)
			if err != nil {
				return nil, err
			}
			if desc != nil {
				v = Described{Descriptor: desc, Value: v}
			}
			arr.Elems = append(arr.Elems, v)
		}
		if d.Pos != end {
			return nil, fmt.Errorf("amqp: array size mismatch")
		}
		return arr, nil
	}
	return nil, fmt.Errorf("amqp: unknown type code 0x%02x", code)
}

// compound reads the size and count of a list, map or array and returns the
// count and the end offset.
func (d *Decoder) compound(small bool) (int, int, error) {
	var size, count int
	if small {
		s, err := d.u8()
		if err != nil {
			return 0, 0, err
		}
		c, err := d.u8()
		if err != nil {
			return 0, 0, err
		}
		size, count = int(s), int(c)
		size-- // the count byte is part of the size
	} else {
		s, err := d.u32()
		if err != nil {
			return 0, 0, err
		}
		c, err := d.u32()
		if err != nil {
			return 0, 0, err
		}
		size, count = int(s), int(c)
		size -= 4
	}
	end := d.Pos + size
	if size < 0 || end > len(d.B) {
		return 0, 0, ErrShort
	}
	// Every list or map item takes at least a byte; an array of zero-width
	// elements (true, uint0, ...) may not, so it gets a fixed cap instead.
	if count > size && (count > 1<<16 || size == 0 || d.B[d.Pos] > 0x45 || d.B[d.Pos] < 0x40) {
		return 0, 0, fmt.Errorf("amqp: compound claims %d items in %d bytes", count, size)
	}
	return count, end, nil
}

// Decode decodes exactly one value from b.
func Decode(b []byte) (any, error) {
	d := &Decoder{B: b}
	v, err := d.Value()
	if err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("amqp: %d trailing bytes", len(b)-d.Pos)
	}
	return v, nil
}

// Append encodes v onto b. Go types map to AMQP types one to one (int is
// encoded as long); an unsupported type panics, since only this package's
// callers build values.
func Append(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 0x40)
	case bool:
		if v {
			return append(b, 0x41)
		}
		return append(b, 0x42)
	case uint8:
		return append(b, 0x50, v)
	case uint16:
		return binary.BigEndian.AppendUint16(append(b, 0x60), v)
	case uint32:
		switch {
		case v == 0:
			return append(b, 0x43)
		case v < 256:
			return append(b, 0x52, byte(v))
		}
		return binary.BigEndian.AppendUint32(append(b, 0x70), v)
	case uint64:
		switch {
		case v == 0:
			return append(b, 0x44)
		case v < 256:
			return append(b, 0x53, byte(v))
		}
		return binary.BigEndian.AppendUint64(append(b, 0x80), v)
	case int8:
		return append(b, 0x51, byte(v))
	case int16:
		return binary.BigEndian.AppendUint16(append(b, 0x61), uint16(v))
	case int32:
		if v >= -128 && v <= 127 {
			return append(b, 0x54, byte(int8(v)))
		}
		return binary.BigEndian.AppendUint32(append(b, 0x71), uint32(v))
	case int64:
		if v >= -128 && v <= 127 {
			return append(b, 0x55, byte(int8(v)))
		}
		return binary.BigEndian.AppendUint64(append(b, 0x81), uint64(v))
	case int:
		return Append(b, int64(v))
	case float32:
		return binary.BigEndian.AppendUint32(append(b, 0x72), math.Float32bits(v))
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 0x82), math.Float64bits(v))
	case Char:
		return binary.BigEndian.AppendUint32(append(b, 0x73), uint32(v))
	case time.Time:
		return binary.BigEndian.AppendUint64(append(b, 0x83), uint64(v.UnixMilli()))
	case UUID:
		return append(append(b, 0x98), v[:]...)
	case []byte:
		return appendVar(b, 0xa0, 0xb0, v)
	case string:
		return appendVar(b, 0xa1, 0xb1, []byte(v))
	case Symbol:
		return appendVar(b, 0xa3, 0xb3, []byte(v))
	case Decimal:
		return append(append(b, v.Code), v.Raw...)
	case Described:
		b = Append(append(b, 0x00), v.Descriptor)
		return Append(b, v.Value)
	case List:
		if len(v) == 0 {
			return append(b, 0x45)
		}
		return appendCompound(b, 0xd0, len(v), func(b []byte) []byte {
			for _, x := range v {
				b = Append(b, x)
			}
			return b
		})
	case []any:
		return Append(b, List(v))
	case Map:
		return appendCompound(b, 0xd1, 2*len(v), func(b []byte) []byte {
			for _, p := range v {
				b = Append(Append(b, p.Key), p.Value)
			}
			return b
		})
	case Array:
		return appendCompound(b, 0xf0, len(v.Elems), func(b []byte) []byte {
			b = append(b, v.Code)
			for _, x := range v.Elems {
				b = appendArrayElem(b, v.Code, x)
			}
			return b
		})
	}
	panic(fmt.Sprintf("amqp: cannot encode %T", v))
}

func appendVar(b []byte, small, large byte, v []byte) []byte {
	if len(v) < 256 {
		b = append(b, small, byte(len(v)))
	} else {
		b = binary.BigEndian.AppendUint32(append(b, large), uint32(len(v)))
	}
	return append(b, v...)
}

// appendCompound writes a 32-bit list, map or array: code, size, count,
// then the items written by fill.
func appendCompound(b []byte, code byte, count int, fill func([]byte) []byte) []byte {
	b = append(b, code, 0, 0, 0, 0)
	sizeAt := len(b) - 4
	b = binary.BigEndian.AppendUint32(b, uint32(count))
	b = fill(b)
	binary.BigEndian.PutUint32(b[sizeAt:], uint32(len(b)-sizeAt-4))
	return b
}

// appendArrayElem writes one array element without its constructor, in the
// exact width the element constructor implies.
func appendArrayElem(b []byte, code byte, v any) []byte {
	switch code {
	case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45:
		return b // zero-width: the constructor says it all
	case 0x56:
		if x, _ := v.(bool); x {
			return append(b, 1)
		}
		return append(b, 0)
	case 0x50, 0x51, 0x52, 0x53, 0x54, 0x55:
		return append(b, byte(intBits(v)))
	case 0x60, 0x61:
		return binary.BigEndian.AppendUint16(b, uint16(intBits(v)))
	case 0x70, 0x71, 0x73:
		return binary.BigEndian.AppendUint32(b, uint32(intBits(v)))
	case 0x72:
		f, _ := v.(float32)
		return binary.BigEndian.AppendUint32(b, math.Float32bits(f))
	case 0x80, 0x81, 0x83:
		return binary.BigEndian.AppendUint64(b, intBits(v))
	case 0x82:
		f, _ := v.(float64)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
	case 0x98:
		u, _ := v.(UUID)
		return append(b, u[:]...)
	case 0x74, 0x84, 0x94:
		d, _ := v.(Decimal)
		return append(b, d.Raw...)
	case 0xa0, 0xa1, 0xa3, 0xb0, 0xb1, 0xb3:
		var raw []byte
		switch v := v.(type) {
		case []byte:
			raw = v
		case string:
			raw = []byte(v)
		case Symbol:
			raw = []byte(v)
		}
		if code&0xf0 == 0xa0 {
			return append(append(b, byte(len(raw))), raw...)
		}
		return append(binary.BigEndian.AppendUint32(b, uint32(len(raw))), raw...)
	case 0xc0, 0xc1, 0xd0, 0xd1, 0xe0, 0xf0:
		// Compound elements: re-encode in the 32-bit form of the same kind.
		full := Append(nil, v)
		if full[0] == 0x45 { // an empty list in a list array
			return append(b, 0, 0, 0, 4, 0, 0, 0, 0)
		}
		if code&0xf0 == 0xc0 || code == 0xe0 {
			return append(b, toSmallCompound(full)...)
		}
		return append(b, full[1:]...)
	}
	return append(b, Append(nil, v)[1:]...)
}

// intBits returns the two's-complement bits of any integer or timestamp.
func intBits(v any) uint64 {
	switch v := v.(type) {
	case uint8:
		return uint64(v)
	case uint16:
		return uint64(v)
	case uint32:
		return uint64(v)
	case uint64:
		return v
	case int8:
		return uint64(v)
	case int16:
		return uint64(v)
	case int32:
		return uint64(v)
	case int64:
		return uint64(v)
	case Char:
		return uint64(v)
	case time.Time:
		return uint64(v.UnixMilli())
	}
	return 0
}

// toSmallCompound turns a 32-bit list/map/array encoding (constructor
// included) into the body of its 8-bit form; used only for arrays whose
// element constructor is the 8-bit one.
func toSmallCompound(full []byte) []byte {
	count := binary.BigEndian.Uint32(full[5:9])
	items := full[9:]
	return append([]byte{byte(len(items) + 1), byte(count)}, items...)
}
