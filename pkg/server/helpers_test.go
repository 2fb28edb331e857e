package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
	"github.com/minirtc/minirtc/pkg/server"
)

// operatorKey is the key the test servers run with.
const operatorKey = "sdk-test-operator-key-0123456789"

// env is a running server and the two kinds of client of its development app.
type env struct {
	*servertest.Env
	t   *testing.T
	app *server.Client // app-scoped: signs its own admin tokens
	op  *server.Client // operator key
}

func start(t *testing.T, mutate func(*config.Config)) *env {
	t.Helper()
	se := servertest.Start(t, func(c *config.Config) {
		c.API.OperatorKey = operatorKey
		if mutate != nil {
			mutate(c)
		}
	})
	e := &env{Env: se, t: t}
	e.app = e.newClient(server.WithApp(se.App.ID, se.App.Secret))
	e.op = e.newClient(server.WithOperatorKey(operatorKey))
	return e
}

func (e *env) newClient(opts ...server.Option) *server.Client {
	e.t.Helper()
	c, err := server.NewClient(e.HTTP, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(c.Close)
	return c
}

// join connects a participant with a token the SDK signed.
func (e *env) join(user ids.UserID, room ids.RoomID, grants ...server.Grant) *client.Client {
	e.t.Helper()
	c := server.Claims{User: user, Room: room, Name: "user " + string(user)}
	if len(grants) > 0 {
		c.Grants = grants
	}
	tok, err := e.app.SignToken(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.joinWith(tok, room)
}

func (e *env) joinWith(token string, room ids.RoomID) *client.Client {
	e.t.Helper()
	cl, err := client.Join(ctx10(e.t), e.URL, token, room, nil)
	if err != nil {
		e.t.Fatalf("join %s: %v", room, err)
	}
	e.t.Cleanup(func() { cl.Close() })
	return cl
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantAPIError fails unless err is an *APIError with status, code and field.
func wantAPIError(t *testing.T, err error, status int, code protocol.Code, field string) *server.APIError {
	t.Helper()
	var ae *server.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *APIError", err, err)
	}
	if ae.Status != status || ae.Code != code || ae.Field != field || ae.Message == "" {
		t.Fatalf("got %+v; want status %d code %d field %q and a message", ae, status, code, field)
	}
	return ae
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
