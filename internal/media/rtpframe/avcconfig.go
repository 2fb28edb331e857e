package rtpframe

import (
	"bytes"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// AVCConfig is an AVCDecoderConfigurationRecord (ISO/IEC 14496-15
// 5.3.3.1), the hub's H.264 configuration frame. mediacommon has no
// parser for the record itself (only for what is inside), so it lives here.
type AVCConfig struct {
	Profile       uint8 // AVCProfileIndication, profile_idc of the SPS
	Compatibility uint8 // profile_compatibility, the SPS constraint flags
	Level         uint8 // AVCLevelIndication, level_idc of the SPS
	// LengthSize is the size of the NAL unit length prefixes in frames
	// (1, 2 or 4). The hub's frames use 4; RTMP publishers may say otherwise.
	LengthSize int
	SPS        [][]byte
	PPS        [][]byte
}

// maxParameterSets bounds the SPS and PPS lists of a record: the format
// allows 31 SPS and 255 PPS; encoders use one of each.
const maxParameterSets = 32

// ParseAVCConfig parses an AVCDecoderConfigurationRecord. The SPS and PPS
// slices alias b. The trailing High-profile fields (chroma format, bit
// depths, SPS extensions) are not needed by RTP and are skipped.
func ParseAVCConfig(b []byte) (AVCConfig, error) {
	var c AVCConfig
	if len(b) < 7 {
		return c, fmt.Errorf("%w: AVC config record of %d bytes", ErrMalformed, len(b))
	}
	if b[0] != 1 {
		return c, fmt.Errorf("%w: AVC config record version %d", ErrMalformed, b[0])
	}
	c.Profile, c.Compatibility, c.Level = b[1], b[2], b[3]
	c.LengthSize = int(b[4]&0x03) + 1
	if c.LengthSize == 3 {
		return c, fmt.Errorf("%w: AVC config record with 3-byte NAL lengths", ErrMalformed)
	}
	pos := 5
	var err error
	if c.SPS, pos, err = readParameterSets(b, pos, int(b[pos]&0x1F), h264.NALUTypeSPS); err != nil {
		return c, err
	}
	if pos >= len(b) {
		return c, fmt.Errorf("%w: AVC config record ends before its PPS count", ErrMalformed)
	}
	if c.PPS, _, err = readParameterSets(b, pos, int(b[pos]), h264.NALUTypePPS); err != nil {
		return c, err
	}
	if len(c.SPS) == 0 || len(c.PPS) == 0 {
		return c, fmt.Errorf("%w: AVC config record without SPS or PPS", ErrMalformed)
	}
	return c, nil
}

// readParameterSets reads n length-prefixed NAL units of type typ after the
// count byte at b[pos], returning them and the position after the last.
func readParameterSets(b []byte, pos, n int, typ h264.NALUType) ([][]byte, int, error) {
	pos++ // the count byte
	if n > maxParameterSets {
		return nil, pos, fmt.Errorf("%w: AVC config record with %d %s", ErrMalformed, n, typ)
	}
	out := make([][]byte, 0, n)
	for range n {
		if len(b)-pos < 2 {
			return nil, pos, fmt.Errorf("%w: AVC config record truncated in its %s list", ErrMalformed, typ)
		}
		l := int(b[pos])<<8 | int(b[pos+1])
		pos += 2
		if l == 0 || l > MaxParameterSetSize || len(b)-pos < l {
			return nil, pos, fmt.Errorf("%w: AVC config record has a %s of %d bytes", ErrMalformed, typ, l)
		}
		nal := b[pos : pos+l]
		if h264.NALUType(nal[0]&0x1F) != typ {
			return nil, pos, fmt.Errorf("%w: AVC config record lists a %s as %s", ErrMalformed, h264.NALUType(nal[0]&0x1F), typ)
		}
		out = append(out, nal)
		pos += l
	}
	return out, pos, nil
}

// Marshal builds the record with 4-byte NAL lengths, taking profile and
// level from the first SPS. For the High profiles it appends the chroma
// format and bit depths the format requires, read from the SPS.
func (c AVCConfig) Marshal() ([]byte, error) {
	if len(c.SPS) == 0 || len(c.PPS) == 0 {
		return nil, fmt.Errorf("%w: AVC config needs an SPS and a PPS", ErrMalformed)
	}
	if len(c.SPS) > maxParameterSets || len(c.PPS) > maxParameterSets {
		return nil, fmt.Errorf("%w: AVC config with %d SPS and %d PPS", ErrMalformed, len(c.SPS), len(c.PPS))
	}
	sps := c.SPS[0]
	if len(sps) < 4 {
		return nil, fmt.Errorf("%w: SPS of %d bytes", ErrMalformed, len(sps))
	}
	size := 7
	for _, ps := range append(c.SPS[:len(c.SPS):len(c.SPS)], c.PPS...) {
		if len(ps) == 0 || len(ps) > MaxParameterSetSize {
			return nil, fmt.Errorf("%w: parameter set of %d bytes", ErrMalformed, len(ps))
		}
		size += 2 + len(ps)
	}
	b := make([]byte, 0, size+4)
	b = append(b, 1, sps[1], sps[2], sps[3], 0xFF, 0xE0|byte(len(c.SPS)))
	for _, ps := range c.SPS {
		b = append(b, byte(len(ps)>>8), byte(len(ps)))
		b = append(b, ps...)
	}
	b = append(b, byte(len(c.PPS)))
	for _, ps := range c.PPS {
		b = append(b, byte(len(ps)>>8), byte(len(ps)))
		b = append(b, ps...)
	}
	switch sps[1] {
	case 100, 110, 122, 144:
		var s h264.SPS
		if s.Unmarshal(sps) == nil {
			b = append(b, 0xFC|byte(s.ChromaFormatIdc&3), 0xF8|byte(s.BitDepthLumaMinus8&7),
				0xF8|byte(s.BitDepthChromaMinus8&7), 0)
		}
	}
	return b, nil
}

// equalParameterSets reports whether two lists hold the same NAL units.
func equalParameterSets(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
