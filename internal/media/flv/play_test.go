package flv

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/media"
)

func TestClientLeavingReleasesReader(t *testing.T) {
	e := newEnv(t, media.Limits{}, Options{})
	startLive(t, e)
	resp, d := openPlay(t, e.url("u_main", "ok=1&viewer=v1"))
	expectTags(t, d, wantTag{media.Video, true, false, 0, 0})
	if n := flvReaders(e.hub); n != 1 {
		t.Fatalf("%d readers", n)
	}
	// The stream is idle now: only the read side can tell the client left.
	resp.Body.Close()
	eventually(t, "the reader to be released", func() bool { return flvReaders(e.hub) == 0 })
	eventually(t, "the end to be logged", func() bool { return strings.Contains(e.logs.String(), "reason=client_gone") })
	if logs := e.logs.String(); !strings.Contains(logs, "viewer=v1") || !strings.Contains(logs, "bytes=") || !strings.Contains(logs, "dropped=0") {
		t.Fatalf("play-ended line lacks fields:\n%s", logs)
	}
}

func TestStreamEndEndsPlay(t *testing.T) {
	e := newEnv(t, media.Limits{}, Options{})
	p := startLive(t, e)
	_, d := openPlay(t, e.url("u_main", "ok=1"))
	expectTags(t, d, wantTag{media.Video, true, false, 0, 0}, wantTag{media.Audio, true, false, 0, 0},
		wantTag{media.Video, false, true, 1, 0}, wantTag{media.Audio, false, false, 2, 10}, wantTag{media.Video, false, false, 3, 40})
	write(t, p, aframe(4), 60)
	e.hub.Close(testKey)
	// What was queued before the end still arrives, then a clean EOF.
	expectTags(t, d, wantTag{media.Audio, false, false, 4, 60})
	if tag, err := d.Next(); err != io.EOF {
		t.Fatalf("after the end: %+v, %v", tag, err)
	}
	eventually(t, "the end to be logged", func() bool { return strings.Contains(e.logs.String(), "reason=stream_ended") })
}

