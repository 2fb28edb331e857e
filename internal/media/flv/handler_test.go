package flv

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/minirtc/minirtc/internal/media"
)

// startLive pushes configs and a first GOP (keyframe 1 at 0, audio 2 at 10,
// inter 3 at 40) so that u_main is live and playable.
func startLive(t *testing.T, e *env) *media.Publisher {
	p := e.push(t, "u_main", "")
	write(t, p, vconfig(t), 0)
	write(t, p, aconfig(), 0)
	write(t, p, vframe(true, 1, 100), 0)
	write(t, p, aframe(2), 10)
	write(t, p, vframe(false, 3, 50), 40)
	return p
}

type wantTag struct {
	kind   media.Kind
	config bool
	key    bool
	marker uint32
	ts     uint32
}

func expectTags(t *testing.T, d *Demuxer, want ...wantTag) {
	t.Helper()
	for i, w := range want {
		tag, b := nextMedia(t, d)
		if b.Kind != w.kind || b.Config != w.config || b.Key != w.key || tag.Timestamp != w.ts ||
			(!w.config && marker(b) != w.marker) {
			got := wantTag{b.Kind, b.Config, b.Key, 0, tag.Timestamp}
			if !b.Config {
				got.marker = marker(b)
			}
			t.Fatalf("tag %d: got %+v, want %+v", i, got, w)
		}
	}
}

func TestPlayConfigsGOPThenLive(t *testing.T) {
	e := newEnv(t, media.Limits{}, Options{})
	p := startLive(t, e)
	resp, d := openPlay(t, e.url("u_main", "ok=1&viewer=v1"))
	for k, v := range map[string]string{"Content-Type": "video/x-flv", "Cache-Control": "no-cache",
		"Access-Control-Allow-Origin": "*"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if resp.ContentLength != -1 || !resp.Close || resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
		t.Errorf("content length %d, close %v, proto %s", resp.ContentLength, resp.Close, resp.Proto)
	}
	h, err := d.ReadHeader()
	if err != nil || !h.Audio || !h.Video {
		t.Fatalf("header %+v %v", h, err)
	}
	meta, err := d.Next()
	if err != nil || meta.Type != TagScript {
		t.Fatalf("first tag %+v %v", meta, err)
	}
	_, rest, _ := amf0(meta.Body)
	m, _, _ := amf0(rest)
	if mm := m.(map[string]any); mm["width"] != 160.0 || mm["height"] != 120.0 || mm["audiosamplerate"] != 48000.0 {
		t.Fatalf("onMetaData %v", mm)
	}
	expectTags(t, d,
		wantTag{media.Video, true, false, 0, 0},
		wantTag{media.Audio, true, false, 0, 0},
		wantTag{media.Video, false, true, 1, 0},
		wantTag{media.Audio, false, false, 2, 10},
		wantTag{media.Video, false, false, 3, 40},
	)
	write(t, p, aframe(4), 60)
	write(t, p, vframe(true, 5, 100), 80)
	write(t, p, vframe(false, 6, 100), 120)
	expectTags(t, d,
		wantTag{media.Audio, false, false, 4, 60},
		wantTag{media.Video, false, true, 5, 80},
		wantTag{media.Video, false, false, 6, 120},
	)
	if n := flvReaders(e.hub); n != 1 {
		t.Fatalf("%d FLV readers", n)
	}
}

func TestPlayAudioOnly(t *testing.T) {
	e := newEnv(t, media.Limits{}, Options{})
	p := e.push(t, "u_main", "novideo=1")
	write(t, p, aconfig(), 0)
	write(t, p, aframe(1), 0)
	_, d := openPlay(t, e.url("u_main", "ok=1"))
	h, err := d.ReadHeader()
	if err != nil || !h.Audio || h.Video {
		t.Fatalf("header %+v %v: an audio-only stream must not announce video (flv.js would wait for it)", h, err)
	}
	expectTags(t, d, wantTag{media.Audio, true, false, 0, 0})
	write(t, p, aframe(2), 21)
	expectTags(t, d, wantTag{media.Audio, false, false, 2, 21})
}

