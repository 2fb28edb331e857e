package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Rooms, participants and bans.

// roomID reads and checks the path's {room}.
func (c *call) roomID() (ids.RoomID, *Error) {
	r := ids.RoomID(c.r.PathValue("room"))
	if err := r.Validate(); err != nil {
		return "", fieldErr("room", "%v", err)
	}
	return r, nil
}

// userID reads and checks the path's {user}.
func (c *call) userID() (ids.UserID, *Error) {
	u := ids.UserID(c.r.PathValue("user"))
	if err := u.Validate(); err != nil {
		return "", fieldErr("user", "%v", err)
	}
	return u, nil
}

// roomState returns the open room or 404.
func (a *API) roomState(c *call) (ids.RoomID, room.RoomState, *Error) {
	id, err := c.roomID()
	if err != nil {
		return "", room.RoomState{}, err
	}
	st, ok := a.d.Rooms.Room(c.app, id)
	if !ok {
		return "", room.RoomState{}, notFound("room %s is not open", id)
	}
	return id, st, nil
}

func (a *API) listRooms(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	rooms := a.d.Rooms.Rooms(c.app)
	out := roomsJSON{Rooms: make([]roomSummaryJSON, 0, len(rooms))}
	for _, r := range rooms {
		out.Rooms = append(out.Rooms, roomSummaryJSON{ID: r.ID, Participants: r.Participants, Streams: r.Streams, CreatedAt: r.CreatedAt.UnixMilli()})
	}
	return http.StatusOK, out, nil
}

func (a *API) getRoom(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	_, st, err := a.roomState(c)
	if err != nil {
		return 0, nil, err
	}
	out := roomJSON{ID: st.Room.ID, CreatedAt: st.Room.CreatedAt, Attributes: st.Room.Attributes,
		Participants: make([]participantJSON, 0, len(st.Participants))}
	for _, p := range st.Participants {
		out.Participants = append(out.Participants, newParticipantJSON(p, st.Subscriptions[p.UserID]))
	}
	return http.StatusOK, out, nil
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

func checkReason(reason string) *Error {
	if len(reason) > room.MaxReasonBytes {
		return fieldErr("reason", "reason is %d bytes, the limit is %d", len(reason), room.MaxReasonBytes)
	}
	return nil
}

func (a *API) closeRoom(c *call) (int, any, *Error) {
	id, err := c.roomID()
	if err != nil {
		return 0, nil, err
	}
	var req reasonRequest
	if err := c.body(&req, true); err != nil {
		return 0, nil, err
	}
	if err := checkReason(req.Reason); err != nil {
		return 0, nil, err
	}
	if err := a.d.Rooms.CloseRoom(c.app, id, "", req.Reason); err != nil {
		return 0, nil, fromRoom(err, "")
	}
	return http.StatusNoContent, nil, nil
}

func (a *API) getParticipant(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	user, err := c.userID()
	if err != nil {
		return 0, nil, err
	}
	id, st, err := a.roomState(c)
	if err != nil {
		return 0, nil, err
	}
	for _, p := range st.Participants {
		if p.UserID == user {
			return http.StatusOK, newParticipantJSON(p, st.Subscriptions[user]), nil
		}
	}
	return 0, nil, fromRoom(protocol.Errorf(protocol.CodeUserNotFound, "user %s is not in room %s", user, id), "")
}

type participantPatch struct {
	Name     *string   `json:"name"`
	Metadata *string   `json:"metadata"`
	Grants   *[]string `json:"grants"`
}

func (a *API) updateParticipant(c *call) (int, any, *Error) {
	user, err := c.userID()
	if err != nil {
		return 0, nil, err
	}
	id, err := c.roomID()
	if err != nil {
		return 0, nil, err
	}
	var req participantPatch
	if err := c.body(&req, false); err != nil {
		return 0, nil, err
	}
	u := room.ParticipantUpdate{Name: req.Name, Metadata: req.Metadata}
	if req.Name != nil {
		if err := checkName("name", *req.Name); err != nil {
			return 0, nil, err
		}
	}
	if req.Metadata != nil && len(*req.Metadata) > room.MaxMetadataBytes {
		return 0, nil, fieldErr("metadata", "metadata is %d bytes, the limit is %d", len(*req.Metadata), room.MaxMetadataBytes)
	}
	if req.Grants != nil {
		g, unknown := room.GrantsFromNames(*req.Grants)
		if len(unknown) > 0 {
			for i, n := range *req.Grants {
				if n == unknown[0] {
					return 0, nil, fieldErr(fmt.Sprintf("grants[%d]", i), "unknown grant %q; grants are publish, subscribe, data and admin", truncate(n, 40))
				}
			}
		}
		u.Grants = &g
	}
	if u.Name == nil && u.Metadata == nil && u.Grants == nil {
		return 0, nil, fieldErr("name", "nothing to change: give name, metadata or grants")
	}
	p, rerr := a.d.Rooms.UpdateParticipant(c.app, id, user, u)
	if rerr != nil {
		return 0, nil, fromRoom(rerr, "")
	}
	subs := []ids.StreamID{}
	if st, ok := a.d.Rooms.Room(c.app, id); ok {
		subs = st.Subscriptions[user]
	}
	return http.StatusOK, newParticipantJSON(p, subs), nil
}

type kickRequest struct {
	BanSeconds int64  `json:"ban_seconds"`
	Reason     string `json:"reason"`
}

func (a *API) kick(c *call) (int, any, *Error) {
	user, err := c.userID()
	if err != nil {
		return 0, nil, err
	}
	id, err := c.roomID()
	if err != nil {
		return 0, nil, err
	}
	var req kickRequest
	if err := c.body(&req, true); err != nil {
		return 0, nil, err
	}
	maxBan := int64(a.d.Rooms.Config().MaxBan / time.Second)
	if req.BanSeconds < 0 || req.BanSeconds > maxBan {
		return 0, nil, fieldErr("ban_seconds", "ban_seconds is %d; it must be from 0 (no ban) to %d (room.max_ban)", req.BanSeconds, maxBan)
	}
	if err := checkReason(req.Reason); err != nil {
		return 0, nil, err
	}
	// A ban is stored even when the user is not in the room (or the room
	// is not open): it keeps the user out of the next join.
	if err := a.d.Rooms.Kick(c.ctx, c.app, id, user, time.Duration(req.BanSeconds)*time.Second, "", req.Reason); err != nil {
		return 0, nil, fromRoom(err, "")
	}
	return http.StatusNoContent, nil, nil
}

func (a *API) getBan(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	user, err := c.userID()
	if err != nil {
		return 0, nil, err
	}
	id, err := c.roomID()
	if err != nil {
		return 0, nil, err
	}
	b, ok, serr := a.d.Store.ActiveBan(c.ctx, c.app, id, user, a.now())
	if serr != nil {
		return 0, nil, internal(serr)
	}
	if !ok {
		return 0, nil, notFound("user %s is not banned from room %s", user, id)
	}
	out := banJSON{Room: id, User: user, By: b.By, Reason: b.Reason}
	if !b.Until.IsZero() {
		out.Until = b.Until.UnixMilli()
	}
	return http.StatusOK, out, nil
}

func (a *API) unban(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	user, err := c.userID()
	if err != nil {
		return 0, nil, err
	}
	id, err := c.roomID()
	if err != nil {
		return 0, nil, err
	}
	if err := a.d.Rooms.Unban(c.ctx, c.app, id, user); err != nil {
		return 0, nil, internal(err)
	}
	return http.StatusNoContent, nil, nil
}
