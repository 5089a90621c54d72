package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// MaxMessageIDLength is Service Bus's limit on MessageId.
const MaxMessageIDLength = 128

// Sentinel errors; test with errors.Is.
var (
	// ErrUnknownQueue means the queue does not exist.
	ErrUnknownQueue = errors.New("queue: unknown queue")
	// ErrClosed means the sender was closed.
	ErrClosed = errors.New("queue: closed")
	// ErrInvalid means a bad argument (empty message id, empty queue name...).
	ErrInvalid = errors.New("queue: invalid argument")
)

// Sender sends messages to named queues. messageID is required: duplicate
// detection keys on it, so sending the same wake-up twice is harmless.
type Sender interface {
	Send(ctx context.Context, queue string, body []byte, messageID string) error
	// Schedule makes the message visible at `at` (now, if `at` has passed).
	Schedule(ctx context.Context, queue string, body []byte, messageID string, at time.Time) error
	Close(ctx context.Context) error
}

var (
	_ Sender = (*ServiceBus)(nil)
	_ Sender = (*Memory)(nil)
)

// validateWakeup reports what is wrong with w.
func validateWakeup(w langsync.Wakeup) error {
	var problems []string
	if w.V != langsync.WakeupVersion {
		problems = append(problems, fmt.Sprintf("unsupported version v=%d (this build reads v=%d)", w.V, langsync.WakeupVersion))
	}
	if w.Run == "" {
		problems = append(problems, `"run" is empty`)
	}
	if w.Step == "" {
		problems = append(problems, `"step" is empty`)
	}
	if w.Seq < 0 {
		problems = append(problems, fmt.Sprintf(`"seq" is negative (%d)`, w.Seq))
	}
	if strings.Contains(w.Run, "/") || strings.Contains(string(w.Step), "/") {
		problems = append(problems, `"run" and "step" must not contain '/' (the MessageId separator)`)
	}
	if len(w.MessageID()) > MaxMessageIDLength {
		problems = append(problems, fmt.Sprintf("message id longer than %d characters", MaxMessageIDLength))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: wake-up: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// EncodeWakeup validates w (filling in V when zero) and returns its body.
func EncodeWakeup(w langsync.Wakeup) ([]byte, error) {
	if w.V == 0 {
		w.V = langsync.WakeupVersion
	}
	if err := validateWakeup(w); err != nil {
		return nil, err
	}
	return w.Body(), nil
}

// ParseWakeup decodes and validates a wake-up message body; unknown fields
// are refused, so a request meant for another queue is not mistaken for one.
func ParseWakeup(body []byte) (langsync.Wakeup, error) {
	var w langsync.Wakeup
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return langsync.Wakeup{}, fmt.Errorf("%w: wake-up is not valid JSON of the form {\"v\":1,\"run\":...,\"step\":...,\"seq\":...}: %v", ErrInvalid, err)
	}
	if dec.More() {
		return langsync.Wakeup{}, fmt.Errorf("%w: wake-up has trailing data after the JSON object", ErrInvalid)
	}
	if err := validateWakeup(w); err != nil {
		return langsync.Wakeup{}, err
	}
	return w, nil
}

// SendWakeup sends w to queue with its MessageID, at `at` when not zero.
func SendWakeup(ctx context.Context, s Sender, queue string, w langsync.Wakeup, at time.Time) error {
	body, err := EncodeWakeup(w)
	if err != nil {
		return err
	}
	if at.IsZero() {
		return s.Send(ctx, queue, body, w.MessageID())
	}
	return s.Schedule(ctx, queue, body, w.MessageID(), at)
}

func checkArgs(queue, messageID string) error {
	if queue == "" {
		return fmt.Errorf("%w: queue name is empty", ErrInvalid)
	}
	if messageID == "" {
		return fmt.Errorf("%w: message id is empty (duplicate detection keys on it; use Wakeup.MessageID)", ErrInvalid)
	}
	if len(messageID) > MaxMessageIDLength {
		return fmt.Errorf("%w: message id of %d characters exceeds Service Bus's %d", ErrInvalid, len(messageID), MaxMessageIDLength)
	}
	return nil
}
