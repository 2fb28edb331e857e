package api

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/webhook"
	"github.com/minirtc/minirtc/pkg/ids"
)

// Webhook settings and deliveries (docs/webhooks.md is the receiver's side).
//
// GET shows the signing secret. The caller holds the app's admin token (or
// the operator key), which already lets it mint tokens and run every room
// of the app, and an app server needs the secret to verify deliveries; so
// hiding it would protect nothing and leave rotation as the only way to
// learn it.

// webhookJSON is an app's webhook settings and its deliveries by state.
type webhookJSON struct {
	App  ids.AppID `json:"app"`
	URLs []string  `json:"urls"`
	// Secret and UpdatedAt are absent until the settings are first put.
	Secret     string            `json:"secret,omitempty"`
	UpdatedAt  int64             `json:"updated_at,omitempty"`
	Deliveries webhookCountsJSON `json:"deliveries"`
}

type webhookCountsJSON struct {
	Pending   int64 `json:"pending"`
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed"`
}

// putWebhookRequest replaces the settings, as `minirtc app webhook set`
// does: what is given is what the app has afterwards. URLs are required so
// that a request meant only to rotate the secret cannot clear them by
// leaving them out; and because the store puts URLs and secret in one
// write, nothing another caller changed in between is undone.
type putWebhookRequest struct {
	URLs         *[]string `json:"urls"`
	Secret       *string   `json:"secret"`
	RotateSecret bool      `json:"rotate_secret"`
}

func (a *API) getWebhook(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	s, err := a.d.Store.WebhookSettings(c.ctx, c.app)
	if err != nil {
		return 0, nil, fromStore(err, "app "+string(c.app))
	}
	return a.webhookAnswer(c, s)
}

func (a *API) putWebhook(c *call) (int, any, *Error) {
	var req putWebhookRequest
	if err := c.body(&req, false); err != nil {
		return 0, nil, err
	}
	if req.URLs == nil {
		return 0, nil, fieldErr("urls", "urls is required: the complete list of receiver URLs (what is given replaces what the app had; [] removes them all)")
	}
	urls := *req.URLs
	if len(urls) > store.MaxWebhookURLs {
		return 0, nil, fieldErr("urls", "%d URLs given; an app has at most %d", len(urls), store.MaxWebhookURLs)
	}
	for i, u := range urls {
		field := fmt.Sprintf("urls[%d]", i)
		if err := store.ValidateWebhookURL(u); err != nil {
			return 0, nil, fieldErr(field, "%v", err)
		}
		if slices.Index(urls, u) < i {
			return 0, nil, fieldErr(field, "%s is listed twice", truncate(u, 200))
		}
	}
	s := store.WebhookSettings{App: c.app, URLs: urls}
	switch {
	case req.Secret != nil && req.RotateSecret:
		return 0, nil, fieldErr("rotate_secret", "secret and rotate_secret do not go together: give your own secret, or ask for a new one")
	case req.Secret != nil:
		if err := store.ValidateWebhookSecret(*req.Secret); err != nil {
			return 0, nil, fieldErr("secret", "%v", err)
		}
		s.Secret = *req.Secret
	case req.RotateSecret:
		s.Secret = store.NewSecret()
	}
	// An empty Secret keeps the current one, or has the store generate the
	// first.
	got, err := a.d.Store.PutWebhookSettings(c.ctx, s, a.now())
	if err != nil {
		return 0, nil, fromStore(err, "app "+string(c.app))
	}
	return a.webhookAnswer(c, got)
}

func (a *API) webhookAnswer(c *call, s store.WebhookSettings) (int, any, *Error) {
	n, err := a.d.Store.CountWebhookDeliveries(c.ctx, c.app)
	if err != nil {
		return 0, nil, internal(err)
	}
	out := webhookJSON{App: s.App, URLs: s.URLs, Secret: s.Secret,
		Deliveries: webhookCountsJSON{Pending: n.Pending, Delivered: n.Delivered, Failed: n.Failed}}
	if out.URLs == nil {
		out.URLs = []string{}
	}
	if !s.UpdatedAt.IsZero() {
		out.UpdatedAt = s.UpdatedAt.UnixMilli()
	}
	return http.StatusOK, out, nil
}

