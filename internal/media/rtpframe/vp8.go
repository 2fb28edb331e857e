package rtpframe

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/minirtc/minirtc/internal/media"
)

// VP8 (RFC 7741) between WebRTC participants. The hub carries one VP8 frame
// per media.Frame; since VP8 has no configuration record, the depacketizer
// makes one (media.VP8Config: the picture size) from each keyframe whose
// size differs from the last.

// VP8Depacketizer turns the RTP packets of a VP8 track into frames. A frame
// whose packets did not all arrive is dropped, and so is everything until
// the next keyframe (NeedKeyframe reports it, for a PLI). Not safe for
// concurrent use.
type VP8Depacketizer struct {
	reorder  reorder
	released []released
	timeline timeline

	buf       []byte
	ts        uint32
	inFrame   bool
	broken    bool // a packet of the frame in progress was lost
	needKey   bool
	w, h      int
	frameSeen bool
}

// NewVP8Depacketizer returns a depacketizer waiting for a keyframe.
func NewVP8Depacketizer() *VP8Depacketizer {
	return &VP8Depacketizer{reorder: newReorder(VideoClockRate), timeline: timeline{clockRate: VideoClockRate}, needKey: true}
}

// NeedKeyframe reports whether frames are being dropped until a keyframe.
func (d *VP8Depacketizer) NeedKeyframe() bool { return d.needKey }

// BaseTimestamp returns the RTP timestamp of DTS 0, once a frame has been
// delivered (see H264Depacketizer.BaseTimestamp).
func (d *VP8Depacketizer) BaseTimestamp() (uint32, bool) {
	return d.timeline.base0, d.timeline.based
}

// Push takes one RTP packet and returns the frames it completes (a config
// frame before a keyframe of a new size). p is not retained.
func (d *VP8Depacketizer) Push(p *rtp.Packet) ([]*media.Frame, error) {
	if p == nil {
		return nil, errors.New("nil RTP packet")
	}
	d.released = d.reorder.push(p, d.released[:0])
	var frames []*media.Frame
	var firstErr error
	for _, r := range d.released {
		out, err := d.take(r)
		frames = append(frames, out...)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	clear(d.released)
	return frames, firstErr
}

func (d *VP8Depacketizer) take(r released) ([]*media.Frame, error) {
	if r.lost {
		d.broken = d.inFrame
		if !d.inFrame {
			d.needKey = true
		}
	}
	if len(r.p.Payload) == 0 {
		return nil, nil // padding
	}
	var vp codecs.VP8Packet
	payload, err := vp.Unmarshal(r.p.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: VP8 payload descriptor: %v", ErrMalformed, err)
	}
	var out []*media.Frame
	if d.inFrame && r.p.Timestamp != d.ts {
		// The previous frame never saw its marker: a lost last packet.
		d.inFrame, d.broken, d.needKey = false, false, true
	}
	if vp.S == 1 && vp.PID == 0 {
		d.inFrame, d.broken, d.ts, d.buf = true, false, r.p.Timestamp, d.buf[:0]
	} else if !d.inFrame {
		return nil, nil // the middle of a frame whose start was lost
	}
	if len(d.buf)+len(payload) > MaxAccessUnitSize {
		d.inFrame, d.needKey = false, true
		return nil, fmt.Errorf("%w: VP8 frame over %d bytes", ErrTooLarge, MaxAccessUnitSize)
	}
	d.buf = append(d.buf, payload...)
	if !r.p.Marker {
		return nil, nil
	}
	d.inFrame = false
	dts := d.timeline.dts(d.timeline.advance(d.ts))
	if d.broken {
		d.broken, d.needKey = false, true
		return nil, nil
	}
	key, w, h := vp8Keyframe(d.buf)
	if !key && d.needKey {
		return nil, nil
	}
	if key {
		d.needKey = false
		if !d.frameSeen || w != d.w || h != d.h {
			d.frameSeen, d.w, d.h = true, w, h
			out = append(out, &media.Frame{Kind: media.Video, Codec: media.VP8, Config: true, DTS: dts, Payload: media.VP8Config(w, h)})
		}
	}
	frame := make([]byte, len(d.buf))
	copy(frame, d.buf)
	return append(out, &media.Frame{Kind: media.Video, Codec: media.VP8, Key: key, DTS: dts, Payload: frame}), nil
}

// vp8Keyframe reads a VP8 frame's tag (RFC 6386 9.1): a keyframe has bit 0
// clear and, after the 3-byte tag, the start code and its picture size.
func vp8Keyframe(b []byte) (key bool, w, h int) {
	if len(b) < 10 || b[0]&1 != 0 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		return false, 0, 0
	}
	return true, int(b[6]) | int(b[7]&0x3f)<<8, int(b[8]) | int(b[9]&0x3f)<<8
}

// VP8Packetizer splits VP8 frames into RTP packets (RFC 7741, with a
// 15-bit picture id). Not safe for concurrent use.
type VP8Packetizer struct {
	ssrc      uint32
	pt        uint8
	mtu       int
	seq       uint16
	tsOffset  uint32
	payloader codecs.VP8Payloader
}

// NewVP8Packetizer returns a packetizer with random sequence numbers and
// timestamp offset; mtu ≤ 0 means DefaultMTU.
func NewVP8Packetizer(ssrc uint32, payloadType uint8, mtu int) *VP8Packetizer {
	if mtu <= 0 {
		mtu = DefaultMTU
	}
	mtu = max(mtu, MinMTU)
	return &VP8Packetizer{ssrc: ssrc, pt: payloadType, mtu: mtu, seq: uint16(rand.Uint32()), tsOffset: rand.Uint32(),
		payloader: codecs.VP8Payloader{EnablePictureID: true}}
}

// Packetize returns the packets of one VP8 frame; config frames give none.
func (p *VP8Packetizer) Packetize(f *media.Frame) ([]*rtp.Packet, error) {
	if f.Kind != media.Video || f.Codec != media.VP8 {
		return nil, fmt.Errorf("VP8 packetizer given a %s %s frame", f.Codec, f.Kind)
	}
	if f.Config {
		return nil, nil
	}
	if len(f.Payload) == 0 {
		return nil, fmt.Errorf("%w: empty VP8 frame", ErrMalformed)
	}
	payloads := p.payloader.Payload(uint16(p.mtu-rtpHeaderSize), f.Payload)
	ts := uint32((f.DTS+int64(f.CTS))*(VideoClockRate/1000)) + p.tsOffset
	out := make([]*rtp.Packet, len(payloads))
	for i, pl := range payloads {
		out[i] = &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: p.pt, SequenceNumber: p.seq, Timestamp: ts, SSRC: p.ssrc,
			Marker: i == len(payloads)-1}, Payload: pl}
		p.seq++
	}
	return out, nil
}
