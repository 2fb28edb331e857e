package api

import (
	"encoding/json"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// JSON shapes of responses. Times are unix milliseconds, in fields named
// *_at; docs/openapi.yaml gives each shape as a schema.

type appJSON struct {
	ID     ids.AppID       `json:"id"`
	Name   string          `json:"name"`
	Limits store.AppLimits `json:"limits"`
	// Secret is shown only when it is new: in the answers to create and
	// rotate-secret.
	Secret string `json:"secret,omitempty"`
	// PreviousSecretExpiresAt is when the secret before the last rotation
	// stops working; absent when it already has.
	PreviousSecretExpiresAt int64 `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               int64 `json:"created_at"`
	UpdatedAt               int64 `json:"updated_at"`
}

func newAppJSON(a store.App, now time.Time, withSecret bool) appJSON {
	j := appJSON{ID: a.ID, Name: a.Name, Limits: a.Limits, CreatedAt: a.CreatedAt.UnixMilli(), UpdatedAt: a.UpdatedAt.UnixMilli()}
	if withSecret {
		j.Secret = a.Secret
	}
	if a.PreviousSecretValid(now) {
		j.PreviousSecretExpiresAt = a.PreviousSecretUntil.UnixMilli()
	}
	return j
}

type appsJSON struct {
	Apps []appJSON `json:"apps"`
}

type tokenJSON struct {
	Token     string     `json:"token"`
	ID        string     `json:"id"`
	App       ids.AppID  `json:"app"`
	User      ids.UserID `json:"user"`
	Room      ids.RoomID `json:"room,omitempty"`
	Grants    []string   `json:"grants"`
	ExpiresAt int64      `json:"expires_at"`
}

type roomSummaryJSON struct {
	ID           ids.RoomID `json:"id"`
	Participants int        `json:"participants"`
	Streams      int        `json:"streams"`
	CreatedAt    int64      `json:"created_at"`
}

type roomsJSON struct {
	Rooms []roomSummaryJSON `json:"rooms"`
}

type roomJSON struct {
	ID           ids.RoomID        `json:"id"`
	CreatedAt    int64             `json:"created_at"`
	Attributes   map[string]string `json:"attributes"`
	Participants []participantJSON `json:"participants"`
}

// participantJSON is a participant as the app server sees it: everything,
// including its grants and subscriptions.
type participantJSON struct {
	UserID        ids.UserID        `json:"user_id"`
	Name          string            `json:"name"`
	Metadata      string            `json:"metadata"`
	Grants        []string          `json:"grants"`
	JoinedAt      int64             `json:"joined_at"`
	Streams       []protocol.Stream `json:"streams"`
	Subscriptions []ids.StreamID    `json:"subscriptions"`
}

func newParticipantJSON(p protocol.Participant, subs []ids.StreamID) participantJSON {
	j := participantJSON{UserID: p.UserID, Name: p.Name, Metadata: p.Metadata, Grants: p.Grants, JoinedAt: p.JoinedAt,
		Streams: p.Streams, Subscriptions: subs}
	if j.Grants == nil {
		j.Grants = []string{}
	}
	if j.Streams == nil {
		j.Streams = []protocol.Stream{}
	}
	if j.Subscriptions == nil {
		j.Subscriptions = []ids.StreamID{}
	}
	return j
}

type banJSON struct {
	Room   ids.RoomID `json:"room"`
	User   ids.UserID `json:"user"`
	Until  int64      `json:"until,omitempty"` // absent: until lifted
	By     ids.UserID `json:"by,omitempty"`
	Reason string     `json:"reason,omitempty"`
}

// streamJSON is a live stream with what the media hub measures of it.
type streamJSON struct {
	protocol.Stream
	Stats *statsJSON `json:"stats,omitempty"`
}

type statsJSON struct {
	BitrateIn  int64          `json:"bitrate_in"`
	BitrateOut int64          `json:"bitrate_out"`
	FPS        float64        `json:"fps"`
	GOPFrames  int            `json:"gop_frames"`
	GOPMs      int64          `json:"gop_ms"`
	Readers    map[string]int `json:"readers"`
	Dropped    int64          `json:"dropped"`
	Pushing    bool           `json:"pushing"`
}

type streamsJSON struct {
	Streams []streamJSON `json:"streams"`
}

type streamOneJSON struct {
	Stream protocol.Stream `json:"stream"`
}

type attributesJSON struct {
	Attributes map[string]string `json:"attributes"`
}

type messageSentJSON struct {
	MessageID string `json:"message_id"`
}

type reportJSON struct {
	ID      int64           `json:"id"`
	Room    ids.RoomID      `json:"room"`
	User    ids.UserID      `json:"user"`
	Session ids.SessionID   `json:"session,omitempty"`
	Kind    string          `json:"kind"`
	Stream  ids.StreamID    `json:"stream,omitempty"`
	Data    json.RawMessage `json:"data"`
	At      int64           `json:"at"`
}

type reportsJSON struct {
	Reports []reportJSON `json:"reports"`
}

type ingestJSON struct {
	ID        string       `json:"id"`
	URL       string       `json:"url,omitempty"` // only when created
	Room      ids.RoomID   `json:"room"`
	User      ids.UserID   `json:"user"`
	Stream    ids.StreamID `json:"stream"`
	ExpiresAt int64        `json:"expires_at"`
	CreatedAt int64        `json:"created_at"`
	RevokedAt int64        `json:"revoked_at,omitempty"`
}

func newIngestJSON(in store.Ingest) ingestJSON {
	j := ingestJSON{ID: in.ID, Room: in.Room, User: in.User, Stream: in.Stream,
		ExpiresAt: in.ExpiresAt.UnixMilli(), CreatedAt: in.CreatedAt.UnixMilli()}
	if in.Revoked() {
		j.RevokedAt = in.RevokedAt.UnixMilli()
	}
	return j
}

type ingestsJSON struct {
	Ingests []ingestJSON `json:"ingests"`
}
