package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook event types (Event.Type). docs/webhooks.md describes each one's data.
const (
	EventRoomCreated        = "room_created"
	EventRoomDestroyed      = "room_destroyed"
	EventUserJoined         = "user_joined"
	EventUserLeft           = "user_left"
	EventStreamPublished    = "stream_published"
	EventStreamUnpublished  = "stream_unpublished"
	EventStreamStateChanged = "stream_state_changed"
)

// Webhook request headers.
const (
	WebhookSignatureHeader = "Minirtc-Signature"
	WebhookEventIDHeader   = "Minirtc-Event-Id"
	WebhookEventTypeHeader = "Minirtc-Event-Type"
)

// DefaultWebhookTolerance is the replay window VerifyWebhook applies when
// given none: a delivery signed more than this before (or after) the
// receiver's clock is refused.
const DefaultWebhookTolerance = 5 * time.Minute

// MaxWebhookBody is the largest body WebhookHandler reads. Deliveries are
// far smaller (event data is at most 64 KiB).
const MaxWebhookBody = 1 << 20

// Errors of VerifyWebhook; test with errors.Is (they come wrapped with details).
var (
	// ErrNoSignature: the Minirtc-Signature header is missing.
	ErrNoSignature = errors.New("webhook: no Minirtc-Signature header")
	// ErrMalformedSignature: the header is not "t=<unix seconds>,v1=<hex>".
	ErrMalformedSignature = errors.New("webhook: malformed Minirtc-Signature header")
	// ErrBadSignature: no v1 signature matches the body and the secret (a
	// wrong secret, or a body changed on the way).
	ErrBadSignature = errors.New("webhook: signature does not match")
	// ErrStaleTimestamp: the signed time is outside the replay window.
	ErrStaleTimestamp = errors.New("webhook: signature timestamp outside the replay window")
	// ErrMalformedEvent: the signature is right but the body is not an event.
	ErrMalformedEvent = errors.New("webhook: body is not a minirtc event")
)

// Event is one webhook delivery: something that happened in a room.
type Event struct {
	// ID is unique per event. Deliveries are at least once: the same event
	// may arrive more than once (with the same ID); process each ID once.
	ID   string `json:"id"`
	Type string `json:"type"` // one of the Event* constants
	App  string `json:"app"`
	Room string `json:"room"`
	// User is the user the event is about; "" for room_created and room_destroyed.
	User string `json:"user"`
	// Seq numbers the room's events 1, 2, 3, ...; it never goes back, even
	// when a room with the same name is created again or the server
	// restarts. Deliveries of one room come in Seq order.
	Seq int64 `json:"seq"`
	// At is when the event happened, in unix milliseconds (see Time).
	At int64 `json:"at"`
	// Data is the event's details: the payload the signalling protocol
	// (github.com/minirtc/minirtc/pkg/protocol) gives participants for the
	// same event, e.g. protocol.UserLeftEvent for user_left; {} for room events.
	Data json.RawMessage `json:"data"`
}

// Time is At as a time.Time.
func (e Event) Time() time.Time { return time.UnixMilli(e.At) }

// DecodeData decodes Data into v (e.g. a *protocol.StreamEvent).
func (e Event) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("webhook %s (%s): data: %w", e.ID, e.Type, err)
	}
	return nil
}

// VerifyWebhook checks a delivery's signature and returns its event. header
// is the request's header, body its exact bytes, now the receiver's clock,
// tolerance the replay window (<= 0 means DefaultWebhookTolerance).
//
// The Minirtc-Signature header is "t=<unix seconds>,v1=<hex>", where the
// hex is HMAC-SHA256 keyed with the app's webhook secret over "<t>.<body>".
// Several v1 entries may appear; one matching is enough. Unknown keys are
// ignored, so later signature versions can be added alongside.
func VerifyWebhook(secret string, header http.Header, body []byte, now time.Time, tolerance time.Duration) (Event, error) {
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	sig := header.Get(WebhookSignatureHeader)
	if sig == "" {
		return Event{}, ErrNoSignature
	}
	ts, macs, err := parseSignature(sig)
	if err != nil {
		return Event{}, err
	}
	want := signature(secret, ts, body)
	ok := false
	for _, m := range macs {
		ok = ok || hmac.Equal(m, want)
	}
	if !ok {
		return Event{}, ErrBadSignature
	}
	// Checked after the signature, so the time in the error is one the
	// sender really signed.
	signed := time.Unix(ts, 0)
	if skew := now.Sub(signed); skew > tolerance || skew < -tolerance {
		return Event{}, fmt.Errorf("%w: signed at %s, %s from now, tolerance %s", ErrStaleTimestamp,
			signed.UTC().Format(time.RFC3339), skew.Round(time.Second), tolerance)
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformedEvent, err)
	}
	if ev.ID == "" || ev.Type == "" || ev.App == "" || ev.Room == "" {
		return Event{}, fmt.Errorf("%w: id, type, app and room are required", ErrMalformedEvent)
	}
	if id := header.Get(WebhookEventIDHeader); id != "" && id != ev.ID {
		return Event{}, fmt.Errorf("%w: %s header %q differs from the body's id %q", ErrMalformedEvent, WebhookEventIDHeader, id, ev.ID)
	}
	return ev, nil
}

func parseSignature(h string) (int64, [][]byte, error) {
	var (
		ts    int64
		haveT bool
		macs  [][]byte
	)
	for _, part := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, fmt.Errorf("%w: %q is not key=value", ErrMalformedSignature, part)
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || haveT {
				return 0, nil, fmt.Errorf("%w: t must be one unix time in seconds", ErrMalformedSignature)
			}
			ts, haveT = n, true
		case "v1":
			m, err := hex.DecodeString(v)
			if err != nil || len(m) != sha256.Size {
				return 0, nil, fmt.Errorf("%w: v1 must be 64 hex digits", ErrMalformedSignature)
			}
			macs = append(macs, m)
		}
	}
	if !haveT || len(macs) == 0 {
		return 0, nil, fmt.Errorf("%w: want t=<unix seconds>,v1=<hex>", ErrMalformedSignature)
	}
	return ts, macs, nil
}

func signature(secret string, ts int64, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// SignWebhook returns the Minirtc-Signature header value minirtc would send
// for body at t. It is for testing receivers.
func SignWebhook(secret string, t time.Time, body []byte) string {
	return "t=" + strconv.FormatInt(t.Unix(), 10) + ",v1=" + hex.EncodeToString(signature(secret, t.Unix(), body))
}

// WebhookHandler returns an http.Handler for a webhook URL: it reads the
// body (at most MaxWebhookBody bytes), verifies it with VerifyWebhook and
// the default tolerance, and calls handle. Its answers: 204 when handle
// returns nil (minirtc marks the delivery delivered), 500 when it returns an
// error (minirtc retries later), 401 when the signature is missing, wrong
// or stale, 400 for a body that is not an event, 405 for other methods.
// handle runs once per delivery; deduplicate by Event.ID there.
func WebhookHandler(secret string, handle func(r *http.Request, ev Event) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "webhooks are POSTed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
		if err != nil {
			http.Error(w, "cannot read the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		ev, err := VerifyWebhook(secret, r.Header, body, time.Now(), 0)
		switch {
		case errors.Is(err, ErrMalformedEvent):
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if err := handle(r, ev); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
