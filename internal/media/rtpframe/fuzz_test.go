package rtpframe

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pion/rtp"

	"github.com/minirtc/minirtc/internal/media"
)

// fuzzPackets decodes fuzz input as a series of packets, each as
// [flags][length][payload]: flags bit 0 is the marker, bits 1-3 a sequence
// step (0 repeats, 1 is in order, larger skips or, from 6, goes back), and
// bits 4-7 a timestamp step in frames.
func fuzzPackets(data []byte) []*rtp.Packet {
	var out []*rtp.Packet
	var seq uint16
	var ts uint32
	for len(data) >= 2 {
		flags, l := data[0], int(data[1])
		data = data[2:]
		l = min(l, len(data))
		step := int(flags>>1) & 7
		if step >= 6 {
			step = 4 - step // -2, -3
		}
		seq += uint16(step)
		ts += uint32(flags>>4) * 3000
		out = append(out, pkt(seq, ts, flags&1 != 0, data[:l]...))
		data = data[l:]
	}
	return out
}

// encodeFuzzPackets is fuzzPackets' inverse for in-order packets, to build
// seeds from real streams.
func encodeFuzzPackets(pkts []*rtp.Packet) []byte {
	var out []byte
	for i, p := range pkts {
		flags := byte(2) // in order
		if i > 0 && p.Timestamp != pkts[i-1].Timestamp {
			flags |= 1 << 4
		}
		if p.Marker {
			flags |= 1
		}
		if len(p.Payload) > 255 {
			continue
		}
		out = append(out, flags, byte(len(p.Payload)))
		out = append(out, p.Payload...)
	}
	return out
}

func FuzzH264Depacketizer(f *testing.F) {
	sps, pps, _ := testParams(f)
	f.Add(encodeFuzzPackets([]*rtp.Packet{
		pkt(0, 0, true, stapA(sps, pps, testIDR)...),
		pkt(1, 1, true, testP...),
		pkt(2, 2, false, fuA(testIDR, true, false, testIDR[1:3])...),
		pkt(3, 2, true, fuA(testIDR, false, true, testIDR[3:])...),
	}))
	s := committedStream(f)
	p := NewH264Packetizer(1, 96, 200)
	f.Add(encodeFuzzPackets(flatten(packetizeAll(f, p, stream{config: s.config, frames: s.frames[:4]}))))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewH264Depacketizer()
		haveConfig := false
		for _, p := range fuzzPackets(data) {
			frames, err := d.Push(p)
			if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error %v", err)
			}
			for _, f := range frames {
				if f.Config {
					if _, err := ParseAVCConfig(f.Payload); err != nil {
						t.Fatalf("config frame does not parse: %v", err)
					}
					haveConfig = true
					continue
				}
				if f.Key && !haveConfig {
					t.Fatal("keyframe before any config frame")
				}
				nalus, err := splitAVCC(nil, f.Payload, 4)
				if err != nil || len(nalus) == 0 || len(f.Payload) > MaxAccessUnitSize {
					t.Fatalf("frame payload %x: %v", f.Payload, err)
				}
			}
			if len(d.reorder.waiting) > MaxReorderPackets {
				t.Fatalf("%d packets waiting", len(d.reorder.waiting))
			}
		}
	})
}

func FuzzParseAVCC(f *testing.F) {
	_, _, record := testParams(f)
	f.Add(record)
	f.Add(record[:10])
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseAVCConfig(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		out, err := AVCConfig{SPS: c.SPS, PPS: c.PPS}.Marshal()
		if err != nil {
			return // an SPS too short to hold profile and level
		}
		c2, err := ParseAVCConfig(out)
		if err != nil || !equalParameterSets(c.SPS, c2.SPS) || !equalParameterSets(c.PPS, c2.PPS) {
			t.Fatalf("rebuilt record %x does not parse back: %v", out, err)
		}
	})
}

// FuzzH264RoundTrip packetizes arbitrary access units (after an IDR, so
// that the depacketizer takes them) at a small MTU and checks that they
// come back unchanged.
func FuzzH264RoundTrip(f *testing.F) {
	f.Add([]byte{0, 0, 0, 4, 0x41, 1, 2, 3}, uint8(0))
	f.Add(append([]byte{0, 0, 1, 0, 0x41}, bytes.Repeat([]byte{7}, 255)...), uint8(30))
	f.Fuzz(func(t *testing.T, payload []byte, mtu uint8) {
		_, _, record := testParams(t)
		p := NewH264Packetizer(1, 96, MinMTU+int(mtu))
		if err := p.SetConfig(record); err != nil {
			t.Fatal(err)
		}
		d := NewH264Depacketizer()
		idr := &media.Frame{Kind: media.Video, Codec: media.H264, Key: true, Payload: []byte{0, 0, 0, 5, 0x65, 0x88, 1, 2, 3}}
		frame := &media.Frame{Kind: media.Video, Codec: media.H264, DTS: 40, Payload: payload}
		pkts, err := p.Packetize(frame)
		if err != nil || len(pkts) == 0 {
			return
		}
		var want [][]byte
		nalus, _ := splitAVCC(nil, payload, 4)
		for _, n := range nalus {
			switch nalType(n) {
			case 7, 8:
				return // arbitrary parameter sets are another test's matter
			case 9:
			default:
				want = append(want, n)
			}
		}
		first, err := p.Packetize(idr)
		if err != nil {
			t.Fatal(err)
		}
		// The IDR goes first on the wire.
		for i, pk := range first {
			pk.SequenceNumber = pkts[0].SequenceNumber - uint16(len(first)-i)
		}
		var got []*media.Frame
		for _, pk := range append(first, pkts...) {
			frames, err := d.Push(pk)
			if err != nil {
				t.Fatalf("packet %x: %v", pk.Payload, err)
			}
			got = append(got, frames...)
		}
		if len(want) == 0 {
			return // nothing but parameter sets and delimiters
		}
		if len(got) != 3 { // config, IDR, frame
			t.Fatalf("got %d frames", len(got))
		}
		gotNALUs, err := splitAVCC(nil, got[2].Payload, 4)
		if err != nil || !equalParameterSets(gotNALUs, want) {
			t.Fatalf("round trip of %x gave %x", payload, got[2].Payload)
		}
	})
}
