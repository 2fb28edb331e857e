package rtmp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
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

// testAdmission admits "/a/r/{stream}" with ok=1 in the query; the user is
// the stream id up to its first '_'.
type testAdmission struct{}

func admitKey(t media.Target) (media.Key, ids.UserID, error) {
	parts := strings.Split(strings.TrimPrefix(t.Path, "/"), "/")
	if len(parts) != 3 || parts[0] != "a" || parts[1] != "r" || t.Query.Get("ok") != "1" {
		return media.Key{}, "", media.Refuse(media.ReasonBadSignature, "test admission refuses "+t.Path)
	}
	user, _, _ := strings.Cut(parts[2], "_")
	return media.Key{App: "a", Room: "r", Stream: ids.StreamID(parts[2])}, ids.UserID(user), nil
}

func (testAdmission) AdmitPush(_ context.Context, t media.Target) (media.PushTicket, error) {
	k, u, err := admitKey(t)
	return media.PushTicket{Key: k, User: u, Video: t.Query.Get("novideo") == "", Audio: t.Query.Get("noaudio") == ""}, err
}

func (testAdmission) AdmitPlay(_ context.Context, t media.Target) (media.PlayTicket, error) {
	k, _, err := admitKey(t)
	return media.PlayTicket{Key: k, Viewer: "v"}, err
}

type liveEvent struct {
	key  media.Key
	info media.Info
}

// testHooks records what the hub announced.
type testHooks struct {
	mu    sync.Mutex
	live  []liveEvent
	ended []media.Key
	ch    chan struct{}
}

func (h *testHooks) Live(k media.Key, _ ids.UserID, info media.Info) {
	h.mu.Lock()
	h.live = append(h.live, liveEvent{k, info})
	h.mu.Unlock()
	h.poke()
}

func (h *testHooks) Ended(k media.Key, _ ids.UserID) {
	h.mu.Lock()
	h.ended = append(h.ended, k)
	h.mu.Unlock()
	h.poke()
}

func (h *testHooks) poke() {
	select {
	case h.ch <- struct{}{}:
	default:
	}
}

// waitLive waits for a Live call for stream and returns its info.
func (h *testHooks) waitLive(t *testing.T, stream string) media.Info {
	t.Helper()
	var info media.Info
	waitFor(t, 10*time.Second, "Hooks.Live for "+stream, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, e := range h.live {
			if string(e.key.Stream) == stream {
				info = e.info
				return true
			}
		}
		return false
	})
	return info
}

func (h *testHooks) endedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ended)
}

// syncBuffer collects log lines from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	hub   *media.Hub
	srv   *Server
	hooks *testHooks
	logs  *syncBuffer
	addr  string
}

// newEnv starts a hub and an RTMP server on 127.0.0.1:0. tweak may change
// the limits and options.
func newEnv(t *testing.T, tweak func(*media.Limits, *Options)) *env {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lim := media.Limits{UnpublishGrace: 300 * time.Millisecond, WriteTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second}
	opts := Options{Logger: log, HandshakeTimeout: 3 * time.Second}
	if tweak != nil {
		tweak(&lim, &opts)
	}
	hooks := &testHooks{ch: make(chan struct{}, 1)}
	hub, err := media.NewHub(lim, media.Options{Admission: testAdmission{}, Hooks: hooks, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{hub: hub, srv: New(hub, opts), hooks: hooks, logs: logs, addr: ln.Addr().String()}
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		hub.Shutdown()
		if t.Failed() || os.Getenv("RTMP_TEST_LOG") != "" {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return e
}

// url is the conventional URL of a stream path with its query.
func (e *env) url(pathQuery string) string { return "rtmp://" + e.addr + pathQuery }

// waitLog waits for a log line containing all of parts.
func (e *env) waitLog(t *testing.T, parts ...string) string {
	t.Helper()
	var line string
	waitFor(t, 10*time.Second, fmt.Sprintf("a log line with %q", parts), func() bool {
		for _, l := range strings.Split(e.logs.String(), "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(l, p)
			}
			if ok {
				line = l
				return true
			}
		}
		return false
	})
	return line
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// flvTag is one tag of an FLV file.
type flvTag struct {
	typ  byte
	ts   uint32
	body []byte
}

// readFLV reads the tags of testdata/name (made with ffmpeg, see
// testdata/README.md).
func readFLV(t testing.TB, name string) []flvTag {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 13 || string(b[:3]) != "FLV" {
		t.Fatalf("%s is not FLV", name)
	}
	var tags []flvTag
	for p := b[binary.BigEndian.Uint32(b[5:9])+4:]; len(p) >= 11; {
		n := int(p[1])<<16 | int(p[2])<<8 | int(p[3])
		ts := uint32(p[4])<<16 | uint32(p[5])<<8 | uint32(p[6]) | uint32(p[7])<<24
		if len(p) < 11+n+4 {
			t.Fatalf("%s: truncated tag", name)
		}
		if p[0] == typeAudio || p[0] == typeVideo {
			tags = append(tags, flvTag{typ: p[0], ts: ts, body: p[11 : 11+n]})
		}
		p = p[11+n+4:]
	}
	return tags
}

// tinyFrames is testdata/tiny.flv as hub frames with their timestamps.
func tinyFrames(t testing.TB) (frames []*media.Frame, ts []uint32) {
	for _, tag := range readFLV(t, "tiny.flv") {
		f, err := frameFromMessage(tag.typ, tag.body)
		if err != nil {
			t.Fatalf("tiny.flv tag at %d ms: %v", tag.ts, err)
		}
		if f == nil {
			continue // the end-of-sequence tag
		}
		frames, ts = append(frames, f), append(ts, tag.ts)
	}
	return frames, ts
}
