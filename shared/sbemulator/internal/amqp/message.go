package amqp

import (
	"fmt"
)

// Message is an AMQP message split into its sections. The properties,
// application-properties and the body+footer keep their original bytes so
// that the broker hands them back exactly as the sender encoded them.
type Message struct {
	Header              List // nil when absent
	DeliveryAnnotations Map
	Annotations         Map
	Properties          List
	PropertiesRaw       []byte
	AppProps            Map
	AppPropsRaw         []byte
	Rest                []byte // body sections and footer, verbatim
	Body                []any  // decoded body sections (Described values)
}

// ParseMessage splits an encoded message into sections.
func ParseMessage(b []byte) (*Message, error) {
	m := &Message{}
	d := &Decoder{B: b}
	restStart := -1
	for d.More() {
		start := d.Pos
		v, err := d.Value()
		if err != nil {
			return nil, fmt.Errorf("amqp: decoding message section: %w", err)
		}
		sec, ok := v.(Described)
		if !ok {
			return nil, fmt.Errorf("amqp: message section is %T, not described", v)
		}
		code, _ := sec.Descriptor.(uint64)
		switch code {
		case Header:
			m.Header, _ = sec.Value.(List)
		case DeliveryAnnotations:
			m.DeliveryAnnotations, _ = sec.Value.(Map)
		case MessageAnnotations:
			m.Annotations, _ = sec.Value.(Map)
		case Properties:
			m.Properties, _ = sec.Value.(List)
			m.PropertiesRaw = b[start:d.Pos]
		case ApplicationProperties:
			m.AppProps, _ = sec.Value.(Map)
			m.AppPropsRaw = b[start:d.Pos]
		case Data, AMQPSequence, AMQPValue, Footer:
			if restStart < 0 {
				restStart = start
			}
			if code != Footer {
				m.Body = append(m.Body, sec)
			}
		default:
			return nil, fmt.Errorf("amqp: unknown message section 0x%x", code)
		}
	}
	if restStart >= 0 {
		m.Rest = b[restStart:]
	}
	return m, nil
}

// Value returns the body of an amqp-value message (nil when the body is
// something else).
func (m *Message) Value() any {
	if len(m.Body) == 1 {
		if d := m.Body[0].(Described); d.Descriptor == uint64(AMQPValue) {
			return d.Value
		}
	}
	return nil
}

// Data returns the concatenated data sections of the body.
func (m *Message) Data() []byte {
	var out []byte
	for _, s := range m.Body {
		d := s.(Described)
		if d.Descriptor == uint64(Data) {
			b, _ := d.Value.([]byte)
			out = append(out, b...)
		}
	}
	return out
}

// MessageID returns properties.message-id as text ("" when unset). UUID,
// ulong and binary ids are formatted the way Service Bus shows them.
func (m *Message) MessageID() string {
	switch v := m.Properties.Field(0).(type) {
	case string:
		return v
	case Symbol:
		return string(v)
	case UUID:
		return v.String()
	case uint64:
		return fmt.Sprint(v)
	case []byte:
		return fmt.Sprintf("%x", v)
	}
	return ""
}

// Section encodes one described section.
func Section(b []byte, code uint64, v any) []byte {
	return Append(b, Described{Descriptor: code, Value: v})
}
