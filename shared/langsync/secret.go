package langsync

import (
	"errors"
	"log/slog"
)

// Secret holds a credential (a subscription key, a connection string with a
// key). It prints, logs and formats as "[REDACTED]" and refuses to be
// marshalled to JSON, so that a secret cannot reach logs, errors or run state
// by accident. Reveal returns the value for the one place that must send it.
type Secret string

const redacted = "[REDACTED]"

// ErrSecretMarshal is returned when code tries to serialise a Secret.
var ErrSecretMarshal = errors.New("langsync: refusing to marshal a secret")

// Reveal returns the secret value. Call it only where the value is sent to
// the host it belongs to.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether no secret is set.
func (s Secret) IsZero() bool { return s == "" }

// String implements fmt.Stringer with a redacted form.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v redacted too.
func (s Secret) GoString() string { return `langsync.Secret("` + s.String() + `")` }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON refuses to serialise the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return nil, ErrSecretMarshal }

// MarshalText refuses to serialise the secret (covers YAML and map keys).
func (s Secret) MarshalText() ([]byte, error) { return nil, ErrSecretMarshal }
