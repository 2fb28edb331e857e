package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/minirtc/minirtc/pkg/protocol"
	"github.com/minirtc/minirtc/pkg/server"
)

// Values the coverage test fills path parameters with.
const (
	tApp    = "app1"
	tRoom   = "r1"
	tUser   = "u1"
	tStream = "u1_main"
	tIngest = "ing1"
)

// calls maps each operationId of docs/openapi.yaml to a call of the client
// method that serves it. TestEveryRouteHasAClientMethod fails when the
// spec has an operation this table lacks, so a route added to the API
// without a client method is caught.
var calls = map[string]func(ctx context.Context, c *server.Client) error{
	"listApps": func(ctx context.Context, c *server.Client) error { _, err := c.ListApps(ctx); return err },
	"createApp": func(ctx context.Context, c *server.Client) error {
		_, err := c.CreateApp(ctx, server.CreateAppRequest{Name: "x"})
		return err
	},
	"getApp": func(ctx context.Context, c *server.Client) error { _, err := c.GetApp(ctx, tApp); return err },
	"updateApp": func(ctx context.Context, c *server.Client) error {
		_, err := c.UpdateApp(ctx, tApp, server.UpdateAppRequest{})
		return err
	},
	"deleteApp": func(ctx context.Context, c *server.Client) error { return c.DeleteApp(ctx, tApp) },
	"rotateSecret": func(ctx context.Context, c *server.Client) error {
		_, err := c.RotateSecret(ctx, tApp, server.RotateSecretRequest{})
		return err
	},
	"mintToken": func(ctx context.Context, c *server.Client) error {
		_, err := c.MintToken(ctx, server.MintTokenRequest{User: tUser})
		return err
	},
	"listRooms": func(ctx context.Context, c *server.Client) error { _, err := c.ListRooms(ctx); return err },
	"getRoom":   func(ctx context.Context, c *server.Client) error { _, err := c.GetRoom(ctx, tRoom); return err },
	"closeRoom": func(ctx context.Context, c *server.Client) error { return c.CloseRoom(ctx, tRoom, "") },
	"getParticipant": func(ctx context.Context, c *server.Client) error {
		_, err := c.GetParticipant(ctx, tRoom, tUser)
		return err
	},
	"updateParticipant": func(ctx context.Context, c *server.Client) error {
		_, err := c.UpdateParticipant(ctx, tRoom, tUser, server.UpdateParticipantRequest{})
		return err
	},
	"kick": func(ctx context.Context, c *server.Client) error {
		return c.Kick(ctx, tRoom, tUser, server.KickRequest{})
	},
	"getBan": func(ctx context.Context, c *server.Client) error { _, err := c.GetBan(ctx, tRoom, tUser); return err },
	"unban":  func(ctx context.Context, c *server.Client) error { return c.Unban(ctx, tRoom, tUser) },
	"listStreams": func(ctx context.Context, c *server.Client) error {
		_, err := c.ListStreams(ctx, tRoom)
		return err
	},
	"muteStream": func(ctx context.Context, c *server.Client) error {
		_, err := c.MuteStream(ctx, tRoom, tStream, server.MuteRequest{})
		return err
	},
	"getAttributes": func(ctx context.Context, c *server.Client) error {
		_, err := c.GetAttributes(ctx, tRoom)
		return err
	},
	"setAttributes": func(ctx context.Context, c *server.Client) error {
		_, err := c.SetAttributes(ctx, tRoom, server.SetAttributesRequest{})
		return err
	},
	"deleteAttributes": func(ctx context.Context, c *server.Client) error {
		_, err := c.DeleteAttributes(ctx, tRoom, server.DeleteAttributesRequest{})
		return err
	},
	"sendMessage": func(ctx context.Context, c *server.Client) error {
		_, err := c.SendMessage(ctx, tRoom, server.MessageRequest{})
		return err
	},
	"queryReports": func(ctx context.Context, c *server.Client) error {
		_, err := c.QueryReports(ctx, server.ReportQuery{})
		return err
	},
	"listIngests": func(ctx context.Context, c *server.Client) error { _, err := c.ListIngests(ctx); return err },
	"createIngest": func(ctx context.Context, c *server.Client) error {
		_, err := c.CreateIngest(ctx, server.IngestRequest{})
		return err
	},
	"queryUsage": func(ctx context.Context, c *server.Client) error {
		_, err := c.QueryUsage(ctx, server.UsageQuery{})
		return err
	},
	"getWebhook": func(ctx context.Context, c *server.Client) error { _, err := c.GetWebhook(ctx); return err },
	"putWebhook": func(ctx context.Context, c *server.Client) error {
		_, err := c.PutWebhook(ctx, server.PutWebhookRequest{})
		return err
	},
	"listWebhookDeliveries": func(ctx context.Context, c *server.Client) error {
		_, err := c.ListWebhookDeliveries(ctx, server.WebhookDeliveryQuery{})
		return err
	},
	"getIngest":    func(ctx context.Context, c *server.Client) error { _, err := c.GetIngest(ctx, tIngest); return err },
	"revokeIngest": func(ctx context.Context, c *server.Client) error { _, err := c.RevokeIngest(ctx, tIngest); return err },
}

