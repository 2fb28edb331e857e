package rtpframe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/minirtc/minirtc/internal/media"
)

// These tests put ffmpeg, a peer nobody here wrote, at each end: it
// decodes what our packetizer sends over UDP, and it sends the RTP our
// depacketizer reads.

// countFrames returns how many video frames a framecrc listing holds.
// ffmpeg runs with -fps_mode passthrough: its default may drop or repeat
// frames to fit a guessed constant rate, which would make counts lie.
func countFrames(out []byte) int {
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

// TestFFmpegDecodesPacketizer sends a stream packetized by us to ffmpeg's
// RTP demuxer (described by a minimal SDP) and has it decode every frame.
func TestFFmpegDecodesPacketizer(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	s := loadAnnexB(t, encodeTestsrc(t, "640x360"))
	// The frames go without in-band SPS/PPS, as from an RTMP publisher:
	// ffmpeg can only decode if the packetizer inserts them.
	for _, f := range s.frames {
		f.Payload = withoutParameterSets(t, f.Payload)
	}
	port := freeUDPPortPair(t)
	sdp := filepath.Join(t.TempDir(), "stream.sdp")
	if err := os.WriteFile(sdp, []byte(fmt.Sprintf("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=minirtc\r\n"+
		"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video %d RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"+
		"a=fmtp:96 packetization-mode=1\r\n", port)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-protocol_whitelist", "file,udp,rtp",
		"-i", sdp, "-fps_mode", "passthrough", "-f", "framecrc", "-")
	var stdout lockedBuffer
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUDPBound(t, port)

	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := NewH264Packetizer(0xC0FFEE, 96, 1200)
	for _, g := range packetizeAll(t, p, s) {
		for _, pkt := range g {
			b, err := pkt.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write(b); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Millisecond) // keep within the socket buffer
	}
	// An RTCP BYE ends ffmpeg's input at once, packets still queued in its
	// socket included: on a loaded machine, wait until it stops making
	// progress first.
	last, still := -1, time.Now()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		n := countFrames(stdout.Bytes())
		if n >= len(s.frames) || (n == last && time.Since(still) > time.Second) {
			break
		}
		if n != last {
			last, still = n, time.Now()
		}
	}
	bye, err := rtcp.Marshal([]rtcp.Packet{
		&rtcp.SenderReport{SSRC: 0xC0FFEE},
		&rtcp.Goodbye{Sources: []uint32{0xC0FFEE}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rtcpConn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port+1))
	if err != nil {
		t.Fatal(err)
	}
	defer rtcpConn.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	for wait := true; wait; {
		_, _ = rtcpConn.Write(bye)
		select {
		case werr = <-done:
			wait = false
		case <-time.After(500 * time.Millisecond):
		}
	}
	if werr != nil {
		t.Fatalf("ffmpeg: %v\n%s", werr, stderr.Bytes())
	}
	n := countFrames(stdout.Bytes())
	t.Logf("ffmpeg decoded %d of %d frames", n, len(s.frames))
	if n < 40 {
		t.Errorf("ffmpeg decoded %d frames, want at least 40", n)
	}
	if stderr.Len() > 0 {
		t.Errorf("ffmpeg reported errors:\n%s", stderr.Bytes())
	}
}

// TestDepacketizerReadsFFmpeg has ffmpeg's RTP muxer send a stream to us,
// then checks the access units against the source and has ffmpeg decode
// them again.
func TestDepacketizerReadsFFmpeg(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	src := encodeTestsrc(t, "640x360")
	s := loadAnnexB(t, src)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadBuffer(4 << 20)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-readrate", "10", "-f", "h264", "-i", src,
		"-c", "copy", "-f", "rtp", "-payload_type", "96",
		fmt.Sprintf("rtp://127.0.0.1:%d?pkt_size=1200", conn.LocalAddr().(*net.UDPAddr).Port))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	d := NewH264Depacketizer()
	var frames []*media.Frame
	buf := make([]byte, 2048)
	for exited := false; ; {
		if !exited {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("ffmpeg: %v\n%s", err, stderr.Bytes())
				}
				exited = true
			default:
			}
		}
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := conn.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if exited {
				break
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var pkt rtp.Packet
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			t.Fatal(err)
		}
		got, err := d.Push(&pkt)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, got...)
	}

	var pictures []*media.Frame
	for _, f := range frames {
		if !f.Config {
			pictures = append(pictures, f)
		}
	}
	if len(pictures) != len(s.frames) {
		t.Fatalf("got %d frames, want %d", len(pictures), len(s.frames))
	}
	for i, f := range pictures {
		w := s.frames[i]
		if f.Key != w.Key || f.DTS != w.DTS || !bytes.Equal(f.Payload, withoutParameterSets(t, w.Payload)) {
			t.Fatalf("frame %d: key=%v dts=%d, want key=%v dts=%d (or payload differs)", i, f.Key, f.DTS, w.Key, w.DTS)
		}
	}

	dec := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-f", "h264", "-i", "-", "-fps_mode", "passthrough", "-f", "framecrc", "-")
	dec.Stdin = bytes.NewReader(toAnnexB(t, frames))
	var out, decErr bytes.Buffer
	dec.Stdout, dec.Stderr = &out, &decErr
	if err := dec.Run(); err != nil || decErr.Len() > 0 {
		t.Fatalf("ffmpeg decoding: %v\n%s", err, decErr.Bytes())
	}
	if n := countFrames(out.Bytes()); n != len(s.frames) {
		t.Fatalf("ffmpeg decoded %d frames, want %d", n, len(s.frames))
	}
}

// freeUDPPortPair finds an even port whose successor is free too (RTP and
// RTCP), and releases both for ffmpeg to bind.
func freeUDPPortPair(t *testing.T) int {
	t.Helper()
	for range 100 {
		a, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := a.LocalAddr().(*net.UDPAddr).Port &^ 1
		a.Close()
		c1, err1 := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		c2, err2 := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 1})
		if c1 != nil {
			c1.Close()
		}
		if c2 != nil {
			c2.Close()
		}
		if err1 == nil && err2 == nil {
			return port
		}
	}
	t.Fatal("no free UDP port pair")
	return 0
}

// waitUDPBound waits until some process has bound the UDP port, reading
// /proc/net/udp rather than binding it ourselves (which would race).
func waitUDPBound(t *testing.T, port int) {
	t.Helper()
	needle := fmt.Sprintf(":%04X ", port)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/net/udp")
		if err != nil {
			time.Sleep(2 * time.Second) // no procfs: give ffmpeg time
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 1 && strings.HasSuffix(f[1]+" ", needle) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing bound UDP port %d", port)
}

// lockedBuffer is a bytes.Buffer that ffmpeg's stdout copier and the test
// can use at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b.Bytes()...)
}
