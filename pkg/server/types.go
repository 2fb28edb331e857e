package server

import (
	"encoding/json"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// The types below mirror the schemas of docs/openapi.yaml (named the same,
// less the "JSON"/"Request" noise where it helps). Answers are decoded
// leniently: a field a newer server adds is ignored, not an error.

// Millis is a time in unix milliseconds, as the API writes times (fields
// named *_at). 0 means "not set" where a field is optional.
type Millis int64

// Time converts m; the zero Millis gives the zero time.Time.
func (m Millis) Time() time.Time {
	if m == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(m))
}

// MillisOf converts t; the zero time gives 0.
func MillisOf(t time.Time) Millis {
	if t.IsZero() {
		return 0
	}
	return Millis(t.UnixMilli())
}

// AppLimits are an app's own limits; 0 means the server's.
type AppLimits struct {
	MaxParticipants int `json:"max_participants"` // participants per room
	MaxRooms        int `json:"max_rooms"`        // rooms open at once
}

// App is an app (a tenant). Secret is set only in the answers of CreateApp
// and RotateSecret.
type App struct {
	ID     ids.AppID `json:"id"`
	Name   string    `json:"name"`
	Limits AppLimits `json:"limits"`
	Secret string    `json:"secret,omitempty"`
	// PreviousSecretExpiresAt is when the secret before the last rotation
	// stops working; 0 when it already has.
	PreviousSecretExpiresAt Millis `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               Millis `json:"created_at"`
	UpdatedAt               Millis `json:"updated_at"`
}

// LimitsRequest sets limits; a nil field keeps its value, 0 means the
// server's limit.
type LimitsRequest struct {
	MaxParticipants *int `json:"max_participants,omitempty"`
	MaxRooms        *int `json:"max_rooms,omitempty"`
}

// CreateAppRequest is the body of CreateApp.
type CreateAppRequest struct {
	Name   string         `json:"name"` // 1 to 128 characters, no control characters
	Limits *LimitsRequest `json:"limits,omitempty"`
}

// UpdateAppRequest is the body of UpdateApp: only the non-nil fields change.
type UpdateAppRequest struct {
	Name   *string        `json:"name,omitempty"`
	Limits *LimitsRequest `json:"limits,omitempty"`
}

// RotateSecretRequest is the body of RotateSecret.
type RotateSecretRequest struct {
	// OverlapSeconds is how long the old secret keeps working: nil gives the
	// server's default (86400, one day), 0 stops it at once; at most 2592000.
	OverlapSeconds *int64 `json:"overlap_seconds,omitempty"`
}

// MintTokenRequest is the body of MintToken (a token made by the server;
// SignToken makes the same locally).
type MintTokenRequest struct {
	User ids.UserID `json:"user"`
	Room ids.RoomID `json:"room,omitempty"` // empty: any room of the app
	// Grants: nil gives publish, subscribe and data; an empty, non-nil
	// list gives no grant at all.
	Grants     []Grant `json:"grants,omitzero"`
	Name       string  `json:"name,omitempty"`
	Metadata   string  `json:"metadata,omitempty"`
	TTLSeconds int64   `json:"ttl_seconds,omitempty"` // 0: 3600; at most 2592000
}

// Token is a token the server minted.
type Token struct {
	Token     string     `json:"token"` // the JWT
	ID        string     `json:"id"`    // its jti
	App       ids.AppID  `json:"app"`
	User      ids.UserID `json:"user"`
	Room      ids.RoomID `json:"room,omitempty"`
	Grants    []Grant    `json:"grants"`
	ExpiresAt Millis     `json:"expires_at"`
}

// RoomSummary is a room in ListRooms.
type RoomSummary struct {
	ID           ids.RoomID `json:"id"`
	Participants int        `json:"participants"`
	Streams      int        `json:"streams"` // live streams
	CreatedAt    Millis     `json:"created_at"`
}

// Room is a room with its attributes and participants (in join order).
type Room struct {
	ID           ids.RoomID        `json:"id"`
	CreatedAt    Millis            `json:"created_at"`
	Attributes   map[string]string `json:"attributes"`
	Participants []Participant     `json:"participants"`
}

// Participant is a participant as the app server sees it, with its grants
// and subscriptions. Streams are the live ones, as the signalling protocol
// describes them.
type Participant struct {
	UserID        ids.UserID        `json:"user_id"`
	Name          string            `json:"name"`
	Metadata      string            `json:"metadata"`
	Grants        []Grant           `json:"grants"`
	JoinedAt      Millis            `json:"joined_at"`
	Streams       []protocol.Stream `json:"streams"`
	Subscriptions []ids.StreamID    `json:"subscriptions"`
}

// UpdateParticipantRequest is the body of UpdateParticipant: only the
// non-nil fields change (give at least one). Grants: nil keeps them, an
// empty non-nil list takes every grant away.
type UpdateParticipantRequest struct {
	Name     *string `json:"name,omitempty"`
	Metadata *string `json:"metadata,omitempty"`
	Grants   []Grant `json:"grants,omitzero"`
}

// KickRequest is the body of Kick.
type KickRequest struct {
	// BanSeconds bans the user from the room for that long; 0: no ban.
	BanSeconds int64 `json:"ban_seconds,omitempty"`
	// Reason is shown to the kicked user (at most 256 bytes).
	Reason string `json:"reason,omitempty"`
}

// Ban is a ban in force.
type Ban struct {
	Room   ids.RoomID `json:"room"`
	User   ids.UserID `json:"user"`
	Until  Millis     `json:"until,omitempty"` // 0: until lifted
	By     ids.UserID `json:"by,omitempty"`    // the admin participant who banned, if one did
	Reason string     `json:"reason,omitempty"`
}

// StreamStats is what the server measures of a live stream.
type StreamStats struct {
	BitrateIn  int64          `json:"bitrate_in"`  // bits/s from the publisher, last second
	BitrateOut int64          `json:"bitrate_out"` // bits/s to all players, last second
	FPS        float64        `json:"fps"`         // video frames/s received, last second
	GOPFrames  int            `json:"gop_frames"`  // frames in the last complete GOP
	GOPMs      int64          `json:"gop_ms"`      // its duration
	Readers    map[string]int `json:"readers"`     // players per protocol: rtmp, flv, webrtc
	Dropped    int64          `json:"dropped"`     // frames slow players skipped
	Pushing    bool           `json:"pushing"`     // false while waiting for the publisher to reconnect
}

// StreamEntry is a live stream with its statistics (Stats is nil when the
// server has none for it).
type StreamEntry struct {
	protocol.Stream
	Stats *StreamStats `json:"stats,omitempty"`
}

// MuteRequest is the body of MuteStream; give at least one field. true
// mutes (disables) and locks, false unmutes (enables) and unlocks.
type MuteRequest struct {
	AudioMuted    *bool `json:"audio_muted,omitempty"`
	VideoDisabled *bool `json:"video_disabled,omitempty"`
}

// Notification goes with an attribute change, like a message.
type Notification = protocol.Notification

// SetAttributesRequest is the body of SetAttributes (all or nothing).
type SetAttributesRequest struct {
	Attributes map[string]string `json:"attributes"`
	Notify     *Notification     `json:"notify,omitempty"`
}

// DeleteAttributesRequest is the body of DeleteAttributes; keys that do
// not exist are ignored.
type DeleteAttributesRequest struct {
	Keys   []string      `json:"keys"` // 1 to 64
	Notify *Notification `json:"notify,omitempty"`
}

// MessageRequest is the body of SendMessage.
type MessageRequest struct {
	Name    string `json:"name"` // what kind of message, e.g. "notice"
	Content string `json:"content,omitempty"`
	// To sends it only to these users (all must be in the room); empty:
	// everyone.
	To []ids.UserID `json:"to,omitempty"`
}

// ReportQuery selects reports for QueryReports; zero fields do not filter.
type ReportQuery struct {
	Room  ids.RoomID
	User  ids.UserID
	From  time.Time // reports at or after
	To    time.Time // reports before
	Limit int       // 1 to 1000; 0: the server's default (100)
}

// Report is a quality or state report a client sent.
type Report struct {
	ID      int64           `json:"id"`
	Room    ids.RoomID      `json:"room"`
	User    ids.UserID      `json:"user"`
	Session ids.SessionID   `json:"session,omitempty"`
	Kind    string          `json:"kind"` // pusher, player, quality, ...
	Stream  ids.StreamID    `json:"stream,omitempty"`
	Data    json.RawMessage `json:"data"` // the report as the client sent it
	At      Millis          `json:"at"`
}

// IngestRequest is the body of CreateIngest.
type IngestRequest struct {
	Room       ids.RoomID `json:"room"`
	User       ids.UserID `json:"user"`
	Tag        ids.Tag    `json:"tag,omitempty"`         // default main
	TTLSeconds int64      `json:"ttl_seconds,omitempty"` // how long the URL can start a push; 0: 3600
}

// Ingest is a signed RTMP URL for an external encoder. URL is set only in
// the answer of CreateIngest.
type Ingest struct {
	ID        string       `json:"id"`
	URL       string       `json:"url,omitempty"`
	Room      ids.RoomID   `json:"room"`
	User      ids.UserID   `json:"user"`
	Stream    ids.StreamID `json:"stream"`
	ExpiresAt Millis       `json:"expires_at"`
	CreatedAt Millis       `json:"created_at"`
	RevokedAt Millis       `json:"revoked_at,omitempty"`
}
