package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
)

// Client defaults.
const (
	// DefaultTimeout bounds a call whose context has no deadline of its own.
	DefaultTimeout = 30 * time.Second
	// DefaultAdminTokenTTL is the lifetime of the admin tokens an
	// app-scoped client signs for itself.
	DefaultAdminTokenTTL = 10 * time.Minute
	// DefaultAdminUser is the "sub" of those tokens; it shows as the actor
	// in the server's logs.
	DefaultAdminUser ids.UserID = "app-server"
	// MaxResponseBody is the largest answer the client reads (the largest
	// real ones, 1000 reports, are far smaller).
	MaxResponseBody = 32 << 20
)

// Client calls the REST API of a minirtc server (docs/api.md). It is safe
// for concurrent use. Make one with NewClient and reuse it; Close releases
// its idle connections.
//
// A client has one of two credentials:
//   - app-scoped (WithApp): it signs its own short-lived admin tokens with
//     the app's secret and renews them before they expire. It can call
//     every route of its app, not the app management routes.
//   - operator (WithOperatorKey): the server's api.operator_key. It manages
//     apps and may call every app's routes: ForApp picks the app.
type Client struct {
	base    string // ends in /api/v1
	hc      *http.Client
	ownHTTP bool
	timeout time.Duration
	log     *slog.Logger

	app      ids.AppID // the app of the app routes; "" until WithApp or ForApp
	operator string    // the operator key, or ""
	tokens   *tokenSource
}

// Option configures a Client.
type Option func(*options) error

type options struct {
	app       ids.AppID
	secret    string
	operator  string
	hc        *http.Client
	timeout   time.Duration
	tokenTTL  time.Duration
	adminUser ids.UserID
	log       *slog.Logger
}

// WithApp makes an app-scoped client: it signs admin tokens of app with
// secret for itself (see Client).
func WithApp(app ids.AppID, secret string) Option {
	return func(o *options) error {
		if err := app.Validate(); err != nil {
			return err
		}
		if secret == "" {
			return errors.New("the app secret is empty")
		}
		o.app, o.secret = app, secret
		return nil
	}
}

// WithOperatorKey makes an operator client: it sends the server's operator
// key (api.operator_key).
func WithOperatorKey(key string) Option {
	return func(o *options) error {
		if key == "" {
			return errors.New("the operator key is empty")
		}
		o.operator = key
		return nil
	}
}

// WithHTTPClient sends the requests with hc (for a proxy, custom TLS roots,
// instrumentation). Its Timeout, if set, applies on top of the client's.
// Close does not close hc's connections.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) error {
		if hc == nil {
			return errors.New("the HTTP client is nil")
		}
		o.hc = hc
		return nil
	}
}

// WithTimeout bounds each call whose context has no deadline (default
// DefaultTimeout). A context with a deadline is used as it is.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("timeout %s must be positive", d)
		}
		o.timeout = d
		return nil
	}
}

// WithAdminToken sets the subject and lifetime of the admin tokens an
// app-scoped client signs (defaults DefaultAdminUser and
// DefaultAdminTokenTTL). A token is renewed when less than a quarter of its
// lifetime is left; the lifetime must be from 1 minute to 24 hours.
func WithAdminToken(user ids.UserID, ttl time.Duration) Option {
	return func(o *options) error {
		if err := user.Validate(); err != nil {
			return err
		}
		if ttl < time.Minute || ttl > 24*time.Hour {
			return fmt.Errorf("admin token lifetime %s must be from 1m to 24h", ttl)
		}
		o.adminUser, o.tokenTTL = user, ttl
		return nil
	}
}

// WithLogger logs each call at debug level and failures at warn level
// (default: no logs).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("the logger is nil")
		}
		o.log = l
		return nil
	}
}

// NewClient makes a client of the server at baseURL, its HTTP address
// ("http://localhost:7880"; a trailing "/api/v1" is accepted too). Give
// exactly one of WithApp and WithOperatorKey.
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	o := options{timeout: DefaultTimeout, tokenTTL: DefaultAdminTokenTTL, adminUser: DefaultAdminUser}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("minirtc: new client: %w", err)
		}
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("minirtc: new client: base URL %q must be http(s)://host[:port][/path]", baseURL)
	}
	base := u.String()
	if !strings.HasSuffix(base, "/api/v1") {
		base += "/api/v1"
	}
	switch {
	case o.secret == "" && o.operator == "":
		return nil, errors.New("minirtc: new client: no credentials; use WithApp(appID, secret) or WithOperatorKey(key)")
	case o.secret != "" && o.operator != "":
		return nil, errors.New("minirtc: new client: WithApp and WithOperatorKey do not go together; make one client of each")
	}
	c := &Client{base: base, hc: o.hc, timeout: o.timeout, log: o.log, app: o.app, operator: o.operator}
	if c.hc == nil {
		c.hc, c.ownHTTP = newHTTPClient(), true
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if o.secret != "" {
		c.tokens = &tokenSource{app: o.app, secret: o.secret, user: o.adminUser, ttl: o.tokenTTL, now: time.Now}
	}
	return c, nil
}

