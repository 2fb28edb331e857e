package rtmp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/handshake"

	"github.com/minirtc/minirtc/internal/media"
)

var healthyN atomic.Int64

// checkHealthy pushes and plays a fresh stream on e: whatever happened
// before did not break the server.
func checkHealthy(t *testing.T, e *env) {
	t.Helper()
	stream := fmt.Sprintf("u_healthy%d", healthyN.Add(1))
	pub := e.pushTiny(t, stream)
	player := e.mustDial(t, "/a/r/"+stream+"?ok=1", false)
	got, _ := readMedia(t, player, 4)
	if !got[0].config || got[2].kind != media.Video || !got[2].key {
		t.Fatalf("healthy play of %s got %+v", stream, got[:3])
	}
	pub.Close()
	player.Close()
}

// expectClosed reads from c until the server closes it.
func expectClosed(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server did not close the connection within %s", within)
	}
}

// rawPublish dials a gortmplib publisher and returns its connection, for
// sending hand-made messages.
func (e *env) rawPublish(t *testing.T, stream string) net.Conn {
	t.Helper()
	return e.mustDial(t, "/a/r/"+stream+"?ok=1", true).NetConn()
}

func TestRefusals(t *testing.T) {
	e := newEnv(t, func(l *media.Limits, o *Options) {
		o.HandshakeTimeout = time.Second
		l.MaxFrameBytes = 256 << 10
		l.GOPCacheBytes = 1 << 20
		l.ReaderQueueBytes = 2 << 20
	})
	tiny := readFLV(t, "tiny.flv")
	// run runs a case, then checks that the server still serves a healthy push and play.
	run := func(name string, fn func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			fn(t)
			checkHealthy(t, e)
		})
	}

	run("bad query on publish", func(t *testing.T) {
		_, err := e.dial("/a/r/u_main?ok=0&sig=SECRET123", true)
		if err == nil || !strings.Contains(err.Error(), "bad_signature") {
			t.Fatalf("publish with a bad query: %v, want an onStatus error naming bad_signature", err)
		}
		line := e.waitLog(t, "rtmp: push refused", "reason=bad_signature", "path=/a/r/u_main", "sig=REDACTED")
		if strings.Contains(e.logs.String(), "SECRET123") {
			t.Errorf("the signature leaked into the log: %s", line)
		}
	})
	run("bad query on play", func(t *testing.T) {
		if _, err := e.dial("/a/r/u_main?ok=2", false); err == nil {
			t.Fatal("play with a bad query succeeded")
		}
		e.waitLog(t, "rtmp: play refused", "reason=bad_signature", "ok=2")
	})
	run("play of a stream that is not live", func(t *testing.T) {
		_, err := e.dial("/a/r/u_nobody?ok=1", false)
		if err == nil || !strings.Contains(err.Error(), "NetStream.Play.StreamNotFound") {
			t.Fatalf("play of a missing stream: %v", err)
		}
		e.waitLog(t, "rtmp: play refused", "reason=not_live", "path=/a/r/u_nobody")
	})
	run("oversized query", func(t *testing.T) {
		if _, err := e.dial("/a/r/u_main?ok=1&pad="+strings.Repeat("x", 3000), true); err == nil {
			t.Fatal("publish with a 3 kB query succeeded")
		}
		e.waitLog(t, "rtmp: push refused", "reason=malformed_url")
	})
	run("garbage bytes", func(t *testing.T) {
		c := dialRaw(t, e)
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		expectClosed(t, c, 2*time.Second)
		e.waitLog(t, "rtmp: handshake failed", "HTTP request")
	})
	run("truncated handshake", func(t *testing.T) {
		c := dialRaw(t, e)
		c.Write(append([]byte{3}, make([]byte, 700)...))
		c.Close()
		e.waitLog(t, "rtmp: handshake failed", "reason=closed_by_peer")
	})
	run("handshake never finishes", func(t *testing.T) {
		c := dialRaw(t, e)
		start := time.Now()
		expectClosed(t, c, 3*time.Second)
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Errorf("closed after %s, before the handshake timeout", d)
		}
		e.waitLog(t, "rtmp: handshake failed", "reason=timeout")
	})
	for _, tc := range []struct {
		name, stream, reason, log string
		typ                       byte
		body                      []byte
	}{
		{"MP3 audio", "u_mp3", "unsupported_codec", "unsupported codec MP3", typeAudio, []byte{0x2F, 0xFF, 0xFB, 0x90, 0x00}},
		{"Speex audio", "u_speex", "unsupported_codec", "unsupported codec Speex", typeAudio, []byte{0xB6, 1, 2, 3}},
		{"Opus in enhanced RTMP", "u_opus", "unsupported_codec", `unsupported codec \"Opus\"`, typeAudio, []byte{0x90, 'O', 'p', 'u', 's', 1}},
		{"VP6 video", "u_vp6", "unsupported_codec", "On2 VP6", typeVideo, []byte{0x14, 0, 0, 0}},
		{"AV1 in enhanced RTMP", "u_av1", "unsupported_codec", "av01", typeVideo, []byte{0x90, 'a', 'v', '0', '1', 0}},
		{"bad NAL unit lengths", "u_nal", "bad_media", "NAL unit of 4096 bytes", typeVideo, []byte{0x17, 1, 0, 0, 0, 0, 0, 0x10, 0, 0x65}},
		{"bad AAC config", "u_asc", "bad_media", "aac config", typeAudio, []byte{0xAF, 0, 0xFF}},
		{"frame over MaxFrameBytes", "u_big", "bad_media", "the limit is 262144", typeVideo, bigAU(256<<10 - 3)},
	} {
		run(tc.name, func(t *testing.T) {
			c := e.rawPublish(t, tc.stream)
			writeRaw(t, c, tiny[0].typ, 0, tiny[0].body) // the H.264 config
			writeRaw(t, c, tc.typ, 0, tc.body)
			expectClosed(t, c, 3*time.Second)
			e.waitLog(t, "rtmp: push ended", "path=/a/r/"+tc.stream, "reason="+tc.reason, tc.log)
		})
	}
	run("message longer than the limit", func(t *testing.T) {
		c := e.rawPublish(t, "u_huge")
		// A header announcing 16 MiB - 1, then nothing: refused at the header.
		c.Write(appendHeader(nil, csidVideo, 0, typeVideo, 1, 1<<24-1))
		expectClosed(t, c, 3*time.Second)
		e.waitLog(t, "rtmp: push ended", "path=/a/r/u_huge", "a message of 16777215 bytes; the limit is 262152")
	})
	run("absurd chunk size", func(t *testing.T) {
		c := e.rawPublish(t, "u_chunk")
		c.Write(appendMessage(nil, 2, 0, typeSetChunkSize, 0, binary.BigEndian.AppendUint32(nil, 0x7FFFFFFF), 65536))
		// Within the limit, announced, then the client goes: nothing of the
		// announced size is allocated up front (TestChunkReaderBoundsMemory).
		c.Write(appendHeader(nil, csidVideo, 0, typeVideo, 1, 200<<10))
		c.Write([]byte{0x17, 1})
		c.Close()
		e.waitLog(t, "rtmp: push ended", "path=/a/r/u_chunk", "reason=closed_by_peer")
	})
	run("chunk size zero", func(t *testing.T) {
		c := e.rawPublish(t, "u_zero")
		c.Write(appendMessage(nil, 2, 0, typeSetChunkSize, 0, []byte{0, 0, 0, 0}, 65536))
		expectClosed(t, c, 3*time.Second)
		e.waitLog(t, "rtmp: push ended", "path=/a/r/u_zero", "chunk size 0")
	})
	run("RTMPE", func(t *testing.T) {
		c := dialRaw(t, e)
		c.Write(append([]byte{6}, make([]byte, 1536)...))
		expectClosed(t, c, 3*time.Second)
		e.waitLog(t, "rtmp: handshake failed", "RTMPE")
	})
	waitFor(t, 5*time.Second, "all connections to close", func() bool { return e.srv.Conns() == 0 })
}

// bigAU is a video message body with one NAL unit of n bytes.
func bigAU(n int) []byte {
	b := []byte{0x27, 1, 0, 0, 0}
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	return append(b, bytes.Repeat([]byte{0x41}, n)...)
}

func dialRaw(t *testing.T, e *env) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialHandshaken is a raw connection that completed the RTMP handshake.
func dialHandshaken(t *testing.T, e *env) net.Conn {
	c := dialRaw(t, e)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := handshake.DoClient(c, false, false); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Time{})
	return c
}

func TestMaxConns(t *testing.T) {
	e := newEnv(t, func(_ *media.Limits, o *Options) { o.MaxConns = 2 })
	a, b := dialHandshaken(t, e), dialHandshaken(t, e)
	waitFor(t, 5*time.Second, "two connections", func() bool { return e.srv.Conns() == 2 })
	c := dialRaw(t, e)
	expectClosed(t, c, 2*time.Second)
	e.waitLog(t, "rtmp: connection refused", "reason=limit", "max_conns=2")
	a.Close()
	b.Close()
	waitFor(t, 5*time.Second, "the connections to close", func() bool { return e.srv.Conns() == 0 })
	checkHealthy(t, e)
}