type specOp struct {
	method, path, id string
	hasBody          bool
}

// loadSpecOps reads every operation of docs/openapi.yaml.
func loadSpecOps(t *testing.T) []specOp {
	t.Helper()
	b, err := os.ReadFile("../../docs/openapi.yaml")
	must(t, err)
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	must(t, yaml.Unmarshal(b, &doc))
	var ops []specOp
	for p, item := range doc.Paths {
		for m, n := range item {
			switch m {
			case "get", "put", "post", "patch", "delete":
			default:
				continue
			}
			var op struct {
				OperationID string         `yaml:"operationId"`
				RequestBody map[string]any `yaml:"requestBody"`
			}
			must(t, n.Decode(&op))
			if op.OperationID == "" {
				t.Fatalf("%s %s has no operationId", m, p)
			}
			ops = append(ops, specOp{method: strings.ToUpper(m), path: p, id: op.OperationID, hasBody: op.RequestBody != nil})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	if len(ops) < 26 {
		t.Fatalf("only %d operations in the spec", len(ops))
	}
	return ops
}

// TestEveryRouteHasAClientMethod walks the spec: every operation must have
// a client method (in calls), and that method must send the operation's
// method to its path, with a JSON body exactly when the spec takes one.
func TestEveryRouteHasAClientMethod(t *testing.T) {
	type seen struct {
		method, path, contentType, auth string
	}
	var (
		mu  sync.Mutex
		got []seen
	)
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.EscapedPath(), r.Header.Get("Content-Type"), r.Header.Get("Authorization")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
	}))
	defer rec.Close()
	c, err := server.NewClient(rec.URL, server.WithOperatorKey("op-key"))
	must(t, err)
	defer c.Close()
	c = c.ForApp(tApp)

	inSpec := map[string]bool{}
	for _, op := range loadSpecOps(t) {
		inSpec[op.id] = true
		call, ok := calls[op.id]
		if !ok {
			t.Errorf("%s %s (%s) has no client method in the calls table", op.method, op.path, op.id)
			continue
		}
		mu.Lock()
		got = nil
		mu.Unlock()
		if err := call(context.Background(), c); err != nil {
			t.Errorf("%s: %v", op.id, err)
			continue
		}
		want := "/api/v1" + strings.NewReplacer("{app}", tApp, "{room}", tRoom, "{user}", tUser, "{stream}", tStream, "{ingest}", tIngest).Replace(op.path)
		mu.Lock()
		g := got
		mu.Unlock()
		if len(g) != 1 || g[0].method != op.method || g[0].path != want || g[0].auth != "Bearer op-key" {
			t.Errorf("%s: the client sent %+v; want one %s %s", op.id, g, op.method, want)
			continue
		}
		if (g[0].contentType == "application/json") != op.hasBody {
			t.Errorf("%s: Content-Type %q, the spec says request body: %v", op.id, g[0].contentType, op.hasBody)
		}
	}
	for id := range calls {
		if !inSpec[id] {
			t.Errorf("the calls table has %q, which the spec does not", id)
		}
	}
}

