package media

import (
	"errors"
	"net/http"
)

// Reason is a machine-readable cause of a refused push or play. Each one
// maps to an HTTP status for HTTP-FLV; RTMP logs it and closes the
// connection.
type Reason string

// Refusal reasons (documented in docs/media.md, "Refusals").
const (
	ReasonMalformed     Reason = "malformed_url"     // path or query cannot be parsed
	ReasonBadSignature  Reason = "bad_signature"     // not signed by the app's secret, or tampered
	ReasonExpired       Reason = "expired"           // past exp
	ReasonUnknownApp    Reason = "unknown_app"       // no such app
	ReasonWrongAction   Reason = "wrong_action"      // a play URL used to push, or the reverse
	ReasonNotPublished  Reason = "not_published"     // no publish for this stream (or its owner left)
	ReasonNotMember     Reason = "not_in_room"       // the user the URL was issued to is not in the room
	ReasonNotSubscribed Reason = "not_subscribed"    // the viewer unsubscribed from the stream
	ReasonNotLive       Reason = "not_live"          // the stream has no media yet, or ended
	ReasonBusy          Reason = "already_pushing"   // another pusher is sending on this stream
	ReasonUserPresent   Reason = "user_in_room"      // an ingest URL for a user who is in the room
	ReasonLimit         Reason = "limit"             // a server limit was reached
	ReasonUnavailable   Reason = "unavailable"       // the server is shutting down
	ReasonCodec         Reason = "unsupported_codec" // media the server does not carry
	ReasonBadMedia      Reason = "bad_media"         // malformed codec config or frames
)

// Status is the HTTP status for a refusal reason.
func (r Reason) Status() int {
	switch r {
	case ReasonMalformed, ReasonCodec, ReasonBadMedia:
		return http.StatusBadRequest
	case ReasonBadSignature, ReasonExpired, ReasonUnknownApp:
		return http.StatusUnauthorized
	case ReasonWrongAction, ReasonNotMember, ReasonNotSubscribed, ReasonUserPresent:
		return http.StatusForbidden
	case ReasonNotPublished, ReasonNotLive:
		return http.StatusNotFound
	case ReasonBusy:
		return http.StatusConflict
	case ReasonLimit:
		return http.StatusTooManyRequests
	default:
		return http.StatusServiceUnavailable
	}
}

// Reasons lists every reason (docs tests check each is documented).
var Reasons = []Reason{ReasonMalformed, ReasonBadSignature, ReasonExpired, ReasonUnknownApp, ReasonWrongAction,
	ReasonNotPublished, ReasonNotMember, ReasonNotSubscribed, ReasonNotLive, ReasonBusy, ReasonUserPresent, ReasonLimit,
	ReasonUnavailable, ReasonCodec, ReasonBadMedia}

// Refusal is why a push or play was not allowed.
type Refusal struct {
	Reason  Reason
	Message string
}

func (r *Refusal) Error() string { return string(r.Reason) + ": " + r.Message }

// Refuse makes a Refusal.
func Refuse(reason Reason, msg string) *Refusal { return &Refusal{Reason: reason, Message: msg} }

// AsRefusal returns err as a Refusal; other errors become "unavailable".
func AsRefusal(err error) *Refusal {
	var r *Refusal
	if errors.As(err, &r) {
		return r
	}
	return &Refusal{Reason: ReasonUnavailable, Message: err.Error()}
}