// deliveryJSON is one event on its way to one URL.
type deliveryJSON struct {
	ID            int64  `json:"id"`
	URL           string `json:"url"`
	State         string `json:"state"`
	Attempts      int    `json:"attempts"`
	CreatedAt     int64  `json:"created_at"`
	NextAttemptAt int64  `json:"next_attempt_at,omitempty"` // pending only
	LastAttemptAt int64  `json:"last_attempt_at,omitempty"`
	LastStatus    int    `json:"last_status"`
	LastError     string `json:"last_error"`
	DoneAt        int64  `json:"done_at,omitempty"` // delivered or failed
	// Event is the delivery's body, byte for byte what the receiver gets.
	Event json.RawMessage `json:"event"`
}

type deliveriesJSON struct {
	Deliveries []deliveryJSON `json:"deliveries"`
	// NextBeforeID is set when the page is full: pass it as before_id for
	// the next (older) page, which may be empty.
	NextBeforeID int64 `json:"next_before_id,omitempty"`
}

// millisOrZero is t in unix ms, 0 for the zero time (left out of the JSON).
func millisOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func (a *API) listWebhookDeliveries(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	q, err := parseQuery(c.r, "state", "room", "type", "url", "from", "to", "before_id", "limit")
	if err != nil {
		return 0, nil, err
	}
	dq := store.WebhookDeliveryQuery{App: c.app}
	if s, ok := q.str("state"); ok {
		dq.State = store.WebhookDeliveryState(s)
		if !dq.State.Valid() {
			return 0, nil, fieldErr("state", "state is %q; use pending, delivered or failed", truncate(s, 40))
		}
	}
	if s, ok := q.str("room"); ok {
		dq.Room = ids.RoomID(s)
		if err := dq.Room.Validate(); err != nil {
			return 0, nil, fieldErr("room", "%v", err)
		}
	}
	if s, ok := q.str("type"); ok {
		if !slices.Contains(webhook.Types, s) {
			return 0, nil, fieldErr("type", "type is %q; event types are %s", truncate(s, 70), strings.Join(webhook.Types, ", "))
		}
		dq.Type = s
	}
	if s, ok := q.str("url"); ok {
		if err := store.ValidateWebhookURL(s); err != nil {
			return 0, nil, fieldErr("url", "%v", err)
		}
		dq.URL = s
	}
	if dq.From, err = q.time("from"); err != nil {
		return 0, nil, err
	}
	if dq.To, err = q.time("to"); err != nil {
		return 0, nil, err
	}
	if !dq.From.IsZero() && !dq.To.IsZero() && !dq.From.Before(dq.To) {
		return 0, nil, fieldErr("to", "to must be after from")
	}
	before, err := q.int("before_id", 1, math.MaxInt, 0)
	if err != nil {
		return 0, nil, err
	}
	dq.BeforeID = int64(before)
	if dq.Limit, err = q.int("limit", 1, store.MaxWebhookDeliveryLimit, store.DefaultWebhookDeliveryLimit); err != nil {
		return 0, nil, err
	}
	list, serr := a.d.Store.ListWebhookDeliveries(c.ctx, dq)
	if serr != nil {
		return 0, nil, internal(serr)
	}
	out := deliveriesJSON{Deliveries: make([]deliveryJSON, 0, len(list))}
	for _, d := range list {
		out.Deliveries = append(out.Deliveries, deliveryJSON{
			ID: d.ID, URL: d.URL, State: string(d.State), Attempts: d.Attempts,
			CreatedAt: d.CreatedAt.UnixMilli(), LastAttemptAt: millisOrZero(d.LastAttemptAt),
			LastStatus: d.LastStatus, LastError: d.LastError, DoneAt: millisOrZero(d.DoneAt),
			Event: webhook.Body(d.Event),
		})
		if d.State == store.WebhookPending {
			out.Deliveries[len(out.Deliveries)-1].NextAttemptAt = millisOrZero(d.NextAttemptAt)
		}
	}
	if len(list) == dq.Limit {
		out.NextBeforeID = list[len(list)-1].ID
	}
	return http.StatusOK, out, nil
}
