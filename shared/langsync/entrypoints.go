package langsync

import (
	"encoding/json"
	"errors"
	"time"
)

// The shapes below are what a host (the Azure Functions custom handler,
// the Lambda handler) exchanges with the pipeline entry points, besides
// the messages of message.go. Each host declares its own interfaces over
// them.

// Wake is one wake-up the pipeline asks for: the message, sent at At (zero
// or past: now; future: a scheduled message). Project is for logs.
type Wake struct {
	Wakeup
	Project string    `json:"project,omitempty"`
	At      time.Time `json:"at,omitzero"`
}

// Tick is one timer firing
// (docs/reference/functions-protocol.md#timer-trigger-request).
type Tick struct {
	// Scheduled is the occurrence this run is for (ScheduleStatus.Next), or
	// the time the invocation arrived when the host sent no schedule status.
	Scheduled time.Time
	// Last is the previous occurrence (zero before the first monitored run).
	Last time.Time
	// PastDue is true when the run is late (a missed occurrence).
	PastDue bool
}

// StatusRequest is a status call: GET /api/status[/{pair}].
type StatusRequest struct {
	// Pair is the optional route value; empty means every pair.
	Pair string
	// Query holds the query parameters (e.g. verbose=1).
	Query map[string]string
}

// FailedInput is the document kept under failed/ in the state container
// (FailedKey) for an input that could not be processed.
type FailedInput struct {
	Function      string    `json:"function"`
	InvocationID  string    `json:"invocationId,omitempty"`
	Time          time.Time `json:"time"`
	Reason        string    `json:"reason"`
	Run           string    `json:"run,omitempty"`
	RunMarked     bool      `json:"runMarkedFailed,omitempty"`
	MessageID     string    `json:"messageId,omitempty"`
	DeliveryCount int       `json:"deliveryCount,omitempty"`
	// Body is the message body when it is JSON; BodyText when it is other
	// UTF-8 text; BodyBase64 otherwise.
	Body       json.RawMessage `json:"body,omitempty"`
	BodyText   string          `json:"bodyText,omitempty"`
	BodyBase64 []byte          `json:"bodyBase64,omitempty"`
	Blob       *FailedBlob     `json:"blob,omitempty"`
	// Invocation is the whole host request when it was not an envelope.
	Invocation string `json:"invocation,omitempty"`
	// RawBlob names the blob (beside this document, ending .body or
	// .invocation) holding the input's raw bytes when it was too large to
	// keep inline; RawSize is its length.
	RawBlob string `json:"rawBlob,omitempty"`
	RawSize int    `json:"rawSize,omitempty"`
}

// FailedBlob names the dropped blob a FailedInput is about.
type FailedBlob struct {
	Name       string          `json:"name"`
	URI        string          `json:"uri,omitempty"`
	Properties json.RawMessage `json:"properties,omitempty"`
}

// IsPermanent reports whether err is one a retry cannot cure: ErrMalformed,
// or an error in the chain with a Permanent() bool method returning true.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrMalformed) {
		return true
	}
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}
