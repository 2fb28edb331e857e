package protocol

import "github.com/minirtc/minirtc/pkg/ids"

// Events the server sends (the "event" of an event frame). An event about
// something a user did is not sent to that user: the response told it.
// Exceptions: room_closed goes to everyone, the closer included, and an
// admin who kicks someone receives the stream_unpublished and user_left
// that follow (the kick response carries no room state).
const (
	EvUserJoined         = "user_joined"
	EvUserLeft           = "user_left"
	EvStreamPublished    = "stream_published"
	EvStreamUnpublished  = "stream_unpublished"
	EvStreamStateChanged = "stream_state_changed"
	EvAttributesChanged  = "attributes_changed"
	EvMessage            = "message"
	EvKickedOff          = "kicked_off"
	EvRoomClosed         = "room_closed"
	EvGoingAway          = "server_going_away"
	EvWebRTCOffer        = "webrtc_offer"
	EvWebRTCClosed       = "webrtc_closed"
	// Sent because the app server acted through the REST API.
	EvParticipantUpdated = "participant_updated"
	EvForceMute          = "force_mute"
)

// LeaveReason says why a user left a room.
type LeaveReason string

// Reasons in user_left and kicked_off.
const (
	ReasonLeft     LeaveReason = "left"     // the user left
	ReasonTimeout  LeaveReason = "timeout"  // no ping for the session timeout
	ReasonKicked   LeaveReason = "kicked"   // removed by an admin
	ReasonReplaced LeaveReason = "replaced" // the same user joined again elsewhere
	// ReasonRoomClosed appears only in server-side records (observers,
	// webhooks): clients of a closed room get room_closed instead.
	ReasonRoomClosed LeaveReason = "room_closed"
)

// UserJoinedEvent is the data of "user_joined".
type UserJoinedEvent struct {
	User Participant `json:"user"`
}

// UserLeftEvent is the data of "user_left". The user's streams were
// unpublished (with their own events) just before.
type UserLeftEvent struct {
	UserID ids.UserID  `json:"user_id"`
	Reason LeaveReason `json:"reason"`
}

// StreamEvent is the data of "stream_published", "stream_unpublished" and
// "stream_state_changed".
type StreamEvent struct {
	Stream Stream `json:"stream"`
}

// AttributesChangedEvent is the data of "attributes_changed".
type AttributesChangedEvent struct {
	Set     map[string]string `json:"set,omitempty"`
	Deleted []string          `json:"deleted,omitempty"`
	By      ids.UserID        `json:"by"`
	Notify  *Notification     `json:"notify,omitempty"`
}

// MessageEvent is the data of "message".
type MessageEvent struct {
	ID      string     `json:"id"`
	From    ids.UserID `json:"from"`
	Name    string     `json:"name"`
	Content string     `json:"content"`
	// Private is true when the message was sent to a list of users rather
	// than to the whole room.
	Private bool  `json:"private,omitempty"`
	SentAt  int64 `json:"sent_at"` // unix milliseconds
}

// KickedOffEvent is the data of "kicked_off", sent to the removed session
// just before the server closes its connection.
type KickedOffEvent struct {
	Reason     LeaveReason `json:"reason"`
	By         ids.UserID  `json:"by,omitempty"`
	BanSeconds int64       `json:"ban_seconds,omitempty"`
	Message    string      `json:"message,omitempty"`
}

// RoomClosedEvent is the data of "room_closed".
type RoomClosedEvent struct {
	Reason string     `json:"reason,omitempty"`
	By     ids.UserID `json:"by,omitempty"`
}

// GoingAwayEvent is the data of "server_going_away": the server is shutting
// down; the client should reconnect (to this or another server) after
// RetryAfterMs.
type GoingAwayEvent struct {
	Reason       string `json:"reason"`
	RetryAfterMs int64  `json:"retry_after_ms"`
}

// ParticipantUpdatedEvent is the data of "participant_updated": the app
// server changed a participant's name, metadata or grants (REST API). The
// participant itself receives it too, with its grants; others get it
// without them.
type ParticipantUpdatedEvent struct {
	User Participant `json:"user"`
}

// ForceMuteEvent is the data of "force_mute", sent to a stream's owner only:
// the app server muted or unmuted the stream (REST API) and the publisher
// must now send silence / no picture, or may send again. Only the fields the
// app server changed are present. Stream is the stream after the change; its
// audio_locked / video_locked say whether the owner may unmute by itself.
type ForceMuteEvent struct {
	Stream        Stream `json:"stream"`
	AudioMuted    *bool  `json:"audio_muted,omitempty"`
	VideoDisabled *bool  `json:"video_disabled,omitempty"`
}
