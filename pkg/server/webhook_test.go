package server

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const testSecret = "whsec-test-0123456789abcdef"

var (
	testBody = []byte(`{"id":"ev1","type":"user_left","app":"app1","room":"r1","user":"alice","seq":7,"at":1740830400123,"data":{"user_id":"alice","reason":"timeout"}}`)
	testNow  = time.Unix(1740830400, 0)
)

func hdr(sig string) http.Header {
	h := http.Header{}
	if sig != "" {
		h.Set(WebhookSignatureHeader, sig)
	}
	return h
}

func TestVerifyWebhookAccepts(t *testing.T) {
	ev, err := VerifyWebhook(testSecret, hdr(SignWebhook(testSecret, testNow, testBody)), testBody, testNow.Add(4*time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "ev1" || ev.Type != EventUserLeft || ev.App != "app1" || ev.Room != "r1" || ev.User != "alice" || ev.Seq != 7 ||
		!ev.Time().Equal(time.UnixMilli(1740830400123)) {
		t.Fatalf("event = %+v", ev)
	}
	var d struct{ Reason string }
	if err := ev.DecodeData(&d); err != nil || d.Reason != "timeout" {
		t.Fatalf("data: %+v %v", d, err)
	}
	// Another v1 (e.g. an old secret's) alongside, unknown keys, spaces.
	other := SignWebhook("some-other-secret-xyz", testNow, testBody)
	mixed := "t=1740830400, v1=" + strings.TrimPrefix(other, "t=1740830400,v1=") + ", v2=zzz, v1=" +
		strings.TrimPrefix(SignWebhook(testSecret, testNow, testBody), "t=1740830400,v1=")
	if _, err := VerifyWebhook(testSecret, hdr(mixed), testBody, testNow, time.Minute); err != nil {
		t.Fatalf("mixed header: %v", err)
	}
}

// TestVerifyWebhookKnownVector pins the algorithm to one computed
// independently (openssl dgst -sha256 -hmac ... over "1740830400.<body>").
func TestVerifyWebhookKnownVector(t *testing.T) {
	body := []byte(`{"id":"ev1","type":"room_created","app":"a","room":"r","user":"","seq":1,"at":1740830400000,"data":{}}`)
	const want = "t=1740830400,v1=b0aae9b18ee5b37302e8cfe3b8a5643d07a3c22445e5d55bc9df95adb6c2b30a"
	if got := SignWebhook("secret-key-0123456789", testNow, body); got != want {
		t.Fatalf("SignWebhook = %q, want %q", got, want)
	}
	if _, err := VerifyWebhook("secret-key-0123456789", hdr(want), body, testNow, 0); err != nil {
		t.Fatalf("VerifyWebhook(known vector): %v", err)
	}
}

func TestVerifyWebhookRefuses(t *testing.T) {
	good := SignWebhook(testSecret, testNow, testBody)
	cases := []struct {
		name string
		h    http.Header
		body []byte
		now  time.Time
		want error
	}{
		{"no header", hdr(""), testBody, testNow, ErrNoSignature},
		{"garbage", hdr("sha256=abc"), testBody, testNow, ErrMalformedSignature},
		{"no t", hdr(strings.Split(good, ",")[1]), testBody, testNow, ErrMalformedSignature},
		{"no v1", hdr("t=1740830400"), testBody, testNow, ErrMalformedSignature},
		{"bad t", hdr(strings.Replace(good, "t=1740830400", "t=soon", 1)), testBody, testNow, ErrMalformedSignature},
		{"two t", hdr("t=1," + good), testBody, testNow, ErrMalformedSignature},
		{"short v1", hdr("t=1740830400,v1=abcd"), testBody, testNow, ErrMalformedSignature},
		{"wrong secret", hdr(SignWebhook("not-the-secret-000000", testNow, testBody)), testBody, testNow, ErrBadSignature},
		{"changed body", hdr(good), append([]byte(" "), testBody...), testNow, ErrBadSignature},
		{"changed time", hdr(strings.Replace(good, "t=1740830400", "t=1740830401", 1)), testBody, testNow, ErrBadSignature},
		{"replayed late", hdr(good), testBody, testNow.Add(5*time.Minute + time.Second), ErrStaleTimestamp},
		{"from the future", hdr(good), testBody, testNow.Add(-5*time.Minute - time.Second), ErrStaleTimestamp},
		{"not an event", hdr(SignWebhook(testSecret, testNow, []byte(`[1]`))), []byte(`[1]`), testNow, ErrMalformedEvent},
		{"no id", hdr(SignWebhook(testSecret, testNow, []byte(`{"type":"x","app":"a","room":"r"}`))), []byte(`{"type":"x","app":"a","room":"r"}`), testNow, ErrMalformedEvent},
	}
	for _, c := range cases {
		_, err := VerifyWebhook(testSecret, c.h, c.body, c.now, 0)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
	// The event id header must agree with the body.
	h := hdr(good)
	h.Set(WebhookEventIDHeader, "ev2")
	if _, err := VerifyWebhook(testSecret, h, testBody, testNow, 0); !errors.Is(err, ErrMalformedEvent) {
		t.Errorf("mismatched event id header: %v", err)
	}
	// A wider window accepts what the default refuses.
	if _, err := VerifyWebhook(testSecret, hdr(good), testBody, testNow.Add(10*time.Minute), time.Hour); err != nil {
		t.Errorf("tolerance 1h: %v", err)
	}
}

func TestWebhookHandler(t *testing.T) {
	var got []Event
	fail := false
	srv := httptest.NewServer(WebhookHandler(testSecret, func(_ *http.Request, ev Event) error {
		if fail {
			return errors.New("database down")
		}
		got = append(got, ev)
		return nil
	}))
	defer srv.Close()
	post := func(sig string, body []byte) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(body)))
		if sig != "" {
			req.Header.Set(WebhookSignatureHeader, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	now := time.Now()
	if c := post(SignWebhook(testSecret, now, testBody), testBody); c != http.StatusNoContent || len(got) != 1 || got[0].ID != "ev1" {
		t.Fatalf("good delivery: %d, %v", c, got)
	}
	if c := post(SignWebhook("wrong-secret-0000000000", now, testBody), testBody); c != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", c)
	}
	if c := post(SignWebhook(testSecret, now.Add(-time.Hour), testBody), testBody); c != http.StatusUnauthorized {
		t.Fatalf("stale: %d", c)
	}
	if c := post(SignWebhook(testSecret, now, []byte(`{}`)), []byte(`{}`)); c != http.StatusBadRequest {
		t.Fatalf("not an event: %d", c)
	}
	big := make([]byte, MaxWebhookBody+1)
	if c := post(SignWebhook(testSecret, now, big), big); c != http.StatusBadRequest {
		t.Fatalf("oversized: %d", c)
	}
	fail = true
	if c := post(SignWebhook(testSecret, now, testBody), testBody); c != http.StatusInternalServerError {
		t.Fatalf("handler error: %d", c)
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}
