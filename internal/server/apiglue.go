package server

import (
	"context"
	"fmt"
	"time"

	"github.com/minirtc/minirtc/internal/api"
	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// The REST API (internal/api) mounted at /api/v1, and what it needs from
// the rest of the server: per-app limits for the rooms, stream statistics,
// ingest URLs, and the revocation check on ingest pushes.

// buildAPI makes the API. apps is the cache every token check goes through,
// so the API can drop an app from it the moment it changes.
func (s *Server) buildAPI(apps *auth.CachedApps) error {
	a, err := api.New(s.cfg.API, api.Deps{
		Store:  s.store,
		Apps:   apps,
		Forget: apps.Forget,
		Rooms:  s.rooms,
		Media:  apiMedia{s.glue},
		Logger: s.log.With("component", "api"),
	})
	if err != nil {
		return fmt.Errorf("REST API: %w", err)
	}
	s.api = a
	s.glue.revoked = s.store
	return nil
}

// appLimits gives the rooms each app's own limits, through the app cache
// (a join costs no query).
func appLimits(apps auth.AppLookup) room.AppLimitsFunc {
	return func(ctx context.Context, app ids.AppID) (store.AppLimits, error) {
		a, err := apps.GetApp(ctx, app)
		return a.Limits, err
	}
}

// apiMedia is the media plane as the API sees it.
type apiMedia struct{ g *mediaGlue }

func (m apiMedia) StreamStats(app ids.AppID, roomID ids.RoomID, streams []ids.StreamID) []protocol.StreamStats {
	return m.g.StreamStats(app, roomID, streams)
}

func (m apiMedia) IngestURL(ctx context.Context, g auth.MediaGrant) (string, error) {
	url, _, err := m.g.sign(ctx, g)
	return url, err
}

// EndIngest takes the pseudo-participant of a revoked ingest out of its
// room, which closes the push (and one waiting out its reconnect grace).
func (m apiMedia) EndIngest(app ids.AppID, roomID ids.RoomID, stream ids.StreamID, user ids.UserID) {
	key := media.Key{App: app, Room: roomID, Stream: stream}
	m.g.mu.Lock()
	mem := m.g.ingests[key]
	m.g.mu.Unlock()
	if mem != nil && mem.User() == user {
		mem.Leave(protocol.ReasonKicked)
		m.g.log.Info("revoked ingest removed from the room", "app", app, "room", roomID, "stream", stream)
	}
}

// ingestRevocations tells whether an ingest URL was revoked (store.Ingests).
type ingestRevocations interface {
	IngestRevoked(ctx context.Context, app ids.AppID, room ids.RoomID, stream ids.StreamID, user ids.UserID, expires time.Time) (bool, error)
}

// refuseRevoked refuses a push with an ingest URL revoked through the API,
// also the reconnect of one that was running.
func (g *mediaGlue) refuseRevoked(ctx context.Context, grant auth.MediaGrant) error {
	if g.revoked == nil {
		return nil
	}
	revoked, err := g.revoked.IngestRevoked(ctx, grant.App, grant.Room, grant.Stream, grant.User, grant.Expires)
	if err != nil {
		return fmt.Errorf("checking whether the ingest URL was revoked: %w", err)
	}
	if revoked {
		return media.Refuse(media.ReasonExpired, fmt.Sprintf("the ingest URL for %s in room %s was revoked", grant.Stream, grant.Room))
	}
	return nil
}
