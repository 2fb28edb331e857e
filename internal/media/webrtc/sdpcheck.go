package webrtc

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// checkSDP applies this package's limits to a client's description before
// pion sees it: pion would create a transceiver per m= section and parse
// every line, so the size and section count are bounded first. An offer
// must also have an audio or video section with a codec we speak, because
// once pion applied an offer it cannot be rolled back.
func checkSDP(raw string, isOffer bool) error {
	if strings.TrimSpace(raw) == "" {
		return fmt.Errorf("%w: empty", ErrBadSDP)
	}
	if len(raw) > MaxSDPBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrSDPTooLarge, len(raw), MaxSDPBytes)
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(raw); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	if n := len(d.MediaDescriptions); n > MaxMediaSections {
		return fmt.Errorf("%w: %d, at most %d", ErrTooManyMediaSections, n, MaxMediaSections)
	}
	if !isOffer {
		return nil
	}
	media, supported := 0, 0
	var offered []string
	for _, m := range d.MediaDescriptions {
		kind := m.MediaName.Media
		if kind != "audio" && kind != "video" {
			continue
		}
		media++
		names := rtpmapNames(m)
		offered = append(offered, kind+":"+strings.Join(names, ","))
		for _, n := range names {
			if supportedCodec(kind, n) {
				supported++
				break
			}
		}
	}
	switch {
	case media == 0:
		return ErrNoMedia
	case supported == 0:
		return fmt.Errorf("%w (offered %s)", ErrNoSupportedCodecs, strings.Join(offered, " "))
	}
	return nil
}

// rtpmapNames lists a section's codecs as "name/clock" (lower case), e.g.
// "opus/48000", "h264/90000". Static payload types without rtpmap (PCMU,
// PCMA) are not codecs we speak, so they are not listed.
func rtpmapNames(m *sdp.MediaDescription) []string {
	var out []string
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, rest, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		if _, err := strconv.ParseUint(pt, 10, 8); err != nil {
			continue
		}
		// "opus/48000/2" -> "opus/48000"
		parts := strings.SplitN(strings.ToLower(strings.TrimSpace(rest)), "/", 3)
		if len(parts) >= 2 {
			out = append(out, parts[0]+"/"+parts[1])
		}
	}
	return out
}

// supportedCodec mirrors pion's fallback match (MIME type and clock rate):
// an H.264 profile we did not list still negotiates, as pion would.
func supportedCodec(kind, nameClock string) bool {
	switch kind {
	case "audio":
		return nameClock == "opus/48000"
	case "video":
		return nameClock == "h264/90000" || nameClock == "vp8/90000"
	}
	return false
}

// acceptedMedia counts the audio/video sections a description keeps
// (pion rejects a section with port 0 when no codec matched).
func acceptedMedia(raw string) int {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(raw); err != nil {
		return 0
	}
	n := 0
	for _, m := range d.MediaDescriptions {
		if (m.MediaName.Media == "audio" || m.MediaName.Media == "video") &&
			m.MediaName.Port.Value != 0 && len(m.MediaName.Formats) > 0 {
			n++
		}
	}
	return n
}