func TestCloseViewer(t *testing.T) {
	e := newEnv(t, media.Limits{}, Options{})
	p := startLive(t, e)
	_, d1 := openPlay(t, e.url("u_main", "ok=1&viewer=v1"))
	_, d2 := openPlay(t, e.url("u_main", "ok=1&viewer=v2"))
	e.hub.CloseViewer(media.Key{App: "a", Room: "r"}, "v1")
	write(t, p, aframe(4), 60)
	for {
		if _, err := d1.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	expectTags(t, d2, wantTag{media.Video, true, false, 0, 0}, wantTag{media.Audio, true, false, 0, 0},
		wantTag{media.Video, false, true, 1, 0}, wantTag{media.Audio, false, false, 2, 10},
		wantTag{media.Video, false, false, 3, 40}, wantTag{media.Audio, false, false, 4, 60})
}

// TestStalledClient: a player that connects and never reads fills its
// socket; it must not delay the publisher or a healthy player, its queue
// overflows (counted drops), and the write timeout disconnects it.
func TestStalledClient(t *testing.T) {
	const writeTimeout = 3 * time.Second
	e := newEnv(t, media.Limits{GOPCacheBytes: 1 << 20, MaxFrameBytes: 256 << 10, ReaderQueueBytes: 6 << 20,
		WriteTimeout: writeTimeout}, Options{})
	p := startLive(t, e)

	// A small receive window, so that the server's socket fills quickly.
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	stalled, err := dialer.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	fmt.Fprintf(stalled, "GET /flv/a/r/u_main.flv?ok=1&viewer=stalled HTTP/1.1\r\nHost: x\r\n\r\n")
	eventually(t, "the stalled player to attach", func() bool { return flvReaders(e.hub) == 1 })

	_, d := openPlay(t, e.url("u_main", "ok=1&viewer=healthy"))
	expectTags(t, d, wantTag{media.Video, true, false, 0, 0}, wantTag{media.Audio, true, false, 0, 0},
		wantTag{media.Video, false, true, 1, 0}, wantTag{media.Audio, false, false, 2, 10}, wantTag{media.Video, false, false, 3, 40})

	const frames, size = 200, 100 << 10 // 20 MB: far more than socket buffers hold
	got := make(chan error, 1)
	arrived := make(chan time.Time, 1)
	go func() {
		for i := range frames {
			tag, b := nextMediaErr(d)
			if b.Kind != media.Video || marker(b) != uint32(100+i) || tag.Timestamp != uint32(80+40*i) {
				got <- fmt.Errorf("healthy player: frame %d is %s marker %d ts %d", i, b.Kind, marker(b), tag.Timestamp)
				return
			}
		}
		arrived <- time.Now()
		got <- nil
	}()
	var slowest time.Duration
	for i := range frames {
		start := time.Now()
		write(t, p, vframe(i%50 == 0, uint32(100+i), size), uint32(80+40*i))
		slowest = max(slowest, time.Since(start))
		time.Sleep(3 * time.Millisecond)
	}
	published := time.Now()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if lag := (<-arrived).Sub(published); lag > writeTimeout/3 {
		t.Errorf("the healthy player got the last frame %v after it was published", lag)
	}
	if slowest > writeTimeout/3 {
		t.Errorf("a WriteFrame took %v: the publisher waited for a player", slowest)
	}
	eventually(t, "the stalled player to time out", func() bool {
		return flvReaders(e.hub) == 1 && strings.Contains(e.logs.String(), "reason=write_timeout")
	})
	if st := e.hub.Stats("a", "r", "u_main"); len(st) != 1 || st[0].Dropped == 0 {
		t.Fatalf("stats %+v: the stalled player's overflow was not counted", st)
	}
	t.Logf("slowest WriteFrame %v", slowest)
}

func nextMediaErr(d *Demuxer) (DemuxTag, Body) {
	for {
		tag, err := d.Next()
		if err != nil {
			return DemuxTag{}, Body{Kind: media.Audio, Payload: make([]byte, 4)}
		}
		if b, err := ParseBody(tag.Type, tag.Body); err == nil {
			return tag, b
		}
	}
}

// TestHTTP2 plays over HTTP/2 (TLS), where the connection cannot be taken
// over: the handler writes through the ResponseWriter and flushes, and the
// request context tells it the client left.
func TestHTTP2(t *testing.T) {
	e := newEnv(t, media.Limits{}, Options{})
	p := startLive(t, e)
	srv := httptest.NewUnstartedServer(New(e.hub, Options{Logger: slog.New(slog.NewTextHandler(e.logs, nil))}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/flv/a/r/u_main.flv?ok=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || resp.Header.Get("Content-Type") != "video/x-flv" ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("%s %s %v", resp.Proto, resp.Status, resp.Header)
	}
	d := NewDemuxer(resp.Body, 0)
	expectTags(t, d, wantTag{media.Video, true, false, 0, 0}, wantTag{media.Audio, true, false, 0, 0},
		wantTag{media.Video, false, true, 1, 0}, wantTag{media.Audio, false, false, 2, 10}, wantTag{media.Video, false, false, 3, 40})
	write(t, p, aframe(4), 60)
	expectTags(t, d, wantTag{media.Audio, false, false, 4, 60})
	resp.Body.Close()
	eventually(t, "the HTTP/2 player to be released", func() bool { return flvReaders(e.hub) == 0 })
}

// TestHTTPSHijacked plays over HTTP/1.1 with TLS: the connection is taken
// over, and writes go through a buffer (a tls.Conn has no writev).
func TestHTTPSHijacked(t *testing.T) {
	e := newEnv(t, media.Limits{}, Options{})
	p := startLive(t, e)
	srv := httptest.NewTLSServer(New(e.hub, Options{Logger: slog.New(slog.NewTextHandler(e.logs, nil))}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/flv/a/r/u_main.flv?ok=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 1 || !resp.Close {
		t.Fatalf("%s %s %v", resp.Proto, resp.Status, resp.Header)
	}
	d := NewDemuxer(resp.Body, 0)
	expectTags(t, d, wantTag{media.Video, true, false, 0, 0}, wantTag{media.Audio, true, false, 0, 0},
		wantTag{media.Video, false, true, 1, 0}, wantTag{media.Audio, false, false, 2, 10}, wantTag{media.Video, false, false, 3, 40})
	write(t, p, vframe(true, 4, 200<<10), 80) // bigger than one TLS record
	expectTags(t, d, wantTag{media.Video, false, true, 4, 80})
	resp.Body.Close()
	eventually(t, "the HTTPS player to be released", func() bool { return flvReaders(e.hub) == 0 })
}
