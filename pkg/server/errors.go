package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/minirtc/minirtc/pkg/protocol"
)

// The REST API's own error codes (docs/openapi.yaml, components.schemas.Error).
// Its other codes are those of the signalling protocol, with the same
// meaning: protocol.CodeInvalidField (1003), protocol.CodeUserNotFound
// (3003), protocol.CodeTokenExpired (2003), ...
const (
	// CodeUnauthorized: no credentials, or not the ones the route takes
	// (the operator key for app management). HTTP 401.
	CodeUnauthorized protocol.Code = 4001
	// CodeNotFound: no such app (or one of another app), room, ban, ingest
	// or route. HTTP 404.
	CodeNotFound protocol.Code = 4004
	// CodeMethodNotAllowed: the path exists, not with this method. HTTP 405.
	CodeMethodNotAllowed protocol.Code = 4005
	// CodeUnsupportedMediaType: a body that is not application/json. HTTP 415.
	CodeUnsupportedMediaType protocol.Code = 4015
)

// APIError is an answer of the API that is not a success: the HTTP status
// and the error body's code, message and, when one field of the request was
// at fault, its name ("ttl_seconds", "limits.max_rooms", "to[2]", a query
// or path parameter). Test with errors.As, or with CodeOf.
type APIError struct {
	Status  int
	Code    protocol.Code // 0 when the body was not an API error (e.g. a proxy's page)
	Message string
	Field   string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "minirtc api: %d %s", e.Status, http.StatusText(e.Status))
	if e.Code != 0 {
		fmt.Fprintf(&b, ", code %d", int(e.Code))
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ", field %s", e.Field)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Temporary reports whether the same request may succeed later: an internal
// error of the server (5001) or a gateway's 502/503/504.
func (e *APIError) Temporary() bool {
	return e.Code == protocol.CodeInternal || e.Status == http.StatusBadGateway ||
		e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout
}

// CodeOf returns the API error code of err (0 when err is not an *APIError).
func CodeOf(err error) protocol.Code {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// IsNotFound reports whether err is a 404 of the API: no such app, room,
// ban or ingest (4004), user in the room (3003) or stream (3005).
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// parseAPIError reads an error body; a body that is not one (a proxy's HTML
// page) becomes the message, shortened.
func parseAPIError(status int, body []byte) *APIError {
	var eb struct {
		Error *struct {
			Code    protocol.Code `json:"code"`
			Message string        `json:"message"`
			Field   string        `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &eb) == nil && eb.Error != nil {
		return &APIError{Status: status, Code: eb.Error.Code, Message: eb.Error.Message, Field: eb.Error.Field}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200]
		for !utf8.ValidString(msg) {
			msg = msg[:len(msg)-1]
		}
		msg += "..."
	}
	if msg == "" {
		msg = "no error body"
	}
	return &APIError{Status: status, Message: "not an API error answer: " + msg}
}
