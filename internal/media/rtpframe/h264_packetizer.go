package rtpframe

import (
	"fmt"
	"math/rand/v2"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"github.com/minirtc/minirtc/internal/media"
)

// H264Packetizer turns H.264 frames into RTP packets (RFC 6184,
// packetization-mode 1): NAL units that fit a packet go alone, or several
// in a STAP-A; larger ones are cut into FU-A fragments. It keeps the SPS and
// PPS of the last configuration record and sends them ahead of every IDR
// that does not carry its own, so that any IDR is a place to start
// decoding. Not safe for concurrent use.
type H264Packetizer struct {
	ssrc       uint32
	pt         uint8
	maxPayload int
	seq        uint16
	tsOffset   uint32

	sps, pps   [][]byte // owned copies
	lengthSize int

	nalus [][]byte // scratch, reused between frames
}

// NewH264Packetizer returns a packetizer whose packets are at most mtu bytes
// with the 12-byte RTP header (mtu <= 0 means DefaultMTU, less than MinMTU
// means MinMTU). A WebRTC egress should leave room for the header
// extensions the peer connection adds. The first sequence number and the
// timestamp offset are random (RFC 3550 5.1).
func NewH264Packetizer(ssrc uint32, payloadType uint8, mtu int) *H264Packetizer {
	return &H264Packetizer{
		ssrc:       ssrc,
		pt:         payloadType,
		maxPayload: clampMTU(mtu) - rtpHeaderSize,
		seq:        uint16(rand.Uint32()),
		tsOffset:   rand.Uint32(),
		lengthSize: 4,
	}
}

func clampMTU(mtu int) int {
	switch {
	case mtu <= 0:
		return DefaultMTU
	case mtu < MinMTU:
		return MinMTU
	case mtu > 0xFFFF: // STAP-A sizes are 16-bit
		return 0xFFFF
	}
	return mtu
}

// SetConfig takes the SPS, PPS and NAL length size from an
// AVCDecoderConfigurationRecord. On error the previous config stays.
func (p *H264Packetizer) SetConfig(avcc []byte) error {
	c, err := ParseAVCConfig(avcc)
	if err != nil {
		return err
	}
	p.sps, p.pps, p.lengthSize = cloneAll(c.SPS), cloneAll(c.PPS), c.LengthSize
	return nil
}

func cloneAll(in [][]byte) [][]byte {
	out := make([][]byte, len(in))
	for i, b := range in {
		out[i] = append([]byte(nil), b...)
	}
	return out
}

// Timestamp returns the RTP timestamp of a presentation time in ms.
func (p *H264Packetizer) Timestamp(ptsMS int64) uint32 {
	return uint32(ptsMS*(VideoClockRate/1000)) + p.tsOffset
}

// Packetize returns the packets of one access unit; the marker bit is set
// on the last. A configuration frame updates the SPS/PPS and yields no
// packets. The packets and their payloads are new on every call (the
// caller may keep them, e.g. for retransmission) and do not alias f.
// An IDR sent before any configuration goes out as it is: the peer will
// ask for another with a PLI.
func (p *H264Packetizer) Packetize(f *media.Frame) ([]*rtp.Packet, error) {
	if f.Kind != media.Video || f.Codec != media.H264 {
		return nil, fmt.Errorf("H.264 packetizer given a %s %s frame", f.Codec, f.Kind)
	}
	if f.Config {
		return nil, p.SetConfig(f.Payload)
	}
	nalus, err := splitAVCC(p.nalus[:0], f.Payload, p.lengthSize)
	p.nalus = nalus[:0]
	defer clear(nalus[:cap(nalus)]) // do not keep the frame alive
	if err != nil {
		return nil, err
	}
	if nalus, err = p.prepare(nalus, f.Key); err != nil || len(nalus) == 0 {
		return nil, err
	}
	if cap(nalus) > cap(p.nalus) { // grown by the parameter sets: keep that
		p.nalus = nalus[:0]
		defer clear(nalus[:cap(nalus)])
	}
	return p.packetize(nalus, p.Timestamp(f.DTS+int64(f.CTS))), nil
}

