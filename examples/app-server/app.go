package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/server"
)

// Limits of the app server's own endpoints.
const (
	maxBody      = 64 << 10 // bytes of a login, token or kick request
	keptEvents   = 50       // webhook events shown
	maxBanSecond = 30 * 24 * 3600
)

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"time": func(ms int64) string { return time.UnixMilli(ms).Format("15:04:05.000") },
}).Parse(pageHTML))

// app is the app server: its users' sessions, minirtc's REST client and the
// webhook events received.
type app struct {
	api       *server.Client
	signalURL string
	hookKey   string // webhook signing secret
	tokenTTL  time.Duration
	log       *slog.Logger
	sessions  *sessions
	now       func() time.Time

	mu     sync.Mutex
	events []server.Event // newest last, at most keptEvents
	seen   map[string]bool
	order  []string // ids in seen, oldest first
}

func newApp(api *server.Client, signalURL, hookKey string, ttl time.Duration, log *slog.Logger) *app {
	return &app{api: api, signalURL: signalURL, hookKey: hookKey, tokenTTL: ttl, log: log,
		sessions: newSessions(), now: time.Now, seen: map[string]bool{}}
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("POST /token", a.token)
	mux.HandleFunc("POST /kick", a.kick)
	mux.HandleFunc("GET /webhooks", a.listEvents)
	mux.Handle("POST /webhook", server.WebhookHandler(a.hookKey, a.onEvent))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	return mux
}

// onEvent keeps a verified webhook event. Deliveries are at least once: a
// repeat (same id) is acknowledged and dropped.
func (a *app) onEvent(_ *http.Request, ev server.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen[ev.ID] {
		return nil
	}
	a.seen[ev.ID] = true
	a.order = append(a.order, ev.ID)
	if len(a.order) > 10*keptEvents {
		delete(a.seen, a.order[0])
		a.order = a.order[1:]
	}
	a.events = append(a.events, ev)
	if len(a.events) > keptEvents {
		a.events = a.events[1:]
	}
	a.log.Info("webhook", "type", ev.Type, "room", ev.Room, "user", ev.User, "seq", ev.Seq, "id", ev.ID)
	return nil
}

// recentEvents returns the kept events, newest first.
func (a *app) recentEvents() []server.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]server.Event, len(a.events))
	for i, ev := range a.events {
		out[len(out)-1-i] = ev
	}
	return out
}

// --- requests and answers

// isJSON tells the JSON API (Content-Type application/json) from the
// page's forms.
func isJSON(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/json"
}

// readRequest fills v from a JSON body (unknown fields refused) or from
// the form, by the field names in form.
func readRequest(w http.ResponseWriter, r *http.Request, v any, form func(get func(string) string) error) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if isJSON(r) {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return errors.New("the body must be a JSON object with the documented fields: " + err.Error())
		}
		return nil
	}
	if err := r.ParseForm(); err != nil {
		return err
	}
	return form(r.PostForm.Get)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail answers an error: JSON for the API, the page with the message for
// a form.
func (a *app) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if isJSON(r) || r.Method == http.MethodGet {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	u, _ := a.user(r)
	a.render(w, r, status, view{Error: msg}, u)
}

// user is the logged-in user of a request: the session cookie, or
// "Authorization: Bearer <session>" for API callers.
func (a *app) user(r *http.Request) (demoUser, string) {
	id := ""
	if c, err := r.Cookie("session"); err == nil {
		id = c.Value
	}
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		id = strings.TrimPrefix(h, "Bearer ")
	}
	u, ok := a.sessions.get(id, a.now())
	if !ok {
		return demoUser{}, ""
	}
	return u, id
}

// --- handlers

