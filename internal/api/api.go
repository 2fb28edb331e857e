// Package api is minirtc's REST API for app servers and operators, under
// /api/v1 on the HTTP port: apps and their secrets, tokens, rooms,
// participants, streams, room attributes and messages, quality reports,
// ingest URLs, webhook settings and deliveries, and usage figures.
// docs/openapi.yaml describes every route, request and
// response; docs/api.md explains authentication, errors and limits.
//
// Requests and responses are JSON. Bodies are at most MaxBodyBytes; unknown
// fields and query parameters are refused, and every validation error names
// the field. Two kinds of credentials are taken, as "Authorization: Bearer":
// the operator key (api.operator_key) for managing apps, and, for everything
// inside an app (/api/v1/apps/{app}/...), a token of that app with the
// admin grant (the same JWT format as clients use, internal/auth) or the
// operator key.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Prefix is where the API is mounted on the HTTP port.
const Prefix = "/api/v1"

// Config configures the API (the "api" section of the server's config).
type Config struct {
	// OperatorKey authorises the app-management routes (and every app's
	// routes). Empty: those routes answer 401, and only app tokens work.
	OperatorKey string `yaml:"operator_key"`
}

// MinOperatorKeyLen is the shortest operator key accepted: it guards every
// app, so it must not be guessable.
const MinOperatorKeyLen = 16

// Validate checks the operator key: empty, or at least MinOperatorKeyLen
// visible ASCII characters (it travels in an HTTP header).
func (c Config) Validate() error {
	if c.OperatorKey == "" {
		return nil
	}
	if len(c.OperatorKey) < MinOperatorKeyLen {
		return fmt.Errorf("api.operator_key is %d characters; use at least %d (e.g. openssl rand -base64 32)", len(c.OperatorKey), MinOperatorKeyLen)
	}
	for i := 0; i < len(c.OperatorKey); i++ {
		if c.OperatorKey[i] <= ' ' || c.OperatorKey[i] > '~' {
			return fmt.Errorf("api.operator_key has a space, control or non-ASCII character at byte %d; use visible ASCII characters only", i)
		}
	}
	return nil
}

// Store is what the API keeps durably.
type Store interface {
	store.Apps
	store.AppSettings
	store.Reports
	store.Bans
	store.Ingests
	store.Webhooks // webhooks.go
	store.Usage    // usage.go
}

// Media is the media plane as the API needs it.
type Media interface {
	// StreamStats are the hub's statistics of a room's live streams (all of
	// them when streams is empty).
	StreamStats(app ids.AppID, room ids.RoomID, streams []ids.StreamID) []protocol.StreamStats
	// IngestURL signs an RTMP URL for an ingest grant.
	IngestURL(ctx context.Context, g auth.MediaGrant) (string, error)
	// EndIngest ends the running push of a revoked ingest, if there is
	// one: its pseudo-participant leaves the room.
	EndIngest(app ids.AppID, room ids.RoomID, stream ids.StreamID, user ids.UserID)
}

// Deps are the API's collaborators. All but Logger and Now are required.
type Deps struct {
	Store Store
	// Apps looks apps up to verify tokens; the server passes its cache.
	Apps auth.AppLookup
	// Forget drops an app from every cache after the API changed it
	// (rotated its secret, deleted it), so the change applies at once.
	// Optional.
	Forget func(ids.AppID)
	Rooms  *room.Manager
	Media  Media
	Logger *slog.Logger
	Now    func() time.Time
}

// API serves the REST API. It is an http.Handler for Prefix and below.
type API struct {
	cfg    Config
	d      Deps
	verify *auth.Verifier
	log    *slog.Logger
	now    func() time.Time

	routes []route
	mux    *http.ServeMux // the routes plus the JSON 404/405 catch-all
	known  *http.ServeMux // the routes only: tells a 405 from a 404
}

// New builds the API.
func New(cfg Config, d Deps) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Store == nil || d.Apps == nil || d.Rooms == nil || d.Media == nil {
		return nil, errors.New("api: Store, Apps, Rooms and Media are required")
	}
	a := &API{cfg: cfg, d: d, verify: &auth.Verifier{Apps: d.Apps, Now: d.Now}, log: d.Logger, now: d.Now}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.routes = a.table()
	a.mux, a.known = http.NewServeMux(), http.NewServeMux()
	for _, rt := range a.routes {
		h := a.handler(rt)
		a.mux.Handle(rt.pattern(), h)
		a.known.Handle(rt.pattern(), h)
	}
	a.mux.HandleFunc(Prefix+"/", a.noRoute)
	return a, nil
}

