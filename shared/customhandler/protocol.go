package customhandler

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// InvokeRequest is the body the Functions host POSTs to /<function>
// (docs/reference/functions-protocol.md#the-invocation-request): one Data entry
// per input binding, named as in function.json, and the trigger's binding data
// in Metadata. Values are kept raw because the host double-encodes scalars;
// read them with Value, String, Int, Time and Bytes.
type InvokeRequest struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// InvokeResponse is the handler's answer
// (docs/reference/functions-protocol.md#the-response). The host matches the
// property names case-insensitively and needs Content-Type application/json.
type InvokeResponse struct {
	// Outputs is keyed by output binding name; unknown keys are ignored.
	Outputs map[string]any `json:"Outputs"`
	// Logs are logged by the host at Information, only on success.
	Logs []string `json:"Logs"`
	// ReturnValue feeds a binding named $return; langsync declares none.
	ReturnValue any `json:"ReturnValue"`
}

// HTTPResponse is the value of an http output binding
// (docs/reference/functions-protocol.md#the-response). The host accepts
// statusCode as a number or a string and body as a string or JSON;
// UnmarshalJSON accepts both so the host simulator can read any handler.
type HTTPResponse struct {
	StatusCode int               `json:"statusCode"`
	Body       string            `json:"body"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// UnmarshalJSON reads the lenient forms the host accepts.
func (r *HTTPResponse) UnmarshalJSON(b []byte) error {
	var raw struct {
		StatusCode json.RawMessage   `json:"statusCode"`
		Status     json.RawMessage   `json:"status"`
		Body       json.RawMessage   `json:"body"`
		Headers    map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("customhandler: decoding http output: %w", err)
	}
	code := raw.StatusCode
	if len(code) == 0 {
		code = raw.Status
	}
	r.StatusCode = 200
	if len(code) > 0 && string(code) != "null" {
		n, err := Int(code)
		if err != nil {
			return fmt.Errorf("customhandler: http output statusCode %s: %w", code, err)
		}
		r.StatusCode = int(n)
	}
	r.Body = ""
	if len(raw.Body) > 0 && string(raw.Body) != "null" {
		var s string
		if json.Unmarshal(raw.Body, &s) == nil {
			r.Body = s
		} else {
			r.Body = string(raw.Body)
		}
	}
	r.Headers = raw.Headers
	return nil
}

// Value returns the JSON text a Data or Metadata value stands for. The host
// serialises every scalar with JsonConvert and then puts that text into the
// payload as a JSON string
// (docs/reference/functions-protocol.md#the-invocation-request), so "\"abc\""
// means the string abc and "1" the number 1; a string whose content is not JSON
// is a plain string.
func Value(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return raw
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return raw
	}
	if t := strings.TrimSpace(s); t != "" && json.Valid([]byte(t)) {
		return json.RawMessage(t)
	}
	return raw
}

// String reads a metadata value as text: "\"abc\"", "abc" and 1 give "abc",
// "abc" and "1". ok is false when the value is absent, null, an object or an
// array.
func String(raw json.RawMessage) (s string, ok bool) {
	v := Value(raw)
	if len(v) == 0 || string(v) == "null" {
		return "", false
	}
	switch v[0] {
	case '"':
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	case '{', '[':
		return "", false
	}
	return string(v), true
}

// Int reads an integer sent as a number, a string ("1") or a double-encoded
// string ("\"1\"").
func Int(raw json.RawMessage) (int64, error) {
	s, ok := String(raw)
	if !ok {
		return 0, fmt.Errorf("customhandler: %s is not an integer", clip(raw))
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("customhandler: %s is not an integer", clip(raw))
	}
	return n, nil
}

// timeLayouts are the forms the host writes: .NET DateTime without an offset
// and without sub-second digits, DateTimeOffset with one, and round-trip
// strings with seven fractional digits
// (docs/reference/functions-protocol.md#value-encoding,
// docs/reference/functions-protocol.md#timer-trigger-request).
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
}

// Time reads a host timestamp; one without an offset is UTC.
func Time(raw json.RawMessage) (time.Time, error) {
	s, ok := String(raw)
	if !ok {
		return time.Time{}, fmt.Errorf("customhandler: %s is not a time", clip(raw))
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("customhandler: %q is not a time the host writes", s)
}

// Bytes returns the bytes a trigger value carries. With dataType binary the
// host sends base64
// (docs/reference/functions-protocol.md#body-with-datatype-binary); otherwise a
// UTF-8 string, double-encoded
// (docs/reference/functions-protocol.md#body-without-datatype). Each form is
// tried as a fallback for the other, so a function.json edited without the
// handler still works.
func Bytes(raw json.RawMessage, binary bool) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("customhandler: trigger value is missing")
	}
	if raw[0] != '"' {
		// An object or array: the host bound the value as JSON.
		return raw, nil
	}
	if binary && bytes.IndexByte(raw[1:], '\\') < 0 && raw[len(raw)-1] == '"' {
		// Base64 has no escapes: decode it in place, without a string copy
		// of a message that may be tens of megabytes.
		inner := raw[1 : len(raw)-1]
		b := make([]byte, base64.StdEncoding.DecodedLen(len(inner)))
		if n, err := base64.StdEncoding.Decode(b, inner); err == nil {
			return b[:n], nil
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("customhandler: trigger value: %w", err)
	}
	if binary {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return b, nil
		}
	}
	v := Value(raw)
	if v[0] == '"' {
		// Not JSON inside: the body is plain text, or base64 of a non-JSON
		// body bound without dataType.
		var text string
		_ = json.Unmarshal(v, &text)
		if !binary {
			if b, err := base64.StdEncoding.DecodeString(text); err == nil && json.Valid(b) {
				return b, nil
			}
		}
		return []byte(text), nil
	}
	return v, nil
}

// clip shortens a raw value for an error message.
func clip(raw json.RawMessage) string {
	const max = 64
	if len(raw) > max {
		return string(raw[:max]) + "..."
	}
	return string(raw)
}

// TimerInfo is Data.<timer binding>
// (docs/reference/functions-protocol.md#timer-trigger-request). ScheduleStatus
// is null when useMonitor is false.
type TimerInfo struct {
	Schedule struct {
		AdjustForDST bool `json:"AdjustForDST"`
	} `json:"Schedule"`
	ScheduleStatus *struct {
		Last        json.RawMessage `json:"Last"`
		Next        json.RawMessage `json:"Next"`
		LastUpdated json.RawMessage `json:"LastUpdated"`
	} `json:"ScheduleStatus"`
	IsPastDue bool `json:"IsPastDue"`
}

// MessageInfo is what langsync reads of a Service Bus trigger's Metadata
// (docs/reference/functions-protocol.md#service-bus-trigger-request). Fields
// the host omitted are zero.
type MessageInfo struct {
	MessageID      string
	DeliveryCount  int
	SequenceNumber int64
	EnqueuedTime   time.Time
	ContentType    string
}

// ParseMessageInfo reads the Service Bus binding data from Metadata.
func ParseMessageInfo(md map[string]json.RawMessage) MessageInfo {
	var mi MessageInfo
	mi.MessageID, _ = String(md["MessageId"])
	if n, err := Int(md["DeliveryCount"]); err == nil {
		mi.DeliveryCount = int(n)
	}
	if n, err := Int(md["SequenceNumber"]); err == nil {
		mi.SequenceNumber = n
	}
	for _, k := range []string{"EnqueuedTimeUtc", "EnqueuedTime"} {
		if t, err := Time(md[k]); err == nil {
			mi.EnqueuedTime = t
			break
		}
	}
	mi.ContentType, _ = String(md["ContentType"])
	return mi
}

// HTTPRequest is Data.<httpTrigger binding> in the default (non-forwarding)
// mode
// (docs/reference/functions-protocol.md#http-trigger-request-default-mode).
// Query is an object since host fix #6606 and a JSON string before it;
// UnmarshalJSON reads both.
type HTTPRequest struct {
	URL     string              `json:"Url"`
	Method  string              `json:"Method"`
	Query   map[string]string   `json:"Query"`
	Headers map[string][]string `json:"Headers"`
	Params  map[string]string   `json:"Params"`
	// Body is the request body as text (absent when Content-Length is 0).
	Body string `json:"Body,omitempty"`
}

// UnmarshalJSON reads the old (string) and new (object) Query forms.
func (r *HTTPRequest) UnmarshalJSON(b []byte) error {
	var raw struct {
		URL     string              `json:"Url"`
		Method  string              `json:"Method"`
		Query   json.RawMessage     `json:"Query"`
		Headers map[string][]string `json:"Headers"`
		Params  map[string]string   `json:"Params"`
		Body    json.RawMessage     `json:"Body"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("customhandler: decoding http request: %w", err)
	}
	*r = HTTPRequest{URL: raw.URL, Method: raw.Method, Headers: raw.Headers, Params: raw.Params}
	if q := Value(raw.Query); len(q) > 0 && q[0] == '{' {
		if err := json.Unmarshal(q, &r.Query); err != nil {
			return fmt.Errorf("customhandler: decoding http request query: %w", err)
		}
	}
	if len(raw.Body) > 0 && string(raw.Body) != "null" {
		var s string
		if json.Unmarshal(raw.Body, &s) == nil {
			r.Body = s
		} else {
			r.Body = string(raw.Body)
		}
	}
	return nil
}

// Header returns the first value of a request header, case-insensitively.
func (r *HTTPRequest) Header(name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
