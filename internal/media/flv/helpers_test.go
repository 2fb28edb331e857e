package flv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/pkg/ids"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKey is the stream the fake admission lets play.
var testKey = media.Key{App: "a", Room: "r", Stream: "u_main"}

// fakeAdmission admits every push as user "u" of /a/r/{stream}; it admits a
// play of /a/r/{stream} when the query has ok=1 (a stand-in for a valid
// signature), refuses it as a bad signature otherwise, and refuses anything
// outside room a/r as not live.
type fakeAdmission struct{}

func (fakeAdmission) AdmitPush(_ context.Context, t media.Target) (media.PushTicket, error) {
	k, ok := roomAR(t.Path)
	if !ok {
		return media.PushTicket{}, media.Refuse(media.ReasonMalformed, "test pushes go to /a/r/...")
	}
	return media.PushTicket{Key: k, User: "u", Video: t.Query.Get("novideo") == "", Audio: t.Query.Get("noaudio") == ""}, nil
}

func (fakeAdmission) AdmitPlay(_ context.Context, t media.Target) (media.PlayTicket, error) {
	k, ok := roomAR(t.Path)
	if !ok {
		return media.PlayTicket{}, media.Refuse(media.ReasonNotLive, "no such stream")
	}
	if t.Query.Get("ok") != "1" {
		return media.PlayTicket{}, media.Refuse(media.ReasonBadSignature, "not signed")
	}
	return media.PlayTicket{Key: k, Viewer: ids.UserID(t.Query.Get("viewer"))}, nil
}

func roomAR(path string) (media.Key, bool) {
	s, ok := strings.CutPrefix(path, "/a/r/")
	if !ok || s == "" || strings.Contains(s, "/") {
		return media.Key{}, false
	}
	return media.Key{App: "a", Room: "r", Stream: ids.StreamID(s)}, true
}

type fakeHooks struct {
	mu    sync.Mutex
	live  map[media.Key]media.Info
	ended []media.Key
}

func (h *fakeHooks) Live(k media.Key, _ ids.UserID, info media.Info) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.live == nil {
		h.live = map[media.Key]media.Info{}
	}
	h.live[k] = info
}

func (h *fakeHooks) Ended(k media.Key, _ ids.UserID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = append(h.ended, k)
}

// logBuffer collects log output; handler goroutines may log after a test
// has returned, which t.Log would not allow.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is a hub with an HTTP-FLV server in front of it.
type env struct {
	hub  *media.Hub
	srv  *httptest.Server
	logs *logBuffer
}

