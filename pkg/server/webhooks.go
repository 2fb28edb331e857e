package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
)

// Webhook delivery states (WebhookDelivery.State, WebhookDeliveryQuery.State).
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookCounts are the app's deliveries by state (those not yet purged).
type WebhookCounts struct {
	Pending   int64 `json:"pending"` // waiting for their turn, a retry, or in flight
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed"` // given up: too old, or their URL was removed
}

// WebhookSettings are an app's webhook URLs and signing secret (the one
// VerifyWebhook needs; "" until the settings are first put) with its
// delivery counts.
type WebhookSettings struct {
	App        ids.AppID     `json:"app"`
	URLs       []string      `json:"urls"`
	Secret     string        `json:"secret,omitempty"`
	UpdatedAt  Millis        `json:"updated_at,omitempty"`
	Deliveries WebhookCounts `json:"deliveries"`
}

// PutWebhookRequest is the body of PutWebhook.
type PutWebhookRequest struct {
	// URLs replaces the whole list: at most 5 distinct absolute http(s)
	// URLs. Nil or empty removes every URL (events are no longer recorded).
	URLs []string `json:"urls"`
	// Secret sets the signing secret (16 to 256 printable ASCII characters,
	// no spaces); empty keeps the current one, or generates one the first
	// time.
	Secret string `json:"secret,omitempty"`
	// RotateSecret generates a new secret (not with Secret).
	RotateSecret bool `json:"rotate_secret,omitempty"`
}

// WebhookDeliveryQuery filters ListWebhookDeliveries; zero fields do not
// filter.
type WebhookDeliveryQuery struct {
	State string     // DeliveryPending, DeliveryDelivered or DeliveryFailed
	Room  ids.RoomID // only this room's
	Type  string     // only events of this type (Event* constants)
	URL   string     // only those to this exact URL
	From  time.Time  // events that happened at or after
	To    time.Time  // events that happened before
	// BeforeID pages back: the NextBeforeID of the previous page.
	BeforeID int64
	Limit    int // 1 to 1000; 0: the server's default (100)
}

// WebhookDelivery is one event on its way to one URL. NextAttemptAt is set
// while it is pending; LastAttemptAt after the first attempt; DoneAt once
// delivered or given up.
type WebhookDelivery struct {
	ID            int64  `json:"id"` // increases in the order events were recorded
	URL           string `json:"url"`
	State         string `json:"state"`
	Attempts      int    `json:"attempts"`
	CreatedAt     Millis `json:"created_at"`
	NextAttemptAt Millis `json:"next_attempt_at,omitempty"`
	LastAttemptAt Millis `json:"last_attempt_at,omitempty"`
	LastStatus    int    `json:"last_status"` // HTTP status of the last answer; 0 when none came
	LastError     string `json:"last_error"`
	DoneAt        Millis `json:"done_at,omitempty"`
	Event         Event  `json:"event"` // the body the receiver gets
}

// WebhookDeliveries is a page of deliveries, newest first. NextBeforeID is
// set when the page is full: pass it as BeforeID (with the same filters)
// for the next, older page, which may be empty.
type WebhookDeliveries struct {
	Deliveries   []WebhookDelivery `json:"deliveries"`
	NextBeforeID int64             `json:"next_before_id,omitempty"`
}

// GetWebhook returns the app's webhook settings, with the signing secret,
// and its deliveries counted by state.
func (c *Client) GetWebhook(ctx context.Context) (*WebhookSettings, error) {
	var out WebhookSettings
	if err := c.call(ctx, http.MethodGet, nil, &out, "webhook"); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutWebhook replaces the app's webhook URLs and keeps, sets or rotates its
// signing secret; the answer has the secret. Pending deliveries to a URL no
// longer listed are given up. It applies from the next event.
func (c *Client) PutWebhook(ctx context.Context, req PutWebhookRequest) (*WebhookSettings, error) {
	if req.URLs == nil {
		req.URLs = []string{} // the field is required; nil means none
	}
	var out WebhookSettings
	if err := c.call(ctx, http.MethodPut, req, &out, "webhook"); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWebhookDeliveries returns the app's deliveries, newest first, with
// their state and last error.
func (c *Client) ListWebhookDeliveries(ctx context.Context, q WebhookDeliveryQuery) (*WebhookDeliveries, error) {
	p, err := c.appPath("webhook", "deliveries")
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	for k, s := range map[string]string{"state": q.State, "room": string(q.Room), "type": q.Type, "url": q.URL} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !q.From.IsZero() {
		v.Set("from", strconv.FormatInt(q.From.UnixMilli(), 10))
	}
	if !q.To.IsZero() {
		v.Set("to", strconv.FormatInt(q.To.UnixMilli(), 10))
	}
	if q.BeforeID != 0 {
		v.Set("before_id", strconv.FormatInt(q.BeforeID, 10))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out WebhookDeliveries
	if err := c.do(ctx, http.MethodGet, p, v, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
