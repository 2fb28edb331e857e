package flv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/media"
)

// Hub is what the handler needs of the media hub (*media.Hub).
type Hub interface {
	StartPlay(ctx context.Context, t media.Target) (*media.Reader, error)
	Limits() media.Limits
}

// Options configure a Handler.
type Options struct {
	Logger *slog.Logger
	// AllowOrigins are the browser origins allowed to play (flv.js fetches
	// the stream cross-origin). Empty means "*": the URL's signature is the
	// access control, cookies are never involved.
	AllowOrigins []string
}

// Handler serves HTTP-FLV: GET /flv/{app}/{room}/{stream}.flv?{signed query}.
// Mount it without a method in the pattern (mux.Handle("/flv/", h)) so that
// it also answers HEAD and the CORS preflight OPTIONS.
type Handler struct {
	hub          Hub
	log          *slog.Logger
	anyOrig      bool
	origins      map[string]bool
	writeTimeout time.Duration
}

// New makes a Handler playing from hub.
func New(hub Hub, opts Options) *Handler {
	h := &Handler{hub: hub, log: opts.Logger, origins: map[string]bool{}, writeTimeout: hub.Limits().WriteTimeout}
	if h.log == nil {
		h.log = slog.Default()
	}
	for _, o := range opts.AllowOrigins {
		if o == "*" {
			h.anyOrig = true
		}
		h.origins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	if len(opts.AllowOrigins) == 0 {
		h.anyOrig = true
	}
	return h
}

// Prefix and suffix of HTTP-FLV paths.
const (
	pathPrefix = "/flv/"
	pathSuffix = ".flv"
)

// Reasons of answers that are not media refusals: the request did not name
// a stream at all.
const (
	reasonNotFound  media.Reason = "not_found"
	reasonNoMethod  media.Reason = "method_not_allowed"
	allowedMethods               = "GET, HEAD, OPTIONS"
	exposedHeaders               = "Content-Length, Content-Type, Date"
	preflightMaxAge              = "600"
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.cors(w.Header(), r)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.preflight(w, r)
		return
	default:
		w.Header().Set("Allow", allowedMethods)
		h.answer(w, r, "", http.StatusMethodNotAllowed, &media.Refusal{Reason: reasonNoMethod,
			Message: fmt.Sprintf("method %s; HTTP-FLV answers %s", r.Method, allowedMethods)})
		return
	}
	path, ok := streamPath(r.URL.Path)
	if !ok {
		h.answer(w, r, "", http.StatusNotFound, &media.Refusal{Reason: reasonNotFound,
			Message: "HTTP-FLV URLs are /flv/{app}/{room}/{stream}.flv?{signed query}"})
		return
	}
	q, err := auth.ParseMediaQuery(r.URL.RawQuery)
	if err != nil {
		h.refuse(w, r, path, media.Refuse(media.ReasonMalformed, err.Error()))
		return
	}
	rd, err := h.hub.StartPlay(r.Context(), media.Target{Path: path, Query: q, Protocol: media.FLV, Remote: r.RemoteAddr,
		Audio: media.AAC, VideoCodecs: media.FLVVideoCodecs})
	if err != nil {
		var rf *media.Refusal
		if !errors.As(err, &rf) {
			// Not a decision about this URL but a failure (a store error,
			// say): log it, and do not hand internals to the client.
			h.log.Warn("flv: admitting a play failed", "stream", path, "remote", r.RemoteAddr, "err", err)
			rf = media.Refuse(media.ReasonUnavailable, "the server could not admit the play; try again")
		}
		h.refuse(w, r, path, rf)
		return
	}
	h.play(w, r, rd, path)
}

// streamPath turns "/flv/{app}/{room}/{stream}.flv" into the hub's
// "/{app}/{room}/{stream}". The segments' alphabet is the admission's to
// check; here they only must be there.
func streamPath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, pathPrefix)
	if !ok {
		return "", false
	}
	rest, ok = strings.CutSuffix(rest, pathSuffix)
	if !ok {
		return "", false
	}
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", false
	}
	return "/" + rest, true
}

// cors sets the CORS headers every answer carries.
func (h *Handler) cors(hd http.Header, r *http.Request) {
	if h.anyOrig {
		hd.Set("Access-Control-Allow-Origin", "*")
	} else {
		hd.Add("Vary", "Origin")
		if o := r.Header.Get("Origin"); o != "" && h.origins[strings.ToLower(o)] {
			hd.Set("Access-Control-Allow-Origin", o)
		}
	}
	hd.Set("Access-Control-Expose-Headers", exposedHeaders)
}

// preflight answers a CORS preflight. Players may add request headers of
// their own (flv.js's "headers" option), so whatever was asked is allowed:
// no credentials ride on these requests.
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Allow", allowedMethods)
	hd.Set("Access-Control-Allow-Methods", allowedMethods)
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" && len(req) <= 1024 {
		hd.Set("Access-Control-Allow-Headers", req)
		hd.Add("Vary", "Access-Control-Request-Headers")
	}
	hd.Set("Access-Control-Max-Age", preflightMaxAge)
	// Chrome's Private Network Access: a page on the internet playing from a
	// server on the LAN (the usual self-hosted setup) needs this.
	if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
		hd.Set("Access-Control-Allow-Private-Network", "true")
	}
	w.WriteHeader(http.StatusNoContent)
}

// refuse answers a refused play with the reason's status.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, path string, rf *media.Refusal) {
	h.answer(w, r, path, rf.Reason.Status(), rf)
}

type errorBody struct {
	Error struct {
		Reason  media.Reason `json:"reason"`
		Message string       `json:"message"`
	} `json:"error"`
}

// answer writes an error as JSON and logs it. The query (with the
// signature) is never logged.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, path string, status int, rf *media.Refusal) {
	if path == "" {
		path = r.URL.Path[:min(len(r.URL.Path), 200)]
	}
	h.log.Info("flv: play refused", "reason", rf.Reason, "status", status, "stream", path,
		"remote", r.RemoteAddr, "message", rf.Message)
	var b errorBody
	b.Error.Reason, b.Error.Message = rf.Reason, rf.Message
	body, _ := json.Marshal(b)
	body = append(body, '\n')
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
