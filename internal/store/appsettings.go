package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
)

// What the REST API (internal/api) keeps beyond apps and their secrets: each
// app's own limits, app renames and deletion, and the ingest URLs it handed
// out, so that one can be revoked.

// AppLimits are an app's own limits. A zero field means "the server's limit"
// (room.max_participants, room.max_rooms_per_app); a set one can only lower
// it: the server enforces the smaller of the two. Stores keep them as given.
type AppLimits struct {
	// MaxParticipants is the most participants in one room of the app.
	MaxParticipants int `json:"max_participants"`
	// MaxRooms is the most rooms the app may have open at once.
	MaxRooms int `json:"max_rooms"`
}

// MaxAppLimit bounds each AppLimits field, so that a typo cannot store a
// number that overflows somewhere else.
const MaxAppLimit = 1_000_000

// Validate checks that every limit is between 0 and MaxAppLimit.
func (l AppLimits) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"max_participants", l.MaxParticipants}, {"max_rooms", l.MaxRooms}} {
		if f.v < 0 || f.v > MaxAppLimit {
			return fmt.Errorf("limit %s is %d; it must be between 0 (the server's limit) and %d", f.name, f.v, MaxAppLimit)
		}
	}
	return nil
}

// AppUpdate is a change to an app: nil fields keep their value.
type AppUpdate struct {
	Name            *string
	MaxParticipants *int
	MaxRooms        *int
}

// Empty reports whether the update changes nothing.
func (u AppUpdate) Empty() bool {
	return u.Name == nil && u.MaxParticipants == nil && u.MaxRooms == nil
}

// Validate checks the fields that are set: the name with ValidateAppName,
// the limits as AppLimits.Validate does.
func (u AppUpdate) Validate() error {
	if u.Name != nil {
		if err := ValidateAppName(*u.Name); err != nil {
			return err
		}
	}
	var l AppLimits
	if u.MaxParticipants != nil {
		l.MaxParticipants = *u.MaxParticipants
	}
	if u.MaxRooms != nil {
		l.MaxRooms = *u.MaxRooms
	}
	return l.Validate()
}

// Apply returns a with the update's fields set (for implementations that
// read, change and write).
func (u AppUpdate) Apply(a App) App {
	if u.Name != nil {
		a.Name = *u.Name
	}
	if u.MaxParticipants != nil {
		a.Limits.MaxParticipants = *u.MaxParticipants
	}
	if u.MaxRooms != nil {
		a.Limits.MaxRooms = *u.MaxRooms
	}
	return a
}

// AppSettings changes and deletes apps.
type AppSettings interface {
	// UpdateApp applies u (which must pass u.Validate; nothing changes when
	// it does not) and sets UpdatedAt to now, returning the app as stored.
	// An empty update changes nothing, UpdatedAt included, and returns the
	// app. ErrNotFound (wrapped) when there is no such app.
	UpdateApp(ctx context.Context, id ids.AppID, u AppUpdate, now time.Time) (App, error)
	// DeleteApp removes the app and what is stored for it: reports, bans,
	// ingests, webhook settings and deliveries. Usage figures stay (they
	// are what the app is billed by, and usage.go ties no row to an app).
	// App ids are never reused, so nothing left can be found by a new app.
	// ErrNotFound (wrapped) when there is no such app.
	DeleteApp(ctx context.Context, id ids.AppID) error
}

// Ingest is a signed ingest URL handed out by the REST API: an external
// encoder pushing to it joins Room as User and publishes Stream. The URL
// itself is not stored (it can be signed again from these fields and the
// app's secret); what is stored is enough to refuse it once revoked.
// Stores keep times at millisecond precision in UTC.
type Ingest struct {
	ID     string // "ing" + 16 lowercase base32hex characters; stores assign it
	App    ids.AppID
	Room   ids.RoomID
	User   ids.UserID
	Stream ids.StreamID // User + "_" + tag
	// ExpiresAt is the URL's expiry, whole seconds (the URL carries unix
	// seconds).
	ExpiresAt time.Time
	CreatedAt time.Time
	// RevokedAt is when the ingest was revoked; zero while it is not.
	RevokedAt time.Time
}

// Revoked reports whether the ingest has been revoked.
func (in Ingest) Revoked() bool { return !in.RevokedAt.IsZero() }

// Ingest limits.
const (
	// IngestRetention is how long an expired ingest is kept: CreateIngest
	// deletes the app's ingests that expired longer ago than this.
	IngestRetention = 24 * time.Hour
	// MaxIngestList is the most ingests ListIngests returns.
	MaxIngestList = 1000
)

// NewIngestID returns "ing" followed by 16 random lowercase base32hex
// characters (80 bits).
func NewIngestID() string {
	var b [10]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return "ing" + appIDEncoding.EncodeToString(b[:])
}

// Validate checks an ingest before it is stored: valid app, room and user
// ids, a stream of the user (user_tag with a valid tag), an expiry in whole
// seconds and a creation time before it.
func (in Ingest) Validate() error {
	for _, err := range []error{in.App.Validate(), in.Room.Validate(), in.User.Validate(), in.Stream.Validate()} {
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
	}
	tag, ok := in.Stream.Owns(in.User)
	if !ok {
		return fmt.Errorf("ingest: stream %q is not a stream of user %q (user_tag)", in.Stream, in.User)
	}
	if err := tag.Validate(); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if in.CreatedAt.IsZero() || in.ExpiresAt.IsZero() {
		return fmt.Errorf("ingest: creation and expiry times must be set")
	}
	if !in.ExpiresAt.Equal(in.ExpiresAt.Truncate(time.Second)) {
		return fmt.Errorf("ingest: expiry must be whole seconds")
	}
	if !in.CreatedAt.Before(in.ExpiresAt) {
		return fmt.Errorf("ingest: expiry must be after creation")
	}
	return nil
}

// Ingests keeps the ingest URLs the REST API handed out.
type Ingests interface {
	// CreateIngest stores in (which must pass Validate; its ID and
	// RevokedAt are ignored) with a fresh ID (NewIngestID) and returns it as
	// stored. It also deletes the app's ingests that expired more than
	// IngestRetention before in.CreatedAt. ErrNotFound (wrapped) when the
	// app does not exist.
	CreateIngest(ctx context.Context, in Ingest) (Ingest, error)
	// GetIngest returns the app's ingest with that id; ErrNotFound (wrapped)
	// when there is none, also when the id is another app's.
	GetIngest(ctx context.Context, app ids.AppID, id string) (Ingest, error)
	// ListIngests returns the app's ingests not expired at now (ExpiresAt
	// after now), revoked or not, newest CreatedAt first (ties: higher ID
	// first), at most MaxIngestList.
	ListIngests(ctx context.Context, app ids.AppID, now time.Time) ([]Ingest, error)
	// RevokeIngest sets RevokedAt to now and returns the ingest. Revoking
	// again changes nothing (the first RevokedAt stays). ErrNotFound
	// (wrapped) as GetIngest.
	RevokeIngest(ctx context.Context, app ids.AppID, id string, now time.Time) (Ingest, error)
	// IngestRevoked reports whether a revoked ingest has exactly these
	// fields (expires compared in whole seconds): whether a push with the
	// URL they were signed into must be refused. URLs the store never saw
	// (signed by the CLI) are not revoked.
	IngestRevoked(ctx context.Context, app ids.AppID, room ids.RoomID, stream ids.StreamID, user ids.UserID, expires time.Time) (bool, error)
}