// TestPlayTimestamps plays a stream whose clock passed 2^24 ms (the
// extended timestamp byte) and then 2^32 ms (the FLV timestamp wraps).
func TestPlayTimestamps(t *testing.T) {
	e := newEnv(t, media.Limits{}, Options{})
	p := startLive(t, e)
	// Move the clock in steps the hub takes at face value (no rebasing).
	advance := func(from, to uint64) {
		for ts := from; ts < to; ts += media.JumpLimit {
			write(t, p, aframe(0), uint32(ts))
		}
		write(t, p, aframe(0), uint32(to))
	}
	const past24 = 1<<24 + 1234
	advance(40, past24)
	write(t, p, vframe(true, 10, 100), past24)
	resp, d := openPlay(t, e.url("u_main", "ok=1"))
	// The configs are stamped at the GOP start, where playback begins.
	expectTags(t, d,
		wantTag{media.Video, true, false, 0, past24},
		wantTag{media.Audio, true, false, 0, past24},
		wantTag{media.Video, false, true, 10, past24},
	)
	write(t, p, vframe(false, 11, 100), past24+40)
	expectTags(t, d, wantTag{media.Video, false, false, 11, past24 + 40})
	resp.Body.Close()
	eventually(t, "the first player to leave", func() bool { return flvReaders(e.hub) == 0 })

	const wrap = 1 << 32
	advance(past24+40, wrap-40)
	write(t, p, vframe(true, 20, 100), wrap-40)
	_, d = openPlay(t, e.url("u_main", "ok=1"))
	expectTags(t, d,
		wantTag{media.Video, true, false, 0, wrap - 40},
		wantTag{media.Audio, true, false, 0, wrap - 40},
		wantTag{media.Video, false, true, 20, wrap - 40},
	)
	write(t, p, aframe(21), wrap-20) // the publisher's 32-bit clock wraps as well
	write(t, p, vframe(false, 22, 100), 0)
	write(t, p, aframe(23), 1)
	write(t, p, vframe(false, 24, 100), 40)
	expectTags(t, d,
		wantTag{media.Audio, false, false, 21, wrap - 20},
		wantTag{media.Video, false, false, 22, 0},
		wantTag{media.Audio, false, false, 23, 1},
		wantTag{media.Video, false, false, 24, 40},
	)
}

func TestRefusals(t *testing.T) {
	e := newEnv(t, media.Limits{}, Options{})
	startLive(t, e)
	cases := []struct {
		name, method, url string
		status            int
		reason            string
	}{
		{"bad signature", "GET", e.url("u_main", "ok=0&sig=x"), 401, "bad_signature"},
		{"bad signature, HEAD", "HEAD", e.url("u_main", "ok=0"), 401, ""},
		{"outside the room", "GET", e.srv.URL + "/flv/a/other/u_main.flv?ok=1", 404, "not_live"},
		{"nothing pushed", "GET", e.url("u_x", "ok=1"), 404, "not_live"},
		{"bad query", "GET", e.url("u_main", "ok=1&%zz"), 400, "malformed_url"},
		{"huge query", "GET", e.url("u_main", "ok=1&pad="+strings.Repeat("x", 3000)), 400, "malformed_url"},
		{"no .flv", "GET", e.srv.URL + "/flv/a/r/u_main?ok=1", 404, "not_found"},
		{"two segments", "GET", e.srv.URL + "/flv/a/u_main.flv?ok=1", 404, "not_found"},
		{"four segments", "GET", e.srv.URL + "/flv/a/r/s/u_main.flv?ok=1", 404, "not_found"},
		{"empty segment", "GET", e.srv.URL + "/flv/a//u_main.flv?ok=1", 404, "not_found"},
		{"no prefix", "GET", e.srv.URL + "/a/r/u_main.flv?ok=1", 404, "not_found"},
		{"POST", "POST", e.url("u_main", "ok=1"), 405, "method_not_allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, c.url, nil)
			req.Header.Set("Origin", "https://app.example")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, c.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Expose-Headers") == "" {
				t.Errorf("CORS headers missing: %v", resp.Header)
			}
			if c.method == "HEAD" {
				return
			}
			var eb struct {
				Error struct{ Reason, Message string }
			}
			if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Reason != c.reason || eb.Error.Message == "" {
				t.Fatalf("body %s (%v), want reason %s", body, err, c.reason)
			}
		})
	}
	if n := flvReaders(e.hub); n != 0 {
		t.Fatalf("refusals left %d readers", n)
	}
	logs := e.logs.String()
	if strings.Count(logs, "flv: play refused") != len(cases) || !strings.Contains(logs, "reason=bad_signature") {
		t.Fatalf("want one log line per refusal:\n%s", logs)
	}
	if strings.Contains(logs, "sig=") {
		t.Fatalf("a signature reached the logs:\n%s", logs)
	}
}

func TestPreflight(t *testing.T) {
	e := newEnv(t, media.Limits{}, Options{})
	req, _ := http.NewRequest("OPTIONS", e.url("u_main", "ok=1"), nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "range, x-player")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, v := range map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
		"Access-Control-Allow-Headers": "range, x-player", "Access-Control-Max-Age": "600"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}

func TestAllowOrigins(t *testing.T) {
	e := newEnv(t, media.Limits{}, Options{AllowOrigins: []string{"https://app.example", "https://other.example/"}})
	for origin, want := range map[string]string{
		"https://app.example":   "https://app.example",
		"https://other.example": "https://other.example",
		"https://evil.example":  "",
		"":                      "",
	} {
		req, _ := http.NewRequest("GET", e.url("u_main", "ok=0"), nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("origin %q: allowed %q, want %q", origin, got, want)
		}
		if resp.Header.Get("Vary") != "Origin" {
			t.Errorf("origin %q: Vary %q", origin, resp.Header.Get("Vary"))
		}
	}
}

func TestHead(t *testing.T) {
	e := newEnv(t, media.Limits{}, Options{})
	startLive(t, e)
	resp, err := http.Head(e.url("u_main", "ok=1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/x-flv" {
		t.Fatalf("%s %v", resp.Status, resp.Header)
	}
	eventually(t, "HEAD to release its reader", func() bool { return flvReaders(e.hub) == 0 })
}