// ServeHTTP serves one request under Prefix.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// Routes lists the routes served, as "METHOD /api/v1/path" patterns.
func (a *API) Routes() []string {
	out := make([]string, len(a.routes))
	for i, rt := range a.routes {
		out[i] = rt.pattern()
	}
	return out
}

// access is who may call a route.
type access int

const (
	// operatorOnly: app management, with the operator key.
	operatorOnly access = iota
	// inApp: an admin token of the path's {app}, or the operator key. A
	// token restricted to one room may call only routes of that room.
	inApp
)

type route struct {
	method string
	path   string // below Prefix, with {wildcards}
	access access
	h      func(c *call) (int, any, *Error)
}

func (rt route) pattern() string { return rt.method + " " + Prefix + rt.path }

// call is one request being served.
type call struct {
	a   *API
	w   http.ResponseWriter
	r   *http.Request
	ctx context.Context
	// app is the path's {app}, checked against the credentials (inApp).
	app ids.AppID
	// token is the caller's verified admin token; nil for the operator.
	token *auth.Claims
}

// who names the caller in logs.
func (c *call) who() string {
	if c.token == nil {
		return "operator"
	}
	return "token:" + string(c.token.User)
}

// body decodes the request body into v; see decodeJSON.
func (c *call) body(v any, optional bool) *Error {
	b, err := readBody(c.w, c.r)
	if err != nil {
		return err
	}
	return decodeJSON(b, c.r.Header.Get("Content-Type"), v, optional)
}

// noBody refuses a body on a route that takes none (GET, DELETE).
func (c *call) noBody() *Error {
	b, err := readBody(c.w, c.r)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) > 0 {
		return &Error{Status: http.StatusBadRequest, Code: protocol.CodeMalformed, Message: "this route takes no body"}
	}
	return nil
}

// handler wraps a route: credentials, then the route's own work, then the
// JSON response and a log line.
func (a *API) handler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := &call{a: a, w: w, r: r, ctx: r.Context()}
		status, body, err := a.run(c, rt)
		if err != nil {
			status = err.Status
			a.writeError(w, err)
		} else {
			writeJSON(w, status, body)
		}
		level := slog.LevelDebug
		switch {
		case status >= 500:
			level = slog.LevelError
		case r.Method != http.MethodGet && status < 300:
			level = slog.LevelInfo // a change: worth a line
		}
		attrs := []any{"method", r.Method, "route", rt.path, "status", status, "caller", c.who(), "ms", time.Since(start).Milliseconds()}
		if c.app != "" {
			attrs = append(attrs, "app", c.app)
		}
		if err != nil {
			attrs = append(attrs, "code", int(err.Code), "err", err.Message)
			if err.cause != nil {
				attrs = append(attrs, "cause", err.cause.Error())
			}
		}
		a.log.Log(r.Context(), level, "api request", attrs...)
	})
}

// run authenticates and runs the route, turning a panic into a 500 so that
// one bad request cannot take the connection down without an answer.
func (a *API) run(c *call, rt route) (status int, body any, err *Error) {
	defer func() {
		if p := recover(); p != nil {
			status, body, err = 0, nil, internal(fmt.Errorf("panic: %v", p))
		}
	}()
	if err := a.authenticate(c, rt); err != nil {
		return 0, nil, err
	}
	return rt.h(c)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if status == http.StatusNoContent || body == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		// Bodies are our own structs; failing to encode one is a bug.
		panic("api: encoding a response: " + err.Error())
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func (a *API) writeError(w http.ResponseWriter, e *Error) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="minirtc"`)
	}
	writeJSON(w, e.Status, errorBody{Error: errorJSON{Code: e.Code, Message: e.Message, Field: e.Field}})
}

// methods are the methods routes use, to answer 405 with an Allow header.
var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// noRoute answers what no route takes: 405 when the path exists with
// other methods, else 404.
func (a *API) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range methods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.known.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		a.writeError(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
			Message: fmt.Sprintf("%s is not allowed here; use %s", r.Method, strings.Join(allow, ", "))})
		return
	}
	a.writeError(w, notFound("no route %s %s; docs/openapi.yaml lists the routes", r.Method, truncate(r.URL.Path, 200)))
}
