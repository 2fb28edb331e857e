package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
)

// Webhooks keeps each app's webhook settings and the outbox of webhook
// deliveries: events are written durably before anyone tries to send them,
// and a delivery leaves the outbox's pending state only when a receiver took
// it (delivered) or it was given up (failed).
//
// A queue is the deliveries of one (app, room, URL). A queue's deliveries are
// attempted one at a time in enqueue order: a delivery is never attempted
// while an earlier delivery of its queue is pending. Queues are independent
// of each other.
type Webhooks interface {
	// WebhookSettings returns the app's settings. An app whose settings were
	// never put has no URLs, an empty Secret and a zero UpdatedAt.
	// ErrNotFound (wrapped) when the app does not exist.
	WebhookSettings(ctx context.Context, app ids.AppID) (WebhookSettings, error)

	// PutWebhookSettings replaces the app's URLs and sets UpdatedAt to now.
	// s must pass Validate. An empty s.Secret keeps the app's current secret,
	// or generates one (NewSecret) when the app has none yet; a non-empty
	// one replaces it. Pending deliveries to URLs that are no longer listed
	// become failed at once (DoneAt now, LastError ErrWebhookURLRemoved's
	// text), so that a removed receiver is not retried for a day. It returns
	// the settings as stored. ErrNotFound (wrapped) when the app does not exist.
	PutWebhookSettings(ctx context.Context, s WebhookSettings, now time.Time) (WebhookSettings, error)

	// EnqueueWebhookEvents stores evs in one transaction, in order; either
	// all are handled or none is. Each stored event gets the next sequence
	// number of its (app, room): 1 for the room's first, then 2, 3, ...
	// Counters are kept for good, so a room re-created with the same name,
	// or a restart, continues where its numbering left off. Each stored
	// event gets one pending delivery per URL its app has at that moment
	// (CreatedAt and NextAttemptAt now, Attempts 0).
	//
	// Not stored, and given Seq 0, are events of an app that does not exist
	// or has no URLs (they consume no number). An event whose ID is already
	// stored is not stored again and gets its stored Seq back, so retrying a
	// batch after an error is safe. Every event must pass Validate; one
	// invalid event fails the whole call. The result is evs with Seq set,
	// in the same order.
	EnqueueWebhookEvents(ctx context.Context, evs []WebhookEvent, now time.Time) ([]WebhookEvent, error)

	// ClaimWebhookDeliveries atomically takes deliveries for an attempt. A
	// delivery is due when it is pending, its NextAttemptAt is at or before
	// c.Now, and every earlier delivery (lower ID) of its queue is delivered
	// or failed. So at most one delivery per queue is due at a time, and
	// queues are attempted in order.
	//
	// For each URL it considers that URL's earliest-due due deliveries
	// (lowest NextAttemptAt, then lowest ID), at most the URL's limit of them:
	// c.URLLimits[url] when the URL is listed there, else c.PerURL. Of all
	// those it takes the earliest-due c.Limit, returned in that order.
	//
	// Each delivery taken gets Attempts+1, LastAttemptAt c.Now and
	// NextAttemptAt c.Now+c.Lease: nobody else can take it before the lease
	// ends, and if the claimer dies mid-attempt the delivery is due again
	// when it does. The attempt carries the app's current secret. c must pass
	// Validate. Two concurrent calls, even from two processes, never take the
	// same delivery.
	ClaimWebhookDeliveries(ctx context.Context, c WebhookClaim) ([]WebhookAttempt, error)

	// RecordWebhookAttempt records the outcome of the attempt made under a
	// claim. It applies only while the delivery is pending and its Attempts
	// still equals o.Attempt (no later claim took it after this one's lease
	// ran out); otherwise it changes nothing and returns nil. ErrNotFound
	// (wrapped) when there is no such delivery.
	//
	//   - o.Delivered: state delivered, DoneAt o.At, LastStatus o.Status,
	//     LastError "".
	//   - failed, o.NextAttemptAt set: stays pending, due at o.NextAttemptAt;
	//     LastStatus and LastError recorded.
	//   - failed, o.NextAttemptAt zero: given up, state failed, DoneAt o.At;
	//     LastStatus and LastError recorded.
	//
	// LastError is cut to MaxWebhookErrorLen bytes (at a UTF-8 boundary).
	// When a delivery is delivered or failed, the next delivery of its queue
	// (if any) can be claimed.
	RecordWebhookAttempt(ctx context.Context, id int64, o WebhookOutcome) error

	// ListWebhookDeliveries returns an app's deliveries matching q, newest
	// (highest ID) first, with their events. q must pass Validate.
	ListWebhookDeliveries(ctx context.Context, q WebhookDeliveryQuery) ([]WebhookDelivery, error)

	// CountWebhookDeliveries counts an app's deliveries (those not purged)
	// by state. An app that does not exist has none (no error).
	CountWebhookDeliveries(ctx context.Context, app ids.AppID) (WebhookCounts, error)

	// PurgeWebhookDeliveries deletes delivered and failed deliveries whose
	// DoneAt is before before, and the events left without any delivery.
	// Pending deliveries are never purged; sequence counters are kept. It
	// returns the number of deliveries deleted.
	PurgeWebhookDeliveries(ctx context.Context, before time.Time) (int64, error)
}

