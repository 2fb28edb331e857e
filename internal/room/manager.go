package room

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Bans is where bans imposed by kicks are kept (the store, in a server), so
// that they outlive the room and the process.
type Bans interface {
	PutBan(ctx context.Context, b store.Ban) error
	ActiveBan(ctx context.Context, app ids.AppID, room ids.RoomID, user ids.UserID, now time.Time) (store.Ban, bool, error)
	DeleteBan(ctx context.Context, app ids.AppID, room ids.RoomID, user ids.UserID) error
}

// Options are the collaborators of a Manager. All are optional.
type Options struct {
	// Bans persists bans; nil keeps them in memory.
	Bans Bans
	// Observer sees every event of every room.
	Observer Observer
	// Media is the media plane. With one, a published stream stays pending
	// (known only to its owner) until StreamLive reports media; without one
	// (tests of the room alone), publish announces the stream at once.
	Media MediaPlane
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives room lifecycle logs; nil means slog.Default().
	Logger *slog.Logger
	// Limits gives each app's own limits (admin.go); nil: the Config's only.
	Limits AppLimitsFunc
}

// Manager holds the rooms of all apps. Rooms of different apps never meet:
// every lookup is keyed by app.
type Manager struct {
	cfg     Config
	bans    Bans
	observe Observer
	media   MediaPlane
	now     func() time.Time
	log     *slog.Logger
	// appLimits: Options.Limits (admin.go).
	appLimits AppLimitsFunc

	mu     sync.Mutex
	apps   map[ids.AppID]map[ids.RoomID]*Room
	closed bool
	// closedApps are deleted apps whose joins are refused (admin.go).
	closedApps map[ids.AppID]struct{}
}

// NewManager creates an empty manager. cfg's zero fields take defaults.
func NewManager(cfg Config, opts Options) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:     cfg.withDefaults(),
		bans:    opts.Bans,
		observe: opts.Observer,
		media:   opts.Media,
		now:     opts.Now,
		log:     opts.Logger,
		apps:    make(map[ids.AppID]map[ids.RoomID]*Room),

		appLimits: opts.Limits,
	}
	if m.bans == nil {
		m.bans = newMemBans()
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m, nil
}

// Config returns the limits in force (defaults filled in).
func (m *Manager) Config() Config { return m.cfg }

// Identity is who joins: the verified contents of a token.
type Identity struct {
	App      ids.AppID
	User     ids.UserID
	Name     string
	Metadata string
	Grants   Grants
}

// Joined is the outcome of a successful join: the member handle through
// which the participant acts, and the room as it was at the moment of the
// join. Events delivered to the sink afterwards apply on top of it.
type Joined struct {
	Member *Member
	Room   protocol.Room
	Self   protocol.Participant
	// Others are the other participants, in join order, with their streams.
	Others []protocol.Participant
}

// Join adds a participant to a room, creating the room if needed. If the
// same user is already in the room, that earlier participant is replaced: it
// gets kicked_off (replaced) and the room sees it leave and the new one join.
func (m *Manager) Join(ctx context.Context, id Identity, roomID ids.RoomID, sink Sink) (Joined, error) {
	if err := validateIdentity(id, roomID); err != nil {
		return Joined{}, err
	}
	ban, banned, err := m.bans.ActiveBan(ctx, id.App, roomID, id.User, m.now())
	if err != nil {
		return Joined{}, fmt.Errorf("checking bans: %w", err)
	}
	if banned {
		return Joined{}, protocol.Errorf(protocol.CodeBanned, "user %s is banned from room %s until %s",
			id.User, roomID, ban.Until.UTC().Format(time.RFC3339))
	}
	lim, err := m.limitsFor(ctx, id.App)
	if err != nil {
		return Joined{}, err
	}
	for {
		r, err := m.roomFor(id.App, roomID, lim.rooms)
		if err != nil {
			return Joined{}, err
		}
		j, retry, err := r.join(id, sink, lim.participants)
		if retry {
			continue // the room closed between lookup and join; a new one will be made
		}
		return j, err
	}
}

func validateIdentity(id Identity, roomID ids.RoomID) error {
	for _, err := range []error{id.App.Validate(), id.User.Validate(), roomID.Validate()} {
		if err != nil {
			return protocol.Errorf(protocol.CodeInvalidField, "%v", err)
		}
	}
	return nil
}

// roomFor returns the open room, creating it within the app's room limit.
func (m *Manager) roomFor(app ids.AppID, roomID ids.RoomID, maxRooms int) (*Room, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, protocol.Errorf(protocol.CodeGoingAway, "the server is shutting down")
	}
	if m.appClosedLocked(app) {
		return nil, protocol.Errorf(protocol.CodeUnknownApp, "app %s was deleted", app)
	}
	rooms := m.apps[app]
	if r, ok := rooms[roomID]; ok {
		return r, nil
	}
	if len(rooms) >= maxRooms {
		return nil, protocol.Errorf(protocol.CodeTooManyRooms, "app %s already has %d rooms, the limit", app, len(rooms))
	}
	if rooms == nil {
		rooms = make(map[ids.RoomID]*Room)
		m.apps[app] = rooms
	}
	r := newRoom(m, app, roomID)
	rooms[roomID] = r
	m.log.Info("room created", "app", app, "room", roomID)
	return r, nil
}

