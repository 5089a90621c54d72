package customhandler

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// maxEnvelopeDepth bounds nesting inside an invocation (the host's own
// payloads are a few levels deep).
const maxEnvelopeDepth = 64

// splitEnvelope reads the host's envelope as json.Unmarshal into
// InvokeRequest would (top-level names matched case-insensitively, the last
// of a repeated name wins), but without copying: every kept value is a
// sub-slice of raw. Data values that keep(name) refuses (a blob trigger's
// content, which the handler never reads) are checked for structure and
// left empty, so a large payload costs nothing beyond the request body.
// Kept values are checked with json.Valid.
func splitEnvelope(raw []byte, keep func(binding string) bool) (InvokeRequest, error) {
	s := &jscan{b: raw}
	var req InvokeRequest
	err := s.object(0, func(key string, vs, ve int) error {
		switch {
		case strings.EqualFold(key, "Data"):
			m, err := s.members(raw[vs:ve], vs, func(name string) bool { return keep == nil || keep(name) })
			if err != nil {
				return fmt.Errorf("in Data: %w", err)
			}
			req.Data = m
		case strings.EqualFold(key, "Metadata"):
			m, err := s.members(raw[vs:ve], vs, nil)
			if err != nil {
				return fmt.Errorf("in Metadata: %w", err)
			}
			req.Metadata = m
		}
		return nil
	})
	if err != nil {
		return InvokeRequest{}, err
	}
	return req, nil
}

// jscan is a validating JSON scanner over a byte slice that reports value
// boundaries instead of decoding.
type jscan struct {
	b []byte
	i int
}

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *jscan) errf(format string, a ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", s.i, fmt.Sprintf(format, a...))
}

// object scans the top-level object and calls fn per member with the
// value's bounds; nothing may follow it.
func (s *jscan) object(depth int, fn func(key string, vs, ve int) error) error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.errf("want an object")
	}
	if err := s.members0(depth, fn); err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.b) {
		return s.errf("data after the object")
	}
	return nil
}

// members0 scans an object at s.i ('{'), calling fn per member.
func (s *jscan) members0(depth int, fn func(key string, vs, ve int) error) error {
	if depth >= maxEnvelopeDepth {
		return s.errf("nested deeper than %d", maxEnvelopeDepth)
	}
	s.i++ // '{'
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.errf("want a member name")
		}
		ks := s.i
		if err := s.str(); err != nil {
			return err
		}
		var key string
		if err := json.Unmarshal(s.b[ks:s.i], &key); err != nil {
			return s.errf("bad member name")
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.errf("want ':'")
		}
		s.i++
		s.ws()
		vs := s.i
		if err := s.value(depth + 1); err != nil {
			return err
		}
		if fn != nil {
			if err := fn(key, vs, s.i); err != nil {
				return err
			}
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.errf("unterminated object")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.errf("want ',' or '}'")
		}
	}
}

// members splits the object v (found at offset off of the envelope) into
// its members; a value that keep refuses is left empty. null gives nil.
func (s *jscan) members(v []byte, off int, keep func(string) bool) (map[string]json.RawMessage, error) {
	if string(v) == "null" {
		return nil, nil
	}
	if len(v) == 0 || v[0] != '{' {
		return nil, errors.New("not an object")
	}
	sub := &jscan{b: v}
	m := map[string]json.RawMessage{}
	err := sub.members0(1, func(key string, vs, ve int) error {
		if keep != nil && !keep(key) {
			m[key] = json.RawMessage{}
			return nil
		}
		val := v[vs:ve:ve]
		if !json.Valid(val) {
			return fmt.Errorf("%s: invalid JSON value at offset %d", key, off+vs)
		}
		m[key] = json.RawMessage(val)
		return nil
	})
	return m, err
}

// value skips one value at s.i, checking its structure.
func (s *jscan) value(depth int) error {
	if s.i >= len(s.b) {
		return s.errf("value expected")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.str()
	case c == '{':
		return s.members0(depth, nil)
	case c == '[':
		if depth >= maxEnvelopeDepth {
			return s.errf("nested deeper than %d", maxEnvelopeDepth)
		}
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return nil
		}
		for {
			s.ws()
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.i >= len(s.b) {
				return s.errf("unterminated array")
			}
			switch s.b[s.i] {
			case ',':
				s.i++
			case ']':
				s.i++
				return nil
			default:
				return s.errf("want ',' or ']'")
			}
		}
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		for s.i < len(s.b) && strings.IndexByte("+-.eE0123456789", s.b[s.i]) >= 0 {
			s.i++
		}
		return nil
	}
	return s.errf("unexpected %q", s.b[s.i])
}

func (s *jscan) lit(w string) error {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return s.errf("bad literal")
	}
	s.i += len(w)
	return nil
}

// str skips a string at s.i ('"').
func (s *jscan) str() error {
	s.i++
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return nil
		case c == '\\':
			s.i += 2
		case c < 0x20:
			return s.errf("control character in a string")
		default:
			s.i++
		}
	}
	return s.errf("unterminated string")
}
