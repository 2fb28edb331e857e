package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// MediaAction is what a signed media URL allows.
type MediaAction string

// Media URL actions.
const (
	ActionPush   MediaAction = "push"   // a participant pushes its own stream (RTMP)
	ActionIngest MediaAction = "ingest" // an external encoder pushes as a pseudo-participant
	ActionPlay   MediaAction = "play"   // a participant plays a stream it subscribed to
	ActionView   MediaAction = "view"   // a viewer outside the room plays a stream
)

// Valid reports whether a is a known action.
func (a MediaAction) Valid() bool {
	switch a {
	case ActionPush, ActionIngest, ActionPlay, ActionView:
		return true
	}
	return false
}

// MediaGrant is what a media URL is bound to. Path carries app, room and
// stream; the query carries the rest and the signature.
type MediaGrant struct {
	Action  MediaAction
	App     ids.AppID
	Room    ids.RoomID
	Stream  ids.StreamID
	User    ids.UserID // pusher, ingest user or viewer; may be empty for ActionView
	Expires time.Time  // second precision
}

// Media URL errors (errors.Is). Signature problems are checked before
// expiry, so a forged expired URL reports a bad signature.
var (
	ErrMediaMalformed = errors.New("malformed media URL")
	ErrMediaSignature = errors.New("bad media URL signature")
	ErrMediaExpired   = errors.New("media URL expired")
)

// Query parameter names of signed media URLs.
const (
	qAction  = "act"
	qUser    = "user"
	qExpires = "exp"
	qSig     = "sig"
)

// maxMediaQuery bounds what we parse from a request line.
const maxMediaQuery = 2048

// Path is "/{app}/{room}/{stream}".
func (g MediaGrant) Path() string {
	return "/" + string(g.App) + "/" + string(g.Room) + "/" + string(g.Stream)
}

// canonical is the signed string: every bound field, one per line, so no
// two grants sign the same bytes.
func (g MediaGrant) canonical() string {
	return strings.Join([]string{"minirtc-media-v1", string(g.Action), string(g.App), string(g.Room),
		string(g.Stream), string(g.User), strconv.FormatInt(g.Expires.Unix(), 10)}, "\n")
}

func mediaMAC(secret string, g MediaGrant) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(g.canonical()))
	return m.Sum(nil)
}

// SignMedia returns the query string ("act=...&user=...&exp=...&sig=...")
// that makes g a valid URL for secret.
func SignMedia(secret string, g MediaGrant) string {
	q := url.Values{}
	q.Set(qAction, string(g.Action))
	if g.User != "" {
		q.Set(qUser, string(g.User))
	}
	q.Set(qExpires, strconv.FormatInt(g.Expires.Unix(), 10))
	q.Set(qSig, base64.RawURLEncoding.EncodeToString(mediaMAC(secret, g)))
	return q.Encode()
}

// ParseMediaURL reads a grant and its signature from a path
// "/{app}/{room}/{stream}" and its query, checking the shapes of all fields.
func ParseMediaURL(path string, q url.Values) (MediaGrant, []byte, error) {
	bad := func(format string, a ...any) (MediaGrant, []byte, error) {
		return MediaGrant{}, nil, fmt.Errorf("%w: %s", ErrMediaMalformed, fmt.Sprintf(format, a...))
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(parts) != 3 {
		return bad("path must be /{app}/{room}/{stream}, got %q", truncate(path, 200))
	}
	g := MediaGrant{App: ids.AppID(parts[0]), Room: ids.RoomID(parts[1]), Stream: ids.StreamID(parts[2])}
	if err := g.App.Validate(); err != nil {
		return bad("%v", err)
	}
	if err := g.Room.Validate(); err != nil {
		return bad("%v", err)
	}
	if err := g.Stream.Validate(); err != nil {
		return bad("%v", err)
	}
	for _, k := range []string{qAction, qExpires, qSig} {
		if len(q[k]) != 1 {
			return bad("query must have exactly one %q", k)
		}
	}
	if len(q[qUser]) > 1 {
		return bad("query has %d %q values", len(q[qUser]), qUser)
	}
	g.Action = MediaAction(q.Get(qAction))
	if !g.Action.Valid() {
		return bad("unknown act %q", truncate(q.Get(qAction), 20))
	}
	if u := q.Get(qUser); u != "" || g.Action != ActionView {
		g.User = ids.UserID(u)
		if err := g.User.Validate(); err != nil {
			return bad("%v", err)
		}
	}
	exp, err := strconv.ParseInt(q.Get(qExpires), 10, 64)
	if err != nil || exp <= 0 || exp > 1<<40 || strconv.FormatInt(exp, 10) != q.Get(qExpires) {
		return bad("exp must be a unix time in seconds")
	}
	g.Expires = time.Unix(exp, 0)
	sig, err := base64.RawURLEncoding.Strict().DecodeString(q.Get(qSig))
	if err != nil || len(sig) != sha256.Size {
		return bad("sig must be %d bytes of unpadded base64url", sha256.Size)
	}
	return g, sig, nil
}

// ParseMediaQuery parses a raw query with a size limit.
func ParseMediaQuery(raw string) (url.Values, error) {
	if len(raw) > maxMediaQuery {
		return nil, fmt.Errorf("%w: query is %d bytes, the limit is %d", ErrMediaMalformed, len(raw), maxMediaQuery)
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMediaMalformed, err)
	}
	return q, nil
}

// VerifyMedia checks a media URL's signature (current secret, or the
// previous one during its overlap) and expiry, and returns its grant.
// Expiry is reported together with the grant, so that a caller may still
// honour an expired push URL for a reconnect (errors.Is ErrMediaExpired).
func (v *Verifier) VerifyMedia(ctx context.Context, path string, q url.Values) (MediaGrant, error) {
	if v.Apps == nil {
		return MediaGrant{}, errors.New("auth: Verifier.Apps is not set")
	}
	g, sig, err := ParseMediaURL(path, q)
	if err != nil {
		return MediaGrant{}, err
	}
	app, err := v.Apps.GetApp(ctx, g.App)
	if errors.Is(err, store.ErrNotFound) {
		return MediaGrant{}, fmt.Errorf("%w: %q", ErrUnknownApp, g.App)
	}
	if err != nil {
		return MediaGrant{}, err
	}
	now := v.now()
	if !mediaSigOK(app, g, sig, now) {
		r, ok := v.Apps.(Refresher)
		if ok {
			app, err = r.Refresh(ctx, g.App)
			if errors.Is(err, store.ErrNotFound) {
				return MediaGrant{}, fmt.Errorf("%w: %q", ErrUnknownApp, g.App)
			}
			if err != nil {
				return MediaGrant{}, err
			}
		}
		if !ok || !mediaSigOK(app, g, sig, now) {
			return MediaGrant{}, fmt.Errorf("%w: not signed with the secret of app %q for these fields", ErrMediaSignature, g.App)
		}
	}
	if !now.Before(g.Expires.Add(v.Leeway)) {
		return g, fmt.Errorf("%w at %s", ErrMediaExpired, g.Expires.UTC().Format(time.RFC3339))
	}
	return g, nil
}

func mediaSigOK(app store.App, g MediaGrant, sig []byte, now time.Time) bool {
	if app.Secret != "" && hmac.Equal(sig, mediaMAC(app.Secret, g)) {
		return true
	}
	return app.PreviousSecretValid(now) && hmac.Equal(sig, mediaMAC(app.PreviousSecret, g))
}
