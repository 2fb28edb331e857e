package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/minirtc/minirtc/pkg/ids"
)

// Limits on free-text fields, so one careless client cannot bloat the database.
const (
	MaxAppNameLen    = 128  // characters
	MaxReportKindLen = 64   // bytes
	MaxReportDataLen = 8192 // bytes
	MaxBanReasonLen  = 1024 // bytes
)

// ValidateAppName checks an app name: 1 to MaxAppNameLen characters of UTF-8
// without control characters (names show up in tables and logs).
func ValidateAppName(name string) error {
	if name == "" {
		return fmt.Errorf("app name is empty; give 1 to %d characters", MaxAppNameLen)
	}
	if err := checkText("app name", name); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(name); n > MaxAppNameLen {
		return fmt.Errorf("app name is %d characters long, the limit is %d", n, MaxAppNameLen)
	}
	return nil
}

// checkText rejects invalid UTF-8 and control characters.
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for i, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s has control character %U at byte %d; control characters are not allowed", what, r, i)
		}
	}
	return nil
}

// Validate checks what every store requires of a report: valid app, room and
// user ids, valid session and stream ids when set, a kind, a time, and Data
// that is a JSON object (or empty, meaning {}) of at most MaxReportDataLen bytes.
func (r Report) Validate() error {
	if err := r.App.Validate(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := r.Room.Validate(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := r.User.Validate(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if r.Session != "" {
		if err := ids.Validate("session id", string(r.Session)); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	if r.Stream != "" {
		if err := r.Stream.Validate(); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	if r.Kind == "" || len(r.Kind) > MaxReportKindLen {
		return fmt.Errorf("report: kind must be 1 to %d bytes, got %d", MaxReportKindLen, len(r.Kind))
	}
	if err := checkText("report kind", r.Kind); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if r.At.IsZero() {
		return fmt.Errorf("report: time (At) is not set")
	}
	if len(r.Data) > MaxReportDataLen {
		return fmt.Errorf("report: data is %d bytes, the limit is %d", len(r.Data), MaxReportDataLen)
	}
	if len(r.Data) > 0 {
		if !json.Valid(r.Data) || !bytes.HasPrefix(bytes.TrimLeft(r.Data, " \t\r\n"), []byte("{")) {
			return fmt.Errorf("report: data must be a JSON object")
		}
	}
	return nil
}

// DataOrEmpty returns r.Data, or {} when it is empty.
func (r Report) DataOrEmpty() json.RawMessage {
	if len(r.Data) == 0 {
		return json.RawMessage("{}")
	}
	return r.Data
}

// Validate checks a query: a valid app id, valid room and user ids when set,
// and From before To when both are set.
func (q ReportQuery) Validate() error {
	if err := q.App.Validate(); err != nil {
		return fmt.Errorf("report query: %w", err)
	}
	if q.Room != "" {
		if err := q.Room.Validate(); err != nil {
			return fmt.Errorf("report query: %w", err)
		}
	}
	if q.User != "" {
		if err := q.User.Validate(); err != nil {
			return fmt.Errorf("report query: %w", err)
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return fmt.Errorf("report query: from (%s) must be before to (%s)", q.From.UTC().Format("2006-01-02T15:04:05.000Z"), q.To.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	return nil
}

// EffectiveLimit is Limit with the defaults and bounds applied.
func (q ReportQuery) EffectiveLimit() int {
	switch {
	case q.Limit <= 0:
		return DefaultReportLimit
	case q.Limit > MaxReportLimit:
		return MaxReportLimit
	}
	return q.Limit
}

// Validate checks a ban: valid app, room and user ids, a valid By when set,
// and a reason of at most MaxBanReasonLen bytes without control characters.
func (b Ban) Validate() error {
	for _, err := range []error{b.App.Validate(), b.Room.Validate(), b.User.Validate()} {
		if err != nil {
			return fmt.Errorf("ban: %w", err)
		}
	}
	if b.By != "" {
		if err := ids.Validate("banned-by user id", string(b.By)); err != nil {
			return fmt.Errorf("ban: %w", err)
		}
	}
	if len(b.Reason) > MaxBanReasonLen {
		return fmt.Errorf("ban: reason is %d bytes, the limit is %d", len(b.Reason), MaxBanReasonLen)
	}
	if err := checkText("ban reason", b.Reason); err != nil {
		return fmt.Errorf("ban: %w", err)
	}
	return nil
}
