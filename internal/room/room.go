package room

import (
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Event names that only observers see (no participant receives them).
const (
	EvRoomCreated   = "room_created"
	EvRoomDestroyed = "room_destroyed"
)

// Room is one room of one app: a small state machine guarded by one mutex.
type Room struct {
	m         *Manager
	app       ids.AppID
	id        ids.RoomID
	createdAt time.Time

	mu        sync.Mutex
	seq       uint64
	announced bool // room_created emitted
	closed    bool // destroyed or closed: joins must find a new Room
	members   map[ids.UserID]*Member
	streams   map[ids.StreamID]*protocol.Stream
	// pending are streams published with a media plane but not live yet:
	// only their owner knows them until media arrives (StreamLive).
	pending   map[ids.StreamID]*pendingStream
	attrs     map[string]string
	attrBytes int
	// emptyTimer destroys the room EmptyGrace after the last member left;
	// emptyGen tells a stale timer (the room filled up again) from a live one.
	emptyTimer *time.Timer
	emptyGen   uint64
	// admin is what the app server imposed (admin.go); nil until then.
	admin *adminState
}

func newRoom(m *Manager, app ids.AppID, id ids.RoomID) *Room {
	return &Room{
		m:         m,
		app:       app,
		id:        id,
		createdAt: m.now(),
		members:   make(map[ids.UserID]*Member),
		streams:   make(map[ids.StreamID]*protocol.Stream),
		pending:   make(map[ids.StreamID]*pendingStream),
		attrs:     make(map[string]string),
	}
}

// emit records one event and hands it to every addressee and the observer.
// Called with r.mu held.
func (r *Room) emit(name string, data any, except ids.UserID, only []ids.UserID) *Event {
	ev := r.newEvent(name, data)
	ev.Except, ev.Only = except, only
	for u, mem := range r.members {
		if ev.For(u) {
			mem.sink.Deliver(ev)
		}
	}
	r.observe(ev)
	return ev
}

// emitTo delivers an event to exactly one member, even one that has just
// been removed (its kicked_off), and to the observer.
func (r *Room) emitTo(mem *Member, name string, data any) {
	ev := r.newEvent(name, data)
	ev.Only = []ids.UserID{mem.id.User}
	mem.sink.Deliver(ev)
	r.observe(ev)
}

// emitNobody records an event only observers see.
func (r *Room) emitNobody(name string, data any) {
	ev := r.newEvent(name, data)
	ev.Only = []ids.UserID{}
	r.observe(ev)
}

func (r *Room) newEvent(name string, data any) *Event {
	r.seq++
	return &Event{App: r.app, Room: r.id, Seq: r.seq, Name: name, Data: data, At: r.m.now()}
}

func (r *Room) observe(ev *Event) {
	if r.m.observe != nil {
		r.m.observe(ev)
	}
}

// join adds a member. retry is true when the room closed before the lock was
// taken; the caller then looks the room up again.
func (r *Room) join(id Identity, sink Sink, maxParticipants int) (j Joined, retry bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return Joined{}, true, nil
	}
	old := r.members[id.User]
	if old == nil && len(r.members) >= maxParticipants {
		return Joined{}, false, protocol.Errorf(protocol.CodeRoomFull, "room %s has %d participants, the limit", r.id, len(r.members))
	}
	if !r.announced {
		r.announced = true
		r.emitNobody(EvRoomCreated, nil)
	}
	if old != nil {
		r.removeLocked(old, protocol.ReasonReplaced, &protocol.KickedOffEvent{
			Reason:  protocol.ReasonReplaced,
			Message: "the same user joined this room from another connection",
		})
	}
	r.cancelEmptyTimerLocked()
	id = r.applyOverridesLocked(id)
	mem := &Member{
		room:     r,
		id:       id,
		sink:     sink,
		joinedAt: r.m.now(),
		subs:     make(map[ids.StreamID]struct{}),
	}
	r.members[id.User] = mem
	self := mem.participantLocked()
	r.emit(protocol.EvUserJoined, &protocol.UserJoinedEvent{User: self}, id.User, nil)
	self.Grants = id.Grants.Names()

	others := make([]protocol.Participant, 0, len(r.members)-1)
	for u, o := range r.members {
		if u != id.User {
			others = append(others, o.participantLocked())
		}
	}
	sortByJoin(others)
	return Joined{Member: mem, Room: r.roomLocked(), Self: self, Others: others}, false, nil
}

func sortByJoin(ps []protocol.Participant) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].JoinedAt != ps[j].JoinedAt {
			return ps[i].JoinedAt < ps[j].JoinedAt
		}
		return ps[i].UserID < ps[j].UserID
	})
}

func (r *Room) roomLocked() protocol.Room {
	return protocol.Room{ID: r.id, Attributes: maps.Clone(r.attrs), CreatedAt: r.createdAt.UnixMilli()}
}

// removeLocked takes a member out: its streams are unpublished, the others
// see it leave, the member itself gets final (if any) and is told it is out.
func (r *Room) removeLocked(mem *Member, reason protocol.LeaveReason, final *protocol.KickedOffEvent) {
	if mem.gone {
		return
	}
	r.removeSilentlyLocked(mem, reason, mem.id.User, nil)
	if final != nil {
		r.emitTo(mem, protocol.EvKickedOff, final)
	}
	mem.sink.Removed()
	r.scheduleEmptyLocked()
}

