package webrtc

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Payload types the engine offers. When it answers, the client's payload
// types are kept (pion echoes them), so these only matter for server offers.
const (
	PayloadTypeOpus     = 111
	PayloadTypeH264     = 102 // 42e01f, Constrained Baseline
	PayloadTypeH264Base = 104 // 42001f, Baseline
	PayloadTypeH264Main = 106 // 4d001f
	PayloadTypeH264High = 108 // 640c1f, Constrained High
	PayloadTypeVP8      = 96
)

const (
	h264FmtpCommonPrefix  = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id="
	opusFmtp              = "minptime=10;useinbandfec=1"
	h264ProfileBaselineCB = "42e01f"
)

// OpusCodec is the audio codec: Opus 48 kHz stereo with in-band FEC.
func OpusCodec() webrtc.RTPCodecCapability {
	return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: opusFmtp}
}

// H264Codec is H.264 in packetization-mode 1 with the given
// profile-level-id; "" means 42e01f (Constrained Baseline), which every
// browser decodes. Pion matches a track to a negotiated codec by profile
// (first two bytes), not level.
func H264Codec(profileLevelID string) webrtc.RTPCodecCapability {
	if profileLevelID == "" {
		profileLevelID = h264ProfileBaselineCB
	}
	return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264FmtpCommonPrefix + profileLevelID}
}

// VP8Codec is VP8, for browsers that publish it.
func VP8Codec() webrtc.RTPCodecCapability {
	return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
}

// newMediaEngine registers the codecs minirtc speaks, preferred first. H.264
// comes before VP8 because H.264 passes through to and from RTMP/FLV
// unchanged; 42e01f comes first because every browser decodes it. No RTX:
// retransmissions then arrive on the media SSRC, which keeps the hub bridge
// simple (the NACK responder resends the original packets).
func newMediaEngine() (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: OpusCodec(), PayloadType: PayloadTypeOpus}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register opus: %w", err)
	}
	// nack and transport-cc feedback are added by the interceptor set-up.
	videoFB := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}}
	video := []webrtc.RTPCodecParameters{
		{RTPCodecCapability: H264Codec("42e01f"), PayloadType: PayloadTypeH264},
		{RTPCodecCapability: H264Codec("42001f"), PayloadType: PayloadTypeH264Base},
		{RTPCodecCapability: H264Codec("4d001f"), PayloadType: PayloadTypeH264Main},
		{RTPCodecCapability: H264Codec("640c1f"), PayloadType: PayloadTypeH264High},
		{RTPCodecCapability: VP8Codec(), PayloadType: PayloadTypeVP8},
	}
	for _, c := range video {
		c.RTCPFeedback = videoFB
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, fmt.Errorf("register %s: %w", c.MimeType, err)
		}
	}
	// Audio level lets the room compute who is speaking without decoding.
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register audio level: %w", err)
	}
	return m, nil
}

// newInterceptors builds the per-connection RTP/RTCP processing chain:
//   - NACK generator (ask publishers to resend lost packets) and responder
//     (resend to subscribers from a send buffer);
//   - RTCP sender and receiver reports (lip sync, RTT, loss for clients);
//   - TWCC feedback for what clients send, so that a publishing browser
//     runs its send-side bandwidth estimation; left out of connections that
//     only send (subscriber downlinks, withTWCC false): a browser then
//     estimates what it receives itself and reports it in REMB, which is
//     what a congested subscriber's egress goes by (congestion.go). We put
//     no transport-wide sequence numbers on what we send, for the same
//     reason: with them, browsers send TWCC feedback instead of REMB.
//   - MID/RID header extensions for BUNDLE demuxing and later simulcast.
//
// Not included: pion's stats interceptor (a global registry keyed by
// connection) and periodic PLI (keyframes are requested on demand, SendPLI).
func newInterceptors(m *webrtc.MediaEngine, withTWCC bool) (*interceptor.Registry, error) {
	r := &interceptor.Registry{}
	if err := webrtc.ConfigureNack(m, r); err != nil {
		return nil, fmt.Errorf("nack: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(r); err != nil {
		return nil, fmt.Errorf("rtcp reports: %w", err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return nil, fmt.Errorf("mid/rid extensions: %w", err)
	}
	if withTWCC {
		if err := webrtc.ConfigureTWCCSender(m, r); err != nil {
			return nil, fmt.Errorf("twcc feedback: %w", err)
		}
	}
	return r, nil
}

// h264Preference ranks H.264 profile-level-id prefixes (profile and
// constraint bytes; the level does not matter for matching).
var h264Preference = []string{"42e0", "4200", "4d00", "640c"}

// codecRank orders codecs for our answers: lower is preferred. A browser
// sends with the first codec of the answer, so this decides what it
// publishes: H.264 Constrained Baseline before other profiles (every
// player decodes it, and it passes through to RTMP/FLV), VP8 last.
func codecRank(c webrtc.RTPCodecParameters) int {
	switch strings.ToLower(c.MimeType) {
	case strings.ToLower(webrtc.MimeTypeOpus):
		return 0
	case strings.ToLower(webrtc.MimeTypeH264):
		params := strings.ToLower(c.SDPFmtpLine)
		if !strings.Contains(params, "packetization-mode=1") {
			return 20
		}
		for i, prefix := range h264Preference {
			if strings.Contains(params, "profile-level-id="+prefix) {
				return 1 + i
			}
		}
		return 10
	case strings.ToLower(webrtc.MimeTypeVP8):
		return 30
	}
	return 40
}

// preferCodecs reorders each transceiver's codecs by codecRank before an
// answer is created; pion otherwise keeps the offer's order (Chrome lists
// VP8 first). Payload types and parameters stay the client's.
func preferCodecs(pc *webrtc.PeerConnection) error {
	for _, t := range pc.GetTransceivers() {
		r := t.Receiver()
		if r == nil {
			continue
		}
		// GetParameters returns pion's own slice: sort a copy.
		codecs := slices.Clone(r.GetParameters().Codecs)
		if len(codecs) < 2 {
			continue
		}
		slices.SortStableFunc(codecs, func(a, b webrtc.RTPCodecParameters) int { return codecRank(a) - codecRank(b) })
		if err := t.SetCodecPreferences(codecs); err != nil {
			return fmt.Errorf("codec preferences for %s: %w", t.Kind(), err)
		}
	}
	return nil
}
