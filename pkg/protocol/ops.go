package protocol

import (
	"encoding/json"

	"github.com/minirtc/minirtc/pkg/ids"
)

// Operations a client may request (the "op" of a request).
const (
	OpJoin             = "join"
	OpResume           = "resume"
	OpLeave            = "leave"
	OpPing             = "ping"
	OpPublish          = "publish"
	OpUnpublish        = "unpublish"
	OpSubscribe        = "subscribe"
	OpUnsubscribe      = "unsubscribe"
	OpMute             = "mute"
	OpSetAttributes    = "set_attributes"
	OpGetAttributes    = "get_attributes"
	OpDeleteAttributes = "delete_attributes"
	OpSendMessage      = "send_message"
	OpReport           = "report"
	OpKick             = "kick"
	OpCloseRoom        = "close_room"
	OpGetStreamStats   = "get_stream_stats"
	OpWebRTCAnswer     = "webrtc_answer"
	OpWebRTCCandidate  = "webrtc_candidate"
)

// MediaType says what a stream carries.
type MediaType string

// Media types of a stream.
const (
	MediaAudio      MediaType = "audio"
	MediaVideo      MediaType = "video"
	MediaAudioVideo MediaType = "audio_video"
)

// Valid reports whether m is one of the defined media types.
func (m MediaType) Valid() bool {
	return m == MediaAudio || m == MediaVideo || m == MediaAudioVideo
}

// HasAudio reports whether the stream carries audio.
func (m MediaType) HasAudio() bool { return m == MediaAudio || m == MediaAudioVideo }

// HasVideo reports whether the stream carries video.
func (m MediaType) HasVideo() bool { return m == MediaVideo || m == MediaAudioVideo }

// Stream is a published stream as everyone in the room sees it.
type Stream struct {
	ID     ids.StreamID `json:"id"`
	UserID ids.UserID   `json:"user_id"`
	Tag    ids.Tag      `json:"tag"`
	Media  MediaType    `json:"media"`
	// AudioMuted and VideoDisabled are the owner's mute states: the
	// publisher still publishes, but sends silence / no picture.
	AudioMuted    bool `json:"audio_muted"`
	VideoDisabled bool `json:"video_disabled"`
	// AudioLocked and VideoLocked are set while the app server keeps the
	// audio muted / the video disabled (REST API): the owner cannot undo
	// it with mute.
	AudioLocked bool `json:"audio_locked,omitempty"`
	VideoLocked bool `json:"video_locked,omitempty"`
	// Video and Audio describe the media as it arrived at the server; they
	// are set once the stream is live (absent in a publish response).
	Video *VideoInfo `json:"video,omitempty"`
	Audio *AudioInfo `json:"audio,omitempty"`
}

// VideoInfo describes a live stream's video.
type VideoInfo struct {
	Codec  string `json:"codec"` // "h264" or "h265"
	Width  int    `json:"width"`
	Height int    `json:"height"`
	// FPS is the frame rate the encoder declares, omitted when it does not
	// (get_stream_stats has the measured rate).
	FPS float64 `json:"fps,omitempty"`
}

// Equal compares two optional infos.
func (v *VideoInfo) Equal(o *VideoInfo) bool {
	return v == o || (v != nil && o != nil && *v == *o)
}

// AudioInfo describes a live stream's audio.
type AudioInfo struct {
	Codec      string `json:"codec"` // "aac"
	SampleRate int    `json:"sample_rate"`
	Channels   int    `json:"channels"`
}

// Equal compares two optional infos.
func (a *AudioInfo) Equal(o *AudioInfo) bool {
	return a == o || (a != nil && o != nil && *a == *o)
}

// Participant is a user in a room.
type Participant struct {
	UserID   ids.UserID `json:"user_id"`
	Name     string     `json:"name,omitempty"`
	Metadata string     `json:"metadata,omitempty"`
	// Grants is filled only in the join response's "self".
	Grants   []string `json:"grants,omitempty"`
	JoinedAt int64    `json:"joined_at"` // unix milliseconds
	Streams  []Stream `json:"streams"`
}