func TestNewClientRefuses(t *testing.T) {
	for _, tc := range []struct {
		url  string
		opts []server.Option
		want string
	}{
		{"http://h", nil, "no credentials"},
		{"http://h", []server.Option{server.WithApp("a", "s"), server.WithOperatorKey("k")}, "do not go together"},
		{"ftp://h", []server.Option{server.WithOperatorKey("k")}, "must be http(s)"},
		{"http://h?x=1", []server.Option{server.WithOperatorKey("k")}, "must be http(s)"},
		{"http://h", []server.Option{server.WithApp("a b", "s")}, "app id"},
		{"http://h", []server.Option{server.WithApp("a", "")}, "secret is empty"},
		{"http://h", []server.Option{server.WithOperatorKey("")}, "operator key is empty"},
		{"http://h", []server.Option{server.WithOperatorKey("k"), server.WithTimeout(0)}, "must be positive"},
		{"http://h", []server.Option{server.WithApp("a", "s"), server.WithAdminToken("u", time.Second)}, "from 1m to 24h"},
		{"http://h", []server.Option{server.WithOperatorKey("k"), server.WithHTTPClient(nil)}, "HTTP client is nil"},
	} {
		if _, err := server.NewClient(tc.url, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewClient(%q): %v, want an error containing %q", tc.url, err, tc.want)
		}
	}
}

// TestClientLocalRefusals: calls that cannot be right are refused without
// being sent (the recorder would count them).
func TestClientLocalRefusals(t *testing.T) {
	var n int
	var mu sync.Mutex
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.Write([]byte("{}"))
	}))
	defer rec.Close()
	op, err := server.NewClient(rec.URL+"/api/v1/", server.WithOperatorKey("k"))
	must(t, err)
	defer op.Close()
	ac, err := server.NewClient(rec.URL, server.WithApp("app1", "secret-0123456789"))
	must(t, err)
	defer ac.Close()
	ctx := context.Background()
	for name, err := range map[string]error{
		"operator without an app": func() error { _, err := op.ListRooms(ctx); return err }(),
		"app client, other app":   func() error { _, err := ac.ForApp("app2").ListRooms(ctx); return err }(),
		"empty room":              func() error { _, err := ac.GetRoom(ctx, ""); return err }(),
		"dot-dot ingest":          func() error { _, err := ac.GetIngest(ctx, ".."); return err }(),
		"nil context":             func() error { _, err := ac.ListRooms(nil); return err }(), //nolint:staticcheck // the point
		"operator signs":          func() error { _, err := op.SignToken(server.Claims{User: "u"}); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if n != 0 {
		t.Fatalf("%d requests were sent", n)
	}
	// A base URL with /api/v1 already works, escaped ids stay one segment.
	_, err = op.ForApp("app1").GetIngest(ctx, "a/b")
	must(t, err)
	if n != 1 {
		t.Fatalf("%d requests", n)
	}
	if ac.App() != "app1" || op.App() != "" || op.ForApp("x").App() != "x" {
		t.Fatal("App()")
	}
}

// TestClientTransportErrors: a server that does not answer in time, and an
// answer that is not an API error.
func TestClientTransportErrors(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	c, err := server.NewClient(slow.URL, server.WithOperatorKey("k"), server.WithTimeout(200*time.Millisecond))
	must(t, err)
	defer c.Close()
	start := time.Now()
	_, err = c.ListApps(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("slow server: %v after %s", err, time.Since(start))
	}
	// A caller's own deadline wins over the client's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err = c.ListApps(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("own deadline: %v", err)
	}

	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>502 Bad Gateway</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()
	pc, err := server.NewClient(proxy.URL, server.WithOperatorKey("k"))
	must(t, err)
	defer pc.Close()
	_, err = pc.ListApps(context.Background())
	var ae *server.APIError
	if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != 0 || !strings.Contains(ae.Message, "502 Bad Gateway") || !ae.Temporary() {
		t.Fatalf("proxy error: %#v", err)
	}
}

// TestCredentialErrors against a real server: a wrong operator key, and an
// app client of an app that does not exist.
func TestCredentialErrors(t *testing.T) {
	e := start(t, nil)
	ctx := ctx10(t)
	bad := e.newClient(server.WithOperatorKey("not-the-operator-key"))
	_, err := bad.ListApps(ctx)
	wantAPIError(t, err, http.StatusUnauthorized, server.CodeUnauthorized, "")
	ghost := e.newClient(server.WithApp("ghost", "secret-0123456789"))
	_, err = ghost.ListRooms(ctx)
	wantAPIError(t, err, http.StatusUnauthorized, protocol.CodeUnknownApp, "")
	// The operator may call an app's routes, and learns nothing of an app
	// that does not exist but a 404.
	if _, err := e.op.ForApp(e.App.ID).ListRooms(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = e.op.ForApp("ghost").ListRooms(ctx)
	wantAPIError(t, err, http.StatusNotFound, server.CodeNotFound, "")
}
