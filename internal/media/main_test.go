package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/minirtc/minirtc/pkg/ids"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Test fixtures: real codec configuration records (testdata/README.md says
// how they were made) and AAC AudioSpecificConfigs.
var (
	aac48Stereo = []byte{0x11, 0x90} // AAC-LC, 48 kHz, 2 channels
	aac48Mono   = []byte{0x11, 0x88} // AAC-LC, 48 kHz, 1 channel
	aac16Mono   = []byte{0x14, 0x08} // AAC-LC, 16 kHz, 1 channel
)

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeAdmission admits everything by default: the path is
// "/{app}/{room}/{stream}", the pusher is query "user" (default "alice"),
// the declared kinds are query "kinds" ("av" by default, "a" or "v") and the
// viewer is query "viewer". A test can replace either decision.
type fakeAdmission struct {
	mu   sync.Mutex
	push func(Target) (PushTicket, error)
	play func(Target) (PlayTicket, error)
}

func keyOf(path string) Key {
	p := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for len(p) < 3 {
		p = append(p, "")
	}
	return Key{App: ids.AppID(p[0]), Room: ids.RoomID(p[1]), Stream: ids.StreamID(p[2])}
}

func (a *fakeAdmission) AdmitPush(_ context.Context, t Target) (PushTicket, error) {
	a.mu.Lock()
	f := a.push
	a.mu.Unlock()
	if f != nil {
		return f(t)
	}
	tk := PushTicket{Key: keyOf(t.Path), User: ids.UserID(t.Query.Get("user")), Video: true, Audio: true}
	if tk.User == "" {
		tk.User = "alice"
	}
	switch t.Query.Get("kinds") {
	case "a":
		tk.Video = false
	case "v":
		tk.Audio = false
	}
	return tk, nil
}

func (a *fakeAdmission) AdmitPlay(_ context.Context, t Target) (PlayTicket, error) {
	a.mu.Lock()
	f := a.play
	a.mu.Unlock()
	if f != nil {
		return f(t)
	}
	return PlayTicket{Key: keyOf(t.Path), Viewer: ids.UserID(t.Query.Get("viewer"))}, nil
}

type liveEvent struct {
	Key  Key
	User ids.UserID
	Info Info
}

// fakeHooks records the hub's calls on channels.
type fakeHooks struct {
	live  chan liveEvent
	ended chan Key
}

func newFakeHooks() *fakeHooks {
	return &fakeHooks{live: make(chan liveEvent, 64), ended: make(chan Key, 64)}
}

func (h *fakeHooks) Live(k Key, user ids.UserID, info Info) { h.live <- liveEvent{k, user, info} }
func (h *fakeHooks) Ended(k Key, _ ids.UserID)              { h.ended <- k }

// expectLive waits briefly for a Live call (hooks run synchronously from
// WriteFrame, so it is normally already there).
func (h *fakeHooks) expectLive(t *testing.T) liveEvent {
	t.Helper()
	select {
	case ev := <-h.live:
		return ev
	case <-time.After(2 * time.Second):
		t.Fatal("no Live hook")
	}
	return liveEvent{}
}

