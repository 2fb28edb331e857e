package webrtc

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestSubscribeRenegotiation: on a connection the client started (it
// publishes audio), the server adds an H.264 and an Opus track and offers
// them (server-initiated renegotiation); the client's OnTrack receives what
// the server writes, and the client's PLI reaches OnKeyframeRequest.
func TestSubscribeRenegotiation(t *testing.T) {
	t.Parallel()
	e := newEngine(t, testConfig())
	p := newPeer(t, e, "sub")
	c := newClient(t, false)
	mic, err := webrtc.NewTrackLocalStaticRTP(OpusCodec(), "mic", "bob_main")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddTrack(mic); err != nil {
		t.Fatal(err)
	}
	connect(t, c, p)
	waitConnected(t, c, 10*time.Second)

	negotiation := make(chan struct{}, 4)
	p.OnNegotiationNeeded(func() { negotiation <- struct{}{} })
	keyframes := make(chan string, 4)
	p.OnKeyframeRequest(func(id string) { keyframes <- id })

	const want = 20
	counter := newTrackCounter(want, webrtc.MimeTypeH264, webrtc.MimeTypeOpus)
	c.OnTrack(counter.handle)

	video, err := p.AddTrack(H264Codec(""), "alice-video", "alice_main")
	if err != nil {
		t.Fatal(err)
	}
	audio, err := p.AddTrack(OpusCodec(), "alice-audio", "alice_main")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-negotiation:
	case <-time.After(5 * time.Second):
		t.Fatal("OnNegotiationNeeded did not fire after AddTrack")
	}
	offer, err := p.Offer()
	if err != nil {
		t.Fatalf("Offer: %v", err)
	}
	// A second offer before the answer would be glare with ourselves.
	if _, err := p.Offer(); !errors.Is(err, ErrNotStable) {
		t.Fatalf("second Offer: %v, want ErrNotStable", err)
	}
	if !strings.Contains(offer, "a=msid:alice_main alice-video") {
		t.Fatalf("offer lacks the new track:\n%s", offer)
	}
	if err := p.SetAnswer(clientAnswer(t, c, offer)); err != nil {
		t.Fatalf("SetAnswer: %v", err)
	}
	start := time.Now()
	pump(t, video.TrackLocalStaticRTP, 33*time.Millisecond, h264Payload, 3000)
	pump(t, audio.TrackLocalStaticRTP, 20*time.Millisecond, opusPayload, 960)
	counter.wait(t, webrtc.MimeTypeH264, 10*time.Second)
	counter.wait(t, webrtc.MimeTypeOpus, 10*time.Second)
	t.Logf("%d packets per track at the client %s after the answer", want, time.Since(start).Round(time.Millisecond))

	counter.mu.Lock()
	ssrc := counter.ssrc["video/h264"]
	counter.mu.Unlock()
	if err := sendPLI(c, ssrc); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-keyframes:
		if id != "alice-video" {
			t.Errorf("keyframe request for %q", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client PLI did not reach OnKeyframeRequest")
	}

	// Removing a track asks for another round; a stale answer is refused.
	if err := p.RemoveTrack(video); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveTrack(video); !errors.Is(err, ErrUnknownTrack) {
		t.Fatalf("second RemoveTrack: %v", err)
	}
	select {
	case <-negotiation:
	case <-time.After(5 * time.Second):
		t.Fatal("OnNegotiationNeeded did not fire after RemoveTrack")
	}
	if err := p.SetAnswer(c.LocalDescription().SDP); !errors.Is(err, ErrNoPendingOffer) {
		t.Fatalf("SetAnswer without offer: %v", err)
	}
	offer, err = p.Offer()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetAnswer(clientAnswer(t, c, offer)); err != nil {
		t.Fatalf("SetAnswer after RemoveTrack: %v", err)
	}
}

// TestGlare: the client's offer crosses a server offer. The server keeps
// its offer and refuses the client's with ErrGlare (pion cannot roll back);
// the client, playing a browser's polite role, drops its offer, answers the
// server's, and offers again, which the server then answers.
func TestGlare(t *testing.T) {
	t.Parallel()
	e := newEngine(t, testConfig())
	p := newPeer(t, e, "glare")
	c := newClient(t, false)
	mic, _ := webrtc.NewTrackLocalStaticRTP(OpusCodec(), "mic", "bob_main")
	if _, err := c.AddTrack(mic); err != nil {
		t.Fatal(err)
	}
	connect(t, c, p)
	waitConnected(t, c, 10*time.Second)

	negotiation := make(chan struct{}, 4)
	p.OnNegotiationNeeded(func() { negotiation <- struct{}{} })
	if _, err := p.AddTrack(H264Codec(""), "v", "alice_main"); err != nil {
		t.Fatal(err)
	}
	<-negotiation
	serverOffer, err := p.Offer()
	if err != nil {
		t.Fatal(err)
	}

	// Meanwhile the client publishes video too. Its offer is created but,
	// like a browser's that will be rolled back, not applied locally.
	cam, _ := webrtc.NewTrackLocalStaticRTP(H264Codec(""), "cam", "bob_main")
	if _, err := c.AddTrack(cam); err != nil {
		t.Fatal(err)
	}
	crossing, err := c.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Answer(crossing.SDP); !errors.Is(err, ErrGlare) {
		t.Fatalf("Answer during glare: %v, want ErrGlare", err)
	}
	if err := p.SetAnswer(clientAnswer(t, c, serverOffer)); err != nil {
		t.Fatalf("SetAnswer: %v", err)
	}
	if !strings.Contains(c.RemoteDescription().SDP, "a=msid:alice_main v") {
		t.Fatal("client did not get the server's track")
	}
	answer, err := p.Answer(clientOffer(t, c))
	if err != nil {
		t.Fatalf("Answer after glare: %v", err)
	}
	if err := c.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	if p.Err() != nil {
		t.Fatalf("peer closed: %v", p.Err())
	}
}
