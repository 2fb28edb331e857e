package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Codes of the REST API. Where an error means what a signalling protocol
// code means, the API answers that code (pkg/protocol, docs/protocol.md);
// the 4xxx codes are the API's own. docs/openapi.yaml lists them all
// (components.schemas.Error) and a test keeps the two in step.
const (
	// CodeUnauthorized: no credentials, or not the ones the route takes
	// (the operator key for app management). HTTP 401.
	CodeUnauthorized protocol.Code = 4001
	// CodeNotFound: no such app, room, ban, ingest or route (or one of
	// another app). HTTP 404.
	CodeNotFound protocol.Code = 4004
	// CodeMethodNotAllowed: the path exists but not with this method. HTTP 405.
	CodeMethodNotAllowed protocol.Code = 4005
	// CodeUnsupportedMediaType: a body that is not application/json. HTTP 415.
	CodeUnsupportedMediaType protocol.Code = 4015
)

// Codes lists every code the API answers, ascending (for the spec test).
func Codes() []protocol.Code {
	return []protocol.Code{
		protocol.CodeMalformed, protocol.CodeInvalidField, protocol.CodeFrameTooLarge,
		protocol.CodeTokenInvalid, protocol.CodeTokenSignature, protocol.CodeTokenExpired, protocol.CodeUnknownApp,
		protocol.CodeRoomNotAllowed, protocol.CodePermission,
		protocol.CodeUserNotFound, protocol.CodeStreamNotFound, protocol.CodeAttributeLimit, protocol.CodeMessageTooLarge,
		CodeUnauthorized, CodeNotFound, CodeMethodNotAllowed, CodeUnsupportedMediaType,
		protocol.CodeInternal,
	}
}

// Error is an API error: the HTTP status, a code, a message for people and,
// for a problem with one field of the request, that field's name (a JSON
// path such as "limits.max_rooms" or "to[2]", or a query or path parameter).
type Error struct {
	Status  int
	Code    protocol.Code
	Message string
	Field   string
	// cause is the underlying failure of a server error, for the log.
	cause error
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%d %s (field %s): %s", e.Code, http.StatusText(e.Status), e.Field, e.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.Code, http.StatusText(e.Status), e.Message)
}

// errorBody is what an error looks like on the wire.
type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code    protocol.Code `json:"code"`
	Message string        `json:"message"`
	Field   string        `json:"field,omitempty"`
}

func fieldErr(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: protocol.CodeInvalidField, Field: field, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

func unauthorized(format string, args ...any) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: fmt.Sprintf(format, args...)}
}

// statusOf maps a protocol code to the HTTP status the API answers it with.
func statusOf(c protocol.Code) int {
	switch c {
	case protocol.CodeFrameTooLarge:
		return http.StatusRequestEntityTooLarge
	case protocol.CodeTokenInvalid, protocol.CodeTokenSignature, protocol.CodeTokenExpired, protocol.CodeUnknownApp:
		return http.StatusUnauthorized
	case protocol.CodeRoomNotAllowed, protocol.CodePermission, protocol.CodeBanned:
		return http.StatusForbidden
	case protocol.CodeUserNotFound, protocol.CodeStreamNotFound, protocol.CodeRoomClosed:
		return http.StatusNotFound
	case protocol.CodeRoomFull, protocol.CodeTooManyRooms, protocol.CodeStreamExists, protocol.CodeTooManyStreams, protocol.CodeTooManySubs:
		return http.StatusConflict
	case protocol.CodeInternal:
		return http.StatusInternalServerError
	case protocol.CodeGoingAway:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// fromRoom turns an error of the room model into an API error. field names
// the request field a validation error is about. A room that is not open is
// a room not found: it never existed, ended, or was closed.
func fromRoom(err error, field string) *Error {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return internal(err)
	}
	if pe.Code == protocol.CodeRoomClosed {
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: strings.TrimPrefix(pe.Msg, pe.Code.String()+": ")}
	}
	e := &Error{Status: statusOf(pe.Code), Code: pe.Code, Message: pe.Msg}
	if e.Status == http.StatusBadRequest {
		e.Field = field
	}
	return e
}

// fromStore turns a store error into an API error: ErrNotFound is 404,
// anything else a server error.
func fromStore(err error, what string) *Error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound("%s not found", what)
	}
	return internal(err)
}

// internal is an unexpected failure. Its message is generic: the details
// are for the server log, not for the caller.
func internal(err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: protocol.CodeInternal,
		Message: "internal error; the request may be retried", cause: err}
}
