package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The queues langsync uses (docs/functions.md).
const (
	Export = "langsync-export"
	Import = "langsync-import"
	Train  = "langsync-train"
	Deploy = "langsync-deploy"
)

// Names lists langsync's queues.
var Names = []string{Export, Import, Train, Deploy}

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

// WakeupVersion is the schema version of Wakeup messages this build writes.
const WakeupVersion = 1

// Wakeup is the internal message that tells a function to advance a run:
// {"v":1,"run":"<id>","step":"train","seq":7}. Run state in Blob is the
// source of truth; the message only says "look at run X now".
type Wakeup struct {
	V    int    `json:"v"`
	Run  string `json:"run"`
	Step string `json:"step"`
	Seq  int    `json:"seq"`
}

// MessageID is "<run>/<step>/<seq>": the same wake-up always gets the same
// id, so duplicate detection drops a resend.
func (w Wakeup) MessageID() string {
	return w.Run + "/" + w.Step + "/" + strconv.Itoa(w.Seq)
}

// Validate reports what is wrong with w.
func (w Wakeup) Validate() error {
	var problems []string
	if w.V != WakeupVersion {
		problems = append(problems, fmt.Sprintf("unsupported version v=%d (this build reads v=%d)", w.V, WakeupVersion))
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
	if strings.Contains(w.Run, "/") || strings.Contains(w.Step, "/") {
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

// Marshal validates w (filling in V when zero) and encodes it.
func (w Wakeup) Marshal() ([]byte, error) {
	if w.V == 0 {
		w.V = WakeupVersion
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(w)
}

// ParseWakeup decodes and validates a wake-up message body; unknown fields
// are refused, so a request meant for another queue is not mistaken for one.
func ParseWakeup(body []byte) (Wakeup, error) {
	var w Wakeup
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Wakeup{}, fmt.Errorf("%w: wake-up is not valid JSON of the form {\"v\":1,\"run\":...,\"step\":...,\"seq\":...}: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Wakeup{}, fmt.Errorf("%w: wake-up has trailing data after the JSON object", ErrInvalid)
	}
	if err := w.Validate(); err != nil {
		return Wakeup{}, err
	}
	return w, nil
}

// SendWakeup sends w to queue with its MessageID, at `at` when not zero.
func SendWakeup(ctx context.Context, s Sender, queue string, w Wakeup, at time.Time) error {
	body, err := w.Marshal()
	if err != nil {
		return err
	}
	if at.IsZero() {
		return s.Send(ctx, queue, body, w.MessageID())
	}
	return s.Schedule(ctx, queue, body, w.MessageID(), at)
}

// QueueForStep names the queue whose function runs a step: the export
// function runs export and backup, the deploy function deploy and verify.
func QueueForStep(step string) (string, error) {
	switch step {
	case "export", "backup":
		return Export, nil
	case "import":
		return Import, nil
	case "train":
		return Train, nil
	case "deploy", "verify":
		return Deploy, nil
	}
	return "", fmt.Errorf("%w: no queue runs step %q (known: export, backup, import, train, deploy, verify)", ErrInvalid, step)
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
