package rtmp

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/media/flv"
	"github.com/minirtc/minirtc/pkg/ids"
)

// acceptAll admits every push and play.
type acceptAll struct{}

func (acceptAll) AdmitPush(context.Context, media.Target) (media.PushTicket, error) {
	return media.PushTicket{Key: media.Key{App: "a", Room: "r", Stream: "u_main"}, User: "u", Video: true, Audio: true}, nil
}

func (acceptAll) AdmitPlay(context.Context, media.Target) (media.PlayTicket, error) {
	return media.PlayTicket{Key: media.Key{App: "a", Room: "r", Stream: "u_main"}}, nil
}

type noHooks struct{}

func (noHooks) Live(media.Key, ids.UserID, media.Info) {}
func (noHooks) Ended(media.Key, ids.UserID)            {}

// memConn is a connection whose input is a byte slice and whose output is
// thrown away; deadlines do nothing (the input never blocks).
type memConn struct{ r io.Reader }

func (c *memConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1935} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 40000} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// clientHandshake is a plain C0+C1+C2 (the server does not check C2).
var clientHandshake = append([]byte{3}, make([]byte, 2*1536)...)

// FuzzIngest feeds arbitrary bytes as everything a client sends after the
// handshake (connect, createStream, publish, media...) through the whole
// connection handler into a hub that admits anything. No panics, and the
// chunk reader never holds more than its bound.
func FuzzIngest(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzIngest (see fuzzseeds_test.go).
	f.Fuzz(func(t *testing.T, data []byte) {
		sess := ingestBytes(t, data)
		if cr := sess.cr; cr != nil && cr.peak > cr.maxPending {
			t.Fatalf("the chunk reader held %d bytes; its bound is %d", cr.peak, cr.maxPending)
		}
	})
}

// ingestBytes runs one connection whose client sends a handshake and then
// data, against a fresh hub that admits anything.
func ingestBytes(t *testing.T, data []byte) *session {
	lim := media.Limits{MaxFrameBytes: 64 << 10, GOPCacheBytes: 256 << 10, ReaderQueueBytes: 512 << 10}
	hub, err := media.NewHub(lim, media.Options{Admission: acceptAll{}, Hooks: noHooks{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown()
	srv := New(hub, Options{Logger: slog.New(slog.DiscardHandler)})
	defer srv.cancel()
	conn := &memConn{r: io.MultiReader(bytes.NewReader(clientHandshake), bytes.NewReader(data))}
	sess := &session{srv: srv, conn: conn, remote: "127.0.0.2:40000", start: time.Now()}
	sess.logEnd(sess.run())
	return sess
}

// TestIngestSeeds: the captured sessions in the corpus get through the
// negotiation and deliver their frames, so the fuzzer starts from media.
func TestIngestSeeds(t *testing.T) {
	for _, name := range []string{"gortmplib_session", "ffmpeg_session"} {
		b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzIngest", name))
		if err != nil {
			t.Fatal(err)
		}
		q := strings.TrimSuffix(strings.TrimPrefix(string(b), "go test fuzz v1\n[]byte("), ")\n")
		data, err := strconv.Unquote(q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sess := ingestBytes(t, []byte(data)); sess.frames < 20 || sess.stage != "publish" {
			t.Errorf("%s: stage %s, %d frames", name, sess.stage, sess.frames)
		}
	}
}

// FuzzChunks reads arbitrary bytes as a chunk stream: messages are never
// longer than the limit and unfinished ones never hold more than the bound.
func FuzzChunks(f *testing.F) {
	f.Add(appendMessage(nil, 6, 40, typeVideo, 1, nal(300), 128))
	f.Add(append(appendMessage(nil, 2, 0, typeSetChunkSize, 0, []byte{0x7F, 0xFF, 0xFF, 0xFF}, 128), appendHeader(nil, 6, 0, typeVideo, 1, 60000)...))
	f.Add([]byte{0x04, 0, 0, 1, 0, 0, 2, 8, 1, 0, 0, 0, 0xAF, 1, 0xC4, 0xAF, 1, 0x84, 0, 0, 5, 0xAF, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 64 << 10
		cr := newChunkReader(bytes.NewReader(data), limit)
		for {
			m, err := cr.next()
			if err != nil {
				break
			}
			if len(m.body) > limit {
				t.Fatalf("a message of %d bytes passed the limit", len(m.body))
			}
		}
		if cr.peak > cr.maxPending {
			t.Fatalf("held %d bytes; the bound is %d", cr.peak, cr.maxPending)
		}
	})
}

// FuzzFrameFromMessage checks the body parser on its own, and that a frame
// written back as the egresses write it (flv.AppendBody) parses to the
// same frame.
func FuzzFrameFromMessage(f *testing.F) {
	for _, tag := range readFLV(f, "tiny.flv") {
		f.Add(tag.typ, tag.body)
	}
	f.Add(byte(typeVideo), append([]byte{0x91, 'h', 'v', 'c', '1', 0xFF, 0xFF, 0xF0}, nal(5)...))
	f.Add(byte(typeVideo), append([]byte{0x1C, 1, 0x80, 0, 0}, nal(5)...))
	f.Add(byte(typeAudio), []byte{0x90, 'm', 'p', '4', 'a', 0x11, 0x90})
	f.Add(byte(typeAudio), []byte{0x2F, 0xFF})
	f.Fuzz(func(t *testing.T, typ byte, body []byte) {
		fr, err := frameFromMessage(typ, body)
		if err != nil || fr == nil {
			return
		}
		if len(fr.Payload) > len(body) {
			t.Fatalf("payload of %d bytes from a body of %d", len(fr.Payload), len(body))
		}
		again, err := frameFromMessage(flv.TagType(fr), flv.AppendBody(nil, fr))
		if err != nil || again == nil {
			t.Fatalf("%+v written back does not parse: %v", fr, err)
		}
		if again.Kind != fr.Kind || again.Codec != fr.Codec || again.Config != fr.Config || again.Key != fr.Key ||
			again.CTS != fr.CTS || !bytes.Equal(again.Payload, fr.Payload) {
			t.Fatalf("round trip changed the frame:\n%+v\n%+v", fr, again)
		}
		if n := flv.BodySize(fr); n != len(flv.AppendBody(nil, fr)) {
			t.Fatalf("BodySize %d for a body of %d", n, len(flv.AppendBody(nil, fr)))
		}
	})
}

// setChunkSize is a SetChunkSize message, for seeds.
func setChunkSize(v uint32) []byte {
	return appendMessage(nil, 2, 0, typeSetChunkSize, 0, binary.BigEndian.AppendUint32(nil, v), defaultChunkSize)
}