func (h *fakeHooks) expectNoLive(t *testing.T) {
	t.Helper()
	select {
	case ev := <-h.live:
		t.Fatalf("unexpected Live hook: %s", ev.Info)
	default:
	}
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// testLimits are small, so that tests hit every bound quickly.
func testLimits() Limits {
	return Limits{
		UnpublishGrace:    100 * time.Millisecond,
		LiveTimeout:       time.Second,
		StaleAfter:        2 * time.Second,
		GOPCacheDuration:  10 * time.Second,
		GOPCacheFrames:    64,
		GOPCacheBytes:     1 << 20,
		ReaderQueueFrames: 80,
		ReaderQueueBytes:  2 << 20,
		MaxFrameBytes:     256 << 10,
		MaxReaders:        100,
	}
}

type env struct {
	h     *Hub
	adm   *fakeAdmission
	hooks *fakeHooks
	clk   *clock
}

func newEnv(t *testing.T, lim Limits) *env {
	t.Helper()
	e := &env{adm: &fakeAdmission{}, hooks: newFakeHooks(), clk: &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}}
	h, err := NewHub(lim, Options{Admission: e.adm, Hooks: e.hooks, Now: e.clk.now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	t.Cleanup(h.Shutdown)
	return e
}

const testPath = "/app1/room1/alice_main"

var testKey = Key{App: "app1", Room: "room1", Stream: "alice_main"}

func target(path, query string, proto Protocol) Target {
	q, err := url.ParseQuery(query)
	if err != nil {
		panic(err)
	}
	return Target{Path: path, Query: q, Protocol: proto, Remote: "192.0.2.1:1935"}
}

// push starts a push on testPath; query may declare kinds ("kinds=a").
func (e *env) push(t *testing.T, query string) *pub {
	t.Helper()
	p, err := e.h.StartPush(context.Background(), target(testPath, query, RTMP))
	if err != nil {
		t.Fatalf("StartPush: %v", err)
	}
	return &pub{t: t, p: p}
}

func (e *env) play(t *testing.T, query string, proto Protocol) *Reader {
	t.Helper()
	r, err := e.h.StartPlay(context.Background(), target(testPath, query, proto))
	if err != nil {
		t.Fatalf("StartPlay: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// pub wraps a Publisher for tests: writes must succeed.
type pub struct {
	t *testing.T
	p *Publisher
}

func (p *pub) write(f *Frame, ts uint32) *Frame {
	p.t.Helper()
	if err := p.p.WriteFrame(f, ts); err != nil {
		p.t.Fatalf("WriteFrame(%s): %v", name(f), err)
	}
	return f
}

// Frame constructors. Media payloads start with a readable name so that
// failures print which frame went where.
func vcfg(t testing.TB, file string) *Frame {
	return &Frame{Kind: Video, Codec: H264, Config: true, Payload: testdata(t, file)}
}

func acfg(asc []byte) *Frame { return &Frame{Kind: Audio, Codec: AAC, Config: true, Payload: asc} }

func media(kind Kind, key bool, label string, size int) *Frame {
	p := make([]byte, max(size, len(label)))
	copy(p, label)
	codec := H264
	if kind == Audio {
		codec = AAC
	}
	return &Frame{Kind: kind, Codec: codec, Key: key, Payload: p}
}

func key(label string) *Frame   { return media(Video, true, label, 0) }
func inter(label string) *Frame { return media(Video, false, label, 0) }
func aud(label string) *Frame   { return media(Audio, false, label, 0) }

func name(f *Frame) string {
	switch {
	case f == nil:
		return "<nil>"
	case f.Config:
		return f.Kind.String() + "-config"
	}
	return strings.TrimRight(string(f.Payload[:min(len(f.Payload), 24)]), "\x00")
}

func names(fs []*Frame) string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = name(f)
	}
	return strings.Join(out, " ")
}

// readNow returns what r has queued, without waiting.
func readNow(t *testing.T, r *Reader) []*Frame {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fs, err := r.Read(ctx, nil)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Read: %v", err)
	}
	return fs
}

// readToEOF reads until io.EOF and returns everything read.
func readToEOF(t *testing.T, r *Reader) []*Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var all, buf []*Frame
	for {
		fs, err := r.Read(ctx, buf)
		all = append(all, fs...)
		if errors.Is(err, io.EOF) {
			return all
		}
		if err != nil {
			t.Fatalf("Read after %d frames: %v", len(all), err)
		}
		buf = fs
	}
}

// checkMonotonic fails when DTS goes backwards for a kind.
func checkMonotonic(t *testing.T, fs []*Frame) {
	t.Helper()
	last := map[Kind]int64{}
	for i, f := range fs {
		if l, ok := last[f.Kind]; ok && f.DTS < l {
			t.Errorf("frame %d (%s) DTS %d after %s DTS %d", i, name(f), f.DTS, f.Kind, l)
		}
		last[f.Kind] = f.DTS
	}
}

func mediaOnly(fs []*Frame) []*Frame {
	var out []*Frame
	for _, f := range fs {
		if !f.Config {
			out = append(out, f)
		}
	}
	return out
}

func wantNames(t *testing.T, got []*Frame, want string) {
	t.Helper()
	if g := names(got); g != want {
		t.Fatalf("frames:\n got %s\nwant %s", g, want)
	}
}

func labels(prefix string, from, to int) string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return strings.Join(out, " ")
}
