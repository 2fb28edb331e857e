package rtpframe

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/pion/rtp"

	"github.com/minirtc/minirtc/internal/media"
)

// maxOpusPacket is the largest Opus packet carried: 120 ms of 1275-byte
// frames (RFC 6716 3.4) is below it, and so is any UDP datagram we read.
const maxOpusPacket = 1 << 16

// OpusPacketizer puts each Opus frame in one RTP packet (RFC 7587) with a
// 48 kHz timestamp from its DTS. Not safe for concurrent use.
type OpusPacketizer struct {
	ssrc     uint32
	pt       uint8
	seq      uint16
	tsOffset uint32
}

// NewOpusPacketizer returns a packetizer with a random first sequence
// number and timestamp offset (RFC 3550 5.1).
func NewOpusPacketizer(ssrc uint32, payloadType uint8) *OpusPacketizer {
	return &OpusPacketizer{ssrc: ssrc, pt: payloadType, seq: uint16(rand.Uint32()), tsOffset: rand.Uint32()}
}

// Timestamp returns the RTP timestamp of a time in ms.
func (p *OpusPacketizer) Timestamp(ms int64) uint32 {
	return uint32(ms*(OpusClockRate/1000)) + p.tsOffset
}

// Packetize returns the packet of one Opus frame. Its payload is f's
// payload, not a copy: frames are immutable.
func (p *OpusPacketizer) Packetize(f *media.Frame) (*rtp.Packet, error) {
	if f.Kind != media.Audio || f.Codec != media.Opus || f.Config {
		return nil, fmt.Errorf("Opus packetizer given a %s %s frame", f.Codec, f.Kind)
	}
	if len(f.Payload) == 0 || len(f.Payload) > maxOpusPacket {
		return nil, fmt.Errorf("%w: Opus packet of %d bytes", ErrMalformed, len(f.Payload))
	}
	pkt := &rtp.Packet{
		Header: rtp.Header{
			Version: 2, PayloadType: p.pt, SequenceNumber: p.seq, Timestamp: p.Timestamp(f.DTS), SSRC: p.ssrc,
		},
		Payload: f.Payload,
	}
	p.seq++
	return pkt, nil
}

// OpusDepacketizer turns the RTP packets of an Opus track into frames, one
// per packet, with DTS in ms from 0 at the first one. Loss needs no
// handling: every Opus packet decodes on its own (the decoder conceals
// gaps). Packets are reordered like H.264 ones. Not safe for concurrent use.
type OpusDepacketizer struct {
	reorder  reorder
	released []released
	timeline timeline
}

// NewOpusDepacketizer returns a depacketizer.
func NewOpusDepacketizer() *OpusDepacketizer {
	return &OpusDepacketizer{reorder: newReorder(OpusClockRate), timeline: timeline{clockRate: OpusClockRate}}
}

// BaseTimestamp returns the RTP timestamp of DTS 0, once a frame has been
// delivered (see H264Depacketizer.BaseTimestamp).
func (d *OpusDepacketizer) BaseTimestamp() (uint32, bool) {
	return d.timeline.base0, d.timeline.based
}

// Push takes one RTP packet and returns the frames it releases, in order.
// p is not retained; payloads are copied. Empty (padding) packets give no
// frame. Any payload is passed on: the decoder judges Opus packets.
func (d *OpusDepacketizer) Push(p *rtp.Packet) ([]*media.Frame, error) {
	if p == nil {
		return nil, errors.New("nil RTP packet")
	}
	d.released = d.reorder.push(p, d.released[:0])
	var frames []*media.Frame
	for _, r := range d.released {
		if len(r.p.Payload) == 0 {
			continue
		}
		payload := make([]byte, len(r.p.Payload))
		copy(payload, r.p.Payload)
		dts := d.timeline.dts(d.timeline.advance(r.p.Timestamp))
		frames = append(frames, &media.Frame{Kind: media.Audio, Codec: media.Opus, DTS: dts, Payload: payload})
	}
	clear(d.released)
	return frames, nil
}
