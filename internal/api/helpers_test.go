package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// operatorKey is the key the test servers run with.
const operatorKey = "test-operator-key-0123456789"

// env is a running server, its spec and credentials.
type env struct {
	*servertest.Env
	t     *testing.T
	spec  *spec
	http  *http.Client
	admin string // an admin token of the development app, valid for every room
}

// start runs a server with the operator key set. mutate may change more.
func start(t *testing.T, mutate func(*config.Config)) *env {
	t.Helper()
	se := servertest.Start(t, func(c *config.Config) {
		c.API.OperatorKey = operatorKey
		if mutate != nil {
			mutate(c)
		}
	})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	e := &env{Env: se, t: t, spec: loadSpec(t), http: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
	e.admin = e.Token(t, "app-server", "", auth.GrantAdmin)
	return e
}

// resp is an answer of the API, already checked against the spec.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// decode unmarshals the body into v.
func (r *resp) decode(t *testing.T, v any) {
	t.Helper()
	// Start from zero: json.Unmarshal would keep what an absent field or a
	// map key had from an earlier answer.
	reflect.ValueOf(v).Elem().SetZero()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

// apiError is the error body.
type apiError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// raw sends a request with an exact body and headers, and checks the answer
// against the spec: the status must be documented for the operation (or, for
// a path or method the API does not serve, be a 404 or 405 error), and the
// body must match the documented schema.
func (e *env) raw(method, path, credential, contentType string, body []byte) *resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.HTTP+"/api/v1"+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := &resp{Status: res.StatusCode, Header: res.Header, Body: b}
	e.checkSpec(method, path, r)
	return r
}

// do sends body (nil: none; a string or []byte: as is; anything else: as
// JSON) with JSON's content type.
func (e *env) do(method, path, credential string, body any) *resp {
	e.t.Helper()
	var b []byte
	switch x := body.(type) {
	case nil:
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		var err error
		if b, err = json.Marshal(body); err != nil {
			e.t.Fatal(err)
		}
	}
	ct := ""
	if b != nil {
		ct = "application/json"
	}
	return e.raw(method, path, credential, ct, b)
}

// ok sends a request that must succeed with status want, and decodes the
// answer into out (when not nil).
func (e *env) ok(want int, method, path, credential string, body, out any) {
	e.t.Helper()
	r := e.do(method, path, credential, body)
	if r.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if out != nil {
		r.decode(e.t, out)
	}
}

// fails sends a request that must fail with status, code and field.
func (e *env) fails(status, code int, field, method, path, credential string, body any) apiError {
	e.t.Helper()
	return e.failsRaw(status, code, field, e.do(method, path, credential, body))
}

func (e *env) failsRaw(status, code int, field string, r *resp) apiError {
	e.t.Helper()
	var ae apiError
	if err := json.Unmarshal(r.Body, &ae); err != nil {
		e.t.Fatalf("status %d, body %q is not an error: %v", r.Status, r.Body, err)
	}
	if r.Status != status || ae.Error.Code != code || ae.Error.Field != field {
		e.t.Fatalf("got status %d code %d field %q (%s); want status %d code %d field %q",
			r.Status, ae.Error.Code, ae.Error.Field, ae.Error.Message, status, code, field)
	}
	if ae.Error.Message == "" {
		e.t.Fatal("error without a message")
	}
	return ae
}

func (e *env) checkSpec(method, path string, r *resp) {
	e.t.Helper()
	path, _, _ = strings.Cut(path, "?")
	var schema map[string]any
	noBody := false
	var err error
	if r.Status == http.StatusMethodNotAllowed || (r.Status == http.StatusNotFound && !e.served(method, path)) {
		schema = e.spec.schemaByName("Error")
	} else if schema, noBody, err = e.spec.responseSchema(method, path, r.Status); err != nil {
		e.t.Fatalf("%s %s answered %d (%s), which the spec does not allow: %v", method, path, r.Status, r.Body, err)
	}
	if noBody {
		if len(r.Body) != 0 {
			e.t.Fatalf("%s %s %d: the spec says no body, got %s", method, path, r.Status, r.Body)
		}
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("%s %s %d: Content-Type %q", method, path, r.Status, ct)
	}
	v, err := decodeForSchema(r.Body)
	if err != nil {
		e.t.Fatalf("%s %s %d: body is not JSON: %v: %s", method, path, r.Status, err, r.Body)
	}
	if errs := e.spec.validate(schema, v, "body"); len(errs) > 0 {
		e.t.Fatalf("%s %s %d: the body does not match the spec:\n  %s\nbody: %s", method, path, r.Status, strings.Join(errs, "\n  "), r.Body)
	}
}

// served reports whether the spec has an operation for method and path.
func (e *env) served(method, path string) bool {
	p, ok := e.spec.match(path)
	if !ok {
		return false
	}
	_, ok = p.item[strings.ToLower(method)]
	return ok
}

// appPath is the development app's path prefix.
func (e *env) appPath(rest string) string { return "/apps/" + string(e.App.ID) + rest }

// join connects a real client.
func (e *env) join(user ids.UserID, room ids.RoomID, grants ...auth.Grant) *client.Client {
	e.t.Helper()
	return e.joinWith(e.Token(e.t, user, room, grants...), room)
}

func (e *env) joinWith(token string, room ids.RoomID) *client.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Join(ctx, e.URL, token, room, nil)
	if err != nil {
		e.t.Fatalf("join %s: %v", room, err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// publishLive publishes user's main stream over RTMP and waits until it is live.
func (e *env) publishLive(c *client.Client, media protocol.MediaType) protocol.Stream {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pr, err := c.PublishURL(ctx, "", media)
	if err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	e.GoLive(e.t, pr.PushURL, media)
	return pr.Stream
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
