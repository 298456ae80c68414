// Package secret provides a string type for values that must never reach a
// log line, an error message, a metric or test output: stream key values,
// tokens, the JWT secret and database passwords; and RedactURL, the one way
// a configured URL, whose user info or query may hold such a value, is shown.
package secret

import "log/slog"

// redacted is what every formatting path prints instead of the value.
const redacted = "[REDACTED]"

// String holds a secret value. Formatting it with fmt (%v, %s, %q, %#v),
// logging it with slog or marshalling it to JSON yields "[REDACTED]"; only
// Reveal returns the value, so every disclosure is explicit at its call site.
type String struct {
	value string
}

// New wraps v.
func New(v string) String { return String{value: v} }

// Reveal returns the secret value. Call it only where the value must leave
// the process on purpose: a response body, an outgoing request.
func (s String) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s String) IsZero() bool { return s.value == "" }

// String implements fmt.Stringer.
func (s String) String() string {
	if s.value == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer, covering %#v.
func (s String) GoString() string { return s.String() }

// LogValue implements slog.LogValuer.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler.
func (s String) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText implements encoding.TextMarshaler, which covers map keys and
// encoders other than encoding/json.
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
