package room

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"unicode/utf8"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// What the app server does to rooms from outside them (the REST API,
// internal/api): per-app limits, attributes and messages as the system,
// live changes to a participant, server-side mute, closing all rooms of a
// deleted app.
//
// Acts of the system carry an empty user id ("by": "", "from": ""): no
// participant has one, so no participant is left out of their events.

// AppLimitsFunc returns an app's own limits (store.AppLimits: a zero field
// means the Config's). It is called on every join, outside any room lock,
// so it should be cached (auth.CachedApps is). An error matching
// store.ErrNotFound refuses the join as an unknown app.
type AppLimitsFunc func(ctx context.Context, app ids.AppID) (store.AppLimits, error)

// limits are the limits in force for one app.
type limits struct {
	participants int // per room
	rooms        int // open rooms of the app
}

// limitsFor combines the Config with the app's own limits, which can only
// lower them.
func (m *Manager) limitsFor(ctx context.Context, app ids.AppID) (limits, error) {
	l := limits{participants: m.cfg.MaxParticipants, rooms: m.cfg.MaxRoomsPerApp}
	if m.appLimits == nil {
		return l, nil
	}
	al, err := m.appLimits(ctx, app)
	if errors.Is(err, store.ErrNotFound) {
		return l, protocol.Errorf(protocol.CodeUnknownApp, "app %s does not exist", app)
	}
	if err != nil {
		return l, fmt.Errorf("reading the limits of app %s: %w", app, err)
	}
	if al.MaxParticipants > 0 {
		l.participants = min(l.participants, al.MaxParticipants)
	}
	if al.MaxRooms > 0 {
		l.rooms = min(l.rooms, al.MaxRooms)
	}
	return l, nil
}

// adminState is what the app server imposed on a room. It lives as long as
// the room (Room.admin, nil until the first such act), so that leaving and
// joining again, or unpublishing and publishing again, does not undo it.
type adminState struct {
	locks     map[ids.StreamID]streamLock
	overrides map[ids.UserID]ParticipantUpdate
}

// streamLock: the app server keeps the audio muted / the video disabled.
type streamLock struct{ audio, video bool }

func (r *Room) adminLocked() *adminState {
	if r.admin == nil {
		r.admin = &adminState{locks: map[ids.StreamID]streamLock{}, overrides: map[ids.UserID]ParticipantUpdate{}}
	}
	return r.admin
}

// applyLocksLocked mutes a stream being published if the app server locked
// a stream of that id in this room before.
func (r *Room) applyLocksLocked(st *protocol.Stream) {
	if r.admin == nil {
		return
	}
	l := r.admin.locks[st.ID]
	if l.audio && st.Media.HasAudio() {
		st.AudioMuted, st.AudioLocked = true, true
	}
	if l.video && st.Media.HasVideo() {
		st.VideoDisabled, st.VideoLocked = true, true
	}
}

// applyOverridesLocked gives a joining user what the app server last set
// for it in this room, in place of its token's values.
func (r *Room) applyOverridesLocked(id Identity) Identity {
	if r.admin == nil {
		return id
	}
	if o, ok := r.admin.overrides[id.User]; ok {
		id = o.apply(id)
	}
	return id
}

// checkLocks refuses an owner's mute that would undo the app server's.
func checkLocks(st *protocol.Stream, audioMuted, videoDisabled *bool) error {
	if audioMuted != nil && !*audioMuted && st.AudioLocked {
		return protocol.Errorf(protocol.CodePermission, "the app server muted the audio of stream %s; only it can unmute it", st.ID)
	}
	if videoDisabled != nil && !*videoDisabled && st.VideoLocked {
		return protocol.Errorf(protocol.CodePermission, "the app server disabled the video of stream %s; only it can enable it", st.ID)
	}
	return nil
}

// openRoom returns the open room or a CodeRoomClosed error.
func (m *Manager) openRoom(app ids.AppID, roomID ids.RoomID) (*Room, error) {
	if r := m.lookup(app, roomID); r != nil {
		return r, nil
	}
	return nil, protocol.Errorf(protocol.CodeRoomClosed, "room %s is not open", roomID)
}

// system is a member that is not in the room: the app server. Acting
// through it gives the system the participants' own checks and events.
func (r *Room) system() *Member {
	return &Member{room: r, id: Identity{App: r.app, Grants: GrantData | GrantAdmin}, subs: map[ids.StreamID]struct{}{}}
}

// SetAttributes sets room attributes as the system; everyone is told.
func (m *Manager) SetAttributes(app ids.AppID, roomID ids.RoomID, attrs map[string]string, notify *protocol.Notification) (map[string]string, error) {
	r, err := m.openRoom(app, roomID)
	if err != nil {
		return nil, err
	}
	return r.system().SetAttributes(attrs, notify)
}

// DeleteAttributes deletes room attributes as the system; everyone is told.
func (m *Manager) DeleteAttributes(app ids.AppID, roomID ids.RoomID, keys []string, notify *protocol.Notification) (map[string]string, error) {
	r, err := m.openRoom(app, roomID)
	if err != nil {
		return nil, err
	}
	return r.system().DeleteAttributes(keys, notify)
}

