package rtmp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
)

// recConn records what a client writes.
type recConn struct {
	net.Conn
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (c recConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzIngest from real
// sessions: what gortmplib's client and ffmpeg send after the handshake
// when they push to this server, and hostile variants of it.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("RTMP_WRITE_SEEDS") == "" {
		t.Skip("set RTMP_WRITE_SEEDS=1 to regenerate testdata/fuzz/FuzzIngest")
	}
	e := newEnv(t, nil)
	var mu sync.Mutex
	var rec bytes.Buffer
	c := &gortmplib.Client{URL: gortmplibURL("rtmp", e.addr, "/a/r/u_seed?ok=1"), Publish: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			return recConn{conn, &mu, &rec}, err
		}}
	if err := c.Initialize(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mu.Lock()
	prefix := bytes.Clone(rec.Bytes()[handshakeSize:]) // connect ... publish
	mu.Unlock()
	for _, tag := range readFLV(t, "tiny.flv") {
		writeRaw(t, c.NetConn(), tag.typ, tag.ts, tag.body)
	}
	e.hooks.waitLive(t, "u_seed")
	mu.Lock()
	session := bytes.Clone(rec.Bytes()[handshakeSize:])
	mu.Unlock()

	garbage := make([]byte, 512)
	rnd := rand.New(rand.NewPCG(7, 7))
	for i := range garbage {
		garbage[i] = byte(rnd.Uint32())
	}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	seeds := map[string][]byte{
		"gortmplib_session":       session,
		"truncated_mid_chunk":     session[:len(session)*2/3],
		"truncated_commands":      prefix[:len(prefix)/2],
		"absurd_chunk_size":       join(prefix, setChunkSize(0x7FFFFFFF), appendHeader(nil, csidVideo, 0, typeVideo, 1, 1<<24-1), []byte{0x17, 1}),
		"absurd_message_length":   join(prefix, appendHeader(nil, csidVideo, 0, typeVideo, 1, 0xFFFFFF)),
		"chunk_size_zero":         join(prefix, setChunkSize(0)),
		"chunk_size_one":          join(prefix, setChunkSize(1), session[len(prefix):]),
		"unsupported_codec_mp3":   join(prefix, appendMessage(nil, csidAudio, 0, typeAudio, 1, []byte{0x2F, 0xFF, 0xFB}, 65536)),
		"garbage":                 garbage,
		"garbage_after_commands":  join(prefix, garbage),
		"http_request_after_hs":   []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"empty":                   {},
		"extended_chunk_stream_0": {0x00, 0x05, 0, 0, 0},
	}
	if ff, err := captureFFmpegPush(t, e); err == nil {
		seeds["ffmpeg_session"] = ff
		seeds["ffmpeg_truncated"] = ff[:len(ff)/2]
	} else {
		t.Logf("no ffmpeg seed: %v", err)
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzIngest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// captureFFmpegPush records, through a proxy, what ffmpeg sends after the
// handshake while pushing a second of tiny video and audio.
func captureFFmpegPush(t *testing.T, e *env) ([]byte, error) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	var rec bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		in, err := ln.Accept()
		if err != nil {
			return
		}
		defer in.Close()
		out, err := net.Dial("tcp", e.addr)
		if err != nil {
			return
		}
		defer out.Close()
		go io.Copy(in, out)
		io.Copy(io.MultiWriter(out, &rec), in)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=128x96:rate=10",
		"-f", "lavfi", "-i", "sine=sample_rate=48000", "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast",
		"-g", "5", "-c:a", "aac", "-ac", "1", "-b:a", "24k", "-f", "flv", "rtmp://"+ln.Addr().String()+"/a/r/u_ff?ok=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	<-done
	if rec.Len() <= handshakeSize {
		return nil, fmt.Errorf("captured only %d bytes", rec.Len())
	}
	return rec.Bytes()[handshakeSize:], nil
}