// Room is the room part of a join response.
type Room struct {
	ID         ids.RoomID        `json:"id"`
	Attributes map[string]string `json:"attributes"`
	CreatedAt  int64             `json:"created_at"` // unix milliseconds
}

// Notification is the optional name + content broadcast with an attribute
// change, for apps that signal state through attributes (e.g. "raise hand").
type Notification struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// JoinRequest is the data of "join".
type JoinRequest struct {
	Token    string     `json:"token"`
	Room     ids.RoomID `json:"room"`
	Protocol int        `json:"protocol,omitempty"` // 0 means Version
}

// JoinResponse is the data answering "join".
type JoinResponse struct {
	Protocol    int           `json:"protocol"`
	SessionID   ids.SessionID `json:"session_id"`
	ResumeToken string        `json:"resume_token"`
	Room        Room          `json:"room"`
	Self        Participant   `json:"self"`
	// Participants are the other users, each with its published streams.
	Participants     []Participant `json:"participants"`
	PingIntervalMs   int64         `json:"ping_interval_ms"`
	SessionTimeoutMs int64         `json:"session_timeout_ms"`
	ServerTime       int64         `json:"server_time"`
	// WebRTC is present when the server takes WebRTC publishers and
	// subscribers.
	WebRTC *WebRTCInfo `json:"webrtc,omitempty"`
}

// ResumeRequest is the data of "resume": sent on a new connection to take
// back a session whose connection was lost. LastSeq is the seq of the last
// event the client processed.
type ResumeRequest struct {
	ResumeToken string `json:"resume_token"`
	LastSeq     uint64 `json:"last_seq"`
}

// ResumeResponse answers "resume". The Replayed events (those after LastSeq)
// follow the response, in order, before any new event.
type ResumeResponse struct {
	SessionID        ids.SessionID `json:"session_id"`
	Replayed         int           `json:"replayed"`
	PingIntervalMs   int64         `json:"ping_interval_ms"`
	SessionTimeoutMs int64         `json:"session_timeout_ms"`
	ServerTime       int64         `json:"server_time"`
}

// PingRequest is the data of "ping". LastSeq acknowledges events up to it so
// the server can forget them (they no longer need to be kept for a resume).
type PingRequest struct {
	LastSeq uint64 `json:"last_seq"`
}

// PingResponse answers "ping".
type PingResponse struct {
	ServerTime int64 `json:"server_time"`
}

// PublishRequest is the data of "publish".
type PublishRequest struct {
	Tag   ids.Tag   `json:"tag,omitempty"` // default "main"
	Media MediaType `json:"media"`
	// Transport is how the media will come: TransportRTMP (default, a
	// push URL) or TransportWebRTC (Offer is then the client's SDP offer).
	Transport Transport `json:"transport,omitempty"`
	Offer     string    `json:"offer,omitempty"`
}

// PublishResponse answers "publish". With the media plane, PushURL is the
// signed RTMP URL to push the stream to (live-pusher's url); the stream is
// announced to the room when media arrives on it.
type PublishResponse struct {
	Stream           Stream `json:"stream"`
	PushURL          string `json:"push_url,omitempty"`
	PushURLExpiresAt int64  `json:"push_url_expires_at,omitempty"` // unix ms: start pushing before this
	// Answer is the server's SDP answer, for Transport "webrtc".
	Answer string `json:"answer,omitempty"`
}

// UnpublishRequest is the data of "unpublish".
type UnpublishRequest struct {
	Tag ids.Tag `json:"tag,omitempty"` // default "main"
}

// SubscribeRequest is the data of "subscribe" and "unsubscribe".
type SubscribeRequest struct {
	Streams []ids.StreamID `json:"streams"`
	// Transport "webrtc" adds the streams to the session's WebRTC
	// downlink (a webrtc_offer follows) instead of answering play URLs.
	Transport Transport `json:"transport,omitempty"`
}

// SubscribeResponse answers "subscribe" and "unsubscribe" with the caller's
// subscriptions after the change. A subscribe response also carries signed
// play URLs for each stream requested.
type SubscribeResponse struct {
	Subscriptions []ids.StreamID            `json:"subscriptions"`
	URLs          map[ids.StreamID]PlayURLs `json:"urls,omitempty"`
}

