package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"

	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

type reportBody struct {
	ID      int64           `json:"id"`
	Room    ids.RoomID      `json:"room"`
	User    ids.UserID      `json:"user"`
	Session string          `json:"session"`
	Kind    string          `json:"kind"`
	Stream  ids.StreamID    `json:"stream"`
	Data    json.RawMessage `json:"data"`
	At      int64           `json:"at"`
}

func TestQueryReports(t *testing.T) {
	e := start(t, nil)
	// One report the real way, from a client...
	alice := e.join("alice", "r1")
	id, err := alice.Report(ctx10(t), "pusher", "alice_main", map[string]any{"code": 1002})
	must(t, err)
	// ...and some at known times, straight into the store.
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, r := range []struct {
		room ids.RoomID
		user ids.UserID
	}{{"r1", "bob"}, {"r2", "bob"}, {"r2", "carol"}} {
		if _, err := e.Server.Store().AddReport(context.Background(), store.Report{App: e.App.ID, Room: r.room, User: r.user, Kind: "quality",
			Data: json.RawMessage(`{"rtt":40}`), At: base.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(query string) []reportBody {
		t.Helper()
		var out struct {
			Reports []reportBody `json:"reports"`
		}
		e.ok(http.StatusOK, "GET", e.appPath("/reports"+query), e.admin, nil, &out)
		return out.Reports
	}
	all := get("")
	if len(all) != 4 || all[0].ID != id || all[0].User != "alice" || all[0].Kind != "pusher" || all[0].Stream != "alice_main" || all[0].Session == "" {
		t.Fatalf("all reports = %+v; want alice's newest first", all)
	}
	var data map[string]int
	if err := json.Unmarshal(all[0].Data, &data); err != nil || data["code"] != 1002 {
		t.Fatalf("data = %s", all[0].Data)
	}
	users := func(rs []reportBody) string {
		var s []string
		for _, r := range rs {
			s = append(s, string(r.Room)+"/"+string(r.User))
		}
		return strings.Join(s, " ")
	}
	ms := func(d time.Duration) string { return fmt.Sprint(base.Add(d).UnixMilli()) }
	for q, want := range map[string]string{
		"?room=r2":                 "r2/carol r2/bob",
		"?user=bob":                "r2/bob r1/bob",
		"?room=r1&user=bob":        "r1/bob",
		"?from=" + ms(time.Minute): "r1/alice r2/carol r2/bob",
		"?to=" + ms(time.Minute):   "r1/bob",
		"?from=2025-03-01T12:01:00Z&to=" + ms(2*time.Minute):                               "r2/bob",
		"?from=" + url.QueryEscape("2025-03-01T13:00:00+01:00") + "&to=" + ms(time.Minute): "r1/bob",
		"?limit=2":     "r1/alice r2/carol",
		"?user=nobody": "",
	} {
		if got := users(get(q)); got != want {
			t.Errorf("reports%s = %q, want %q", q, got, want)
		}
	}
	for q, field := range map[string]string{
		"?room=a%20b":                     "room",
		"?user=":                          "user",
		"?from=yesterday":                 "from",
		"?to=-5":                          "to",
		"?from=" + ms(0) + "&to=" + ms(0): "to",
		"?limit=0":                        "limit",
		"?limit=1001":                     "limit",
		"?limit=x":                        "limit",
		"?roomz=r1":                       "roomz",
		"?room=r1&room=r2":                "room",
	} {
		e.fails(400, 1003, field, "GET", e.appPath("/reports"+q), e.admin, nil)
	}
	// A token of one room may not read the app's reports.
	e.fails(403, 2005, "", "GET", e.appPath("/reports"), e.Token(t, "boss", "r1", "admin"), nil)
}

type ingestBody struct {
	ID        string       `json:"id"`
	URL       string       `json:"url"`
	Room      ids.RoomID   `json:"room"`
	User      ids.UserID   `json:"user"`
	Stream    ids.StreamID `json:"stream"`
	ExpiresAt int64        `json:"expires_at"`
	CreatedAt int64        `json:"created_at"`
	RevokedAt int64        `json:"revoked_at"`
}

// refusals reads minirtc_media_refused_total for a reason.
func (e *env) refusals(reason string) string {
	e.t.Helper()
	res, err := e.http.Get(e.HTTP + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, `minirtc_media_refused_total{reason="`+reason+`"}`) {
			return strings.Fields(l)[1]
		}
	}
	return "0"
}

// tryPush opens an RTMP push and sends one picture; it reports an error
// instead of failing the test, for pushes that are to be refused.
func tryPush(pushURL string) error {
	u, err := url.Parse(servertest.GortmplibURL(pushURL))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := &gortmplib.Client{URL: u, Publish: true}
	if err := c.Initialize(ctx); err != nil {
		return err
	}
	defer c.Close()
	sps, pps, pic := servertest.H264Fixture()
	video := &gortmplib.Track{Codec: &codecs.H264{SPS: sps, PPS: pps}}
	w := &gortmplib.Writer{Conn: c, Tracks: []*gortmplib.Track{video}}
	if err := w.Initialize(); err != nil {
		return err
	}
	for i := range 20 {
		if err := w.WriteH264(video, time.Duration(i)*40*time.Millisecond, time.Duration(i)*40*time.Millisecond, append([][]byte{sps, pps}, pic...)); err != nil {
			return err
		}
		time.Sleep(40 * time.Millisecond)
	}
	return nil
}

func TestIngestCreatePushRevoke(t *testing.T) {
	e := start(t, nil)
	viewer := e.join("viewer", "live")
	var in ingestBody
	e.ok(http.StatusCreated, "POST", e.appPath("/ingests"), e.admin, map[string]any{"room": "live", "user": "obs", "tag": "cam", "ttl_seconds": 600}, &in)
	if in.ID == "" || in.Stream != "obs_cam" || in.Room != "live" || !strings.HasPrefix(in.URL, "rtmp://") || in.RevokedAt != 0 {
		t.Fatalf("ingest = %+v", in)
	}
	if d := time.Until(time.UnixMilli(in.ExpiresAt)); d < 595*time.Second || d > 600*time.Second {
		t.Fatalf("expires in %s", d)
	}
	var got ingestBody
	e.ok(http.StatusOK, "GET", e.appPath("/ingests/"+in.ID), e.admin, nil, &got)
	if got.ID != in.ID || got.URL != "" || got.ExpiresAt != in.ExpiresAt {
		t.Fatalf("get = %+v; want the ingest without its URL", got)
	}
	var list struct {
		Ingests []ingestBody `json:"ingests"`
	}
	e.ok(http.StatusOK, "GET", e.appPath("/ingests"), e.admin, nil, &list)
	if len(list.Ingests) != 1 || list.Ingests[0].ID != in.ID {
		t.Fatalf("list = %+v", list.Ingests)
	}

	// The URL works: the encoder joins and its stream goes live.
	e.GoLive(t, in.URL, protocol.MediaAudioVideo)
	joined := clienttest.DecodeEvent[protocol.UserJoinedEvent](t, clienttest.WaitEvent(t, viewer, protocol.EvUserJoined, nil))
	if joined.User.UserID != "obs" {
		t.Fatalf("%s joined", joined.User.UserID)
	}
	clienttest.WaitEvent(t, viewer, protocol.EvStreamPublished, nil)

	// Revoked: the push ends and the encoder leaves at once...
	var rev ingestBody
	e.ok(http.StatusOK, "DELETE", e.appPath("/ingests/"+in.ID), e.admin, nil, &rev)
	if rev.RevokedAt == 0 || rev.ID != in.ID {
		t.Fatalf("revoke answered %+v", rev)
	}
	clienttest.WaitEvent(t, viewer, protocol.EvStreamUnpublished, nil)
	left := clienttest.DecodeEvent[protocol.UserLeftEvent](t, clienttest.WaitEvent(t, viewer, protocol.EvUserLeft, nil))
	if left.UserID != "obs" || left.Reason != protocol.ReasonKicked {
		t.Fatalf("user_left = %+v", left)
	}
	// ...and pushing with the URL again is refused.
	before := e.refusals("expired")
	_ = tryPush(in.URL)
	deadline := time.Now().Add(5 * time.Second)
	for e.refusals("expired") == before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if e.refusals("expired") == before {
		t.Fatal("a push with a revoked URL was not refused")
	}
	if e.Server.Rooms().IsMember(e.App.ID, "live", "obs") {
		t.Fatal("the revoked encoder is in the room")
	}
	var again ingestBody
	e.ok(http.StatusOK, "DELETE", e.appPath("/ingests/"+in.ID), e.admin, nil, &again)
	if again.RevokedAt != rev.RevokedAt {
		t.Fatal("revoking again changed revoked_at")
	}

	// Another ingest of the same stream is not affected by the revocation.
	var second ingestBody
	e.ok(http.StatusCreated, "POST", e.appPath("/ingests"), e.admin, map[string]any{"room": "live", "user": "obs", "tag": "cam", "ttl_seconds": 900}, &second)
	e.GoLive(t, second.URL, protocol.MediaAudioVideo)

	for _, c := range []struct {
		field string
		body  map[string]any
	}{
		{"room", map[string]any{"user": "u"}},
		{"user", map[string]any{"room": "r"}},
		{"tag", map[string]any{"room": "r", "user": "u", "tag": "a b"}},
		{"ttl_seconds", map[string]any{"room": "r", "user": "u", "ttl_seconds": 0}},
		{"url", map[string]any{"room": "r", "user": "u", "url": "rtmp://x"}},
	} {
		e.fails(400, 1003, c.field, "POST", e.appPath("/ingests"), e.admin, c.body)
	}
	e.fails(404, 4004, "", "GET", e.appPath("/ingests/ingnosuch"), e.admin, nil)
	e.fails(404, 4004, "", "DELETE", e.appPath("/ingests/ingnosuch"), e.admin, nil)
	// Another app cannot see or revoke it.
	var other appBody
	e.ok(http.StatusCreated, "POST", "/apps", operatorKey, map[string]any{"name": "other"}, &other)
	e.fails(404, 4004, "", "GET", "/apps/"+string(other.ID)+"/ingests/"+in.ID, mintFor(t, other, "boss", "", "admin"), nil)
	e.fails(404, 4004, "", "DELETE", "/apps/"+string(other.ID)+"/ingests/"+second.ID, operatorKey, nil)
}
