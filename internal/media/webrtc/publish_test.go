package webrtc

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestPublish: a client publishes Opus and H.264 through offer/answer; the
// engine's OnTrack sees the negotiated codecs and the packets arrive. Once
// over the shared UDP socket, once over ICE-TCP only.
func TestPublish(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tcpOnly bool
	}{{"udp", false}, {"tcp", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, testConfig())
			p := newPeer(t, e, "pub-"+tc.name)
			const want = 25
			counter := newTrackCounter(want, webrtc.MimeTypeOpus, webrtc.MimeTypeH264)
			p.OnTrack(counter.handle)
			states := make(chan webrtc.PeerConnectionState, 16)
			p.OnState(func(s webrtc.PeerConnectionState, _ error) { states <- s })

			c := newClient(t, tc.tcpOnly)
			audio, err := webrtc.NewTrackLocalStaticRTP(OpusCodec(), "audio", "alice_main")
			if err != nil {
				t.Fatal(err)
			}
			video, err := webrtc.NewTrackLocalStaticRTP(H264Codec(""), "video", "alice_main")
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range []webrtc.TrackLocal{audio, video} {
				if _, err := c.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			connect(t, c, p)
			pump(t, audio, 20*time.Millisecond, opusPayload, 960)
			pump(t, video, 33*time.Millisecond, h264Payload, 3000)

			opus := counter.wait(t, webrtc.MimeTypeOpus, 10*time.Second)
			h264 := counter.wait(t, webrtc.MimeTypeH264, 10*time.Second)
			t.Logf("%s: %d+%d packets in %s", tc.name, want, want, time.Since(start).Round(time.Millisecond))
			if opus.ClockRate != 48000 || opus.Channels != 2 || opus.PayloadType != PayloadTypeOpus {
				t.Errorf("opus negotiated as %+v", opus.RTPCodecCapability)
			}
			if !strings.Contains(h264.SDPFmtpLine, "packetization-mode=1") || !strings.Contains(h264.SDPFmtpLine, "profile-level-id=42e01f") {
				t.Errorf("h264 fmtp %q", h264.SDPFmtpLine)
			}

			// The connection really runs over the transport under test.
			pair, err := c.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
			if err != nil || pair == nil {
				t.Fatalf("selected pair: %v", err)
			}
			wantProto := webrtc.ICEProtocolUDP
			wantPort := e.UDPAddr().Port
			if tc.tcpOnly {
				wantProto, wantPort = webrtc.ICEProtocolTCP, e.TCPAddr().Port
			}
			if pair.Remote.Protocol != wantProto || int(pair.Remote.Port) != wantPort {
				t.Errorf("client's selected remote candidate %s, want %s port %d", pair.Remote, wantProto, wantPort)
			}
			waitState(t, states, webrtc.PeerConnectionStateConnected)
		})
	}
}

// waitState reads OnState reports until want.
func waitState(t testing.TB, states <-chan webrtc.PeerConnectionState, want webrtc.PeerConnectionState) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case s := <-states:
			if s == want {
				return
			}
		case <-timeout:
			t.Fatalf("no %s state", want)
		}
	}
}
