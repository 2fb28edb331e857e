// Package store declares what minirtc keeps durably — apps and their secrets,
// client quality reports, bans — as small interfaces, so that the server and
// the CLI do not care whether the data lives in SQLite (internal/store/sqlite)
// or PostgreSQL. Implementations are checked by internal/store/storetest.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
)

// ErrNotFound is returned (possibly wrapped; test with errors.Is) when the
// requested app does not exist.
var ErrNotFound = errors.New("not found")

// App is a tenant: its rooms, users and tokens are separate from every other app's.
type App struct {
	ID     ids.AppID
	Name   string
	Secret string // signs tokens and media URLs; stored as is because HMAC needs it
	// PreviousSecret is the secret in use before the last rotation, "" when none.
	// It keeps working until PreviousSecretUntil, so that tokens already handed
	// out survive a rotation.
	PreviousSecret      string
	PreviousSecretUntil time.Time // zero when there is no previous secret
	Limits              AppLimits // appsettings.go; zero fields: the server's limits
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// PreviousSecretValid reports whether the previous secret is still accepted at now.
func (a App) PreviousSecretValid(now time.Time) bool {
	return a.PreviousSecret != "" && now.Before(a.PreviousSecretUntil)
}

// Report is one quality or state report sent by a client (a live-pusher or
// live-player state code, network status, ...). Stores keep Data verbatim and
// times at millisecond precision in UTC.
type Report struct {
	ID      int64           `json:"id"`
	App     ids.AppID       `json:"app"`
	Room    ids.RoomID      `json:"room"`
	User    ids.UserID      `json:"user"`
	Session ids.SessionID   `json:"session,omitempty"` // optional
	Kind    string          `json:"kind"`              // "pusher", "player", "quality", ...; the caller restricts the set
	Stream  ids.StreamID    `json:"stream,omitempty"`  // optional
	Data    json.RawMessage `json:"data"`              // a JSON object; empty means {}
	At      time.Time       `json:"at"`
}

// ReportQuery selects reports of one app, newest first.
type ReportQuery struct {
	App  ids.AppID
	Room ids.RoomID // optional
	User ids.UserID // optional
	// From is inclusive and To exclusive; a zero time leaves that side unbounded.
	From, To time.Time
	// Limit is the most reports returned: <= 0 means DefaultReportLimit, and
	// anything above MaxReportLimit is lowered to it.
	Limit int
}

// Report query limits.
const (
	DefaultReportLimit = 100
	MaxReportLimit     = 1000
)

// Ban keeps a user out of a room until Until (a zero Until means until the ban is deleted).
type Ban struct {
	App    ids.AppID
	Room   ids.RoomID
	User   ids.UserID
	Until  time.Time
	By     ids.UserID // who banned; optional
	Reason string     // optional, at most MaxBanReasonLen bytes
}

// Active reports whether the ban is in force at now.
func (b Ban) Active(now time.Time) bool { return b.Until.IsZero() || now.Before(b.Until) }

// Apps manages apps and their secrets.
type Apps interface {
	// CreateApp makes an app with a fresh id (NewAppID) and secret (NewSecret).
	// The name must pass ValidateAppName.
	CreateApp(ctx context.Context, name string) (App, error)
	// GetApp returns ErrNotFound (wrapped) when there is no such app.
	GetApp(ctx context.Context, id ids.AppID) (App, error)
	// ListApps returns every app, oldest first.
	ListApps(ctx context.Context) ([]App, error)
	// RotateSecret gives the app a new secret. The old one becomes
	// PreviousSecret, accepted until now+overlap; with overlap 0 it stops
	// working at once and PreviousSecret is cleared. Only one previous
	// secret is kept: rotating again drops the one before.
	RotateSecret(ctx context.Context, id ids.AppID, overlap time.Duration, now time.Time) (App, error)
}

// Reports keeps client reports.
type Reports interface {
	// AddReport stores r (which must pass r.Validate) and returns its id.
	AddReport(ctx context.Context, r Report) (int64, error)
	// QueryReports returns matching reports, newest first (ties: highest id first).
	QueryReports(ctx context.Context, q ReportQuery) ([]Report, error)
}

// Bans keeps room bans.
type Bans interface {
	// PutBan creates or replaces the ban on (app, room, user).
	PutBan(ctx context.Context, b Ban) error
	// ActiveBan returns the ban on (app, room, user) if one is in force at now.
	ActiveBan(ctx context.Context, app ids.AppID, room ids.RoomID, user ids.UserID, now time.Time) (Ban, bool, error)
	// DeleteBan lifts the ban; lifting a ban that does not exist is not an error.
	DeleteBan(ctx context.Context, app ids.AppID, room ids.RoomID, user ids.UserID) error
}

// Store is everything minirtc keeps durably.
type Store interface {
	Apps
	Reports
	Bans
	AppSettings
	Ingests
	Webhooks // webhooks.go
	Usage    // usage.go
	Close() error
}
