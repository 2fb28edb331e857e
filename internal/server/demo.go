package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	web "github.com/minirtc/minirtc/sdk/web"
)

// The demo page (/demo/) is the browser SDK's demo, embedded. With
// demo.mint_tokens, POST /demo/token mints tokens of the development app
// for anyone who asks: for trying things out on one's own machine only.

// demoTokenTTL is the lifetime of a token minted for the demo.
const demoTokenTTL = time.Hour

func (s *Server) mountDemo(mux *http.ServeMux) {
	files := http.FileServerFS(web.Demo())
	mux.Handle("GET /demo/", http.StripPrefix("/demo", files))
	mux.HandleFunc("GET /demo", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/demo/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("POST /demo/token", s.demoToken)
}

type demoTokenRequest struct {
	User ids.UserID `json:"user"`
	Room ids.RoomID `json:"room"`
}

func (s *Server) demoToken(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.Demo.MintTokens {
		writeJSONError(w, http.StatusForbidden, "demo_tokens_off", "this server does not mint tokens (demo.mint_tokens is off): paste a token from your app server or `minirtc token create`")
		return
	}
	var req demoTokenRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		writeJSONError(w, http.StatusBadRequest, "bad_request", "the body must be JSON like {\"user\":\"alice\",\"room\":\"demo\"}")
		return
	}
	if err := req.User.Validate(); err != nil {
		writeJSONError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if err := req.Room.Validate(); err != nil {
		writeJSONError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	app, err := s.developmentApp(r)
	if err != nil {
		writeJSONError(w, http.StatusServiceUnavailable, "no_development_app", err.Error())
		return
	}
	now := time.Now()
	tok, err := auth.Mint(app.Secret, auth.Claims{App: app.ID, User: req.User, Room: req.Room, Name: string(req.User),
		Grants: []auth.Grant{auth.GrantPublish, auth.GrantSubscribe, auth.GrantData}, IssuedAt: now, ExpiresAt: now.Add(demoTokenTTL)})
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "internal", "minting failed")
		return
	}
	s.log.Info("demo token minted", "app", app.ID, "user", req.User, "room", req.Room, "remote", r.RemoteAddr)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "app": app.ID, "expires_at": now.Add(demoTokenTTL).UnixMilli()})
}

// developmentApp is the app called "development" (created at first start).
func (s *Server) developmentApp(r *http.Request) (store.App, error) {
	apps, err := s.store.ListApps(r.Context())
	if err != nil {
		return store.App{}, err
	}
	for _, a := range apps {
		if a.Name == "development" {
			return a, nil
		}
	}
	return store.App{}, errors.New("no app named \"development\" on this server (it is created on a first start with no apps)")
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": msg})
}