// removeSilentlyLocked does the state change of a removal and emits its
// events to others (except) or to only (nil = everyone but except).
func (r *Room) removeSilentlyLocked(mem *Member, reason protocol.LeaveReason, except ids.UserID, only []ids.UserID) {
	for _, tag := range mem.tags {
		st := r.streams[ids.Stream(mem.id.User, tag)]
		r.unpublishLocked(st, except, only)
	}
	mem.tags = nil
	for sid, p := range r.pending {
		if p.owner == mem {
			r.dropPendingLocked(sid)
		}
	}
	if r.m.media != nil {
		r.m.media.ViewerGone(r.app, r.id, mem.id.User, nil)
	}
	mem.gone = true
	mem.goneReason = reason
	if r.members[mem.id.User] == mem {
		delete(r.members, mem.id.User)
	}
	r.emit(protocol.EvUserLeft, &protocol.UserLeftEvent{UserID: mem.id.User, Reason: reason}, except, only)
}

// unpublishLocked removes a stream and everyone's subscription to it.
func (r *Room) unpublishLocked(st *protocol.Stream, except ids.UserID, only []ids.UserID) {
	delete(r.streams, st.ID)
	for _, m := range r.members {
		delete(m.subs, st.ID)
	}
	if r.m.media != nil {
		r.m.media.StreamRemoved(r.app, r.id, st.ID)
	}
	r.emit(protocol.EvStreamUnpublished, &protocol.StreamEvent{Stream: *st}, except, only)
}

// scheduleEmptyLocked starts the grace timer once the room is empty.
func (r *Room) scheduleEmptyLocked() {
	if len(r.members) > 0 || r.closed {
		return
	}
	r.cancelEmptyTimerLocked()
	gen := r.emptyGen
	r.emptyTimer = time.AfterFunc(r.m.cfg.EmptyGrace, func() { r.destroyIfStillEmpty(gen) })
}

func (r *Room) cancelEmptyTimerLocked() {
	r.emptyGen++
	if r.emptyTimer != nil {
		r.emptyTimer.Stop()
		r.emptyTimer = nil
	}
}

// ReasonServerShutdown is the user_left reason observers (webhooks, usage)
// see for members still in a room when the server stops. Clients never see
// it: they are told the server is going away.
const ReasonServerShutdown protocol.LeaveReason = "server_shutdown"

// shutdown ends the room because the server is stopping. Rooms do not
// survive a restart, so observers get the end of the story, as for a closed
// room: each member's stream_unpublished and user_left (ReasonServerShutdown),
// in join order, then room_destroyed. Participants get nothing (the
// signalling layer has said goodbye) and their sinks are not told.
func (r *Room) shutdown() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancelEmptyTimerLocked()
	if r.closed {
		return
	}
	r.closed = true
	members := make([]*Member, 0, len(r.members))
	for _, mem := range r.members {
		members = append(members, mem)
	}
	sort.Slice(members, func(i, j int) bool {
		a, b := members[i], members[j]
		if !a.joinedAt.Equal(b.joinedAt) {
			return a.joinedAt.Before(b.joinedAt)
		}
		return a.id.User < b.id.User
	})
	for _, mem := range members {
		r.removeSilentlyLocked(mem, ReasonServerShutdown, "", []ids.UserID{})
	}
	if r.announced {
		r.emitNobody(EvRoomDestroyed, nil)
	}
}

func (r *Room) destroyIfStillEmpty(gen uint64) {
	r.mu.Lock()
	if gen != r.emptyGen || len(r.members) > 0 || r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.emptyTimer = nil
	r.emitNobody(EvRoomDestroyed, nil)
	r.mu.Unlock()
	r.m.forget(r)
	r.m.log.Info("room destroyed", "app", r.app, "room", r.id, "reason", "empty")
}

// close ends the room for everyone now.
func (r *Room) close(by ids.UserID, reason string) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.emit(protocol.EvRoomClosed, &protocol.RoomClosedEvent{Reason: reason, By: by}, "", nil)
	members := make([]*Member, 0, len(r.members))
	for _, mem := range r.members {
		members = append(members, mem)
	}
	for _, mem := range members {
		// Clients learned everything from room_closed; the per-user
		// records are for observers (webhooks, usage).
		r.removeSilentlyLocked(mem, protocol.ReasonRoomClosed, "", []ids.UserID{})
		mem.sink.Removed()
	}
	r.closed = true
	r.cancelEmptyTimerLocked()
	r.emitNobody(EvRoomDestroyed, nil)
	r.mu.Unlock()
	r.m.forget(r)
	r.m.log.Info("room destroyed", "app", r.app, "room", r.id, "reason", "closed", "by", by)
}

// kick removes user as administrator by. alreadyBanned means the caller
// stored a ban, so a user who has left meanwhile is not an error.
func (r *Room) kick(user ids.UserID, ban time.Duration, by ids.UserID, reason string, alreadyBanned bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	target := r.members[user]
	if target == nil {
		if alreadyBanned {
			return nil
		}
		return protocol.Errorf(protocol.CodeUserNotFound, "user %s is not in room %s", user, r.id)
	}
	r.removeLocked(target, protocol.ReasonKicked, &protocol.KickedOffEvent{
		Reason:     protocol.ReasonKicked,
		By:         by,
		BanSeconds: int64(ban / time.Second),
		Message:    reason,
	})
	return nil
}

func (r *Room) state() (RoomState, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return RoomState{}, false
	}
	st := RoomState{Room: r.roomLocked(), Subscriptions: make(map[ids.UserID][]ids.StreamID)}
	for u, mem := range r.members {
		p := mem.participantLocked()
		p.Grants = mem.id.Grants.Names()
		st.Participants = append(st.Participants, p)
		st.Subscriptions[u] = mem.subscriptionsLocked()
	}
	sortByJoin(st.Participants)
	return st, true
}

func (r *Room) summary() RoomSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RoomSummary{ID: r.id, Participants: len(r.members), Streams: len(r.streams), CreatedAt: r.createdAt}
}
