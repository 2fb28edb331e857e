package rtmp

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/abema/go-mp4"
	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/minirtc/minirtc/internal/media"
)

// gortmplibURL turns "/a/r/u_main?ok=1" into gortmplib's form, where the
// stream key (last segment and query) follows '#'.
func gortmplibURL(scheme, addr, pathQuery string) *url.URL {
	path, query, _ := strings.Cut(pathQuery, "?")
	i := strings.LastIndex(path, "/")
	key := path[i+1:]
	if query != "" {
		key += "?" + query
	}
	return &url.URL{Scheme: scheme, Host: addr, Path: path[:i], Fragment: key}
}

// dial runs a gortmplib client's connect and publish or play.
func (e *env) dial(pathQuery string, publish bool) (*gortmplib.Client, error) {
	c := &gortmplib.Client{URL: gortmplibURL("rtmp", e.addr, pathQuery), Publish: publish}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Initialize(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (e *env) mustDial(t *testing.T, pathQuery string, publish bool) *gortmplib.Client {
	t.Helper()
	c, err := e.dial(pathQuery, publish)
	if err != nil {
		t.Fatalf("%s (publish %v): %v", pathQuery, publish, err)
	}
	t.Cleanup(c.Close)
	return c
}

// toMessage is f as gortmplib's message type, for its client to send.
func toMessage(t testing.TB, f *media.Frame, ts uint32) message.Message {
	dts := time.Duration(ts) * time.Millisecond
	if f.Kind == media.Video {
		m := &message.Video{ChunkStreamID: message.VideoChunkStreamID, MessageStreamID: 0x1000000, Codec: message.CodecH264,
			IsKeyFrame: f.Key || f.Config, DTS: dts, PTSDelta: time.Duration(f.CTS) * time.Millisecond}
		if f.Config {
			m.Type = message.VideoTypeConfig
			m.AVCConfig = &mp4.AVCDecoderConfiguration{}
			m.AVCConfig.SetType(mp4.BoxTypeAvcC())
			if _, err := mp4.Unmarshal(bytes.NewReader(f.Payload), uint64(len(f.Payload)), m.AVCConfig, mp4.Context{}); err != nil {
				t.Fatal(err)
			}
		} else {
			m.Type, m.AU = message.VideoTypeAU, f.Payload
		}
		return m
	}
	m := &message.Audio{ChunkStreamID: message.AudioChunkStreamID, MessageStreamID: 0x1000000, Codec: message.CodecMPEG4Audio,
		Rate: message.AudioRate44100, Depth: message.AudioDepth16, IsStereo: true, DTS: dts}
	if f.Config {
		m.AACType, m.AACConfig = message.AudioAACTypeConfig, &mpeg4audio.AudioSpecificConfig{}
		if err := m.AACConfig.Unmarshal(f.Payload); err != nil {
			t.Fatal(err)
		}
	} else {
		m.AACType, m.AU = message.AudioAACTypeAU, f.Payload
	}
	return m
}

// received is a media message a player got, in hub terms.
type received struct {
	kind   media.Kind
	config bool
	key    bool
	dts    time.Duration
	cts    time.Duration
	data   []byte // AU, or the marshalled config
}

// readMedia reads n media messages (and the onMetaData) from a player.
func readMedia(t *testing.T, c *gortmplib.Client, n int) (got []received, meta amf0.Data) {
	t.Helper()
	c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(got) < n {
		msg, err := c.Read()
		if err != nil {
			t.Fatalf("player read after %d media messages: %v", len(got), err)
		}
		switch m := msg.(type) {
		case *message.Video:
			r := received{kind: media.Video, key: m.IsKeyFrame, dts: m.DTS, cts: m.PTSDelta, data: m.AU}
			if m.Type == message.VideoTypeConfig {
				var b bytes.Buffer
				if _, err := mp4.Marshal(&b, m.AVCConfig, mp4.Context{}); err != nil {
					t.Fatal(err)
				}
				r.config, r.data = true, b.Bytes()
			}
			got = append(got, r)
		case *message.Audio:
			r := received{kind: media.Audio, dts: m.DTS, data: m.AU}
			if m.AACType == message.AudioAACTypeConfig {
				b, err := m.AACConfig.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				r.config, r.data = true, b
			}
			got = append(got, r)
		case *message.DataAMF0:
			meta = m.Payload
		}
	}
	return got, meta
}

func TestPublishAndPlayWithGortmplib(t *testing.T) {
	e := newEnv(t, nil)
	frames, ts := tinyFrames(t)
	pub := e.mustDial(t, "/a/r/u_main?ok=1", true)

	// Up to the first keyframe, so the player's GOP starts there.
	firstKey := -1
	for i, f := range frames {
		if err := pub.Write(toMessage(t, f, ts[i])); err != nil {
			t.Fatal(err)
		}
		if f.Kind == media.Video && f.Key {
			firstKey = i
			break
		}
	}
	info := e.hooks.waitLive(t, "u_main")
	if v, a := info.Video, info.Audio; v == nil || a == nil || v.Width != 128 || v.Height != 96 || v.Codec != media.H264 ||
		a.SampleRate != 48000 || a.Channels != 1 {
		t.Fatalf("Live info = %s, want h264 128x96 + aac 48000Hz/1ch", info)
	}

	player := e.mustDial(t, "/a/r/u_main?ok=1", false)
	for i := firstKey + 1; i < len(frames); i++ {
		if err := pub.Write(toMessage(t, frames[i], ts[i])); err != nil {
			t.Fatal(err)
		}
	}

	var want []received
	for i, f := range frames {
		if f.Config {
			var data []byte
			if f.Kind == media.Video {
				data = marshalled(t, toMessage(t, f, 0).(*message.Video).AVCConfig)
			} else {
				data, _ = toMessage(t, f, 0).(*message.Audio).AACConfig.Marshal()
			}
			want = append(want, received{kind: f.Kind, config: true, data: data})
		}
		if i >= firstKey && !f.Config {
			want = append(want, received{kind: f.Kind, key: f.Key, dts: time.Duration(ts[i]) * time.Millisecond,
				cts: time.Duration(f.CTS) * time.Millisecond, data: f.Payload})
		}
	}
	got, meta := readMedia(t, player, len(want))
	for i := range want {
		g, w := got[i], want[i]
		if g.config {
			g.dts, g.key = 0, false // configs are restamped to the GOP start
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("media message %d:\n got %v %v key=%v dts=%v cts=%v %d bytes\nwant %v %v key=%v dts=%v cts=%v %d bytes",
				i, g.kind, g.config, g.key, g.dts, g.cts, len(g.data), w.kind, w.config, w.key, w.dts, w.cts, len(w.data))
		}
	}
	if len(meta) != 2 || meta[0] != "onMetaData" {
		t.Fatalf("metadata = %v", meta)
	}
	md := amf0.Object(meta[1].(amf0.ECMAArray))
	if w, _ := md.GetFloat64("width"); w != 128 {
		t.Errorf("onMetaData width = %v", w)
	}
	if r, _ := md.GetFloat64("audiosamplerate"); r != 48000 {
		t.Errorf("onMetaData audiosamplerate = %v", r)
	}

	// Unpublish: after the grace the stream ends, the player gets
	// StreamEOF and the connection closes; Hooks.Ended is called.
	pub.Close()
	player.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	sawEOF := false
	for {
		msg, err := player.Read()
		if err != nil {
			break
		}
		if _, ok := msg.(*message.UserControlStreamEOF); ok {
			sawEOF = true
		}
	}
	if !sawEOF {
		t.Error("the player did not get StreamEOF")
	}
	waitFor(t, 5*time.Second, "Hooks.Ended", func() bool { return e.hooks.endedCount() == 1 })
	e.waitLog(t, "rtmp: push ended", "reason=ended", "path=/a/r/u_main")
}

func marshalled(t *testing.T, b mp4.IImmutableBox) []byte {
	var buf bytes.Buffer
	if _, err := mp4.Marshal(&buf, b, mp4.Context{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pushTiny publishes tiny.flv raw (exact bodies) on a gortmplib client's
// connection and waits until the stream is live.
func (e *env) pushTiny(t *testing.T, stream string) *gortmplib.Client {
	t.Helper()
	c := e.mustDial(t, "/a/r/"+stream+"?ok=1", true)
	for _, tag := range readFLV(t, "tiny.flv") {
		writeRaw(t, c.NetConn(), tag.typ, tag.ts, tag.body)
	}
	e.hooks.waitLive(t, stream)
	return c
}

// writeRaw sends one message on a client connection whose chunk size is
// gortmplib's 65536.
func writeRaw(t testing.TB, c net.Conn, typ byte, ts uint32, body []byte) {
	csid := byte(csidVideo)
	if typ == typeAudio {
		csid = csidAudio
	}
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(appendMessage(nil, csid, ts, typ, 1, body, 65536)); err != nil {
		t.Fatal(err)
	}
}

func TestHubCloseCutsPushAndEndsPlayers(t *testing.T) {
	e := newEnv(t, nil)
	pub := e.pushTiny(t, "u_main")
	player := e.mustDial(t, "/a/r/u_main?ok=1", false)
	readMedia(t, player, 3)

	e.hub.Close(media.Key{App: "a", Room: "r", Stream: "u_main"})
	// The server closes the push connection: the publisher's reads end.
	pub.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := pub.Read(); err != nil {
			if strings.Contains(err.Error(), "timeout") {
				t.Fatal("the push connection was not closed")
			}
			break
		}
	}
	player.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := player.Read(); err != nil {
			if strings.Contains(err.Error(), "timeout") {
				t.Fatal("the play connection was not closed")
			}
			break
		}
	}
	e.waitLog(t, "rtmp: push ended", "reason=cut_by_server")
	if n := e.hooks.endedCount(); n != 0 {
		t.Errorf("Hooks.Ended called %d times for a stream the room closed", n)
	}
}
