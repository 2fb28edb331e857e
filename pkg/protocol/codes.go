package protocol

import (
	"fmt"
	"slices"
)

// Code is the numeric result of a request. 0 means success; every other
// value is listed here and in docs/protocol.md. Codes are grouped by the
// thousands: 1xxx the request itself, 2xxx identity and permission, 3xxx room
// state, 5xxx the server.
type Code int

// Result codes of protocol v1. Never renumber: clients switch on them.
const (
	CodeOK Code = 0

	CodeMalformed       Code = 1001 // not JSON, or not a JSON object
	CodeUnknownOp       Code = 1002 // op is not an operation of this protocol version
	CodeInvalidField    Code = 1003 // a field is missing, of the wrong type, or out of range
	CodeFrameTooLarge   Code = 1004 // request larger than MaxFrameBytes
	CodeRateLimited     Code = 1005 // too many requests or messages on this connection
	CodeNotJoined       Code = 1006 // operation needs a joined session
	CodeAlreadyJoined   Code = 1007 // join/resume on a connection that already has a session
	CodeBadVersion      Code = 1008 // protocol version not supported
	CodeTokenInvalid    Code = 2001 // token malformed
	CodeTokenSignature  Code = 2002 // token signature does not match the app's secret
	CodeTokenExpired    Code = 2003 // token expired (or not yet valid)
	CodeUnknownApp      Code = 2004 // token issuer is not an app of this server
	CodeRoomNotAllowed  Code = 2005 // token is restricted to another room
	CodePermission      Code = 2006 // the token lacks the grant the operation needs
	CodeBanned          Code = 2007 // the user is banned from the room
	CodeResumeFailed    Code = 2008 // resume token unknown, expired or session gone
	CodeRoomFull        Code = 3001 // room has its maximum number of participants
	CodeTooManyRooms    Code = 3002 // the app has its maximum number of rooms
	CodeUserNotFound    Code = 3003 // no such user in the room
	CodeStreamExists    Code = 3004 // a stream with this tag is already published
	CodeStreamNotFound  Code = 3005 // no such stream (not published, or unknown)
	CodeAttributeLimit  Code = 3006 // room attribute limits exceeded (count, key or value size, total size)
	CodeMessageTooLarge Code = 3007 // message (or notification) name or content over its limit
	CodeTooManyStreams  Code = 3008 // the participant publishes its maximum number of streams
	CodeRoomClosed      Code = 3009 // the room was closed
	CodeTooManySubs     Code = 3010 // the participant subscribes to its maximum number of streams
	CodeCodec           Code = 3011 // a codec this transport cannot carry (VP8 over RTMP/FLV, an offer with no codec we take)
	CodeNegotiation     Code = 3012 // the SDP offer or answer cannot be used
	CodeNoWebRTC        Code = 3013 // this server does not take WebRTC (disabled)
	CodeInternal        Code = 5001 // unexpected server error; the request may be retried
	CodeGoingAway       Code = 5002 // the server is shutting down; reconnect later
)

var codeText = map[Code]string{
	CodeOK:              "ok",
	CodeMalformed:       "malformed request",
	CodeUnknownOp:       "unknown operation",
	CodeInvalidField:    "invalid field",
	CodeFrameTooLarge:   "frame too large",
	CodeRateLimited:     "rate limited",
	CodeNotJoined:       "not joined",
	CodeAlreadyJoined:   "already joined",
	CodeBadVersion:      "unsupported protocol version",
	CodeTokenInvalid:    "invalid token",
	CodeTokenSignature:  "bad token signature",
	CodeTokenExpired:    "token expired",
	CodeUnknownApp:      "unknown app",
	CodeRoomNotAllowed:  "token not valid for this room",
	CodePermission:      "permission denied",
	CodeBanned:          "banned from room",
	CodeResumeFailed:    "resume failed",
	CodeRoomFull:        "room full",
	CodeTooManyRooms:    "too many rooms",
	CodeUserNotFound:    "user not found",
	CodeStreamExists:    "stream already published",
	CodeStreamNotFound:  "stream not found",
	CodeAttributeLimit:  "attribute limit exceeded",
	CodeMessageTooLarge: "message too large",
	CodeTooManyStreams:  "too many streams",
	CodeRoomClosed:      "room closed",
	CodeTooManySubs:     "too many subscriptions",
	CodeInternal:        "internal error",
	CodeGoingAway:       "server going away",
}

// Codes lists every defined code in ascending order (for docs and tests).
func Codes() []Code {
	out := make([]Code, 0, len(codeText))
	for c := range codeText {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// String is the short fixed text of the code.
func (c Code) String() string {
	if s, ok := codeText[c]; ok {
		return s
	}
	return fmt.Sprintf("code %d", int(c))
}

// Error is a failed request: a code plus a message for humans that says what
// was wrong. It is what server packages return and what clients receive.
type Error struct {
	Code Code
	Msg  string
}

// Errorf builds an Error whose message is the code's text followed by detail.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Msg: c.String() + ": " + fmt.Sprintf(format, args...)}
}

// NewError builds an Error with just the code's text as message.
func NewError(c Code) *Error { return &Error{Code: c, Msg: c.String()} }

func (e *Error) Error() string { return fmt.Sprintf("%s (code %d)", e.Msg, int(e.Code)) }

// Is makes errors.Is(err, protocol.NewError(code)) match any error of that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}
