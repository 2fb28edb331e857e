package webrtc

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

func chromeOffer(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/chrome_offer.sdp")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dropLines removes the lines matching re.
func dropLines(sdp, re string) string {
	r := regexp.MustCompile(re)
	var out []string
	for _, l := range strings.SplitAfter(sdp, "\r\n") {
		if !r.MatchString(l) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// TestAnswerChromeOffer: a Chrome offer (Opus, many video codecs, RTX,
// RED, FEC) is answered with Opus and H.264 42e01f, and the answer carries
// the shared sockets' candidates, UDP and ICE-TCP.
func TestAnswerChromeOffer(t *testing.T) {
	t.Parallel()
	e := newEngine(t, testConfig())
	p := newPeer(t, e, "chrome")
	var local []string
	gotEnd := make(chan struct{})
	p.OnLocalCandidate(func(c string) {
		if c == "" {
			close(gotEnd)
			return
		}
		local = append(local, c)
	})
	start := time.Now()
	answer, err := p.Answer(chromeOffer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("answered in %s", time.Since(start).Round(time.Microsecond))
	for _, want := range []string{
		"a=rtpmap:111 opus/48000/2",
		"a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		"a=rtcp-fb:106 nack pli",
		"a=rtcp-fb:106 transport-cc",
		"a=recvonly",
		// H.264 42e01f (the client's 106) is preferred over VP8 (96), the
		// client's first.
		"m=video 9 UDP/TLS/RTP/SAVPF 106 102 127 112 96",
		fmt.Sprintf("127.0.0.1 %d typ host", e.UDPAddr().Port),
		fmt.Sprintf(" 127.0.0.1 %d typ host tcptype passive", e.TCPAddr().Port),
		"a=end-of-candidates",
	} {
		if !strings.Contains(strings.ToLower(answer), strings.ToLower(want)) {
			t.Errorf("answer lacks %q", want)
		}
	}
	// The video section is answered with one codec family we chose, not VP9/AV1.
	for _, unwanted := range []string{"VP9", "AV1", "ulpfec", "PCMU"} {
		if strings.Contains(answer, unwanted) {
			t.Errorf("answer offers %s back", unwanted)
		}
	}
	select {
	case <-gotEnd:
	case <-time.After(2 * time.Second):
		t.Fatal("no end-of-candidates callback")
	}
	if len(local) == 0 || !strings.HasPrefix(local[0], "candidate:") {
		t.Errorf("OnLocalCandidate got %q", local)
	}
	if testing.Verbose() {
		t.Logf("answer:\n%s", answer)
	}
}

// TestAnswerBadSDP: hostile or broken offers return clear errors and never
// panic. Errors found before pion applies the offer leave the peer usable
// (a good offer then connects); the others close the peer with the error.
func TestAnswerBadSDP(t *testing.T) {
	chrome := chromeOffer(t)
	session := chrome[:strings.Index(chrome, "m=audio")]
	many := session + strings.Repeat("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n", MaxMediaSections+1)
	unsupported := strings.NewReplacer(
		"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126", "m=audio 9 UDP/TLS/RTP/SAVPF 0 8",
		"m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 45 46 98 99 100 101 112 113 116 117 118", "m=video 9 UDP/TLS/RTP/SAVPF 98 45",
	).Replace(dropLines(chrome, `^a=(rtpmap|fmtp|rtcp-fb):(111|63|96|97|102|103|104|105|106|107|108|109|127|125|39|40|112|113)\b`))
	for _, tc := range []struct {
		name   string
		offer  string
		want   error
		usable bool // the peer stays open and a good offer connects after
	}{
		{"empty", "", ErrBadSDP, true},
		{"garbage", "hello, server", ErrBadSDP, true},
		{"binary", "\x00\xff\xfe v=0\r\n\x01", ErrBadSDP, true},
		{"truncated", chrome[:50], ErrNoMedia, true},
		{"too large", chrome + strings.Repeat("a=x-pad:0123456789abcdef\r\n", MaxSDPBytes/26+1), ErrSDPTooLarge, true},
		{"too many sections", many, ErrTooManyMediaSections, true},
		{"no media", session, ErrNoMedia, true},
		{"data channel only", session + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sctp-port:5000\r\n", ErrNoMedia, true},
		{"unsupported codecs", unsupported, ErrNoSupportedCodecs, true},
		{"no ice credentials", dropLines(chrome, `^a=ice-(ufrag|pwd)`), ErrBadSDP, false},
		{"no mid", dropLines(chrome, `^a=(mid|group):`), ErrBadSDP, false},
		{"bad fingerprint", dropLines(chrome, `^a=fingerprint`), ErrBadSDP, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, testConfig())
			p := newPeer(t, e, "bad")
			_, err := p.Answer(tc.offer)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Answer: %v, want %v", err, tc.want)
			}
			t.Logf("%v", err)
			if !tc.usable {
				select {
				case <-p.Done():
				case <-time.After(5 * time.Second):
					t.Fatal("half-negotiated peer not closed")
				}
				if !errors.Is(p.Err(), tc.want) {
					t.Fatalf("Err() = %v", p.Err())
				}
				return
			}
			if p.Err() != nil {
				t.Fatalf("peer closed: %v", p.Err())
			}
			c := newClient(t, false)
			if _, err := c.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
				t.Fatal(err)
			}
			connect(t, c, p)
			waitConnected(t, c, 5*time.Second)
		})
	}
}

// TestSetAnswerBadSDP: a broken answer to a server offer is refused; the
// offer stays outstanding when pion did not apply the answer.
func TestSetAnswerBadSDP(t *testing.T) {
	t.Parallel()
	e := newEngine(t, testConfig())
	p := newPeer(t, e, "offerer")
	if _, err := p.AddTrack(OpusCodec(), "a", "s"); err != nil {
		t.Fatal(err)
	}
	offer, err := p.Offer()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetAnswer("garbage"); !errors.Is(err, ErrBadSDP) {
		t.Fatalf("SetAnswer(garbage): %v", err)
	}
	// The offer is still outstanding: a real answer completes it.
	c := newClient(t, false)
	if err := p.SetAnswer(clientAnswer(t, c, offer)); err != nil {
		t.Fatalf("SetAnswer: %v", err)
	}
	waitConnected(t, c, 5*time.Second)
}
