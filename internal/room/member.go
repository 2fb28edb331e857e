package room

import (
	"context"
	"slices"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Member is a participant's handle on its room: every operation a
// participant performs goes through it, and is checked against its grants.
type Member struct {
	room     *Room
	id       Identity
	sink     Sink
	joinedAt time.Time

	// Guarded by room.mu.
	tags       []ids.Tag // published streams, in publish order
	subs       map[ids.StreamID]struct{}
	gone       bool
	goneReason protocol.LeaveReason
}

// User is the member's user id.
func (m *Member) User() ids.UserID { return m.id.User }

// App is the member's app.
func (m *Member) App() ids.AppID { return m.id.App }

// RoomID is the id of the member's room.
func (m *Member) RoomID() ids.RoomID { return m.room.id }

// Grants are the member's grants.
func (m *Member) Grants() Grants { return m.id.Grants }

// lock takes the room lock and fails if the member is no longer in the room.
// On success the caller must unlock.
func (m *Member) lock() *protocol.Error {
	m.room.mu.Lock()
	if m.gone {
		reason := m.goneReason
		m.room.mu.Unlock()
		if reason == protocol.ReasonRoomClosed {
			return protocol.Errorf(protocol.CodeRoomClosed, "room %s was closed", m.room.id)
		}
		return protocol.Errorf(protocol.CodeNotJoined, "you are no longer in room %s (%s)", m.room.id, reason)
	}
	return nil
}

func (m *Member) unlock() { m.room.mu.Unlock() }

func (m *Member) participantLocked() protocol.Participant {
	p := protocol.Participant{
		UserID:   m.id.User,
		Name:     m.id.Name,
		Metadata: m.id.Metadata,
		JoinedAt: m.joinedAt.UnixMilli(),
		Streams:  make([]protocol.Stream, 0, len(m.tags)),
	}
	for _, t := range m.tags {
		p.Streams = append(p.Streams, *m.room.streams[ids.Stream(m.id.User, t)])
	}
	return p
}

func (m *Member) subscriptionsLocked() []ids.StreamID {
	out := make([]ids.StreamID, 0, len(m.subs))
	for s := range m.subs {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Leave takes the member out of the room. reason is ReasonLeft when the
// participant asked, ReasonTimeout when its session expired; a timed-out
// member's sink gets kicked_off first so a still-listening client knows why.
func (m *Member) Leave(reason protocol.LeaveReason) {
	if err := m.lock(); err != nil {
		return // already out: leaving twice is harmless
	}
	defer m.unlock()
	var final *protocol.KickedOffEvent
	if reason == protocol.ReasonTimeout {
		final = &protocol.KickedOffEvent{Reason: protocol.ReasonTimeout, Message: "no ping within the session timeout"}
	}
	m.room.removeLocked(m, reason, final)
}

// Publish announces a new stream of the member's.
func (m *Member) Publish(tag ids.Tag, media protocol.MediaType) (protocol.Stream, error) {
	tag = tag.OrDefault()
	if err := tag.Validate(); err != nil {
		return protocol.Stream{}, protocol.Errorf(protocol.CodeInvalidField, "%v", err)
	}
	if !media.Valid() {
		return protocol.Stream{}, protocol.Errorf(protocol.CodeInvalidField, "media must be %q, %q or %q, got %q",
			protocol.MediaAudio, protocol.MediaVideo, protocol.MediaAudioVideo, media)
	}
	if err := m.lock(); err != nil {
		return protocol.Stream{}, err
	}
	defer m.unlock()
	if err := m.id.Grants.require(GrantPublish, "publish"); err != nil {
		return protocol.Stream{}, err
	}
	r := m.room
	sid := ids.Stream(m.id.User, tag)
	other, ok := r.streams[sid]
	if p := r.pending[sid]; p != nil {
		other, ok = p.st, true
	}
	if ok {
		if other.UserID != m.id.User {
			// "a"+"b_c" and "a_b"+"c" make the same id; ids must stay unique.
			return protocol.Stream{}, protocol.Errorf(protocol.CodeStreamExists,
				"stream id %s is taken by user %s's stream with tag %q; publish with another tag", sid, other.UserID, other.Tag)
		}
		return protocol.Stream{}, protocol.Errorf(protocol.CodeStreamExists, "stream %s (tag %q) is already published", sid, tag)
	}
	if n := len(m.tags) + m.pendingCountLocked(); n >= r.m.cfg.MaxStreamsPerParticipant {
		return protocol.Stream{}, protocol.Errorf(protocol.CodeTooManyStreams, "you already publish %d streams, the limit", n)
	}
	st := &protocol.Stream{ID: sid, UserID: m.id.User, Tag: tag, Media: media}
	r.applyLocksLocked(st) // admin.go
	if r.m.media != nil {
		// Announced by StreamLive when media arrives.
		r.pending[sid] = &pendingStream{st: st, owner: m}
		return *st, nil
	}
	r.streams[sid] = st
	m.tags = append(m.tags, tag)
	r.emit(protocol.EvStreamPublished, &protocol.StreamEvent{Stream: *st}, m.id.User, nil)
	return *st, nil
}

func (m *Member) pendingCountLocked() int {
	n := 0
	for _, p := range m.room.pending {
		if p.owner == m {
			n++
		}
	}
	return n
}

// streamLocked finds one of the member's streams, live or pending.
func (m *Member) streamLocked(tag ids.Tag) (st *protocol.Stream, live bool) {
	sid := ids.Stream(m.id.User, tag)
	if p := m.room.pending[sid]; p != nil && p.owner == m {
		return p.st, false
	}
	if st := m.room.streams[sid]; st != nil && st.UserID == m.id.User {
		return st, true
	}
	return nil, false
}

// Unpublish withdraws one of the member's streams.
func (m *Member) Unpublish(tag ids.Tag) error {
	tag = tag.OrDefault()
	if err := m.lock(); err != nil {
		return err
	}
	defer m.unlock()
	if p := m.room.pending[ids.Stream(m.id.User, tag)]; p != nil && p.owner == m {
		m.room.dropPendingLocked(p.st.ID)
		return nil
	}
	i := slices.Index(m.tags, tag)
	if i < 0 {
		return protocol.Errorf(protocol.CodeStreamNotFound, "you publish no stream with tag %q", tag)
	}
	m.tags = slices.Delete(m.tags, i, i+1)
	m.room.unpublishLocked(m.room.streams[ids.Stream(m.id.User, tag)], m.id.User, nil)
	return nil
}

// Mute changes the owner mute states of one of the member's streams. Nil
// fields keep their value. An event is emitted only if something changed.
func (m *Member) Mute(tag ids.Tag, audioMuted, videoDisabled *bool) (protocol.Stream, error) {
	tag = tag.OrDefault()
	if err := m.lock(); err != nil {
		return protocol.Stream{}, err
	}
	defer m.unlock()
	if err := m.id.Grants.require(GrantPublish, "mute"); err != nil {
		return protocol.Stream{}, err
	}
	st, live := m.streamLocked(tag)
	if st == nil {
		return protocol.Stream{}, protocol.Errorf(protocol.CodeStreamNotFound, "you publish no stream with tag %q", tag)
	}
	if audioMuted == nil && videoDisabled == nil {
		return protocol.Stream{}, protocol.Errorf(protocol.CodeInvalidField, "give audio_muted, video_disabled or both")
	}
	if audioMuted != nil && !st.Media.HasAudio() {
		return protocol.Stream{}, protocol.Errorf(protocol.CodeInvalidField, "stream %s has no audio to mute", st.ID)
	}
	if videoDisabled != nil && !st.Media.HasVideo() {
		return protocol.Stream{}, protocol.Errorf(protocol.CodeInvalidField, "stream %s has no video to disable", st.ID)
	}
	if err := checkLocks(st, audioMuted, videoDisabled); err != nil { // admin.go
		return protocol.Stream{}, err
	}
	changed := false
	if audioMuted != nil && *audioMuted != st.AudioMuted {
		st.AudioMuted, changed = *audioMuted, true
	}
	if videoDisabled != nil && *videoDisabled != st.VideoDisabled {
		st.VideoDisabled, changed = *videoDisabled, true
	}
	if changed && live {
		m.room.emit(protocol.EvStreamStateChanged, &protocol.StreamEvent{Stream: *st}, m.id.User, nil)
	}
	return *st, nil
}

// Observer-only events of subscriptions (usage accounting counts subscribed
// time). Only changes are emitted; the subscriptions that end because a
// stream is unpublished or the member leaves are implied by
// stream_unpublished and user_left, and get no event of their own.
const (
	EvSubscribed   = "subscribed"
	EvUnsubscribed = "unsubscribed"
)

// SubscriptionEvent is the data of "subscribed" and "unsubscribed": the
// streams whose subscription by User began or ended, in request order.
type SubscriptionEvent struct {
	User    ids.UserID     `json:"user_id"`
	Streams []ids.StreamID `json:"streams"`
}

// Subscribe adds streams to the member's subscriptions, all or none, and
// returns the subscriptions after the change.
func (m *Member) Subscribe(streams []ids.StreamID) ([]ids.StreamID, error) {
	if len(streams) == 0 {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "streams is empty")
	}
	if err := m.lock(); err != nil {
		return nil, err
	}
	defer m.unlock()
	if err := m.id.Grants.require(GrantSubscribe, "subscribe"); err != nil {
		return nil, err
	}
	added := 0
	for _, s := range streams {
		if p := m.room.pending[s]; p != nil && m.room.streams[s] == nil {
			return nil, protocol.Errorf(protocol.CodeStreamNotFound, "stream %s is published but not live yet: subscribe after stream_published", s)
		}
		if m.room.streams[s] == nil {
			return nil, protocol.Errorf(protocol.CodeStreamNotFound, "stream %q is not published in room %s", truncate(string(s), 300), m.room.id)
		}
		if _, ok := m.subs[s]; !ok {
			added++
		}
	}
	if limit := m.room.m.cfg.MaxSubscriptions; len(m.subs)+added > limit {
		return nil, protocol.Errorf(protocol.CodeTooManySubs, "subscribing to %d more streams would exceed the limit of %d", added, limit)
	}
	var fresh []ids.StreamID
	for _, s := range streams {
		if _, ok := m.subs[s]; !ok {
			m.subs[s] = struct{}{}
			fresh = append(fresh, s)
		}
	}
	if len(fresh) > 0 {
		m.room.emitNobody(EvSubscribed, &SubscriptionEvent{User: m.id.User, Streams: fresh})
	}
	return m.subscriptionsLocked(), nil
}

// Unsubscribe removes streams from the member's subscriptions. Streams not
// subscribed are ignored, so unsubscribing is idempotent.
func (m *Member) Unsubscribe(streams []ids.StreamID) ([]ids.StreamID, error) {
	if err := m.lock(); err != nil {
		return nil, err
	}
	defer m.unlock()
	var gone []ids.StreamID
	for _, s := range streams {
		if _, ok := m.subs[s]; ok {
			delete(m.subs, s)
			gone = append(gone, s)
		}
	}
	if m.room.m.media != nil {
		m.room.m.media.ViewerGone(m.room.app, m.room.id, m.id.User, streams)
	}
	if len(gone) > 0 {
		m.room.emitNobody(EvUnsubscribed, &SubscriptionEvent{User: m.id.User, Streams: gone})
	}
	return m.subscriptionsLocked(), nil
}

// Subscriptions are the member's subscriptions, sorted.
func (m *Member) Subscriptions() ([]ids.StreamID, error) {
	if err := m.lock(); err != nil {
		return nil, err
	}
	defer m.unlock()
	return m.subscriptionsLocked(), nil
}

// SendMessage sends a message to everyone else in the room, or only to the
// listed users (who must all be in the room). It returns the message id.
func (m *Member) SendMessage(name, content string, to []ids.UserID) (string, error) {
	cfg := m.room.m.cfg
	if err := checkText("name", name, cfg.MaxMessageNameBytes, true, protocol.CodeMessageTooLarge); err != nil {
		return "", err
	}
	if len(content) > cfg.MaxMessageContentBytes {
		return "", protocol.Errorf(protocol.CodeMessageTooLarge, "content is %d bytes, the limit is %d", len(content), cfg.MaxMessageContentBytes)
	}
	if len(to) > cfg.MaxParticipants {
		return "", protocol.Errorf(protocol.CodeInvalidField, "to lists %d users, more than a room can hold (%d)", len(to), cfg.MaxParticipants)
	}
	if err := m.lock(); err != nil {
		return "", err
	}
	defer m.unlock()
	if err := m.id.Grants.require(GrantData, "send_message"); err != nil {
		return "", err
	}
	for _, u := range to {
		if m.room.members[u] == nil {
			return "", protocol.Errorf(protocol.CodeUserNotFound, "user %q is not in room %s", truncate(string(u), 130), m.room.id)
		}
	}
	ev := &protocol.MessageEvent{
		ID:      newID("m"),
		From:    m.id.User,
		Name:    name,
		Content: content,
		Private: len(to) > 0,
		SentAt:  m.room.m.now().UnixMilli(),
	}
	var only []ids.UserID
	if len(to) > 0 {
		// Never back to the sender, even if listed.
		only = slices.DeleteFunc(slices.Clone(to), func(u ids.UserID) bool { return u == m.id.User })
		if len(only) == 0 {
			return "", protocol.Errorf(protocol.CodeInvalidField, "to lists only yourself")
		}
	}
	m.room.emit(protocol.EvMessage, ev, m.id.User, only)
	return ev.ID, nil
}

// Kick removes another user, optionally banning it from the room for ban.
// The ban is stored before the user is removed, so it cannot rejoin in
// between.
func (m *Member) Kick(ctx context.Context, user ids.UserID, ban time.Duration, reason string) error {
	if err := user.Validate(); err != nil {
		return protocol.Errorf(protocol.CodeInvalidField, "%v", err)
	}
	if err := checkReason(reason); err != nil {
		return err
	}
	if err := m.lock(); err != nil {
		return err
	}
	if err := m.id.Grants.require(GrantAdmin, "kick"); err != nil {
		m.unlock()
		return err
	}
	if user == m.id.User {
		m.unlock()
		return protocol.Errorf(protocol.CodeInvalidField, "you cannot kick yourself; use leave")
	}
	if m.room.members[user] == nil {
		m.unlock()
		return protocol.Errorf(protocol.CodeUserNotFound, "user %s is not in room %s", user, m.room.id)
	}
	m.unlock()
	r := m.room
	if err := r.m.persistBan(ctx, m.id.App, r.id, user, ban, m.id.User, reason); err != nil {
		return err
	}
	return r.kick(user, ban, m.id.User, reason, ban > 0)
}

// CloseRoom ends the room for everyone, the caller included.
func (m *Member) CloseRoom(reason string) error {
	if err := checkReason(reason); err != nil {
		return err
	}
	if err := m.lock(); err != nil {
		return err
	}
	err := m.id.Grants.require(GrantAdmin, "close_room")
	m.unlock()
	if err != nil {
		return err
	}
	m.room.close(m.id.User, reason)
	return nil
}

// MaxReasonBytes bounds the reason of a kick or a room close.
const MaxReasonBytes = 256

func checkReason(reason string) error {
	return checkText("reason", reason, MaxReasonBytes, false, protocol.CodeInvalidField)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Present reports whether the member is still in its room.
func (m *Member) Present() bool {
	if err := m.lock(); err != nil {
		return false
	}
	m.unlock()
	return true
}