// prepare drops access unit delimiters and puts the parameter sets in
// front of an IDR (or a frame the publisher marked key: an I-frame with a
// recovery point) that lacks them. It refuses NAL unit types 0 and 24-31,
// which RTP would read as its own packet types, and the forbidden bit.
func (p *H264Packetizer) prepare(nalus [][]byte, key bool) ([][]byte, error) {
	idr, inband := key, false
	kept := nalus[:0]
	for _, n := range nalus {
		if t := n[0] & 0x1F; t == 0 || t >= typeSTAPA || n[0]&0x80 != 0 {
			return nil, fmt.Errorf("%w: NAL unit header %#02x in an H.264 frame", ErrMalformed, n[0])
		}
		switch nalType(n) {
		case h264.NALUTypeAccessUnitDelimiter:
			continue
		case h264.NALUTypeIDR:
			idr = true
		case h264.NALUTypeSPS, h264.NALUTypePPS:
			inband = true
		}
		kept = append(kept, n)
	}
	if !idr || inband || len(p.sps) == 0 {
		return kept, nil
	}
	extra := len(p.sps) + len(p.pps)
	if len(kept)+extra > MaxNALUsPerAccessUnit {
		return kept, fmt.Errorf("%w: more than %d NAL units", ErrTooLarge, MaxNALUsPerAccessUnit)
	}
	kept = append(kept, make([][]byte, extra)...)
	copy(kept[extra:], kept[:len(kept)-extra])
	copy(kept, p.sps)
	copy(kept[len(p.sps):], p.pps)
	return kept, nil
}

// packetize lays the NAL units out in packets. All payloads share one
// buffer and all packets one array: three allocations per access unit.
func (p *H264Packetizer) packetize(nalus [][]byte, ts uint32) []*rtp.Packet {
	size, count := len(nalus), 0 // a STAP-A header per NAL unit at most
	for _, n := range nalus {
		size += len(n) + 2
		count++
		if len(n) > p.maxPayload {
			frags := (len(n) - 1 + p.maxPayload - 3) / (p.maxPayload - 2)
			size += 2 * frags
			count += frags
		}
	}
	buf := make([]byte, 0, size)
	pkts := make([]rtp.Packet, 0, count)
	add := func(payload []byte) {
		pkts = append(pkts, rtp.Packet{
			Header: rtp.Header{
				Version: 2, PayloadType: p.pt, SequenceNumber: p.seq, Timestamp: ts, SSRC: p.ssrc,
			},
			Payload: payload[:len(payload):len(payload)],
		})
		p.seq++
	}
	for i := 0; i < len(nalus); {
		n := nalus[i]
		if len(n) > p.maxPayload {
			buf = p.fragment(buf, n, add)
			i++
			continue
		}
		// Gather the following small NAL units into one STAP-A.
		j, stap := i, 1
		for j < len(nalus) && stap+2+len(nalus[j]) <= p.maxPayload {
			stap += 2 + len(nalus[j])
			j++
		}
		start := len(buf)
		if j-i < 2 {
			buf = append(buf, n...)
			add(buf[start:])
			i++
			continue
		}
		var f, nri byte // RFC 6184 5.7.1: F if any has it, the highest NRI
		for _, m := range nalus[i:j] {
			f, nri = f|m[0]&0x80, max(nri, m[0]&0x60)
		}
		buf = append(buf, f|nri|typeSTAPA)
		for _, m := range nalus[i:j] {
			buf = append(buf, byte(len(m)>>8), byte(len(m)))
			buf = append(buf, m...)
		}
		add(buf[start:])
		i = j
	}
	pkts[len(pkts)-1].Marker = true
	out := make([]*rtp.Packet, len(pkts))
	for i := range pkts {
		out[i] = &pkts[i]
	}
	return out
}

// fragment cuts one NAL unit into FU-A packets.
func (p *H264Packetizer) fragment(buf, n []byte, add func([]byte)) []byte {
	indicator := n[0]&0xE0 | typeFUA
	hdr := n[0]&0x1F | fuStart
	chunk := p.maxPayload - 2
	for data := n[1:]; len(data) > 0; hdr &^= fuStart {
		k := min(chunk, len(data))
		if k == len(data) {
			hdr |= fuEnd
		}
		start := len(buf)
		buf = append(buf, indicator, hdr)
		buf = append(buf, data[:k]...)
		add(buf[start:])
		data = data[k:]
	}
	return buf
}
