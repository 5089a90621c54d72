package customhandlertest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// This file builds invocation bodies exactly as the Functions host does
// (docs/reference/functions-protocol.md#the-invocation-request to
// docs/reference/functions-protocol.md#http-trigger-request-default-mode, host
// ScriptInvocationContext conversion): scalars double-encoded, DateTime without
// offset or fraction, DateTimeOffset with offset, byte[] as base64, objects as
// objects, body properties of a string trigger leaking into Metadata.

// Sys is Metadata.sys.
type Sys struct {
	MethodName string `json:"MethodName"`
	UtcNow     string `json:"UtcNow"`
	RandGuid   string `json:"RandGuid"`
}

func newSys(function string, now time.Time) Sys {
	return Sys{MethodName: function, UtcNow: now.UTC().Format("2006-01-02T15:04:05.0000000Z"), RandGuid: newGUID()}
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return guid(b)
}

func guid(b [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// scalar is the host's conversion of a non-object value: JsonConvert text
// put into the payload as a JSON string.
func scalar(v any) json.RawMessage {
	inner, _ := json.Marshal(v)
	outer, _ := json.Marshal(string(inner))
	return outer
}

// scalarText is how leaked body scalars show in Metadata: the value's
// text, double-encoded ("v": "\"1\"";
// docs/reference/functions-protocol.md#value-encoding).
func scalarText(raw json.RawMessage) json.RawMessage {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	return scalar(s)
}

// dateTime is a .NET DateTime: ISO without offset and without fraction.
func dateTime(t time.Time) json.RawMessage {
	b, _ := json.Marshal(t.UTC().Format("2006-01-02T15:04:05"))
	return b
}

// dateTimeOffset is a .NET DateTimeOffset: ISO with offset, no fraction.
func dateTimeOffset(t time.Time) json.RawMessage {
	b, _ := json.Marshal(t.UTC().Format("2006-01-02T15:04:05+00:00"))
	return b
}

func object(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// triggerValue encodes a trigger's bytes: base64 for dataType binary, else
// the UTF-8 string double-encoded.
func triggerValue(body []byte, binary bool) json.RawMessage {
	if binary {
		return object(base64.StdEncoding.EncodeToString(body))
	}
	return scalar(string(body))
}

// leakBody copies the top-level properties of a JSON-object string trigger
// into Metadata (host Utility.ApplyBindingData): objects as objects, scalars
// double-encoded, arrays skipped; they overwrite real keys.
func leakBody(md map[string]json.RawMessage, body []byte) {
	var props map[string]json.RawMessage
	if json.Unmarshal(body, &props) != nil {
		return
	}
	for k, v := range props {
		switch {
		case len(v) > 0 && v[0] == '[':
		case len(v) > 0 && v[0] == '{':
			md[k] = v
		case string(v) == "null":
		default:
			md[k] = scalarText(v)
		}
	}
}

// Envelope is the invocation body.
type Envelope struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// TimerInvocation builds a timer trigger invocation
// (docs/reference/functions-protocol.md#timer-trigger-request) for the
// occurrence due at next after last (zero last: the first monitored run).
func TimerInvocation(b Binding, function string, next, last time.Time, pastDue bool, now time.Time) Envelope {
	info := map[string]any{"Schedule": map[string]any{"AdjustForDST": true}, "IsPastDue": pastDue}
	if b.UseMonitor == nil || *b.UseMonitor {
		lastS := "0001-01-01T00:00:00+00:00"
		if !last.IsZero() {
			lastS = last.UTC().Format("2006-01-02T15:04:05.0000000+00:00")
		}
		info["ScheduleStatus"] = map[string]any{
			"Last":        lastS,
			"Next":        next.UTC().Format("2006-01-02T15:04:05+00:00"),
			"LastUpdated": lastS,
		}
	} else {
		info["ScheduleStatus"] = nil
	}
	return Envelope{
		Data:     map[string]json.RawMessage{b.Name: object(info)},
		Metadata: map[string]json.RawMessage{"sys": object(newSys(function, now))},
	}
}

// Message is what the simulator knows of a received Service Bus message.
type Message struct {
	Body                  []byte
	MessageID             string
	DeliveryCount         uint32
	LockToken             [16]byte
	SequenceNumber        int64
	EnqueuedTime          time.Time
	ExpiresAt             time.Time
	ContentType           string
	CorrelationID         string
	Subject               string
	ApplicationProperties map[string]any
	// Namespace is the fully qualified namespace (Metadata.Client).
	Namespace string
}

// ServiceBusInvocation builds a Service Bus trigger invocation
// (docs/reference/functions-protocol.md#service-bus-trigger-request) from the
// binding (dataType decides the body encoding) and a message.
func ServiceBusInvocation(b Binding, function string, m Message, now time.Time) Envelope {
	binary := b.DataType == "binary"
	md := map[string]json.RawMessage{
		"MessageReceiver": object(map[string]any{}),
		"MessageSession":  object(map[string]any{}),
		"MessageActions":  object(map[string]any{}),
		"SessionActions":  object(map[string]any{}),
		"ReceiveActions":  object(map[string]any{}),
		"Client":          object(map[string]any{"FullyQualifiedNamespace": m.Namespace, "IsClosed": false}),
		"DeliveryCount":   scalar(m.DeliveryCount),
		"LockToken":       scalar(guid(m.LockToken)),
		"MessageId":       scalar(m.MessageID),
		"SequenceNumber":  scalar(m.SequenceNumber),
	}
	if !m.EnqueuedTime.IsZero() {
		md["EnqueuedTimeUtc"] = dateTime(m.EnqueuedTime)
		md["EnqueuedTime"] = dateTimeOffset(m.EnqueuedTime)
	}
	if !m.ExpiresAt.IsZero() {
		md["ExpiresAtUtc"] = dateTime(m.ExpiresAt)
		md["ExpiresAt"] = dateTimeOffset(m.ExpiresAt)
	}
	if m.ContentType != "" {
		md["ContentType"] = scalar(m.ContentType)
	}
	if m.CorrelationID != "" {
		md["CorrelationId"] = scalar(m.CorrelationID)
	}
	if m.Subject != "" {
		md["Subject"] = scalar(m.Subject)
		md["Label"] = scalar(m.Subject)
	}
	props := m.ApplicationProperties
	if props == nil {
		props = map[string]any{}
	}
	md["ApplicationProperties"] = object(props)
	md["UserProperties"] = object(props)
	if !binary {
		leakBody(md, m.Body)
	}
	md["sys"] = object(newSys(function, now))
	return Envelope{Data: map[string]json.RawMessage{b.Name: triggerValue(m.Body, binary)}, Metadata: md}
}

// Blob is a blob the simulator delivers to a blob trigger.
type Blob struct {
	// Container and Name locate it; Name is the full blob name.
	Container    string
	Name         string
	Content      []byte
	ETag         string
	LastModified time.Time
	ContentType  string
	Metadata     map[string]string
	// AccountURL is the account's blob endpoint (for Metadata.Uri).
	AccountURL string
}

// BlobInvocation builds a blob trigger invocation
// (docs/reference/functions-protocol.md#blob-trigger-request); captures are the
// path's {name} values.
func BlobInvocation(b Binding, function string, blob Blob, captures map[string]string, now time.Time) Envelope {
	account := strings.TrimSuffix(blob.AccountURL, "/")
	if account == "" {
		account = "https://devstoreaccount1.blob.core.windows.net"
	}
	uri := account + "/" + blob.Container + "/" + (&url.URL{Path: blob.Name}).EscapedPath()
	md := map[string]json.RawMessage{
		"Uri": scalar(uri),
		"Properties": object(map[string]any{
			"LastModified":  blob.LastModified.UTC().Format("2006-01-02T15:04:05+00:00"),
			"ContentLength": len(blob.Content),
			"ContentType":   blob.ContentType,
			"ETag":          blob.ETag,
			"BlobType":      0,
		}),
		"Metadata": object(nonNil(blob.Metadata)),
		"sys":      object(newSys(function, now)),
	}
	for k, v := range captures {
		md[k] = scalar(v)
	}
	return Envelope{Data: map[string]json.RawMessage{b.Name: triggerValue(blob.Content, b.DataType == "binary")}, Metadata: md}
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// HTTPInvocation builds an HTTP trigger invocation in the default
// (non-forwarding) mode
// (docs/reference/functions-protocol.md#http-trigger-request-default-mode):
// Data.<req> with Url, Method, Query (an object, multi-values comma-joined),
// Headers (name -> values), Params, Identities and Body (only when there is
// one).
func HTTPInvocation(b Binding, function string, u *url.URL, method string, header map[string][]string, params map[string]string, body []byte, now time.Time) Envelope {
	query := map[string]string{}
	for k, v := range u.Query() {
		query[k] = strings.Join(v, ",")
	}
	req := map[string]any{
		"Url":     u.String(),
		"Method":  strings.ToUpper(method),
		"Query":   query,
		"Headers": header,
		"Params":  params,
		"Identities": []any{map[string]any{
			"AuthenticationType": "WebJobsAuthLevel", "IsAuthenticated": true,
			"Claims": []any{map[string]any{"Type": "http://schemas.microsoft.com/2017/07/functions/claims/authlevel", "Value": "Function"}},
		}},
	}
	if len(body) > 0 {
		ct := ""
		if v := header["Content-Type"]; len(v) > 0 {
			ct = v[0]
		}
		if strings.HasPrefix(ct, "application/octet-stream") || strings.HasPrefix(ct, "multipart/") {
			req["Body"] = base64.StdEncoding.EncodeToString(body)
		} else {
			req["Body"] = string(body)
		}
	}
	flat := map[string]string{}
	for k, v := range header {
		flat[k] = strings.Join(v, ",")
	}
	md := map[string]json.RawMessage{"Query": object(query), "Headers": object(flat), "sys": object(newSys(function, now))}
	for k, v := range params {
		md[k] = scalar(v)
	}
	return Envelope{Data: map[string]json.RawMessage{b.Name: object(req)}, Metadata: md}
}
