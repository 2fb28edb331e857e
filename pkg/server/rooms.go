package server

import (
	"context"
	"net/http"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Rooms, participants, bans, streams, attributes and messages of the
// client's app. Changes are made by "the system": the events participants
// receive carry an empty by / from.

// call is do on an app route built from segments.
func (c *Client) call(ctx context.Context, method string, in, out any, segments ...string) error {
	p, err := c.appPath(segments...)
	if err != nil {
		return err
	}
	return c.do(ctx, method, p, nil, in, out)
}

// ListRooms lists the app's open rooms by id, with their counts.
func (c *Client) ListRooms(ctx context.Context) ([]RoomSummary, error) {
	var out struct {
		Rooms []RoomSummary `json:"rooms"`
	}
	if err := c.call(ctx, http.MethodGet, nil, &out, "rooms"); err != nil {
		return nil, err
	}
	return out.Rooms, nil
}

// GetRoom gets a room with its attributes, participants, their live
// streams and subscriptions. A room that is not open is a 404 (code 4004).
func (c *Client) GetRoom(ctx context.Context, room ids.RoomID) (*Room, error) {
	var out Room
	if err := c.call(ctx, http.MethodGet, nil, &out, "rooms", string(room)); err != nil {
		return nil, err
	}
	return &out, nil
}

// CloseRoom closes a room for everyone: each participant gets room_closed
// with reason (may be empty) and is disconnected.
func (c *Client) CloseRoom(ctx context.Context, room ids.RoomID, reason string) error {
	return c.call(ctx, http.MethodPost, reasonRequest{Reason: reason}, nil, "rooms", string(room), "close")
}

type reasonRequest struct {
	Reason string `json:"reason,omitempty"`
}

// GetParticipant gets one participant of a room (404, code 3003, when the
// user is not in it).
func (c *Client) GetParticipant(ctx context.Context, room ids.RoomID, user ids.UserID) (*Participant, error) {
	var out Participant
	if err := c.call(ctx, http.MethodGet, nil, &out, "rooms", string(room), "participants", string(user)); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateParticipant changes a participant's name, metadata or grants, live:
// everyone in the room receives participant_updated, and a grant taken away
// takes its effect with it.
func (c *Client) UpdateParticipant(ctx context.Context, room ids.RoomID, user ids.UserID, req UpdateParticipantRequest) (*Participant, error) {
	var out Participant
	if err := c.call(ctx, http.MethodPatch, req, &out, "rooms", string(room), "participants", string(user)); err != nil {
		return nil, err
	}
	return &out, nil
}

// Kick removes a participant (it gets kicked_off) and, with BanSeconds,
// bans the user from the room; the ban is stored even when the user is not
// in the room. Without a ban, a user not in the room is a 404 (code 3003).
func (c *Client) Kick(ctx context.Context, room ids.RoomID, user ids.UserID, req KickRequest) error {
	return c.call(ctx, http.MethodPost, req, nil, "rooms", string(room), "participants", string(user), "kick")
}

// GetBan gets the ban in force on a user in a room; 404 (code 4004) when
// there is none.
func (c *Client) GetBan(ctx context.Context, room ids.RoomID, user ids.UserID) (*Ban, error) {
	var out Ban
	if err := c.call(ctx, http.MethodGet, nil, &out, "rooms", string(room), "bans", string(user)); err != nil {
		return nil, err
	}
	return &out, nil
}

// Unban lifts a ban early; lifting one that does not exist is no error.
func (c *Client) Unban(ctx context.Context, room ids.RoomID, user ids.UserID) error {
	return c.call(ctx, http.MethodDelete, nil, nil, "rooms", string(room), "bans", string(user))
}

// ListStreams lists a room's live streams with their states and statistics,
// by participant in join order.
func (c *Client) ListStreams(ctx context.Context, room ids.RoomID) ([]StreamEntry, error) {
	var out struct {
		Streams []StreamEntry `json:"streams"`
	}
	if err := c.call(ctx, http.MethodGet, nil, &out, "rooms", string(room), "streams"); err != nil {
		return nil, err
	}
	return out.Streams, nil
}

// MuteStream mutes or unmutes a stream's audio, disables or enables its
// video, as the server: the publisher receives force_mute and cannot undo
// a true until the app server sends false.
func (c *Client) MuteStream(ctx context.Context, room ids.RoomID, stream ids.StreamID, req MuteRequest) (*protocol.Stream, error) {
	var out struct {
		Stream protocol.Stream `json:"stream"`
	}
	if err := c.call(ctx, http.MethodPost, req, &out, "rooms", string(room), "streams", string(stream), "mute"); err != nil {
		return nil, err
	}
	return &out.Stream, nil
}

type attributes struct {
	Attributes map[string]string `json:"attributes"`
}

// GetAttributes gets all of a room's attributes.
func (c *Client) GetAttributes(ctx context.Context, room ids.RoomID) (map[string]string, error) {
	var out attributes
	if err := c.call(ctx, http.MethodGet, nil, &out, "rooms", string(room), "attributes"); err != nil {
		return nil, err
	}
	return out.Attributes, nil
}

// SetAttributes adds or replaces attributes, all or nothing, and returns
// the room's attributes after; everyone receives attributes_changed.
func (c *Client) SetAttributes(ctx context.Context, room ids.RoomID, req SetAttributesRequest) (map[string]string, error) {
	var out attributes
	if err := c.call(ctx, http.MethodPatch, req, &out, "rooms", string(room), "attributes"); err != nil {
		return nil, err
	}
	return out.Attributes, nil
}

// DeleteAttributes deletes attributes and returns the room's attributes
// after.
func (c *Client) DeleteAttributes(ctx context.Context, room ids.RoomID, req DeleteAttributesRequest) (map[string]string, error) {
	var out attributes
	if err := c.call(ctx, http.MethodPost, req, &out, "rooms", string(room), "attributes", "delete"); err != nil {
		return nil, err
	}
	return out.Attributes, nil
}

// SendMessage sends a message into a room as the system and returns its id.
func (c *Client) SendMessage(ctx context.Context, room ids.RoomID, req MessageRequest) (string, error) {
	var out struct {
		MessageID string `json:"message_id"`
	}
	if err := c.call(ctx, http.MethodPost, req, &out, "rooms", string(room), "messages"); err != nil {
		return "", err
	}
	return out.MessageID, nil
}
