package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// bearer returns the credential of "Authorization: Bearer <credential>".
func bearer(r *http.Request) (string, *Error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", unauthorized("no credentials: send Authorization: Bearer <admin token or operator key>")
	}
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) == "" {
		return "", unauthorized("the Authorization header must be \"Bearer <admin token or operator key>\"")
	}
	return strings.TrimSpace(cred), nil
}

// isOperator compares in constant time (of the hashes, so the key's length
// does not show either).
func (a *API) isOperator(cred string) bool {
	if a.cfg.OperatorKey == "" {
		return false
	}
	want, got := sha256.Sum256([]byte(a.cfg.OperatorKey)), sha256.Sum256([]byte(cred))
	return subtle.ConstantTimeCompare(want[:], got[:]) == 1
}

// authenticate checks the credentials against the route's access rule and
// fills c.app and c.token. Order matters for what a caller can learn: no or
// bad credentials are 401 before anything else; a token of another app
// gets the same 404 as an app that does not exist.
func (a *API) authenticate(c *call, rt route) *Error {
	cred, err := bearer(c.r)
	if err != nil {
		return err
	}
	operator := a.isOperator(cred)
	if rt.access == operatorOnly {
		if !operator {
			if a.cfg.OperatorKey == "" {
				return unauthorized("managing apps needs the operator key, and this server has none (set api.operator_key or MINIRTC_API_OPERATOR_KEY)")
			}
			return unauthorized("managing apps needs the operator key (api.operator_key); app tokens cannot")
		}
		if c.r.PathValue("app") != "" {
			c.app = ids.AppID(c.r.PathValue("app"))
		}
		return nil
	}

	c.app = ids.AppID(c.r.PathValue("app"))
	if operator {
		if err := c.app.Validate(); err != nil {
			return notFound("app %q not found", truncate(string(c.app), 130))
		}
		if _, err := a.d.Store.GetApp(c.ctx, c.app); err != nil {
			return fromStore(err, "app "+string(c.app))
		}
		return nil
	}
	claims, verr := a.verify.Verify(c.ctx, cred)
	if verr != nil {
		return tokenError(verr)
	}
	if claims.App != c.app {
		return notFound("app %q not found", truncate(string(c.app), 130))
	}
	if !claims.Has(auth.GrantAdmin) {
		return &Error{Status: http.StatusForbidden, Code: protocol.CodePermission,
			Message: "the token lacks the admin grant the REST API needs"}
	}
	if claims.Room != "" {
		if r := ids.RoomID(c.r.PathValue("room")); r != claims.Room {
			return &Error{Status: http.StatusForbidden, Code: protocol.CodeRoomNotAllowed,
				Message: "the token is restricted to room " + string(claims.Room) + "; this route needs a token valid for every room, or for this room"}
		}
	}
	c.token = &claims
	return nil
}

// tokenError maps a refused token to 401 with the protocol's token codes.
func tokenError(err error) *Error {
	e := &Error{Status: http.StatusUnauthorized, Message: err.Error()}
	switch {
	case errors.Is(err, auth.ErrMalformed):
		e.Code = protocol.CodeTokenInvalid
		e.Message = "not an admin token nor the operator key: " + err.Error()
	case errors.Is(err, auth.ErrBadSignature):
		e.Code = protocol.CodeTokenSignature
	case errors.Is(err, auth.ErrExpired), errors.Is(err, auth.ErrNotYetValid):
		e.Code = protocol.CodeTokenExpired
	case errors.Is(err, auth.ErrUnknownApp):
		e.Code = protocol.CodeUnknownApp
	default:
		return internal(err)
	}
	return e
}

// appExists is used by operator routes on one app.
func (a *API) appExists(c *call) (store.App, *Error) {
	if err := c.app.Validate(); err != nil {
		return store.App{}, notFound("app %q not found", truncate(string(c.app), 130))
	}
	app, err := a.d.Store.GetApp(c.ctx, c.app)
	if err != nil {
		return store.App{}, fromStore(err, "app "+string(c.app))
	}
	return app, nil
}
