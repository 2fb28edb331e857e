package rtpframe

import (
	"bytes"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// accessUnit collects the NAL units of one access unit from RTP payloads
// (single NAL unit, STAP-A and FU-A packets) into an AVCC buffer that is
// reused from one access unit to the next. SPS and PPS are kept apart:
// they go into the configuration frame, not the picture's payload.
type accessUnit struct {
	active bool
	ts     uint32
	broken bool // a packet was lost or malformed: the whole unit is dropped
	idr    bool
	nalus  int
	buf    []byte // AVCC, 4-byte lengths
	fu     int    // offset in buf of the NAL unit an FU-A is building, -1 if none
	sps    [][]byte
	pps    [][]byte
}

func (a *accessUnit) reset(ts uint32) {
	*a = accessUnit{active: true, ts: ts, buf: a.buf[:0], fu: -1}
}

// release lets go of a buffer grown for a rare huge picture, so that an
// idle track does not hold megabytes.
func (a *accessUnit) release() {
	if cap(a.buf) > 1<<20 {
		a.buf = nil
	}
}

// add appends one RTP payload. An error means the payload broke the format
// or the limits; the unit is then broken too.
func (a *accessUnit) add(payload []byte) error {
	if a.broken {
		return nil
	}
	err := a.parse(payload)
	if err != nil {
		a.broken = true
	}
	return err
}

func (a *accessUnit) parse(payload []byte) error {
	if len(payload) == 0 {
		return nil
	}
	if payload[0]&0x80 != 0 {
		return fmt.Errorf("%w: H.264 payload with the forbidden bit set", ErrMalformed)
	}
	typ := payload[0] & 0x1F
	if typ != typeFUA && a.fu >= 0 {
		return fmt.Errorf("%w: FU-A without its end fragment", ErrMalformed)
	}
	switch {
	case typ >= 1 && typ <= 23:
		return a.addNAL(payload)
	case typ == typeSTAPA:
		return a.addSTAPA(payload[1:])
	case typ == typeFUA:
		return a.addFUA(payload)
	case typ == typeSTAPB || typ == typeMTAP16 || typ == typeMTAP24 || typ == typeFUB:
		return fmt.Errorf("%w: H.264 RTP packet type %d outside packetization-mode 1", ErrUnsupported, typ)
	}
	return fmt.Errorf("%w: H.264 RTP packet type %d", ErrMalformed, typ)
}

func (a *accessUnit) addSTAPA(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty STAP-A", ErrMalformed)
	}
	for len(b) > 0 {
		if len(b) < 2 {
			return fmt.Errorf("%w: STAP-A ends inside a NAL unit size", ErrMalformed)
		}
		l := int(b[0])<<8 | int(b[1])
		b = b[2:]
		if l == 0 || l > len(b) {
			return fmt.Errorf("%w: STAP-A NAL unit of %d bytes in %d", ErrMalformed, l, len(b))
		}
		nal := b[:l]
		b = b[l:]
		if nal[0]&0x80 != 0 {
			return fmt.Errorf("%w: NAL unit with the forbidden bit set", ErrMalformed)
		}
		if t := nal[0] & 0x1F; t == 0 || t > 23 {
			return fmt.Errorf("%w: STAP-A holds a NAL unit of type %d", ErrMalformed, t)
		}
		if err := a.addNAL(nal); err != nil {
			return err
		}
	}
	return nil
}

func (a *accessUnit) addFUA(b []byte) error {
	if len(b) < 3 {
		return fmt.Errorf("%w: FU-A of %d bytes", ErrMalformed, len(b))
	}
	hdr, data := b[1], b[2:]
	if t := hdr & 0x1F; t == 0 || t > 23 {
		return fmt.Errorf("%w: FU-A of a NAL unit of type %d", ErrMalformed, t)
	}
	if hdr&fuStart != 0 {
		if a.fu >= 0 {
			return fmt.Errorf("%w: FU-A without its end fragment", ErrMalformed)
		}
		if err := a.grow(5 + len(data)); err != nil {
			return err
		}
		a.fu = len(a.buf)
		a.buf = append(a.buf, 0, 0, 0, 0, b[0]&0xE0|hdr&0x1F)
	} else if a.fu < 0 {
		return fmt.Errorf("%w: FU-A without its start fragment", ErrMalformed)
	} else if err := a.grow(len(data)); err != nil {
		return err
	}
	a.buf = append(a.buf, data...)
	if hdr&fuEnd == 0 {
		return nil
	}
	// The NAL unit is whole: move it to where addNAL would have put it.
	start := a.fu
	a.fu = -1
	nal := a.buf[start+4:]
	switch nalType(nal) {
	case h264.NALUTypeSPS, h264.NALUTypePPS:
		err := a.addParameterSet(nal)
		a.buf = a.buf[:start]
		return err
	}
	return a.counted(start, nal)
}

// grow makes room for n more bytes within MaxAccessUnitSize, growing the
// buffer by hand so that append's rounding never takes it past the limit.
func (a *accessUnit) grow(n int) error {
	need := len(a.buf) + n
	if need > MaxAccessUnitSize {
		return fmt.Errorf("%w: over %d bytes", ErrTooLarge, MaxAccessUnitSize)
	}
	if need > cap(a.buf) {
		b := make([]byte, len(a.buf), min(max(2*cap(a.buf), need, 4096), MaxAccessUnitSize))
		copy(b, a.buf)
		a.buf = b
	}
	return nil
}

func (a *accessUnit) addNAL(nal []byte) error {
	switch nalType(nal) {
	case h264.NALUTypeSPS, h264.NALUTypePPS:
		return a.addParameterSet(nal)
	}
	if err := a.grow(4 + len(nal)); err != nil {
		return err
	}
	start := len(a.buf)
	a.buf = append(a.buf, 0, 0, 0, 0)
	a.buf = append(a.buf, nal...)
	return a.counted(start, nal)
}

// counted finishes a NAL unit that starts at buf[start] with its length.
func (a *accessUnit) counted(start int, nal []byte) error {
	a.nalus++
	if a.nalus > MaxNALUsPerAccessUnit {
		return fmt.Errorf("%w: more than %d NAL units", ErrTooLarge, MaxNALUsPerAccessUnit)
	}
	l := len(nal)
	a.buf[start], a.buf[start+1], a.buf[start+2], a.buf[start+3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
	if nalType(nal) == h264.NALUTypeIDR {
		a.idr = true
	}
	return nil
}

// addParameterSet keeps a copy of an SPS or PPS, once per access unit.
func (a *accessUnit) addParameterSet(nal []byte) error {
	if len(nal) > MaxParameterSetSize {
		return fmt.Errorf("%w: %s of %d bytes", ErrMalformed, nalType(nal), len(nal))
	}
	list := &a.pps
	if nalType(nal) == h264.NALUTypeSPS {
		list = &a.sps
	}
	for _, ps := range *list {
		if bytes.Equal(ps, nal) {
			return nil
		}
	}
	if len(*list) == maxParameterSets {
		return fmt.Errorf("%w: more than %d %s in an access unit", ErrMalformed, maxParameterSets, nalType(nal))
	}
	*list = append(*list, append([]byte(nil), nal...))
	return nil
}