func newEnv(t *testing.T, lim media.Limits, opts Options) *env {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hub, err := media.NewHub(lim, media.Options{Admission: fakeAdmission{}, Hooks: &fakeHooks{}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = log
	}
	e := &env{hub: hub, srv: httptest.NewServer(New(hub, opts)), logs: logs}
	t.Cleanup(func() {
		hub.Shutdown() // players get EOF and their handlers return
		e.srv.Close()
		e.srv.Client().CloseIdleConnections()
	})
	return e
}

func (e *env) url(stream, query string) string {
	return e.srv.URL + "/flv/a/r/" + stream + ".flv?" + query
}

// push starts a push of /a/r/{stream}.
func (e *env) push(t *testing.T, stream, query string) *media.Publisher {
	t.Helper()
	p, err := e.hub.StartPush(context.Background(), media.Target{Path: "/a/r/" + stream, Query: parseQuery(query), Protocol: media.RTMP, Remote: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func parseQuery(q string) map[string][]string {
	out := map[string][]string{}
	for _, kv := range strings.Split(q, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = append(out[k], v)
		}
	}
	return out
}

func write(t *testing.T, p *media.Publisher, f *media.Frame, ts uint32) {
	t.Helper()
	if err := p.WriteFrame(f, ts); err != nil {
		t.Fatalf("WriteFrame(%s config=%v ts=%d): %v", f.Kind, f.Config, ts, err)
	}
}

// srcFrame is one frame of testdata/testsrc.flv: 2 s of ffmpeg's testsrc,
// 160x120 H.264 constrained baseline at 25 fps with a keyframe every second,
// and a 440 Hz tone in AAC-LC 48 kHz mono.
type srcFrame struct {
	Body
	TS uint32
}

var testsrc = sync.OnceValues(func() ([]srcFrame, error) {
	data, err := os.ReadFile("testdata/testsrc.flv")
	if err != nil {
		return nil, err
	}
	d := NewDemuxer(bytes.NewReader(data), 0)
	var out []srcFrame
	for {
		tag, err := d.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := ParseBody(tag.Type, tag.Body)
		if errors.Is(err, ErrNoMedia) {
			continue
		}
		if err != nil {
			return nil, err
		}
		b.Payload = bytes.Clone(b.Payload) // the demuxer reuses its buffer
		out = append(out, srcFrame{b, tag.Timestamp})
	}
})

func loadTestsrc(t testing.TB) []srcFrame {
	t.Helper()
	fs, err := testsrc()
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// srcConfigs returns the AVC and AAC configs of testsrc.
func srcConfigs(t testing.TB) (vcfg, acfg []byte) {
	for _, f := range loadTestsrc(t) {
		switch {
		case f.Config && f.Kind == media.Video:
			vcfg = f.Payload
		case f.Config && f.Kind == media.Audio:
			acfg = f.Payload
		}
	}
	if vcfg == nil || acfg == nil {
		t.Fatal("testsrc.flv has no configs")
	}
	return vcfg, acfg
}

// Synthetic frames: payloads carry a marker so tests can tell them apart.
func vconfig(t testing.TB) *media.Frame {
	v, _ := srcConfigs(t)
	return &media.Frame{Kind: media.Video, Codec: media.H264, Config: true, Payload: v}
}

func aconfig() *media.Frame {
	return &media.Frame{Kind: media.Audio, Codec: media.AAC, Config: true, Payload: []byte{0x11, 0x90}} // 48 kHz mono
}

func vframe(key bool, marker uint32, size int) *media.Frame {
	p := make([]byte, max(size, 9))
	binary.BigEndian.PutUint32(p, uint32(len(p)-4))
	p[4] = 0x41 // non-IDR slice
	if key {
		p[4] = 0x65
	}
	binary.BigEndian.PutUint32(p[5:], marker)
	return &media.Frame{Kind: media.Video, Codec: media.H264, Key: key, Payload: p}
}

func aframe(marker uint32) *media.Frame {
	p := make([]byte, 8)
	binary.BigEndian.PutUint32(p, marker)
	return &media.Frame{Kind: media.Audio, Codec: media.AAC, Payload: p}
}

// marker reads back the marker of a synthetic frame's payload.
func marker(b Body) uint32 {
	if b.Kind == media.Video {
		return binary.BigEndian.Uint32(b.Payload[5:])
	}
	return binary.BigEndian.Uint32(b.Payload)
}

// openPlay GETs an FLV URL and checks for 200.
func openPlay(t *testing.T, url string) (*http.Response, *Demuxer) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return resp, NewDemuxer(resp.Body, 0)
}

// nextMedia returns the next audio/video tag, skipping script tags.
func nextMedia(t *testing.T, d *Demuxer) (DemuxTag, Body) {
	t.Helper()
	for {
		tag, err := d.Next()
		if err != nil {
			t.Fatalf("reading a tag: %v", err)
		}
		b, err := ParseBody(tag.Type, tag.Body)
		if errors.Is(err, ErrNoMedia) {
			continue
		}
		if err != nil {
			t.Fatalf("tag type %d: %v", tag.Type, err)
		}
		return tag, b
	}
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// flvReaders is the number of FLV players of testKey's stream.
func flvReaders(h *media.Hub) int {
	st := h.Stats(testKey.App, testKey.Room, testKey.Stream)
	if len(st) == 0 {
		return 0
	}
	return st[0].Readers[media.FLV]
}

// amf0 decodes the AMF0 values the muxer writes (enough to check Meta).
func amf0(b []byte) (any, []byte, bool) {
	if len(b) < 1 {
		return nil, nil, false
	}
	switch b[0] {
	case amfTypeNumber:
		if len(b) < 9 {
			return nil, nil, false
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b[1:])), b[9:], true
	case amfTypeBool:
		if len(b) < 2 {
			return nil, nil, false
		}
		return b[1] != 0, b[2:], true
	case amfTypeString:
		s, rest, ok := amfKey(b[1:])
		return s, rest, ok
	case amfTypeECMAArray:
		if len(b) < 5 {
			return nil, nil, false
		}
		m := map[string]any{}
		rest := b[5:]
		for {
			if len(rest) >= 3 && rest[0] == 0 && rest[1] == 0 && rest[2] == amfTypeObjectEnd {
				return m, rest[3:], true
			}
			k, r, ok := amfKey(rest)
			if !ok {
				return nil, nil, false
			}
			v, r, ok := amf0(r)
			if !ok {
				return nil, nil, false
			}
			m[k], rest = v, r
		}
	}
	return nil, nil, false
}

func amfKey(b []byte) (string, []byte, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}

func testInfo() media.Info {
	return media.Info{Video: &media.VideoInfo{Codec: media.H264, Width: 160, Height: 120, FPS: 25},
		Audio: &media.AudioInfo{Codec: media.AAC, SampleRate: 48000, Channels: 1}}
}
