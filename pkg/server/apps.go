package server

import (
	"context"
	"net/http"

	"github.com/minirtc/minirtc/pkg/ids"
)

// App management: operator clients only (WithOperatorKey). The app id is a
// parameter, not ForApp's: an operator manages many.

// ListApps lists every app, oldest first (without secrets).
func (c *Client) ListApps(ctx context.Context) ([]App, error) {
	var out struct {
		Apps []App `json:"apps"`
	}
	if err := c.do(ctx, http.MethodGet, "/apps", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Apps, nil
}

// CreateApp creates an app with a fresh id and secret. The answer and
// RotateSecret's are the only places its secret is shown.
func (c *Client) CreateApp(ctx context.Context, req CreateAppRequest) (*App, error) {
	var out App
	if err := c.do(ctx, http.MethodPost, "/apps", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetApp gets an app (without its secret).
func (c *Client) GetApp(ctx context.Context, app ids.AppID) (*App, error) {
	return c.appCall(ctx, http.MethodGet, app, "", nil)
}

// UpdateApp renames an app or changes its limits; only the fields given
// change. New limits apply to the next join and the next room created.
func (c *Client) UpdateApp(ctx context.Context, app ids.AppID, req UpdateAppRequest) (*App, error) {
	return c.appCall(ctx, http.MethodPatch, app, "", req)
}

// DeleteApp deletes an app and everything of it but its usage figures: its
// rooms close, its tokens and media URLs stop working at once.
func (c *Client) DeleteApp(ctx context.Context, app ids.AppID) error {
	p, err := path("apps", string(app))
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, p, nil, nil, nil)
}

// RotateSecret gives an app a new secret (in the answer); the old one keeps
// working for req.OverlapSeconds.
func (c *Client) RotateSecret(ctx context.Context, app ids.AppID, req RotateSecretRequest) (*App, error) {
	return c.appCall(ctx, http.MethodPost, app, "rotate_secret", req)
}

func (c *Client) appCall(ctx context.Context, method string, app ids.AppID, sub string, in any) (*App, error) {
	segs := []string{"apps", string(app)}
	if sub != "" {
		segs = append(segs, sub)
	}
	p, err := path(segs...)
	if err != nil {
		return nil, err
	}
	var out App
	if err := c.do(ctx, method, p, nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// MintToken has the server mint a token of the client's app (the same JWT
// SignToken makes locally). It needs credentials valid for every room.
func (c *Client) MintToken(ctx context.Context, req MintTokenRequest) (*Token, error) {
	p, err := c.appPath("tokens")
	if err != nil {
		return nil, err
	}
	var out Token
	if err := c.do(ctx, http.MethodPost, p, nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
