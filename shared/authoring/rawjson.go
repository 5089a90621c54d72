package authoring

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// The service adds fields between API versions, and an export must be
// imported back without losing anything. Every wire type therefore keeps the
// JSON members it does not model in Extra, and remembers which modelled
// members were present (and which were null) so that re-encoding writes them
// back even when they hold a zero value ("description": "",
// "multilingual": false, "nextLink": null).

// jsonField is one modelled member of a wire struct.
type jsonField struct {
	name      string
	index     int
	omitempty bool
}

var fieldCache sync.Map // reflect.Type -> []jsonField

// fieldsOf lists the JSON members of struct type t (exported fields with a
// json tag other than "-").
func fieldsOf(t reflect.Type) []jsonField {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]jsonField)
	}
	var fields []jsonField
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" || tag == "" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fields = append(fields, jsonField{name: name, index: i, omitempty: strings.Contains(opts, "omitempty")})
	}
	fieldCache.Store(t, fields)
	return fields
}

// rawFields holds what decoding saw beyond the typed values.
type rawFields struct {
	// present maps each modelled member that was in the input to whether it
	// was null.
	present map[string]bool
}

// decodeKeep decodes the JSON object data into v (a pointer to a struct
// type without JSON methods) and returns the members v does not model plus
// the presence record of those it does.
func decodeKeep(data []byte, v any) (map[string]json.RawMessage, rawFields, error) {
	if err := json.Unmarshal(data, v); err != nil {
		return nil, rawFields{}, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, rawFields{}, err
	}
	if all == nil { // the input was null
		return nil, rawFields{}, nil
	}
	rf := rawFields{present: make(map[string]bool)}
	for _, f := range fieldsOf(reflect.TypeOf(v).Elem()) {
		if raw, ok := all[f.name]; ok {
			rf.present[f.name] = bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
			delete(all, f.name)
		}
	}
	if len(all) == 0 {
		all = nil
	}
	return all, rf, nil
}

// encodeKeep encodes v (a struct value without JSON methods) followed by the
// extra members. A member that is not zero is always written. A zero member
// is written when the decoded input had it (as null again if it was null),
// or, for a value built in code, when its tag has no omitempty.
func encodeKeep(v any, extra map[string]json.RawMessage, rf rawFields) ([]byte, error) {
	rv := reflect.ValueOf(v)
	fields := fieldsOf(rv.Type())
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	known := make(map[string]bool, len(fields))
	decoded := rf.present != nil
	writeKey := func(k string) {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
	}
	for _, f := range fields {
		known[f.name] = true
		fv := rv.Field(f.index)
		wasNull, had := rf.present[f.name]
		zero := fv.IsZero()
		// A decoded value writes back exactly the zero members it had;
		// a value built in code omits zero omitempty members.
		if zero && !had && (f.omitempty || decoded) {
			continue
		}
		writeKey(f.name)
		if had && wasNull && zero {
			buf.WriteString("null")
			continue
		}
		b, err := json.Marshal(fv.Interface())
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if !known[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		writeKey(k)
		raw := extra[k]
		if len(raw) == 0 {
			raw = json.RawMessage("null")
		}
		buf.Write(raw)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
