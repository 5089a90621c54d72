package langsync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// ErrMalformed marks an input that can never be processed: not JSON, an
// unknown schema version or shape, a missing or invalid field. The hosts
// keep such inputs under failed/ and mark their run failed instead of
// retrying them (a redelivery cannot help).
var ErrMalformed = errors.New("malformed message")

// ErrUnknownStep: a wake-up names a step no queue serves.
var ErrUnknownStep = errors.New("unknown step")

// StepQueue returns the queue that wakes the function performing step; a
// step no queue serves is an error wrapping ErrUnknownStep that lists the
// known steps.
func StepQueue(step StepName) (string, error) {
	q, known := QueueFor(step)
	if !known {
		steps := make([]string, 0, 8)
		for _, s := range QueuedSteps() {
			steps = append(steps, string(s))
		}
		return "", fmt.Errorf("langsync: %w %q (known: %s)", ErrUnknownStep, step, strings.Join(steps, ", "))
	}
	return q, nil
}

// ReplicateRequest is the external request on langsync-export that forces a
// replication: {"project":"P"} with optional "source" and "targets".
type ReplicateRequest struct {
	Project string   `json:"project"`
	Source  string   `json:"source,omitempty"`
	Targets []string `json:"targets,omitempty"`
}

// RestoreRequest is the external request on langsync-import:
// {"backup":"<id>","target":"secondary"} or {"project":"P","at":"<RFC 3339>",
// "target":"secondary"}, optionally with "as" (another project name) and
// "replace" (allow restoring over an existing project of that name, such as
// the replica itself). The restore blob trigger fills Drop instead of Backup
// and leaves Target empty (the drop's path decides).
type RestoreRequest struct {
	Backup  string    `json:"backup,omitempty"`
	Project string    `json:"project,omitempty"`
	At      time.Time `json:"at,omitzero"`
	Target  string    `json:"target,omitempty"`
	As      string    `json:"as,omitempty"`
	Replace bool      `json:"replace,omitempty"`
	// Drop is the state-container key of a backup dropped under restore/
	// (blob trigger only; never read from a message).
	Drop string `json:"-"`
}

// Message is one decoded queue message: exactly one field is set.
type Message struct {
	Wakeup    *Wakeup
	Replicate *ReplicateRequest
	Restore   *RestoreRequest
}

// Kind names the message for logs: wakeup, replicate or restore.
func (m Message) Kind() string {
	switch {
	case m.Wakeup != nil:
		return "wakeup"
	case m.Replicate != nil:
		return "replicate"
	case m.Restore != nil:
		return "restore"
	}
	return "none"
}

// ParseMessage decodes a message body received on queue. Wake-ups are
// accepted on every queue; replicate requests only on langsync-export and
// restore requests only on langsync-import. Every error wraps ErrMalformed
// and says what is wrong and what a valid message looks like.
func ParseMessage(queue string, body []byte) (Message, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil || keys == nil {
		return Message{}, malformedf("body is not a JSON object (%s); send %s", describeJSONError(body, err), shapes(queue))
	}
	switch {
	case has(keys, "run") || has(keys, "v") || has(keys, "seq"):
		var w Wakeup
		if err := strictDecode(body, &w); err != nil {
			return Message{}, malformedf("wake-up: %v; want {\"v\":1,\"run\":\"<id>\",\"step\":\"<step>\",\"seq\":<n>}", err)
		}
		if err := validateWakeup(w); err != nil {
			return Message{}, err
		}
		return Message{Wakeup: &w}, nil
	case queue == QueueExport && has(keys, "project"):
		var r ReplicateRequest
		if err := strictDecode(body, &r); err != nil {
			return Message{}, malformedf("replicate request: %v; want %s", err, shapes(queue))
		}
		if err := r.Validate(); err != nil {
			return Message{}, err
		}
		return Message{Replicate: &r}, nil
	case queue == QueueImport && (has(keys, "backup") || has(keys, "project")):
		var r RestoreRequest
		if err := strictDecode(body, &r); err != nil {
			return Message{}, malformedf("restore request: %v; want %s", err, shapes(queue))
		}
		if err := r.Validate(); err != nil {
			return Message{}, err
		}
		return Message{Restore: &r}, nil
	}
	return Message{}, malformedf("unknown message on %s with keys %s; send %s", queue, keyList(keys), shapes(queue))
}

