package api

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// App management (operator key) and token minting.

type limitsRequest struct {
	MaxParticipants *int `json:"max_participants"`
	MaxRooms        *int `json:"max_rooms"`
}

type createAppRequest struct {
	Name   string         `json:"name"`
	Limits *limitsRequest `json:"limits"`
}

type updateAppRequest struct {
	Name   *string        `json:"name"`
	Limits *limitsRequest `json:"limits"`
}

type rotateRequest struct {
	OverlapSeconds *int64 `json:"overlap_seconds"`
}

// DefaultOverlap is how long the old secret keeps working after a rotation
// when the request does not say (as `minirtc app rotate-secret`).
const DefaultOverlap = 24 * time.Hour

// checkLimits validates requested limits against the server's: an app's
// limits can only lower them.
func (a *API) checkLimits(l *limitsRequest) *Error {
	if l == nil {
		return nil
	}
	cfg := a.d.Rooms.Config()
	for _, f := range []struct {
		name   string
		v      *int
		server int
		key    string
	}{
		{"limits.max_participants", l.MaxParticipants, cfg.MaxParticipants, "room.max_participants"},
		{"limits.max_rooms", l.MaxRooms, cfg.MaxRoomsPerApp, "room.max_rooms_per_app"},
	} {
		if f.v != nil && (*f.v < 0 || *f.v > f.server) {
			return fieldErr(f.name, "%s is %d; it must be between 0 (the server's limit) and the server's %s, %d", f.name, *f.v, f.key, f.server)
		}
	}
	return nil
}

func (l *limitsRequest) update() store.AppUpdate {
	if l == nil {
		return store.AppUpdate{}
	}
	return store.AppUpdate{MaxParticipants: l.MaxParticipants, MaxRooms: l.MaxRooms}
}

func (a *API) listApps(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	apps, err := a.d.Store.ListApps(c.ctx)
	if err != nil {
		return 0, nil, internal(err)
	}
	out := appsJSON{Apps: make([]appJSON, 0, len(apps))}
	now := a.now()
	for _, app := range apps {
		out.Apps = append(out.Apps, newAppJSON(app, now, false))
	}
	return http.StatusOK, out, nil
}

func (a *API) createApp(c *call) (int, any, *Error) {
	var req createAppRequest
	if err := c.body(&req, false); err != nil {
		return 0, nil, err
	}
	if err := store.ValidateAppName(req.Name); err != nil {
		return 0, nil, fieldErr("name", "%v", err)
	}
	if err := a.checkLimits(req.Limits); err != nil {
		return 0, nil, err
	}
	app, err := a.d.Store.CreateApp(c.ctx, req.Name)
	if err != nil {
		return 0, nil, internal(err)
	}
	if u := req.Limits.update(); !u.Empty() {
		// CreateApp gives no limits; a second write sets them. Should it
		// fail, the half-made app is removed so the caller can retry.
		if app, err = a.d.Store.UpdateApp(c.ctx, app.ID, u, app.CreatedAt); err != nil {
			if derr := a.d.Store.DeleteApp(c.ctx, app.ID); derr != nil {
				a.log.Error("api: removing an app whose limits could not be set", "app", app.ID, "err", derr)
			}
			return 0, nil, internal(err)
		}
	}
	return http.StatusCreated, newAppJSON(app, a.now(), true), nil
}

func (a *API) getApp(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	app, err := a.appExists(c)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newAppJSON(app, a.now(), false), nil
}

func (a *API) updateApp(c *call) (int, any, *Error) {
	if _, err := a.appExists(c); err != nil {
		return 0, nil, err
	}
	var req updateAppRequest
	if err := c.body(&req, false); err != nil {
		return 0, nil, err
	}
	if req.Name != nil {
		if err := store.ValidateAppName(*req.Name); err != nil {
			return 0, nil, fieldErr("name", "%v", err)
		}
	}
	if err := a.checkLimits(req.Limits); err != nil {
		return 0, nil, err
	}
	u := req.Limits.update()
	u.Name = req.Name
	app, err := a.d.Store.UpdateApp(c.ctx, c.app, u, a.now())
	if err != nil {
		return 0, nil, fromStore(err, "app "+string(c.app))
	}
	a.forget(c.app) // new limits apply to the next join
	return http.StatusOK, newAppJSON(app, a.now(), false), nil
}

func (a *API) rotateSecret(c *call) (int, any, *Error) {
	if _, err := a.appExists(c); err != nil {
		return 0, nil, err
	}
	var req rotateRequest
	if err := c.body(&req, true); err != nil {
		return 0, nil, err
	}
	overlap := DefaultOverlap
	if req.OverlapSeconds != nil {
		if s := *req.OverlapSeconds; s < 0 || s > int64(auth.MaxTTL/time.Second) {
			return 0, nil, fieldErr("overlap_seconds", "overlap_seconds is %d; it must be from 0 (the old secret stops at once) to %d (the longest token lifetime)", s, int64(auth.MaxTTL/time.Second))
		}
		overlap = time.Duration(*req.OverlapSeconds) * time.Second
	}
	now := a.now()
	app, err := a.d.Store.RotateSecret(c.ctx, c.app, overlap, now)
	if err != nil {
		return 0, nil, fromStore(err, "app "+string(c.app))
	}
	a.forget(c.app) // URLs signed from now on use the new secret
	return http.StatusOK, newAppJSON(app, now, true), nil
}

