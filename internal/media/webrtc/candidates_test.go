package webrtc

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

var candidateRE = regexp.MustCompile(`a=candidate:\S+ 1 (udp|tcp) \d+ (\S+) (\d+) typ host`)

// hostCandidates lists "proto ip port" of the component-1 host candidates.
func hostCandidates(sdp string) []string {
	var out []string
	for _, m := range candidateRE.FindAllStringSubmatch(sdp, -1) {
		s := m[1] + " " + m[2] + " " + m[3]
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// answerFor answers a minimal client offer with audio.
func answerFor(t *testing.T, e *Engine) string {
	t.Helper()
	p := newPeer(t, e, "cand")
	c := newClient(t, false)
	if _, err := c.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	answer, err := p.Answer(clientOffer(t, c))
	if err != nil {
		t.Fatal(err)
	}
	return answer
}

// TestNAT1To1: with PublicIPs, host candidates carry the public address
// with the shared sockets' ports, and the private one is not advertised.
func TestNAT1To1(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.PublicIPs = []string{"203.0.113.7"}
	e := newEngine(t, cfg)
	got := hostCandidates(answerFor(t, e))
	want := []string{
		fmt.Sprintf("udp 203.0.113.7 %d", e.UDPAddr().Port),
		fmt.Sprintf("tcp 203.0.113.7 %d", e.TCPAddr().Port),
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("candidates %q, want %q", got, want)
	}
}

// TestTCPDisabled: an empty TCPAddr opens no listener and offers no TCP.
func TestTCPDisabled(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.TCPAddr = ""
	e := newEngine(t, cfg)
	if e.TCPAddr() != nil {
		t.Fatalf("TCPAddr() = %v", e.TCPAddr())
	}
	got := hostCandidates(answerFor(t, e))
	if want := fmt.Sprintf("udp 127.0.0.1 %d", e.UDPAddr().Port); len(got) != 1 || got[0] != want {
		t.Fatalf("candidates %q, want only %q", got, want)
	}
}

// TestUnspecifiedAddress: the default form ":port" advertises every
// non-loopback interface address, all with the one shared UDP port.
func TestUnspecifiedAddress(t *testing.T) {
	t.Parallel()
	var addrs []string
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		as, _ := ifc.Addrs()
		for _, a := range as {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				addrs = append(addrs, ipn.IP.String())
			}
		}
	}
	if len(addrs) == 0 {
		t.Skip("no non-loopback IPv4 interface")
	}
	cfg := Defaults()
	cfg.UDPAddr = ":0"
	cfg.TCPAddr = ":0"
	e := newEngine(t, cfg)
	p := newPeer(t, e, "any")
	// A client on the first interface address connects through it.
	first := net.ParseIP(addrs[0])
	c := newClientOn(t, false, func(ip net.IP) bool { return ip.Equal(first) })
	if _, err := c.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	answer, err := p.Answer(clientOffer(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	waitConnected(t, c, 5*time.Second)
	got := hostCandidates(answer)
	t.Logf("candidates: %q", got)
	for _, c := range got {
		f := strings.Fields(c)
		wantPort := e.UDPAddr().Port
		if f[0] == "tcp" {
			wantPort = e.TCPAddr().Port
		}
		if f[2] != fmt.Sprint(wantPort) {
			t.Errorf("candidate %q not on the shared %s port %d", c, f[0], wantPort)
		}
		if ip := net.ParseIP(f[1]); ip == nil || ip.IsLoopback() {
			t.Errorf("candidate %q: loopback or not an IP", c)
		}
	}
	for _, a := range addrs {
		if !slices.Contains(got, fmt.Sprintf("udp %s %d", a, e.UDPAddr().Port)) {
			t.Errorf("no UDP candidate for interface address %s in %q", a, got)
		}
	}
}

// TestTrickle: the client trickles its candidates (its offer has none);
// the server accepts them and the connection comes up.
func TestTrickle(t *testing.T) {
	t.Parallel()
	e := newEngine(t, testConfig())
	p := newPeer(t, e, "trickle")
	c := newClient(t, false)
	if _, err := c.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	candidates := make(chan string, 16)
	c.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			candidates <- ""
			return
		}
		candidates <- cand.ToJSON().Candidate
	})
	offer, err := c.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(offer.SDP, "a=candidate") {
		t.Fatal("offer already has candidates")
	}
	if err := p.AddICECandidate("candidate:1 1 udp 1 127.0.0.1 9 typ host"); err == nil {
		t.Fatal("AddICECandidate before the offer was accepted")
	}
	answer, err := p.Answer(offer.SDP)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for cand := range candidates {
		if err := p.AddICECandidate(cand); err != nil {
			t.Fatalf("AddICECandidate(%q): %v", cand, err)
		}
		if cand == "" {
			break
		}
		n++
	}
	if n == 0 {
		t.Fatal("client trickled no candidate")
	}
	waitConnected(t, c, 5*time.Second)
}

// TestAddICECandidateHostile: junk candidates are errors (never panics),
// and a client cannot add more than MaxRemoteCandidates.
func TestAddICECandidateHostile(t *testing.T) {
	t.Parallel()
	e := newEngine(t, testConfig())
	p := newPeer(t, e, "junk")
	if _, err := p.Answer(chromeOffer(t)); err != nil {
		t.Fatal(err)
	}
	for _, junk := range []string{
		"candidate:",
		"candidate:garbage",
		"candidate:1 1 udp notanumber 1.2.3.4 5 typ host",
		"candidate:1 1 udp 1 1.2.3.4 99999 typ host",
		"candidate:1 1 udp 1 1.2.3.4 5 typ",
		strings.Repeat("x", 10000),
	} {
		_ = p.AddICECandidate(junk) // errors or discards; must not panic
	}
	var err error
	for i := 0; i < MaxRemoteCandidates+1 && err == nil; i++ {
		err = p.AddICECandidate(fmt.Sprintf("candidate:%d 1 udp 2122260223 192.0.2.%d 5000 typ host", i, i%250+1))
	}
	if !errors.Is(err, ErrTooManyCandidates) {
		t.Fatalf("after %d candidates: %v", MaxRemoteCandidates+1, err)
	}
}
