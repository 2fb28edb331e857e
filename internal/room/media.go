package room

import (
	"slices"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// MediaPlane is told when the rooms withdraw media, so that it can cut the
// connections involved. Its methods are called with a room lock held: they
// must not call back into the Manager.
type MediaPlane interface {
	// StreamRemoved: a stream (pending or live) was unpublished, or its
	// owner left: close its push connection and its players.
	StreamRemoved(app ids.AppID, room ids.RoomID, stream ids.StreamID)
	// ViewerGone: user left the room (streams == nil) or unsubscribed from
	// streams: close the players that user opened.
	ViewerGone(app ids.AppID, room ids.RoomID, user ids.UserID, streams []ids.StreamID)
}

// pendingStream is a stream published but not live yet.
type pendingStream struct {
	st    *protocol.Stream
	owner *Member
}

func (r *Room) dropPendingLocked(sid ids.StreamID) {
	delete(r.pending, sid)
	if r.m.media != nil {
		r.m.media.StreamRemoved(r.app, r.id, sid)
	}
}

// PushCheck is what the media plane needs to admit a push.
type PushCheck struct {
	Media protocol.MediaType
	Live  bool
}

// CheckPush reports whether user may push stream sid in a room: the user is
// in the room and has published sid (pending or live). It returns the
// published media type.
func (m *Manager) CheckPush(app ids.AppID, roomID ids.RoomID, user ids.UserID, sid ids.StreamID) (PushCheck, error) {
	r := m.lookup(app, roomID)
	if r == nil {
		return PushCheck{}, protocol.Errorf(protocol.CodeNotJoined, "room %s does not exist (everyone left)", roomID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	mem := r.members[user]
	if mem == nil {
		return PushCheck{}, protocol.Errorf(protocol.CodeNotJoined, "user %s is not in room %s", user, roomID)
	}
	if p := r.pending[sid]; p != nil && p.owner == mem {
		return PushCheck{Media: p.st.Media}, nil
	}
	if st := r.streams[sid]; st != nil && st.UserID == user {
		return PushCheck{Media: st.Media, Live: true}, nil
	}
	return PushCheck{}, protocol.Errorf(protocol.CodeStreamNotFound, "user %s has not published stream %s in room %s", user, sid, roomID)
}

// IsSubscribed reports whether user is in the room and subscribed to sid.
func (m *Manager) IsSubscribed(app ids.AppID, roomID ids.RoomID, user ids.UserID, sid ids.StreamID) bool {
	r := m.lookup(app, roomID)
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	mem := r.members[user]
	if mem == nil {
		return false
	}
	_, ok := mem.subs[sid]
	return ok
}

// IsMember reports whether user is in the room.
func (m *Manager) IsMember(app ids.AppID, roomID ids.RoomID, user ids.UserID) bool {
	r := m.lookup(app, roomID)
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.members[user] != nil
}

// StreamLive records that media with the given codec info flows on a
// published stream: a pending stream is announced (stream_published, with
// the info), a live one whose info changed gets stream_state_changed.
func (m *Manager) StreamLive(app ids.AppID, roomID ids.RoomID, sid ids.StreamID, video *protocol.VideoInfo, audio *protocol.AudioInfo) error {
	r := m.lookup(app, roomID)
	if r == nil {
		return protocol.Errorf(protocol.CodeStreamNotFound, "room %s does not exist", roomID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.pending[sid]; p != nil {
		delete(r.pending, sid)
		st := p.st
		st.Video, st.Audio = video, audio
		r.streams[sid] = st
		p.owner.tags = append(p.owner.tags, st.Tag)
		// The owner hears it too: its publish answer came before any media.
		r.emit(protocol.EvStreamPublished, &protocol.StreamEvent{Stream: *st}, "", nil)
		return nil
	}
	st := r.streams[sid]
	if st == nil {
		return protocol.Errorf(protocol.CodeStreamNotFound, "stream %s is not published in room %s", sid, roomID)
	}
	if !st.Video.Equal(video) || !st.Audio.Equal(audio) {
		st.Video, st.Audio = video, audio
		r.emit(protocol.EvStreamStateChanged, &protocol.StreamEvent{Stream: *st}, "", nil)
	}
	return nil
}

// StreamEnded records that a stream's push stopped for good: a live stream
// is unpublished (everyone sees stream_unpublished; the owner publishes
// again to get a new push URL); a pending one stays pending, since its push
// URL may still be used.
func (m *Manager) StreamEnded(app ids.AppID, roomID ids.RoomID, sid ids.StreamID) {
	r := m.lookup(app, roomID)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.streams[sid]
	if st == nil {
		return
	}
	if owner := r.members[st.UserID]; owner != nil {
		if i := slices.Index(owner.tags, st.Tag); i >= 0 {
			owner.tags = slices.Delete(owner.tags, i, i+1)
		}
	}
	// The owner sees this one too: its stream ended without its asking.
	r.unpublishLocked(st, "", nil)
}