// Limits of webhook settings, events and queries.
const (
	MaxWebhookURLs       = 5
	MaxWebhookURLLen     = 2048 // bytes
	MinWebhookSecretLen  = 16   // bytes
	MaxWebhookSecretLen  = 256  // bytes
	MaxWebhookEventIDLen = 64   // bytes
	MaxWebhookTypeLen    = 64   // bytes
	MaxWebhookDataLen    = 64 << 10
	MaxWebhookErrorLen   = 512 // bytes of LastError kept
	MaxWebhookClaim      = 1000

	DefaultWebhookDeliveryLimit = 100
	MaxWebhookDeliveryLimit     = 1000
)

// ErrWebhookURLRemoved is the LastError of pending deliveries failed because
// their URL was taken out of the app's settings.
const ErrWebhookURLRemoved = "the URL was removed from the app's webhook settings"

// WebhookSettings are an app's webhook receivers and signing secret.
type WebhookSettings struct {
	App ids.AppID
	// URLs are 0 to MaxWebhookURLs distinct http or https URLs; none turns
	// the app's webhooks off (events are then not stored).
	URLs []string
	// Secret signs every delivery (HMAC-SHA256); receivers verify with it.
	Secret    string
	UpdatedAt time.Time // zero when never put
}

// Validate checks settings to be put: a valid app id, at most MaxWebhookURLs
// distinct URLs each passing ValidateWebhookURL, and a secret that is empty
// (keep or generate) or passes ValidateWebhookSecret.
func (s WebhookSettings) Validate() error {
	if err := s.App.Validate(); err != nil {
		return fmt.Errorf("webhook settings: %w", err)
	}
	if len(s.URLs) > MaxWebhookURLs {
		return fmt.Errorf("webhook settings: %d URLs, the limit is %d", len(s.URLs), MaxWebhookURLs)
	}
	seen := make(map[string]bool, len(s.URLs))
	for i, u := range s.URLs {
		if err := ValidateWebhookURL(u); err != nil {
			return fmt.Errorf("webhook settings: URL %d: %w", i+1, err)
		}
		if seen[u] {
			return fmt.Errorf("webhook settings: URL %q is listed twice", u)
		}
		seen[u] = true
	}
	if s.Secret != "" {
		if err := ValidateWebhookSecret(s.Secret); err != nil {
			return fmt.Errorf("webhook settings: %w", err)
		}
	}
	return nil
}

