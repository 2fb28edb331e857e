package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minirtc/minirtc/pkg/protocol"
)

// MaxBodyBytes is the largest request body the API reads. A larger one is
// refused with 413 and code 1004 before it is parsed. It leaves room for
// the largest legal request, a room's 64 KiB of attributes, escaped.
const MaxBodyBytes = 256 << 10

// readBody reads the request body up to MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *Error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: protocol.CodeFrameTooLarge,
			Message: fmt.Sprintf("the body is larger than %d bytes, the limit", MaxBodyBytes)}
	}
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: protocol.CodeMalformed, Message: "reading the body: " + err.Error()}
	}
	return body, nil
}

// decodeJSON decodes a request body into v (a pointer to a request struct).
// The body must be one JSON object, sent as application/json, with no
// field v does not have and nothing after it. An empty body is allowed
// when optional (v keeps its zero value). Every error is a 400 (or 415)
// that says what is wrong and, when it is one field, names it.
func decodeJSON(body []byte, contentType string, v any, optional bool) *Error {
	// JSON's own whitespace only: bytes.TrimSpace would also drop \f, \v
	// and Unicode spaces, which JSON refuses (found by FuzzDecodeJSON).
	trimmed := bytes.Trim(body, " \t\r\n")
	if len(trimmed) == 0 {
		if optional {
			return nil
		}
		return &Error{Status: http.StatusBadRequest, Code: protocol.CodeMalformed, Message: "the body is empty; send a JSON object"}
	}
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType,
			Message: fmt.Sprintf("the body must be JSON sent with Content-Type: application/json, not %q", truncate(contentType, 80))}
	}
	if trimmed[0] != '{' {
		return &Error{Status: http.StatusBadRequest, Code: protocol.CodeMalformed, Message: "the body must be a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		e := decodeError(err)
		if e.Code == protocol.CodeInvalidField && strings.HasPrefix(e.Message, "unknown field") {
			// encoding/json names an unknown field without its path;
			// find it, so that "notify.nmae" is reported as such.
			if path := unknownFieldPath(trimmed, reflect.TypeOf(v)); path != "" {
				e.Field = path
			}
		}
		return e
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Error{Status: http.StatusBadRequest, Code: protocol.CodeMalformed, Message: "the body has data after its JSON object"}
	}
	return nil
}

func decodeError(err error) *Error {
	malformed := func(msg string) *Error {
		return &Error{Status: http.StatusBadRequest, Code: protocol.CodeMalformed, Message: msg}
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return malformed(fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, syn))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed("the JSON object is incomplete")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return malformed("the body must be a JSON object")
		}
		return fieldErr(typ.Field, "%s must be %s, not %s", typ.Field, jsonKind(typ.Type.String()), typ.Value)
	}
	// encoding/json has no type for this one; its text is stable:
	// `json: unknown field "name"`.
	if name, ok := strings.CutPrefix(err.Error(), `json: unknown field "`); ok {
		name = strings.TrimSuffix(name, `"`)
		if name == "" {
			name = `""` // the empty key, written as JSON writes it
		}
		return fieldErr(name, "unknown field %q; docs/openapi.yaml lists the fields of each request", truncate(name, 80))
	}
	return malformed("invalid JSON: " + err.Error())
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(goType string) string {
	switch {
	case goType == "string" || strings.HasSuffix(goType, "ID") || strings.HasSuffix(goType, ".Tag"):
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["):
		return "an object"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	}
	return "an object"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// query reads a request's query parameters, refusing unknown and repeated
// ones, so a misspelt filter is an error rather than silently ignored.
type query struct {
	v url.Values
}

func parseQuery(r *http.Request, allowed ...string) (query, *Error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return query{}, &Error{Status: http.StatusBadRequest, Code: protocol.CodeMalformed, Message: "invalid query string: " + err.Error()}
	}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			return query{}, fieldErr(name, "unknown query parameter %q; this route takes %s", truncate(name, 80), listOrNone(allowed))
		}
		if len(v[name]) > 1 {
			return query{}, fieldErr(name, "query parameter %q is given %d times; give it once", name, len(v[name]))
		}
	}
	return query{v: v}, nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// str returns a parameter and whether it was given.
func (q query) str(name string) (string, bool) {
	vs, ok := q.v[name]
	if !ok {
		return "", false
	}
	return vs[0], true
}

// time reads a time given as unix milliseconds or RFC 3339 (zero when absent).
func (q query) time(name string) (time.Time, *Error) {
	s, ok := q.str(name)
	if !ok {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 || ms > maxUnixMilli {
			return time.Time{}, fieldErr(name, "%s is out of range; give unix milliseconds between 0 and %d", name, int64(maxUnixMilli))
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fieldErr(name, "%s must be unix milliseconds or an RFC 3339 time such as 2025-03-01T12:00:00Z, got %q", name, truncate(s, 60))
	}
	if t.Before(time.Unix(0, 0)) || t.UnixMilli() > maxUnixMilli {
		return time.Time{}, fieldErr(name, "%s is out of range (1970 to 9999)", name)
	}
	return t.UTC(), nil
}

// maxUnixMilli is the end of year 9999, the last time RFC 3339 can write.
const maxUnixMilli = 253402300799999

// int reads an integer in [lo, hi], def when absent.
func (q query) int(name string, lo, hi, def int) (int, *Error) {
	s, ok := q.str(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fieldErr(name, "%s must be an integer from %d to %d, got %q", name, lo, hi, truncate(s, 40))
	}
	return n, nil
}

// unknownFieldPath returns the JSON path of the first field of body (in
// key order) that type t has no place for, or "" if it finds none.
func unknownFieldPath(body []byte, t reflect.Type) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return unknownIn(v, t, "")
}

func unknownIn(v any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	join := func(k string) string {
		if k == "" {
			k = `""`
		}
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		switch t.Kind() {
		case reflect.Struct:
			for _, k := range keys {
				f, ok := jsonField(t, k)
				if !ok {
					return join(k)
				}
				if p := unknownIn(x[k], f.Type, join(k)); p != "" {
					return p
				}
			}
		case reflect.Map:
			for _, k := range keys {
				if p := unknownIn(x[k], t.Elem(), join(k)); p != "" {
					return p
				}
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, e := range x {
				if p := unknownIn(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

// jsonField finds the field of struct t that JSON key k decodes into,
// matching names case-insensitively as encoding/json does.
func jsonField(t reflect.Type, k string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.EqualFold(name, k) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
