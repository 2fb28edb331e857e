package rtpframe

import (
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// RTP payload structure types of RFC 6184 (5.2), in the NAL type field.
const (
	typeSTAPA  = 24
	typeSTAPB  = 25
	typeMTAP16 = 26
	typeMTAP24 = 27
	typeFUA    = 28
	typeFUB    = 29
)

// FU-A header bits.
const (
	fuStart = 0x80
	fuEnd   = 0x40
)

func nalType(nal []byte) h264.NALUType { return h264.NALUType(nal[0] & 0x1F) }

// splitAVCC appends the NAL units of an AVCC payload with lengthSize-byte
// prefixes to nalus, skipping empty ones. We split by hand rather than with
// mediacommon's h264.AVCC because that allocates on every call and knows
// only 4-byte prefixes, and RTMP publishers may declare 1 or 2.
func splitAVCC(nalus [][]byte, b []byte, lengthSize int) ([][]byte, error) {
	for len(b) > 0 {
		if len(b) < lengthSize {
			return nalus, fmt.Errorf("%w: AVCC payload ends inside a NAL unit length", ErrMalformed)
		}
		var l int
		for _, c := range b[:lengthSize] {
			l = l<<8 | int(c)
		}
		b = b[lengthSize:]
		if l > len(b) {
			return nalus, fmt.Errorf("%w: AVCC NAL unit of %d bytes in %d", ErrMalformed, l, len(b))
		}
		if l > 0 {
			if len(nalus) == MaxNALUsPerAccessUnit {
				return nalus, fmt.Errorf("%w: more than %d NAL units", ErrTooLarge, MaxNALUsPerAccessUnit)
			}
			nalus = append(nalus, b[:l])
		}
		b = b[l:]
	}
	return nalus, nil
}

// startsAccessUnit reports whether an RTP payload begins a new access unit
// for sure: it starts with a NAL unit that only comes first in an access
// unit (AUD, SPS, PPS, SEI) or with the first slice of a picture
// (first_mb_in_slice = 0, whose ue(v) code is the single bit 1). After
// packet loss this tells a whole access unit from one whose head was lost,
// which matters most for the IDR a PLI asked for.
func startsAccessUnit(payload []byte) bool {
	if len(payload) < 2 {
		return false
	}
	typ, body := payload[0]&0x1F, payload[1:]
	switch typ {
	case typeSTAPA:
		if len(payload) < 4 {
			return false
		}
		l := int(payload[1])<<8 | int(payload[2])
		if l == 0 || len(payload)-3 < l {
			return false
		}
		typ, body = payload[3]&0x1F, payload[4:3+l]
	case typeFUA:
		if payload[1]&fuStart == 0 {
			return false
		}
		typ, body = payload[1]&0x1F, payload[2:]
	}
	switch h264.NALUType(typ) {
	case h264.NALUTypeAccessUnitDelimiter, h264.NALUTypeSPS, h264.NALUTypePPS, h264.NALUTypeSEI:
		return true
	case h264.NALUTypeIDR, h264.NALUTypeNonIDR:
		return len(body) > 0 && body[0]&0x80 != 0
	}
	return false
}