func (a *API) deleteApp(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	if _, err := a.appExists(c); err != nil {
		return 0, nil, err
	}
	if err := a.d.Store.DeleteApp(c.ctx, c.app); err != nil {
		return 0, nil, fromStore(err, "app "+string(c.app))
	}
	// The store no longer knows the app, so its tokens and URLs fail from
	// the next lookup; forgetting the cached copy makes that now. Then
	// the rooms go, and joins racing the deletion are refused.
	a.forget(c.app)
	n := a.d.Rooms.CloseApp(c.app, "the app was deleted")
	a.log.Info("app deleted", "app", c.app, "rooms_closed", n)
	return http.StatusNoContent, nil, nil
}

func (a *API) forget(app ids.AppID) {
	if a.d.Forget != nil {
		a.d.Forget(app)
	}
}

// Tokens.

type mintRequest struct {
	User       ids.UserID `json:"user"`
	Room       ids.RoomID `json:"room"`
	Grants     *[]string  `json:"grants"`
	Name       string     `json:"name"`
	Metadata   string     `json:"metadata"`
	TTLSeconds *int64     `json:"ttl_seconds"`
}

// DefaultTokenTTL is the lifetime of a minted token when the request does
// not say.
const DefaultTokenTTL = time.Hour

func (a *API) mintToken(c *call) (int, any, *Error) {
	var req mintRequest
	if err := c.body(&req, false); err != nil {
		return 0, nil, err
	}
	if err := req.User.Validate(); err != nil {
		return 0, nil, fieldErr("user", "%v", err)
	}
	if req.Room != "" {
		if err := req.Room.Validate(); err != nil {
			return 0, nil, fieldErr("room", "%v", err)
		}
	}
	var grants []auth.Grant // nil: the default grants
	if req.Grants != nil {
		grants = []auth.Grant{}
		for i, g := range *req.Grants {
			if !auth.Grant(g).Known() {
				return 0, nil, fieldErr(fmt.Sprintf("grants[%d]", i), "unknown grant %q; grants are publish, subscribe, data and admin", truncate(g, 40))
			}
			if !slices.Contains(grants, auth.Grant(g)) {
				grants = append(grants, auth.Grant(g))
			}
		}
	}
	ttl := DefaultTokenTTL
	if req.TTLSeconds != nil {
		if s := *req.TTLSeconds; s < 1 || s > int64(auth.MaxTTL/time.Second) {
			return 0, nil, fieldErr("ttl_seconds", "ttl_seconds is %d; it must be from 1 to %d (30 days)", s, int64(auth.MaxTTL/time.Second))
		}
		ttl = time.Duration(*req.TTLSeconds) * time.Second
	}
	if err := checkName("name", req.Name); err != nil {
		return 0, nil, err
	}
	if len(req.Metadata) > auth.MaxMetadataLen {
		return 0, nil, fieldErr("metadata", "metadata is %d bytes, the limit is %d", len(req.Metadata), auth.MaxMetadataLen)
	}
	app, err := a.d.Store.GetApp(c.ctx, c.app)
	if err != nil {
		return 0, nil, fromStore(err, "app "+string(c.app))
	}
	if grants == nil {
		grants = auth.DefaultGrants()
	}
	now := a.now()
	claims := auth.Claims{App: c.app, User: req.User, Room: req.Room, Grants: grants, Name: req.Name, Metadata: req.Metadata,
		ID: newTokenID(), IssuedAt: now, ExpiresAt: now.Add(ttl)}
	tok, merr := auth.Mint(app.Secret, claims)
	if merr != nil {
		// All fields were checked above but the encoded size, which
		// escaped metadata can push over the token limit.
		return 0, nil, fieldErr("metadata", "%v", merr)
	}
	names := make([]string, len(grants))
	for i, g := range grants {
		names[i] = string(g)
	}
	// Tokens carry whole seconds.
	return http.StatusCreated, tokenJSON{Token: tok, ID: claims.ID, App: c.app, User: req.User, Room: req.Room,
		Grants: names, ExpiresAt: claims.ExpiresAt.Truncate(time.Second).UnixMilli()}, nil
}

func newTokenID() string {
	var b [16]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// checkName checks a display name as tokens require: at most
// auth.MaxNameLen bytes, no control characters.
func checkName(field, s string) *Error {
	if len(s) > auth.MaxNameLen {
		return fieldErr(field, "%s is %d bytes, the limit is %d", field, len(s), auth.MaxNameLen)
	}
	for i, r := range s {
		if unicode.IsControl(r) {
			return fieldErr(field, "%s has control character %U at byte %d", field, r, i)
		}
	}
	return nil
}
