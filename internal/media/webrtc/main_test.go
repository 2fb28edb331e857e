package webrtc

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// engine, peer and test client is closed, so none should.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testConfig binds loopback on free ports and advertises loopback
// candidates, so tests do not depend on the machine's interfaces.
func testConfig() Config {
	c := Defaults()
	c.UDPAddr = "127.0.0.1:0"
	c.TCPAddr = "127.0.0.1:0"
	c.IncludeLoopback = true
	c.ConnectTimeout = 10 * time.Second
	return c
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("WEBRTC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

func newEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Engine.Close: %v", err)
		}
	})
	return e
}

func newPeer(t testing.TB, e *Engine, id string) *Peer {
	t.Helper()
	p, err := e.NewPeer(context.Background(), PeerOptions{ID: id})
	if err != nil {
		t.Fatalf("NewPeer: %v", err)
	}
	t.Cleanup(func() {
		p.Close()
		<-p.Done()
	})
	return p
}

// newClient is an independent pion peer standing in for a browser: pion's
// default codecs (which include Chrome's H.264 profiles) and interceptors,
// loopback only. tcpOnly restricts it to ICE-TCP (active) candidates.
func newClient(t testing.TB, tcpOnly bool) *webrtc.PeerConnection {
	t.Helper()
	return newClientWith(t, clientOptions{tcpOnly: tcpOnly, keep: loopbackOnly})
}

func loopbackOnly(ip net.IP) bool { return ip.IsLoopback() }

// newClientOn is newClient gathering only on the addresses keep accepts.
func newClientOn(t testing.TB, tcpOnly bool, keep func(net.IP) bool) *webrtc.PeerConnection {
	t.Helper()
	return newClientWith(t, clientOptions{tcpOnly: tcpOnly, keep: keep})
}

type clientOptions struct {
	tcpOnly   bool
	keep      func(net.IP) bool // the addresses to gather on
	noReports bool              // no automatic RTCP reports: the test sends its own
}

func newClientWith(t testing.TB, o clientOptions) *webrtc.PeerConnection {
	t.Helper()
	tcpOnly, keep := o.tcpOnly, o.keep
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureNack(m, reg); err != nil {
		t.Fatal(err)
	}
	if !o.noReports {
		if err := webrtc.ConfigureRTCPReports(reg); err != nil {
			t.Fatal(err)
		}
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(keep)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if tcpOnly {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	} else {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{BundlePolicy: webrtc.BundlePolicyMaxBundle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.GracefulClose() })
	return pc
}

// clientOffer makes the client's offer with its candidates (non-trickle).
func clientOffer(t testing.TB, c *webrtc.PeerConnection) string {
	t.Helper()
	offer, err := c.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(c)
	if err := c.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
		t.Fatal("client gathering did not complete")
	}
	return c.LocalDescription().SDP
}

// connect runs the client-offers exchange.
func connect(t testing.TB, c *webrtc.PeerConnection, p *Peer) {
	t.Helper()
	answer, err := p.Answer(clientOffer(t, c))
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	if err := c.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatalf("client SetRemoteDescription: %v", err)
	}
}

// clientAnswer answers a server offer on the client.
func clientAnswer(t testing.TB, c *webrtc.PeerConnection, offer string) string {
	t.Helper()
	if err := c.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatalf("client SetRemoteDescription(offer): %v", err)
	}
	answer, err := c.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(c)
	if err := c.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return c.LocalDescription().SDP
}

// pump writes synthetic RTP to track every interval until stop is closed.
// Payloads only need to look like the codec's: nothing here decodes them.
func pump(t testing.TB, track *webrtc.TrackLocalStaticRTP, interval time.Duration, payload []byte, clock uint32) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(interval)
		defer tk.Stop()
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, Marker: true}, Payload: payload}
		for {
			select {
			case <-done:
				return
			case <-tk.C:
			}
			pkt.SequenceNumber++
			pkt.Timestamp += clock
			// Errors before the track is bound (not yet connected) are
			// expected; the pump just keeps going.
			_ = track.WriteRTP(pkt)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

var (
	opusPayload = append([]byte{0xfc}, make([]byte, 80)...)              // TOC: SILK-only 20 ms frame
	h264Payload = append([]byte{0x65, 0x88, 0x84}, make([]byte, 600)...) // IDR slice NAL
)

// trackCounter counts RTP packets per codec MIME type received by OnTrack
// handlers and signals when a codec reaches want.
type trackCounter struct {
	want  int
	mu    sync.Mutex
	seen  map[string]*webrtc.RTPCodecParameters
	count map[string]int
	ready map[string]chan struct{}
	ssrc  map[string]uint32
	total atomic.Int64
}

func newTrackCounter(want int, mimes ...string) *trackCounter {
	c := &trackCounter{want: want, seen: map[string]*webrtc.RTPCodecParameters{}, count: map[string]int{},
		ready: map[string]chan struct{}{}, ssrc: map[string]uint32{}}
	for _, m := range mimes {
		c.ready[strings.ToLower(m)] = make(chan struct{})
	}
	return c
}

func (c *trackCounter) handle(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	codec := track.Codec()
	mime := strings.ToLower(codec.MimeType)
	c.mu.Lock()
	c.seen[mime] = &codec
	c.ssrc[mime] = uint32(track.SSRC())
	c.mu.Unlock()
	for {
		if _, _, err := track.ReadRTP(); err != nil {
			return
		}
		c.total.Add(1)
		c.mu.Lock()
		c.count[mime]++
		if c.count[mime] == c.want {
			if ch, ok := c.ready[mime]; ok {
				close(ch)
			}
		}
		c.mu.Unlock()
	}
}

func (c *trackCounter) wait(t testing.TB, mime string, timeout time.Duration) webrtc.RTPCodecParameters {
	t.Helper()
	select {
	case <-c.ready[strings.ToLower(mime)]:
	case <-time.After(timeout):
		c.mu.Lock()
		defer c.mu.Unlock()
		t.Fatalf("%s: %d packets after %s, want %d", mime, c.count[strings.ToLower(mime)], timeout, c.want)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return *c.seen[strings.ToLower(mime)]
}

// waitState waits until the client's connection reaches want.
func waitConnected(t testing.TB, c *webrtc.PeerConnection, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for c.ConnectionState() != webrtc.PeerConnectionStateConnected {
		if time.Now().After(deadline) {
			t.Fatalf("client not connected after %s: %s", timeout, c.ConnectionState())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sendPLI sends a PLI from the client for the given SSRC.
func sendPLI(c *webrtc.PeerConnection, ssrc uint32) error {
	return c.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
}