type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := readRequest(w, r, &req, func(get func(string) string) error {
		req.User, req.Password = get("user"), get("password")
		return nil
	}); err != nil {
		a.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	u, ok := checkPassword(req.User, req.Password)
	if !ok {
		a.log.Warn("login refused", "user", req.User)
		a.fail(w, r, http.StatusUnauthorized, "wrong user or password")
		return
	}
	sid := a.sessions.create(u, a.now())
	// SameSite=Strict: another site's form cannot post with this cookie.
	http.SetCookie(w, &http.Cookie{Name: "session", Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		MaxAge: int(sessionTTL / time.Second)})
	a.log.Info("login", "user", u.ID, "role", u.Role.Name)
	if isJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"session": sid, "user": u.ID, "name": u.Name, "role": u.Role.Name})
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if _, sid := a.user(r); sid != "" {
		a.sessions.delete(sid)
	}
	http.SetCookie(w, &http.Cookie{Name: "session", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	if isJSON(r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type tokenRequest struct {
	Room string `json:"room"`
}

// tokenAnswer is what a client app needs to join.
type tokenAnswer struct {
	Token     string         `json:"token"`
	URL       string         `json:"url"` // the signalling WebSocket URL
	Room      ids.RoomID     `json:"room"`
	User      ids.UserID     `json:"user"`
	Grants    []server.Grant `json:"grants"`
	ExpiresAt int64          `json:"expires_at"` // unix milliseconds
}

// token hands the logged-in user a token for one room with its role's
// grants, signed locally with the app secret.
func (a *app) token(w http.ResponseWriter, r *http.Request) {
	u, _ := a.user(r)
	if u.ID == "" {
		a.fail(w, r, http.StatusUnauthorized, "log in first")
		return
	}
	var req tokenRequest
	if err := readRequest(w, r, &req, func(get func(string) string) error { req.Room = get("room"); return nil }); err != nil {
		a.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	room := ids.RoomID(strings.TrimSpace(req.Room))
	if err := room.Validate(); err != nil {
		a.fail(w, r, http.StatusBadRequest, "room: "+err.Error())
		return
	}
	now := a.now()
	exp := now.Add(a.tokenTTL)
	tok, err := a.api.SignToken(server.Claims{User: u.ID, Room: room, Name: u.Name, Grants: u.Role.Grants,
		Metadata: `{"role":"` + u.Role.Name + `"}`, IssuedAt: now, ExpiresAt: exp})
	if err != nil {
		a.log.Error("sign token", "user", u.ID, "err", err)
		a.fail(w, r, http.StatusInternalServerError, "cannot make a token")
		return
	}
	ans := tokenAnswer{Token: tok, URL: a.signalURL, Room: room, User: u.ID, Grants: u.Role.Grants, ExpiresAt: exp.Truncate(time.Second).UnixMilli()}
	a.log.Info("token", "user", u.ID, "room", room, "role", u.Role.Name)
	if isJSON(r) {
		writeJSON(w, http.StatusOK, ans)
		return
	}
	a.render(w, r, http.StatusOK, view{Token: &ans}, u)
}

type kickRequest struct {
	Room       string `json:"room"`
	User       string `json:"user"`
	BanSeconds int64  `json:"ban_seconds"`
	Reason     string `json:"reason"`
}

// kick is the admin action: a teacher removes someone from a room through
// minirtc's REST API.
func (a *app) kick(w http.ResponseWriter, r *http.Request) {
	u, _ := a.user(r)
	switch {
	case u.ID == "":
		a.fail(w, r, http.StatusUnauthorized, "log in first")
		return
	case !u.Role.Moderate:
		a.fail(w, r, http.StatusForbidden, "only teachers may kick")
		return
	}
	var req kickRequest
	if err := readRequest(w, r, &req, func(get func(string) string) error {
		req.Room, req.User, req.Reason = get("room"), get("user"), get("reason")
		if s := get("ban_seconds"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return errors.New("ban_seconds must be a whole number of seconds")
			}
			req.BanSeconds = n
		}
		return nil
	}); err != nil {
		a.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	room, target := ids.RoomID(req.Room), ids.UserID(req.User)
	if err := room.Validate(); err != nil {
		a.fail(w, r, http.StatusBadRequest, "room: "+err.Error())
		return
	}
	if err := target.Validate(); err != nil {
		a.fail(w, r, http.StatusBadRequest, "user: "+err.Error())
		return
	}
	if req.BanSeconds < 0 || req.BanSeconds > maxBanSecond {
		a.fail(w, r, http.StatusBadRequest, "ban_seconds must be from 0 to 2592000 (30 days)")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	err := a.api.Kick(ctx, room, target, server.KickRequest{BanSeconds: req.BanSeconds, Reason: req.Reason})
	if err != nil {
		var ae *server.APIError
		status := http.StatusBadGateway
		if errors.As(err, &ae) && ae.Status/100 == 4 && ae.Status != http.StatusUnauthorized && ae.Status != http.StatusForbidden {
			status = ae.Status // the request's fault (no such user, bad field); auth problems are ours
		}
		a.log.Warn("kick failed", "by", u.ID, "room", room, "user", target, "err", err)
		a.fail(w, r, status, "minirtc refused the kick: "+err.Error())
		return
	}
	a.log.Info("kick", "by", u.ID, "room", room, "user", target, "ban_seconds", req.BanSeconds)
	if isJSON(r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	a.render(w, r, http.StatusOK, view{Notice: "kicked " + string(target) + " from " + string(room)}, u)
}

func (a *app) listEvents(w http.ResponseWriter, r *http.Request) {
	if u, _ := a.user(r); u.ID == "" {
		a.fail(w, r, http.StatusUnauthorized, "log in first")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": a.recentEvents()})
}

// --- the page

type view struct {
	User   *demoUser
	Users  []string
	Token  *tokenAnswer
	Rooms  []server.RoomSummary
	Events []server.Event
	Error  string
	Notice string
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	u, _ := a.user(r)
	a.render(w, r, http.StatusOK, view{}, u)
}

func (a *app) render(w http.ResponseWriter, r *http.Request, status int, v view, u demoUser) {
	v.Users = demoUserNames()
	if u.ID != "" {
		v.User = &u
		v.Events = a.recentEvents()
		if u.Role.Moderate {
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			rooms, err := a.api.ListRooms(ctx)
			cancel()
			if err != nil && v.Error == "" {
				v.Error = "cannot list rooms: " + err.Error()
			}
			v.Rooms = rooms
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := page.Execute(w, v); err != nil {
		a.log.Warn("page", "err", err)
	}
}