// forget removes r from the index if it is still the room of that name.
func (m *Manager) forget(r *Room) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rooms := m.apps[r.app]; rooms[r.id] == r {
		delete(rooms, r.id)
		if len(rooms) == 0 {
			delete(m.apps, r.app)
		}
	}
}

func (m *Manager) lookup(app ids.AppID, roomID ids.RoomID) *Room {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.apps[app][roomID]
}

// RoomState is a room as an administrator sees it.
type RoomState struct {
	Room         protocol.Room
	Participants []protocol.Participant
	// Subscriptions lists, per user, the streams it subscribes to.
	Subscriptions map[ids.UserID][]ids.StreamID
}

// Room returns the current state of a room, if it exists.
func (m *Manager) Room(app ids.AppID, roomID ids.RoomID) (RoomState, bool) {
	r := m.lookup(app, roomID)
	if r == nil {
		return RoomState{}, false
	}
	return r.state()
}

// RoomSummary is one line of a room listing.
type RoomSummary struct {
	ID           ids.RoomID
	Participants int
	Streams      int
	CreatedAt    time.Time
}

// Rooms lists an app's rooms, sorted by id.
func (m *Manager) Rooms(app ids.AppID) []RoomSummary {
	m.mu.Lock()
	rooms := make([]*Room, 0, len(m.apps[app]))
	for _, r := range m.apps[app] {
		rooms = append(rooms, r)
	}
	m.mu.Unlock()
	out := make([]RoomSummary, 0, len(rooms))
	for _, r := range rooms {
		out = append(out, r.summary())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Counts is the size of everything the manager holds, for metrics.
type Counts struct {
	Rooms, Participants, Streams int
}

// Counts totals rooms, participants and streams over all apps.
func (m *Manager) Counts() Counts {
	m.mu.Lock()
	rooms := make([]*Room, 0, 64)
	for _, app := range m.apps {
		for _, r := range app {
			rooms = append(rooms, r)
		}
	}
	m.mu.Unlock()
	c := Counts{Rooms: len(rooms)}
	for _, r := range rooms {
		s := r.summary()
		c.Participants += s.Participants
		c.Streams += s.Streams
	}
	return c
}

// Kick removes a user from a room as an administrator outside the room (the
// REST API); by names the administrator in events. See Member.Kick.
func (m *Manager) Kick(ctx context.Context, app ids.AppID, roomID ids.RoomID, user ids.UserID, ban time.Duration, by ids.UserID, reason string) error {
	if err := m.persistBan(ctx, app, roomID, user, ban, by, reason); err != nil {
		return err
	}
	r := m.lookup(app, roomID)
	if r == nil {
		if ban > 0 {
			return nil // banned from a room that is not open now: still a ban
		}
		return protocol.Errorf(protocol.CodeUserNotFound, "room %s is not open", roomID)
	}
	return r.kick(user, ban, by, reason, ban > 0)
}

// Unban lifts a ban early.
func (m *Manager) Unban(ctx context.Context, app ids.AppID, roomID ids.RoomID, user ids.UserID) error {
	return m.bans.DeleteBan(ctx, app, roomID, user)
}

func (m *Manager) persistBan(ctx context.Context, app ids.AppID, roomID ids.RoomID, user ids.UserID, ban time.Duration, by ids.UserID, reason string) error {
	if ban < 0 || ban > m.cfg.MaxBan {
		return protocol.Errorf(protocol.CodeInvalidField, "ban must be between 0 and %d seconds", int64(m.cfg.MaxBan/time.Second))
	}
	if ban == 0 {
		return nil
	}
	b := store.Ban{App: app, Room: roomID, User: user, Until: m.now().Add(ban), By: by, Reason: reason}
	if err := m.bans.PutBan(ctx, b); err != nil {
		return fmt.Errorf("storing ban: %w", err)
	}
	return nil
}

// CloseRoom closes a room as an administrator outside the room.
func (m *Manager) CloseRoom(app ids.AppID, roomID ids.RoomID, by ids.UserID, reason string) error {
	r := m.lookup(app, roomID)
	if r == nil {
		return protocol.Errorf(protocol.CodeRoomClosed, "room %s is not open", roomID)
	}
	r.close(by, reason)
	return nil
}

// Shutdown refuses new joins and ends every room, for a server that is
// exiting: clients get no room events (the server tells them it is going
// away), observers get each member's user_left (ReasonServerShutdown) and
// each room's room_destroyed.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	m.closed = true
	var rooms []*Room
	for _, app := range m.apps {
		for _, r := range app {
			rooms = append(rooms, r)
		}
	}
	m.mu.Unlock()
	for _, r := range rooms {
		r.shutdown() // observers see each room end (room.go)
	}
}

// newID returns a random identifier valid under the ids rules.
func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return prefix + idEncoding.EncodeToString(b[:])
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
