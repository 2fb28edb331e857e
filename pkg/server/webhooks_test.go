package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/pkg/protocol"
	"github.com/minirtc/minirtc/pkg/server"
)

// receiver is an app server's webhook endpoint built on WebhookHandler.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	events []server.Event
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		secret := r.secret
		r.mu.Unlock()
		server.WebhookHandler(secret, func(_ *http.Request, ev server.Event) error {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
			return nil
		}).ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setSecret(s string) { r.mu.Lock(); r.secret = s; r.mu.Unlock() }

func (r *receiver) has(typ, user string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range r.events {
		if ev.Type == typ && ev.User == user {
			return true
		}
	}
	return false
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhookCalls: an app server points the app's webhooks at itself with
// PutWebhook, verifies what arrives with the secret it got back, and sees
// the deliveries and their state through the API.
func TestWebhookCalls(t *testing.T) {
	e := start(t, func(c *config.Config) {
		c.Webhook.MinBackoff, c.Webhook.MaxBackoff, c.Webhook.PollInterval = 50*time.Millisecond, 200*time.Millisecond, 20*time.Millisecond
	})
	ctx := ctx10(t)
	rec := newReceiver(t)

	ws, err := e.app.GetWebhook(ctx)
	must(t, err)
	if len(ws.URLs) != 0 || ws.Secret != "" || ws.App != e.App.ID {
		t.Fatalf("settings before any put = %+v", ws)
	}
	ws, err = e.app.PutWebhook(ctx, server.PutWebhookRequest{URLs: []string{rec.srv.URL + "/hook"}})
	must(t, err)
	if len(ws.URLs) != 1 || len(ws.Secret) < 16 || ws.UpdatedAt == 0 {
		t.Fatalf("put = %+v", ws)
	}
	rec.setSecret(ws.Secret)

	alice := e.join("alice", "class")
	eventually(t, "user_joined of alice, verified", func() bool { return rec.has(server.EventUserJoined, "alice") })
	eventually(t, "the delivery counted", func() bool {
		got, err := e.app.GetWebhook(ctx)
		must(t, err)
		return got.Deliveries.Delivered >= 2 && got.Deliveries.Pending == 0 // room_created, user_joined
	})
	page, err := e.app.ListWebhookDeliveries(ctx, server.WebhookDeliveryQuery{Type: server.EventUserJoined, Room: "class", State: server.DeliveryDelivered})
	must(t, err)
	if len(page.Deliveries) != 1 {
		t.Fatalf("deliveries = %+v", page)
	}
	d := page.Deliveries[0]
	if d.URL != rec.srv.URL+"/hook" || d.Attempts != 1 || d.LastStatus != http.StatusNoContent || d.DoneAt == 0 ||
		d.Event.Type != server.EventUserJoined || d.Event.User != "alice" || d.Event.Room != "class" || d.Event.Seq < 1 {
		t.Fatalf("delivery = %+v", d)
	}
	var joined protocol.UserJoinedEvent
	must(t, d.Event.DecodeData(&joined))
	if joined.User.UserID != "alice" {
		t.Fatalf("event data = %+v", joined)
	}
	// Paging: one per page, newest first.
	p1, err := e.app.ListWebhookDeliveries(ctx, server.WebhookDeliveryQuery{Limit: 1})
	must(t, err)
	if len(p1.Deliveries) != 1 || p1.NextBeforeID == 0 {
		t.Fatalf("page 1 = %+v", p1)
	}
	p2, err := e.app.ListWebhookDeliveries(ctx, server.WebhookDeliveryQuery{Limit: 1, BeforeID: p1.NextBeforeID})
	must(t, err)
	if len(p2.Deliveries) != 1 || p2.Deliveries[0].ID >= p1.Deliveries[0].ID {
		t.Fatalf("page 2 = %+v after %+v", p2, p1)
	}

	// Rotate the secret without telling the receiver: deliveries now fail
	// verification (401) and stay pending with the last error.
	rot, err := e.app.PutWebhook(ctx, server.PutWebhookRequest{URLs: []string{rec.srv.URL + "/hook"}, RotateSecret: true})
	must(t, err)
	if rot.Secret == ws.Secret || rot.Secret == "" {
		t.Fatalf("rotated = %+v", rot)
	}
	bob := e.join("bob", "class")
	eventually(t, "a failed attempt for bob's join", func() bool {
		pg, err := e.app.ListWebhookDeliveries(ctx, server.WebhookDeliveryQuery{State: server.DeliveryPending, Type: server.EventUserJoined})
		must(t, err)
		return len(pg.Deliveries) == 1 && pg.Deliveries[0].LastStatus == http.StatusUnauthorized && pg.Deliveries[0].LastError != ""
	})
	rec.setSecret(rot.Secret)
	eventually(t, "bob's join delivered with the new secret", func() bool { return rec.has(server.EventUserJoined, "bob") })
	_ = alice
	_ = bob

	// Removing every URL (nil) gives up what is pending; bad input names the field.
	ws, err = e.app.PutWebhook(ctx, server.PutWebhookRequest{})
	must(t, err)
	if len(ws.URLs) != 0 || ws.Secret != rot.Secret {
		t.Fatalf("after removing the URLs: %+v", ws)
	}
	_, err = e.app.PutWebhook(ctx, server.PutWebhookRequest{URLs: []string{"ftp://x"}})
	ae := wantAPIError(t, err, http.StatusBadRequest, protocol.CodeInvalidField, "urls[0]")
	if !strings.Contains(ae.Message, "http") {
		t.Fatalf("message %q", ae.Message)
	}
	_, err = e.app.ListWebhookDeliveries(ctx, server.WebhookDeliveryQuery{State: "lost"})
	wantAPIError(t, err, http.StatusBadRequest, protocol.CodeInvalidField, "state")
}

// TestUsageCall: online time of a participant shows in QueryUsage once the
// server has flushed it.
func TestUsageCall(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Usage.FlushInterval = time.Second })
	ctx := ctx10(t)
	hour := time.Now().UTC().Truncate(time.Hour)
	alice := e.join("alice", "class")
	time.Sleep(2100 * time.Millisecond)
	must(t, alice.Leave(ctx))
	var u *server.Usage
	eventually(t, "alice's online seconds", func() bool {
		var err error
		u, err = e.app.QueryUsage(ctx, server.UsageQuery{From: hour, To: hour.Add(2 * time.Hour), By: server.UsageByHour})
		must(t, err)
		return u.Total.OnlineSeconds >= 2
	})
	if u.App != e.App.ID || u.By != "hour" || len(u.Periods) != 2 || !u.Periods[0].Start.Time().Equal(hour) ||
		u.Total.RoomsCreated != 1 || u.Total.UniqueUsers != 1 || u.Periods[0].OnlineSeconds+u.Periods[1].OnlineSeconds != u.Total.OnlineSeconds {
		t.Fatalf("usage = %+v", u)
	}
	day := hour.Truncate(24 * time.Hour)
	d, err := e.app.QueryUsage(ctx, server.UsageQuery{From: day, To: day.Add(24 * time.Hour)})
	must(t, err)
	if d.By != "day" || len(d.Periods) != 1 || d.Total.OnlineSeconds < 2 {
		t.Fatalf("by day = %+v", d)
	}
	_, err = e.app.QueryUsage(ctx, server.UsageQuery{From: hour.Add(time.Minute), To: hour.Add(time.Hour), By: server.UsageByHour})
	wantAPIError(t, err, http.StatusBadRequest, protocol.CodeInvalidField, "from")
}