// Attributes returns all of a room's attributes.
func (m *Manager) Attributes(app ids.AppID, roomID ids.RoomID) (map[string]string, error) {
	r, err := m.openRoom(app, roomID)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, protocol.Errorf(protocol.CodeRoomClosed, "room %s is not open", roomID)
	}
	return maps.Clone(r.attrs), nil
}

// SendMessage sends a message from the system (an empty "from") to everyone
// in the room, or privately to the listed users, who must all be in it.
func (m *Manager) SendMessage(app ids.AppID, roomID ids.RoomID, name, content string, to []ids.UserID) (string, error) {
	r, err := m.openRoom(app, roomID)
	if err != nil {
		return "", err
	}
	return r.system().SendMessage(name, content, to)
}

// ParticipantUpdate changes a participant; nil fields keep their value.
type ParticipantUpdate struct {
	Name     *string
	Metadata *string
	Grants   *Grants
}

// Limits of what an update may set: those of a token (internal/auth).
const (
	MaxNameBytes     = 256
	MaxMetadataBytes = 4096
)

const allGrants = GrantPublish | GrantSubscribe | GrantData | GrantAdmin

func (u ParticipantUpdate) validate() error {
	if u.Name == nil && u.Metadata == nil && u.Grants == nil {
		return protocol.Errorf(protocol.CodeInvalidField, "give name, metadata or grants")
	}
	if u.Name != nil {
		if err := checkText("name", *u.Name, MaxNameBytes, false, protocol.CodeInvalidField); err != nil {
			return err
		}
	}
	if u.Metadata != nil {
		if len(*u.Metadata) > MaxMetadataBytes {
			return protocol.Errorf(protocol.CodeInvalidField, "metadata is %d bytes, the limit is %d", len(*u.Metadata), MaxMetadataBytes)
		}
		if !utf8.ValidString(*u.Metadata) {
			return protocol.Errorf(protocol.CodeInvalidField, "metadata is not valid UTF-8")
		}
	}
	if u.Grants != nil && *u.Grants&^allGrants != 0 {
		return protocol.Errorf(protocol.CodeInvalidField, "unknown grant bits %#x", uint8(*u.Grants&^allGrants))
	}
	return nil
}

func (u ParticipantUpdate) apply(id Identity) Identity {
	if u.Name != nil {
		id.Name = *u.Name
	}
	if u.Metadata != nil {
		id.Metadata = *u.Metadata
	}
	if u.Grants != nil {
		id.Grants = *u.Grants
	}
	return id
}

// merge lays u over an earlier update.
func (u ParticipantUpdate) merge(earlier ParticipantUpdate) ParticipantUpdate {
	if u.Name == nil {
		u.Name = earlier.Name
	}
	if u.Metadata == nil {
		u.Metadata = earlier.Metadata
	}
	if u.Grants == nil {
		u.Grants = earlier.Grants
	}
	return u
}