// ValidateWebhookURL accepts an absolute http or https URL with a host, at
// most MaxWebhookURLLen bytes, without user:password (it would show in
// every delivery listing; receivers authenticate deliveries by their
// signature) and without a #fragment (never sent).
func ValidateWebhookURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("webhook URL is empty")
	}
	if len(raw) > MaxWebhookURLLen {
		return fmt.Errorf("webhook URL is %d bytes long, the limit is %d", len(raw), MaxWebhookURLLen)
	}
	if err := checkText("webhook URL", raw); err != nil {
		return err
	}
	if strings.ContainsAny(raw, " \t") {
		return fmt.Errorf("webhook URL %q contains a space", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("webhook URL %q does not parse: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("webhook URL %q must start with http:// or https://", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("webhook URL %q has no host", raw)
	}
	if u.User != nil {
		return fmt.Errorf("webhook URL %q contains user information; receivers authenticate deliveries by their signature instead", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("webhook URL %q has a #fragment, which is never sent", raw)
	}
	return nil
}

// ValidateWebhookSecret accepts MinWebhookSecretLen to MaxWebhookSecretLen
// printable ASCII characters without spaces, so that receivers in any
// language and configuration format can hold it verbatim.
func ValidateWebhookSecret(s string) error {
	if len(s) < MinWebhookSecretLen || len(s) > MaxWebhookSecretLen {
		return fmt.Errorf("webhook secret must be %d to %d characters, got %d", MinWebhookSecretLen, MaxWebhookSecretLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return fmt.Errorf("webhook secret has a character at position %d that is not printable ASCII (or is a space)", i)
		}
	}
	return nil
}

// WebhookEvent is one room event for an app's webhook receivers.
type WebhookEvent struct {
	// ID is unique among all events (the receiver's deduplication key): 1 to
	// MaxWebhookEventIDLen characters of the ids alphabet, chosen by the caller.
	ID   string
	App  ids.AppID
	Room ids.RoomID
	User ids.UserID // "" for events about the room itself
	// Type is the event name ("user_joined", ...): 1 to MaxWebhookTypeLen
	// lowercase letters, digits and '_'.
	Type string
	// Seq numbers the room's events from 1; set by EnqueueWebhookEvents.
	Seq int64
	// At is when the event happened; stores keep milliseconds.
	At time.Time
	// Data is a JSON object of at most MaxWebhookDataLen bytes; empty means {}.
	Data json.RawMessage
}

// Validate checks an event to be enqueued (Seq is ignored).
func (e WebhookEvent) Validate() error {
	if e.ID == "" || len(e.ID) > MaxWebhookEventIDLen {
		return fmt.Errorf("webhook event: id must be 1 to %d characters, got %d", MaxWebhookEventIDLen, len(e.ID))
	}
	if err := ids.Validate("webhook event id", e.ID); err != nil {
		return fmt.Errorf("webhook event: %w", err)
	}
	if err := e.App.Validate(); err != nil {
		return fmt.Errorf("webhook event %s: %w", e.ID, err)
	}
	if err := e.Room.Validate(); err != nil {
		return fmt.Errorf("webhook event %s: %w", e.ID, err)
	}
	if e.User != "" {
		if err := e.User.Validate(); err != nil {
			return fmt.Errorf("webhook event %s: %w", e.ID, err)
		}
	}
	if e.Type == "" || len(e.Type) > MaxWebhookTypeLen {
		return fmt.Errorf("webhook event %s: type must be 1 to %d characters, got %d", e.ID, MaxWebhookTypeLen, len(e.Type))
	}
	for i := 0; i < len(e.Type); i++ {
		if c := e.Type[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("webhook event %s: type %q has character %q; only a-z, 0-9 and '_' are allowed", e.ID, e.Type, c)
		}
	}
	if e.At.IsZero() {
		return fmt.Errorf("webhook event %s: time (At) is not set", e.ID)
	}
	if len(e.Data) > MaxWebhookDataLen {
		return fmt.Errorf("webhook event %s: data is %d bytes, the limit is %d", e.ID, len(e.Data), MaxWebhookDataLen)
	}
	if len(e.Data) > 0 && (!json.Valid(e.Data) || !bytes.HasPrefix(bytes.TrimLeft(e.Data, " \t\r\n"), []byte("{"))) {
		return fmt.Errorf("webhook event %s: data must be a JSON object", e.ID)
	}
	return nil
}

// DataOrEmpty returns e.Data, or {} when it is empty.
func (e WebhookEvent) DataOrEmpty() json.RawMessage {
	if len(e.Data) == 0 {
		return json.RawMessage("{}")
	}
	return e.Data
}

// WebhookDeliveryState is where a delivery stands.
type WebhookDeliveryState string

// Delivery states.
const (
	WebhookPending   WebhookDeliveryState = "pending"   // not yet taken by the receiver
	WebhookDelivered WebhookDeliveryState = "delivered" // a 2xx answer came back
	WebhookFailed    WebhookDeliveryState = "failed"    // given up
)

// Valid reports whether s is one of the three states.
func (s WebhookDeliveryState) Valid() bool {
	return s == WebhookPending || s == WebhookDelivered || s == WebhookFailed
}

// WebhookDelivery is one event on its way to one URL.
type WebhookDelivery struct {
	// ID increases in enqueue order (so within a queue it follows Seq).
	ID       int64
	Event    WebhookEvent
	URL      string
	State    WebhookDeliveryState
	Attempts int // attempts started; a claim counts as one
	// CreatedAt is when the delivery was enqueued.
	CreatedAt time.Time
	// NextAttemptAt, while pending, is when it is due (or the current
	// attempt's lease ends); zero once delivered or failed.
	NextAttemptAt time.Time
	LastAttemptAt time.Time // zero before the first attempt
	LastStatus    int       // HTTP status of the last answer; 0 when none came
	LastError     string    // why the last attempt failed; "" after success
	DoneAt        time.Time // when delivered or failed; zero while pending
}

// WebhookClaim asks for due deliveries.
type WebhookClaim struct {
	Now   time.Time
	Limit int           // 1 to MaxWebhookClaim
	Lease time.Duration // > 0: how long the claimer has for its attempt
	// PerURL is the most deliveries taken for one URL (1 to MaxWebhookClaim),
	// except for the URLs in URLLimits.
	PerURL int
	// URLLimits overrides PerURL for the URLs it lists (0: take none). A
	// claimer uses it for URLs it already has attempts in flight to.
	URLLimits map[string]int
}

// Validate checks a claim.
func (c WebhookClaim) Validate() error {
	if c.Now.IsZero() {
		return fmt.Errorf("webhook claim: Now is not set")
	}
	if c.Limit < 1 || c.Limit > MaxWebhookClaim {
		return fmt.Errorf("webhook claim: limit must be 1 to %d, got %d", MaxWebhookClaim, c.Limit)
	}
	if c.Lease <= 0 {
		return fmt.Errorf("webhook claim: lease must be positive, got %s", c.Lease)
	}
	if c.PerURL < 1 || c.PerURL > MaxWebhookClaim {
		return fmt.Errorf("webhook claim: per-URL limit must be 1 to %d, got %d", MaxWebhookClaim, c.PerURL)
	}
	for u, n := range c.URLLimits {
		if n < 0 || n > MaxWebhookClaim {
			return fmt.Errorf("webhook claim: limit for URL %q must be 0 to %d, got %d", u, MaxWebhookClaim, n)
		}
	}
	return nil
}

// WebhookAttempt is a claimed delivery with what is needed to send it.
type WebhookAttempt struct {
	Delivery WebhookDelivery // as after the claim
	Secret   string          // the app's current signing secret
}

// WebhookOutcome is the result of one attempt.
type WebhookOutcome struct {
	// Attempt is the delivery's Attempts as returned by the claim.
	Attempt   int
	At        time.Time
	Delivered bool
	Status    int    // HTTP status; 0 when no answer came
	Error     string // why it failed; ignored when Delivered
	// NextAttemptAt schedules a retry of a failed attempt; zero gives up.
	NextAttemptAt time.Time
}

// WebhookDeliveryQuery selects an app's deliveries, newest first.
type WebhookDeliveryQuery struct {
	App   ids.AppID
	Room  ids.RoomID           // optional
	State WebhookDeliveryState // optional
	Type  string               // optional event type
	URL   string               // optional exact URL
	// From and To, when set, keep only deliveries whose event happened
	// (Event.At) at or after From and before To. Stores compare whole
	// milliseconds.
	From, To time.Time
	// BeforeID, when > 0, returns only deliveries with a lower ID: pass the
	// last ID of a page to get the next one.
	BeforeID int64
	// Limit: <= 0 means DefaultWebhookDeliveryLimit; above
	// MaxWebhookDeliveryLimit is lowered to it.
	Limit int
}

// Validate checks a query.
func (q WebhookDeliveryQuery) Validate() error {
	if err := q.App.Validate(); err != nil {
		return fmt.Errorf("webhook delivery query: %w", err)
	}
	if q.Room != "" {
		if err := q.Room.Validate(); err != nil {
			return fmt.Errorf("webhook delivery query: %w", err)
		}
	}
	if q.State != "" && !q.State.Valid() {
		return fmt.Errorf("webhook delivery query: state must be pending, delivered or failed, got %q", q.State)
	}
	if len(q.Type) > MaxWebhookTypeLen || len(q.URL) > MaxWebhookURLLen {
		return fmt.Errorf("webhook delivery query: type or URL too long")
	}
	if q.BeforeID < 0 {
		return fmt.Errorf("webhook delivery query: before id must not be negative, got %d", q.BeforeID)
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return fmt.Errorf("webhook delivery query: from (%s) must be before to (%s)",
			q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// EffectiveLimit is Limit with the default and bound applied.
func (q WebhookDeliveryQuery) EffectiveLimit() int {
	switch {
	case q.Limit <= 0:
		return DefaultWebhookDeliveryLimit
	case q.Limit > MaxWebhookDeliveryLimit:
		return MaxWebhookDeliveryLimit
	}
	return q.Limit
}

// WebhookCounts are an app's deliveries by state.
type WebhookCounts struct {
	Pending, Delivered, Failed int64
}

// TruncateUTF8 cuts s to at most n bytes without splitting a character.
func TruncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}