// validateWakeup checks a wake-up's version and fields.
func validateWakeup(w Wakeup) error {
	switch {
	case w.V != WakeupVersion:
		return malformedf("wake-up schema version %d is unknown (this langsync reads v%d); upgrade langsync or drain the queue", w.V, WakeupVersion)
	case w.Run == "":
		return malformedf("wake-up has no run id")
	case !cleanName(w.Run, 200):
		return malformedf("wake-up run id %q has characters a run id never has", w.Run)
	case w.Seq < 0:
		return malformedf("wake-up seq %d is negative", w.Seq)
	}
	if _, err := StepQueue(w.Step); err != nil {
		return malformedf("wake-up for run %s: %v", w.Run, err)
	}
	return nil
}

// Validate checks a replicate request.
func (r ReplicateRequest) Validate() error {
	if err := checkProject("project", r.Project); err != nil {
		return err
	}
	if r.Source != "" && !cleanName(r.Source, 64) {
		return malformedf("source %q is not a resource name from the config", r.Source)
	}
	for _, t := range r.Targets {
		if !cleanName(t, 64) {
			return malformedf("target %q is not a resource name from the config", t)
		}
	}
	return nil
}

// Validate checks a restore request: a backup, or a project and a time, and
// a target.
func (r RestoreRequest) Validate() error {
	hasBackup := r.Backup != "" || r.Drop != ""
	switch {
	case hasBackup && (r.Project != "" || !r.At.IsZero()):
		return malformedf("restore request names both a backup and a project/time; give one: {\"backup\":\"<id>\"} or {\"project\":\"P\",\"at\":\"<RFC 3339 time>\"}")
	case !hasBackup && r.Project == "":
		return malformedf("restore request names no backup; give {\"backup\":\"<id>\"} or {\"project\":\"P\",\"at\":\"<RFC 3339 time>\"}")
	case !hasBackup && r.At.IsZero():
		return malformedf("restore request for project %q has no \"at\" time; add \"at\":\"2026-11-20T00:00:00Z\" (the newest backup at or before it is restored)", r.Project)
	case r.Drop == "" && r.Target == "":
		return malformedf("restore request has no \"target\"; name the resource to restore into, e.g. \"target\":\"secondary\"")
	}
	if r.Project != "" {
		if err := checkProject("project", r.Project); err != nil {
			return err
		}
	}
	if r.As != "" {
		if err := checkProject("as", r.As); err != nil {
			return err
		}
	}
	if r.Target != "" && !cleanName(r.Target, 64) {
		return malformedf("target %q is not a resource name from the config", r.Target)
	}
	if strings.Contains(r.Backup, "..") {
		return malformedf("backup %q contains \"..\"", r.Backup)
	}
	return nil
}

func checkProject(field, p string) error {
	if p == "" {
		return malformedf("%s is empty; name a project, e.g. {\"%s\":\"Tickets\"}", field, field)
	}
	if !cleanName(p, 100) {
		return malformedf("%s %q is not a valid project name (at most 100 characters, no slashes or control characters)", field, p)
	}
	return nil
}

// cleanName accepts what can appear in names and ids: no slashes, spaces
// or control characters, bounded length.
func cleanName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if r == '/' || r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// PeekRun returns the "run" field of a message body that failed to parse,
// if it holds a usable run id, so that its run can be marked failed.
func PeekRun(body []byte) string {
	var v struct {
		Run any `json:"run"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	if s, ok := v.Run.(string); ok && cleanName(s, 200) {
		return s
	}
	return ""
}

func malformedf(format string, a ...any) error {
	return fmt.Errorf("langsync: %w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

func strictDecode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func has(m map[string]json.RawMessage, k string) bool { _, ok := m[k]; return ok }

func keyList(m map[string]json.RawMessage) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, strconv.Quote(k))
	}
	sort.Strings(ks)
	return "[" + strings.Join(ks, ",") + "]"
}

func describeJSONError(body []byte, err error) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "empty body"
	}
	if err == nil {
		return "null"
	}
	return err.Error()
}

func shapes(queue string) string {
	switch queue {
	case QueueExport:
		return `{"project":"P"} (optional "source", "targets") or a wake-up`
	case QueueImport:
		return `{"backup":"<id>","target":"R"} or {"project":"P","at":"<RFC 3339>","target":"R"} (optional "as", "replace") or a wake-up`
	}
	return `a wake-up {"v":1,"run":"<id>","step":"<step>","seq":<n>}`
}