// UpdateParticipant changes a participant's name, metadata or grants while
// it is in the room. Everyone else receives participant_updated; the
// participant too, with its grants. A grant taken away takes its effect
// with it: without publish the participant's streams are unpublished
// (everyone, the owner included, gets stream_unpublished first); without
// subscribe its subscriptions end and its players are closed. The room
// remembers the update: if the user joins this room again while it lives,
// the update replaces its token's values. It returns the participant as the
// participant itself sees it (with grants).
func (m *Manager) UpdateParticipant(app ids.AppID, roomID ids.RoomID, user ids.UserID, u ParticipantUpdate) (protocol.Participant, error) {
	if err := u.validate(); err != nil {
		return protocol.Participant{}, err
	}
	u = copyUpdate(u)
	r, err := m.openRoom(app, roomID)
	if err != nil {
		return protocol.Participant{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return protocol.Participant{}, protocol.Errorf(protocol.CodeRoomClosed, "room %s is not open", roomID)
	}
	mem := r.members[user]
	if mem == nil {
		return protocol.Participant{}, protocol.Errorf(protocol.CodeUserNotFound, "user %s is not in room %s", user, roomID)
	}
	a := r.adminLocked()
	a.overrides[user] = u.merge(a.overrides[user])
	before := mem.id
	mem.id = u.apply(mem.id)
	if lost := before.Grants &^ mem.id.Grants; lost != 0 {
		r.revokeLocked(mem, lost)
	}
	self := mem.participantLocked()
	self.Grants = mem.id.Grants.Names()
	if mem.id != before {
		others := mem.participantLocked()
		r.emit(protocol.EvParticipantUpdated, &protocol.ParticipantUpdatedEvent{User: others}, user, nil)
		r.emitTo(mem, protocol.EvParticipantUpdated, &protocol.ParticipantUpdatedEvent{User: self})
	}
	return self, nil
}

func copyUpdate(u ParticipantUpdate) ParticipantUpdate {
	if u.Name != nil {
		u.Name = new(*u.Name)
	}
	if u.Metadata != nil {
		u.Metadata = new(*u.Metadata)
	}
	if u.Grants != nil {
		u.Grants = new(*u.Grants)
	}
	return u
}

// revokeLocked undoes what the lost grants allowed.
func (r *Room) revokeLocked(mem *Member, lost Grants) {
	if lost&GrantPublish != 0 {
		for _, tag := range mem.tags {
			r.unpublishLocked(r.streams[ids.Stream(mem.id.User, tag)], "", nil)
		}
		mem.tags = nil
		for sid, p := range r.pending {
			if p.owner == mem {
				r.dropPendingLocked(sid)
			}
		}
	}
	if lost&GrantSubscribe != 0 && len(mem.subs) > 0 {
		gone := mem.subscriptionsLocked()
		clear(mem.subs)
		if r.m.media != nil {
			r.m.media.ViewerGone(r.app, r.id, mem.id.User, gone)
		}
		// Observers (usage accounting) count subscribed time.
		r.emitNobody(EvUnsubscribed, &SubscriptionEvent{User: mem.id.User, Streams: gone})
	}
}

// MuteStream mutes or unmutes a stream's audio (audioMuted) and/or video
// (videoDisabled) as the app server. Muting locks: the owner cannot undo it
// with mute until the app server unmutes, which unlocks. The lock outlives
// the stream for the room's life, so publishing the same stream again comes
// back muted. When something changed the owner receives force_mute (it must
// comply: send silence / no picture), and, for a live stream, everyone
// (the owner too) receives stream_state_changed. Pending streams are muted
// too; only their owner knows them.
func (m *Manager) MuteStream(app ids.AppID, roomID ids.RoomID, sid ids.StreamID, audioMuted, videoDisabled *bool) (protocol.Stream, error) {
	if audioMuted == nil && videoDisabled == nil {
		return protocol.Stream{}, protocol.Errorf(protocol.CodeInvalidField, "give audio_muted, video_disabled or both")
	}
	r, err := m.openRoom(app, roomID)
	if err != nil {
		return protocol.Stream{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return protocol.Stream{}, protocol.Errorf(protocol.CodeRoomClosed, "room %s is not open", roomID)
	}
	var st *protocol.Stream
	var owner *Member
	live := false
	if p := r.pending[sid]; p != nil {
		st, owner = p.st, p.owner
	} else if st = r.streams[sid]; st != nil {
		live, owner = true, r.members[st.UserID]
	}
	if st == nil {
		return protocol.Stream{}, protocol.Errorf(protocol.CodeStreamNotFound, "stream %q is not published in room %s", truncate(string(sid), 300), roomID)
	}
	if audioMuted != nil && !st.Media.HasAudio() {
		return protocol.Stream{}, protocol.Errorf(protocol.CodeInvalidField, "stream %s has no audio to mute", sid)
	}
	if videoDisabled != nil && !st.Media.HasVideo() {
		return protocol.Stream{}, protocol.Errorf(protocol.CodeInvalidField, "stream %s has no video to disable", sid)
	}
	before := *st
	a := r.adminLocked()
	l := a.locks[sid]
	ev := &protocol.ForceMuteEvent{}
	if audioMuted != nil {
		v := *audioMuted
		st.AudioMuted, st.AudioLocked, l.audio, ev.AudioMuted = v, v, v, &v
	}
	if videoDisabled != nil {
		v := *videoDisabled
		st.VideoDisabled, st.VideoLocked, l.video, ev.VideoDisabled = v, v, v, &v
	}
	if l == (streamLock{}) {
		delete(a.locks, sid)
	} else {
		a.locks[sid] = l
	}
	if *st == before {
		return *st, nil
	}
	ev.Stream = *st
	if owner != nil {
		r.emitTo(owner, protocol.EvForceMute, ev)
	}
	if live {
		r.emit(protocol.EvStreamStateChanged, &protocol.StreamEvent{Stream: *st}, "", nil)
	}
	return *st, nil
}

// CloseApp closes every room of an app that was deleted (everyone gets
// room_closed) and refuses its joins from now on, also those whose token
// was checked just before the deletion. It returns how many rooms it
// closed.
func (m *Manager) CloseApp(app ids.AppID, reason string) int {
	m.mu.Lock()
	if m.closedApps == nil {
		m.closedApps = make(map[ids.AppID]struct{})
	}
	m.closedApps[app] = struct{}{}
	rooms := make([]*Room, 0, len(m.apps[app]))
	for _, r := range m.apps[app] {
		rooms = append(rooms, r)
	}
	m.mu.Unlock()
	for _, r := range rooms {
		r.close("", reason)
	}
	if len(rooms) > 0 {
		m.log.Info("closed the rooms of a deleted app", "app", app, "rooms", len(rooms))
	}
	return len(rooms)
}

// appClosedLocked reports whether CloseApp closed app (m.mu held).
func (m *Manager) appClosedLocked(app ids.AppID) bool {
	_, gone := m.closedApps[app]
	return gone
}