// PlayURLs are the signed URLs to play one stream, bound to the subscriber.
type PlayURLs struct {
	RTMP      string `json:"rtmp"`
	FLV       string `json:"flv"`
	ExpiresAt int64  `json:"expires_at"` // unix ms: start playing before this
}

// GetStreamStatsRequest is the data of "get_stream_stats"; no streams means
// every live stream of the room.
type GetStreamStatsRequest struct {
	Streams []ids.StreamID `json:"streams,omitempty"`
}

// GetStreamStatsResponse answers "get_stream_stats".
type GetStreamStatsResponse struct {
	Stats []StreamStats `json:"stats"`
}

// StreamStats is the server's view of one live stream.
type StreamStats struct {
	Stream     ids.StreamID   `json:"stream"`
	Video      *VideoInfo     `json:"video,omitempty"`
	Audio      *AudioInfo     `json:"audio,omitempty"`
	BitrateIn  int64          `json:"bitrate_in"`  // bits/s from the publisher, last second
	BitrateOut int64          `json:"bitrate_out"` // bits/s to all players, last second
	FPS        float64        `json:"fps"`         // video frames/s received, last second
	GOPFrames  int            `json:"gop_frames"`  // frames in the last complete GOP
	GOPMs      int64          `json:"gop_ms"`      // its duration
	Readers    map[string]int `json:"readers"`     // players per protocol: "rtmp", "flv"
	Dropped    int64          `json:"dropped"`     // frames slow players skipped
	Pushing    bool           `json:"pushing"`     // false while waiting for a reconnect
}

// MuteRequest is the data of "mute": the owner's mute states of one of its
// streams. Absent fields keep their value.
type MuteRequest struct {
	Tag           ids.Tag `json:"tag,omitempty"` // default "main"
	AudioMuted    *bool   `json:"audio_muted,omitempty"`
	VideoDisabled *bool   `json:"video_disabled,omitempty"`
}

// MuteResponse answers "mute".
type MuteResponse struct {
	Stream Stream `json:"stream"`
}

// SetAttributesRequest is the data of "set_attributes".
type SetAttributesRequest struct {
	Attributes map[string]string `json:"attributes"`
	Notify     *Notification     `json:"notify,omitempty"`
}

// GetAttributesRequest is the data of "get_attributes"; no keys means all.
type GetAttributesRequest struct {
	Keys []string `json:"keys,omitempty"`
}

// AttributesResponse answers the attribute operations with the requested
// (get) or resulting (set, delete) attributes.
type AttributesResponse struct {
	Attributes map[string]string `json:"attributes"`
}

// DeleteAttributesRequest is the data of "delete_attributes".
type DeleteAttributesRequest struct {
	Keys   []string      `json:"keys"`
	Notify *Notification `json:"notify,omitempty"`
}

// SendMessageRequest is the data of "send_message". With To empty the
// message goes to everyone else in the room.
type SendMessageRequest struct {
	Name    string       `json:"name"`
	Content string       `json:"content"`
	To      []ids.UserID `json:"to,omitempty"`
}

// SendMessageResponse answers "send_message".
type SendMessageResponse struct {
	MessageID string `json:"message_id"`
}

// ReportRequest is the data of "report": a client's quality or state report
// (e.g. live-pusher state codes and net status), stored by the server.
type ReportRequest struct {
	Kind   string          `json:"kind"`
	Stream ids.StreamID    `json:"stream,omitempty"`
	Data   json.RawMessage `json:"data"`
}

// ReportResponse answers "report".
type ReportResponse struct {
	ReportID int64 `json:"report_id"`
}

// KickRequest is the data of "kick" (admin grant).
type KickRequest struct {
	User       ids.UserID `json:"user"`
	BanSeconds int64      `json:"ban_seconds,omitempty"`
	Reason     string     `json:"reason,omitempty"`
}

// CloseRoomRequest is the data of "close_room" (admin grant).
type CloseRoomRequest struct {
	Reason string `json:"reason,omitempty"`
}

// Empty is the data of responses that carry nothing.
type Empty struct{}