// newHTTPClient has bounded connect and header waits of its own, so a
// server that accepts but never answers cannot hold a call past them even
// under a generous context.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   8,
		ForceAttemptHTTP2:     true,
	}}
}

// ForApp returns a client for the routes of app, sharing c's connections
// and credentials. For an operator client it picks the app; an app-scoped
// client can only serve its own app (calls for another fail without being
// sent).
func (c *Client) ForApp(app ids.AppID) *Client {
	cc := *c
	cc.app = app
	return &cc
}

// App is the app whose routes the client calls ("" for an operator client
// without ForApp).
func (c *Client) App() ids.AppID { return c.app }

// SignToken signs a token of the client's app locally (see SignToken),
// filling c.App. Only an app-scoped client has the secret to do so.
func (c *Client) SignToken(claims Claims) (string, error) {
	if c.tokens == nil {
		return "", errors.New("minirtc: sign token: an operator client has no app secret; use MintToken, or a client made WithApp")
	}
	if claims.App == "" {
		claims.App = c.tokens.app
	}
	return SignToken(c.tokens.secret, claims)
}

// Close releases the idle connections of the HTTP client NewClient made
// (not those of one given WithHTTPClient). The client still works after,
// opening new connections.
func (c *Client) Close() {
	if c.ownHTTP {
		c.hc.CloseIdleConnections()
	}
}

// tokenSource signs and caches the admin token of an app-scoped client.
type tokenSource struct {
	app    ids.AppID
	secret string
	user   ids.UserID
	ttl    time.Duration
	now    func() time.Time

	mu     sync.Mutex
	token  string
	expiry time.Time
}

// get returns a token with at least a quarter of its lifetime left,
// signing a new one when needed.
func (s *tokenSource) get() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Add(s.ttl/4).Before(s.expiry) {
		return s.token, nil
	}
	exp := now.Add(s.ttl)
	tok, err := SignToken(s.secret, Claims{App: s.app, User: s.user, Grants: []Grant{GrantAdmin}, IssuedAt: now, ExpiresAt: exp})
	if err != nil {
		return "", err
	}
	// JWT times are whole seconds: the token ends at exp truncated.
	s.token, s.expiry = tok, exp.Truncate(time.Second)
	return tok, nil
}

// credential is what goes after "Bearer ".
func (c *Client) credential() (string, error) {
	if c.operator != "" {
		return c.operator, nil
	}
	return c.tokens.get()
}

// appPath is the path of an app route; it fails when the client has no app
// or an app-scoped client is asked for another app.
func (c *Client) appPath(segments ...string) (string, error) {
	switch {
	case c.app == "":
		return "", errors.New("minirtc: no app: make the client WithApp, or call ForApp(appID) on an operator client")
	case c.tokens != nil && c.app != c.tokens.app:
		return "", fmt.Errorf("minirtc: this client signs tokens of app %q, which cannot call app %q", c.tokens.app, c.app)
	}
	return path(append([]string{"apps", string(c.app)}, segments...)...)
}

// path joins escaped segments. An empty segment, "." or ".." would change
// which route is meant, so they are refused before anything is sent.
func path(segments ...string) (string, error) {
	var b strings.Builder
	for _, s := range segments {
		if s == "" || s == "." || s == ".." {
			return "", fmt.Errorf("minirtc: invalid path segment %q (an id is missing or malformed)", s)
		}
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String(), nil
}

// do sends a request and decodes a successful (2xx) answer into out (when
// not nil). in, when not nil, is sent as JSON. Any other answer is an
// *APIError.
func (c *Client) do(ctx context.Context, method, p string, query url.Values, in, out any) error {
	if ctx == nil {
		return errors.New("minirtc: nil context")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	u := c.base + p
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("minirtc: %s %s: encoding the request: %w", method, p, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("minirtc: %s %s: %w", method, p, err)
	}
	cred, err := c.credential()
	if err != nil {
		return fmt.Errorf("minirtc: %s %s: admin token: %w", method, p, err)
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	res, err := c.hc.Do(req)
	if err != nil {
		c.log.Warn("minirtc api call failed", "method", method, "path", p, "err", err)
		return fmt.Errorf("minirtc: %s %s: %w", method, p, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBody+1))
	if err != nil {
		return fmt.Errorf("minirtc: %s %s: reading the answer: %w", method, p, err)
	}
	if len(b) > MaxResponseBody {
		return fmt.Errorf("minirtc: %s %s: the answer is larger than %d bytes", method, p, MaxResponseBody)
	}
	c.log.Debug("minirtc api call", "method", method, "path", p, "status", res.StatusCode, "took", time.Since(start))
	if res.StatusCode/100 != 2 {
		ae := parseAPIError(res.StatusCode, b)
		c.log.Warn("minirtc api error", "method", method, "path", p, "status", ae.Status, "code", ae.Code, "field", ae.Field, "message", ae.Message)
		return ae
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("minirtc: %s %s: decoding the answer: %w", method, p, err)
		}
	}
	return nil
}
