package webrtc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// chromiumPage publishes the fake camera and microphone, then answers the
// server's offer for the echoed tracks and reports what it decodes.
const chromiumPage = `<!doctype html><script>
const post = (path, body) => fetch(path, {method: 'POST', body});
(async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: {width: 320, height: 240, frameRate: 15}});
    const pc = new RTCPeerConnection();
    for (const t of stream.getTracks()) pc.addTransceiver(t, {direction: 'sendonly', streams: [stream]});
    pc.onconnectionstatechange = () => post('/log', 'state ' + pc.connectionState);
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise(r => {
      if (pc.iceGatheringState === 'complete') return r();
      pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
      setTimeout(r, 3000);
    });
    const answer = await (await post('/offer', pc.localDescription.sdp)).text();
    await pc.setRemoteDescription({type: 'answer', sdp: answer});
    // The echoed tracks come on a second connection that the server offers
    // and only sends on, like a subscriber's downlink.
    const down = new RTCPeerConnection();
    down.onconnectionstatechange = () => post('/log', 'down state ' + down.connectionState);
    const offer = await (await fetch('/server-offer')).text();
    await down.setRemoteDescription({type: 'offer', sdp: offer});
    await down.setLocalDescription(await down.createAnswer());
    await new Promise(r => {
      if (down.iceGatheringState === 'complete') return r();
      down.onicegatheringstatechange = () => down.iceGatheringState === 'complete' && r();
      setTimeout(r, 3000);
    });
    await post('/server-answer', down.localDescription.sdp);
    setInterval(async () => {
      let v = 0, a = 0, codec = '';
      (await down.getStats()).forEach(s => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') v = s.framesDecoded || 0;
        if (s.type === 'inbound-rtp' && s.kind === 'audio') a = s.packetsReceived || 0;
        if (s.type === 'codec' && s.mimeType.startsWith('video/')) codec = s.mimeType;
      });
      post('/log', 'stats ' + v + ' ' + a + ' ' + codec);
    }, 300);
  } catch (e) { post('/log', 'error ' + e); }
})();
</script>`

// TestChromium: headless Chromium (Debian's, fake devices) publishes to the
// engine, which answers with H.264 42e01f preferred; the server echoes both
// tracks back over a server-initiated renegotiation (passing any PLI from
// the browser back to it as publisher), and the browser decodes the echoed
// video. Skipped without chromium or with -short.
func TestChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil || testing.Short() {
		t.Skip("chromium not installed or -short")
	}
	t.Parallel()
	e := newEngine(t, testConfig())
	p := newPeer(t, e, "chromium")
	down, err := e.NewPeer(context.Background(), PeerOptions{ID: "chromium-down", SendOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = down.Close() })

	var (
		mu        sync.Mutex
		videoSSRC uint32
		pubCodecs = map[string]string{}
	)
	offers := make(chan string, 4)
	down.OnNegotiationNeeded(func() {
		if o, err := down.Offer(); err == nil {
			offers <- o
		}
	})
	echo := map[webrtc.RTPCodecType]*LocalTrack{}
	for kind, codec := range map[webrtc.RTPCodecType]webrtc.RTPCodecCapability{
		webrtc.RTPCodecTypeVideo: H264Codec(""), webrtc.RTPCodecTypeAudio: OpusCodec(),
	} {
		tr, err := down.AddTrack(codec, "echo-"+kind.String(), "echo")
		if err != nil {
			t.Fatal(err)
		}
		echo[kind] = tr
	}
	p.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		mu.Lock()
		pubCodecs[tr.Kind().String()] = tr.Codec().MimeType + " " + tr.Codec().SDPFmtpLine
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			videoSSRC = uint32(tr.SSRC())
		}
		mu.Unlock()
		out := echo[tr.Kind()]
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			// The browser's header extensions belong to the other
			// connection's negotiation; the track rewrites SSRC and
			// payload type.
			pkt.Header.Extension, pkt.Header.Extensions = false, nil
			_ = out.WriteRTP(pkt)
		}
	})
	var keyframeRequests atomic.Int32
	down.OnKeyframeRequest(func(string) {
		keyframeRequests.Add(1)
		mu.Lock()
		ssrc := videoSSRC
		mu.Unlock()
		if ssrc != 0 {
			_ = p.SendPLI(ssrc)
		}
	})

	logs := make(chan string, 256)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, chromiumPage) })
	mux.HandleFunc("POST /offer", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		answer, err := p.Answer(string(b))
		if err != nil {
			logs <- "answer error " + err.Error()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, answer)
	})
	mux.HandleFunc("GET /server-offer", func(w http.ResponseWriter, r *http.Request) {
		select {
		case o := <-offers:
			io.WriteString(w, o)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST /server-answer", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := down.SetAnswer(string(b)); err != nil {
			logs <- "set answer error " + err.Error()
		}
	})
	mux.HandleFunc("POST /log", func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case logs <- string(b):
		default:
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.Command(bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
		"--user-data-dir="+t.TempDir(), srv.URL)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Getenv("WEBRTC_TEST_LOG") != "" {
		cmd.Stderr = os.Stderr
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // chromium and its children
		_ = cmd.Wait()
	}()

	statsRE := regexp.MustCompile(`^stats (\d+) (\d+) (\S*)`)
	const wantFrames, wantAudio = 15, 25
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out (no decoded echo, or no REMB from the browser); publisher codecs %v", pubCodecs)
		case l := <-logs:
			if m := statsRE.FindStringSubmatch(l); m != nil {
				frames, _ := strconv.Atoi(m[1])
				audio, _ := strconv.Atoi(m[2])
				// The browser also reports its bandwidth estimate for what
				// it receives on the send-only connection (REMB), which a
				// congested subscriber's egress goes by (congestion.go); it
				// comes a few seconds in.
				b := &echo[webrtc.RTPCodecTypeVideo].budget
				b.mu.Lock()
				remb := b.bps
				b.mu.Unlock()
				if frames >= wantFrames && audio >= wantAudio && remb > 0 {
					mu.Lock()
					defer mu.Unlock()
					t.Logf("chromium decoded %d echoed frames (%s), %d audio packets, REMB %.0f bit/s, %s after start, %d keyframe requests forwarded; it published %v",
						frames, m[3], audio, remb, time.Since(start).Round(time.Millisecond), keyframeRequests.Load(), pubCodecs)
					if got := pubCodecs["video"]; !regexp.MustCompile(`(?i)^video/h264 .*profile-level-id=42e01f`).MatchString(got) {
						t.Errorf("chromium published video as %q, want H.264 42e01f", got)
					}
					return
				}
				continue
			}
			if regexp.MustCompile(`error`).MatchString(l) {
				t.Fatalf("browser: %s", l)
			}
			if testing.Verbose() {
				fmt.Println("browser:", l)
			}
		}
	}
}
