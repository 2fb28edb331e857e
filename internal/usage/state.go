package usage

import (
	"time"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// The accounting model. Between two events of an app nothing changes, so
// each figure accrues at a constant rate: online seconds at the number of
// participants, publish seconds at the number of live streams, subscribe
// seconds at the number of (subscriber, stream) pairs, and call seconds of
// a tier at the number of participants whose subscriptions fall in it. An
// event first accrues the time since the previous one at the old rates,
// then changes the rates. Each interval counts floor(end) - floor(start)
// whole seconds, so the pieces of an interval cut at hour boundaries (whole
// seconds) add up exactly and sub-second rounding never drifts.

// ledger holds what was accrued since the last flush.
type ledger struct {
	deltas map[deltaKey]*store.UsageDelta
	users  map[userKey]struct{}
}

type deltaKey struct {
	app  ids.AppID
	hour int64 // unix seconds of the hour's start
}

type userKey struct {
	app  ids.AppID
	hour int64
	kind store.UsageUserKind
	user ids.UserID
}

func newLedger() ledger {
	return ledger{deltas: map[deltaKey]*store.UsageDelta{}, users: map[userKey]struct{}{}}
}

func (l *ledger) delta(app ids.AppID, hour time.Time) *store.UsageDelta {
	k := deltaKey{app, hour.Unix()}
	d := l.deltas[k]
	if d == nil {
		d = &store.UsageDelta{App: app, Hour: hour}
		l.deltas[k] = d
	}
	return d
}

func (l *ledger) mark(app ids.AppID, hour time.Time, kind store.UsageUserKind, user ids.UserID) {
	l.users[userKey{app, hour.Unix(), kind, user}] = struct{}{}
}

func (l *ledger) empty() bool { return len(l.deltas) == 0 && len(l.users) == 0 }

// hourOf is the start of t's UTC hour.
func hourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// appState is what one app has running now.
type appState struct {
	id ids.AppID
	// last is the time figures are accrued up to.
	last time.Time
	// snapped is the start (unix seconds) of the latest hour whose opening
	// snapshot (users present, levels) was taken.
	snapped int64
	rooms   map[ids.RoomID]*roomState
	// online and inCall count, per user, the memberships that are in a
	// room / subscribed to something: a user in two rooms is one user.
	online map[ids.UserID]int
	inCall map[ids.UserID]int
	// Rates: seconds accrued per second.
	members, streams, subs int64
	call                   [store.NumTiers]int64
}

type roomState struct {
	members map[ids.UserID]*memberState
	streams map[ids.StreamID]*streamState
}

type memberState struct {
	user   ids.UserID
	subs   map[ids.StreamID]*streamState
	inCall bool
	tier   store.Tier // while inCall
}

type streamState struct {
	owner       ids.UserID
	pixels      int64
	subscribers map[ids.UserID]*memberState
}

func newAppState(id ids.AppID, now time.Time) *appState {
	return &appState{
		id:      id,
		last:    now,
		snapped: hourOf(now).Unix(),
		rooms:   map[ids.RoomID]*roomState{},
		online:  map[ids.UserID]int{},
		inCall:  map[ids.UserID]int{},
	}
}

// idle reports whether the app has nothing running, so its state can go.
func (s *appState) idle() bool { return len(s.rooms) == 0 }

// advance accrues the time from s.last to now at the current rates. An hour
// that starts in [s.last, now) opens with a snapshot of the state that held
// at its start: the users present join its sets and the levels its peaks.
// An hour starting exactly at now is left to the next advance, because the
// events at now decide who is present at that instant.
func (s *appState) advance(l *ledger, now time.Time) {
	if !now.After(s.last) {
		return
	}
	for h := hourOf(s.last); h.Before(now); h = h.Add(time.Hour) {
		if h.Unix() > s.snapped { // then h >= s.last: an hour that opens now
			s.snapshot(l, h)
		}
		from, to := s.last, now
		if from.Before(h) {
			from = h
		}
		if end := h.Add(time.Hour); to.After(end) {
			to = end
		}
		secs := to.Unix() - from.Unix()
		if secs <= 0 || s.members == 0 {
			continue // nobody online: nothing else runs either
		}
		d := l.delta(s.id, h)
		d.OnlineSeconds += s.members * secs
		d.PublishSeconds += s.streams * secs
		d.SubscribeSeconds += s.subs * secs
		for t, n := range s.call {
			d.Call.Add(store.Tier(t), n*secs)
		}
	}
	s.last = now
}

func (s *appState) snapshot(l *ledger, h time.Time) {
	s.notePeaks(l, h)
	for u := range s.online {
		l.mark(s.id, h, store.UsersOnline, u)
	}
	for u := range s.inCall {
		l.mark(s.id, h, store.UsersInCall, u)
	}
	s.snapped = h.Unix()
}

// notePeaks raises the peaks of hour h to the current levels.
func (s *appState) notePeaks(l *ledger, h time.Time) {
	rooms, users, calls := int64(len(s.rooms)), int64(len(s.online)), int64(len(s.inCall))
	if rooms == 0 && users == 0 {
		return
	}
	d := l.delta(s.id, h)
	d.PeakRooms = max(d.PeakRooms, rooms)
	d.PeakUsers = max(d.PeakUsers, users)
	d.PeakCallUsers = max(d.PeakCallUsers, calls)
}

// relevant reports whether an event changes what the accountant counts.
func relevant(name string) bool {
	switch name {
	case room.EvRoomCreated, room.EvRoomDestroyed, protocol.EvUserJoined, protocol.EvUserLeft,
		protocol.EvStreamPublished, protocol.EvStreamUnpublished, protocol.EvStreamStateChanged,
		room.EvSubscribed, room.EvUnsubscribed:
		return true
	}
	return false
}

// apply changes the state for one event at now (already advanced to).
func (s *appState) apply(l *ledger, ev *room.Event, now time.Time) {
	h := hourOf(now)
	switch ev.Name {
	case room.EvRoomCreated:
		s.room(ev.Room)
		l.delta(s.id, h).RoomsCreated++
	case room.EvRoomDestroyed:
		s.endRoom(ev.Room)
	case protocol.EvUserJoined:
		if d := joinedData(ev.Data); d != nil {
			s.join(l, h, ev.Room, d.User.UserID)
		}
	case protocol.EvUserLeft:
		if d := leftData(ev.Data); d != nil {
			s.leave(ev.Room, d.UserID)
		}
	case protocol.EvStreamPublished, protocol.EvStreamStateChanged:
		if st := streamData(ev.Data); st != nil {
			s.streamUp(l, h, ev.Room, *st)
		}
	case protocol.EvStreamUnpublished:
		if st := streamData(ev.Data); st != nil {
			s.streamDown(ev.Room, st.ID)
		}
	case room.EvSubscribed, room.EvUnsubscribed:
		if d := subscriptionData(ev.Data); d != nil {
			s.subscription(l, h, ev.Room, d, ev.Name == room.EvSubscribed)
		}
	}
	s.notePeaks(l, h)
}

func (s *appState) room(id ids.RoomID) *roomState {
	r := s.rooms[id]
	if r == nil {
		r = &roomState{members: map[ids.UserID]*memberState{}, streams: map[ids.StreamID]*streamState{}}
		s.rooms[id] = r
	}
	return r
}

func (s *appState) join(l *ledger, h time.Time, roomID ids.RoomID, user ids.UserID) {
	r := s.room(roomID)
	if r.members[user] != nil {
		s.leave(roomID, user) // the room reports the replaced one first; be safe
	}
	r.members[user] = &memberState{user: user, subs: map[ids.StreamID]*streamState{}}
	s.members++
	s.online[user]++
	l.mark(s.id, h, store.UsersOnline, user)
}

// leave ends everything the member had running: its subscriptions and, if
// the room did not unpublish them first, its streams.
func (s *appState) leave(roomID ids.RoomID, user ids.UserID) {
	r := s.rooms[roomID]
	if r == nil || r.members[user] == nil {
		return
	}
	m := r.members[user]
	for sid, st := range m.subs {
		delete(st.subscribers, user)
		delete(m.subs, sid)
		s.subs--
	}
	s.retier(nil, time.Time{}, m)
	for sid, st := range r.streams {
		if st.owner == user {
			s.streamDown(roomID, sid)
		}
	}
	delete(r.members, user)
	s.members--
	decr(s.online, user)
}

func (s *appState) endRoom(roomID ids.RoomID) {
	r := s.rooms[roomID]
	if r == nil {
		return
	}
	for u := range r.members {
		s.leave(roomID, u)
	}
	for sid := range r.streams {
		s.streamDown(roomID, sid)
	}
	delete(s.rooms, roomID)
}

// streamUp records a stream going live or changing (resolution, video
// disabled or enabled): its subscribers may change tier.
func (s *appState) streamUp(l *ledger, h time.Time, roomID ids.RoomID, st protocol.Stream) {
	r := s.room(roomID)
	ss := r.streams[st.ID]
	if ss == nil {
		ss = &streamState{owner: st.UserID, subscribers: map[ids.UserID]*memberState{}}
		r.streams[st.ID] = ss
		s.streams++
	}
	ss.pixels = streamPixels(st)
	for _, m := range ss.subscribers {
		s.retier(l, h, m)
	}
}

// streamDown ends a stream and everyone's subscription to it (the room
// drops those subscriptions without an event of their own).
func (s *appState) streamDown(roomID ids.RoomID, sid ids.StreamID) {
	r := s.rooms[roomID]
	if r == nil || r.streams[sid] == nil {
		return
	}
	ss := r.streams[sid]
	for _, m := range ss.subscribers {
		delete(m.subs, sid)
		s.subs--
		s.retier(nil, time.Time{}, m)
	}
	delete(r.streams, sid)
	s.streams--
}

func (s *appState) subscription(l *ledger, h time.Time, roomID ids.RoomID, d *room.SubscriptionEvent, on bool) {
	r := s.rooms[roomID]
	if r == nil || r.members[d.User] == nil {
		return
	}
	m := r.members[d.User]
	for _, sid := range d.Streams {
		ss := r.streams[sid]
		if ss == nil {
			continue // the room only subscribes to live streams; be safe
		}
		_, had := m.subs[sid]
		switch {
		case on && !had:
			m.subs[sid] = ss
			ss.subscribers[m.user] = m
			s.subs++
		case !on && had:
			delete(m.subs, sid)
			delete(ss.subscribers, m.user)
			s.subs--
		}
	}
	s.retier(l, h, m)
}

// retier puts a member in the call tier its subscriptions give now. l is
// nil when the member can only be leaving the call (nothing to mark).
func (s *appState) retier(l *ledger, h time.Time, m *memberState) {
	inCall := len(m.subs) > 0
	var tier store.Tier
	if inCall {
		var px int64
		for _, ss := range m.subs {
			px += ss.pixels
		}
		tier = TierOf(px)
	}
	if m.inCall {
		s.call[m.tier]--
	}
	if inCall {
		s.call[tier]++
	}
	switch {
	case inCall && !m.inCall:
		s.inCall[m.user]++
		if l != nil {
			l.mark(s.id, h, store.UsersInCall, m.user)
		}
	case !inCall && m.inCall:
		decr(s.inCall, m.user)
	}
	m.inCall, m.tier = inCall, tier
}

func decr(m map[ids.UserID]int, u ids.UserID) {
	if m[u] <= 1 {
		delete(m, u)
		return
	}
	m[u]--
}

// Event payloads: the room emits pointers; values are accepted too.

func joinedData(v any) *protocol.UserJoinedEvent {
	switch d := v.(type) {
	case *protocol.UserJoinedEvent:
		return d
	case protocol.UserJoinedEvent:
		return &d
	}
	return nil
}

func leftData(v any) *protocol.UserLeftEvent {
	switch d := v.(type) {
	case *protocol.UserLeftEvent:
		return d
	case protocol.UserLeftEvent:
		return &d
	}
	return nil
}

func streamData(v any) *protocol.Stream {
	switch d := v.(type) {
	case *protocol.StreamEvent:
		return &d.Stream
	case protocol.StreamEvent:
		return &d.Stream
	}
	return nil
}

func subscriptionData(v any) *room.SubscriptionEvent {
	switch d := v.(type) {
	case *room.SubscriptionEvent:
		return d
	case room.SubscriptionEvent:
		return &d
	}
	return nil
}
