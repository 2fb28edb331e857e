package rtpframe

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"

	"github.com/minirtc/minirtc/internal/media"
)

// vp8Frame makes a VP8 frame of size n: a keyframe header (tag, start
// code, 320x240) or an interframe tag, then filler.
func vp8Frame(key bool, n int, fill byte) []byte {
	b := bytes.Repeat([]byte{fill}, n)
	if key {
		copy(b, []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00})
	} else {
		b[0] = 0x11
	}
	return b
}

func vp8Packets(t *testing.T, p *VP8Packetizer, frames ...*media.Frame) []*rtp.Packet {
	t.Helper()
	var out []*rtp.Packet
	for _, f := range frames {
		pkts, err := p.Packetize(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pkts...)
	}
	return out
}

func TestVP8RoundTripAndLoss(t *testing.T) {
	p := NewVP8Packetizer(1, 96, 1200)
	in := []*media.Frame{
		{Kind: media.Video, Codec: media.VP8, Key: true, DTS: 0, Payload: vp8Frame(true, 3000, 1)},
		{Kind: media.Video, Codec: media.VP8, DTS: 40, Payload: vp8Frame(false, 900, 2)},
		{Kind: media.Video, Codec: media.VP8, DTS: 80, Payload: vp8Frame(false, 2500, 3)},
		{Kind: media.Video, Codec: media.VP8, DTS: 120, Payload: vp8Frame(false, 700, 4)},
		{Kind: media.Video, Codec: media.VP8, Key: true, DTS: 160, Payload: vp8Frame(true, 2600, 5)},
	}
	pkts := vp8Packets(t, p, in...)
	// Lose the second packet of the 2500-byte frame (the third frame).
	lostSeq := pkts[0].SequenceNumber + 3 + 1 + 1
	d := NewVP8Depacketizer()
	var got []*media.Frame
	for _, pk := range pkts {
		if pk.SequenceNumber == lostSeq {
			continue
		}
		fs, err := d.Push(pk)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fs...)
	}
	// config, K0, P40, (P80 lost, P120 dropped until the keyframe), K160.
	var labels []string
	for _, f := range got {
		switch {
		case f.Config:
			w, h, err := media.ParseVP8Config(f.Payload)
			if err != nil || w != 320 || h != 240 {
				t.Fatalf("config %v: %dx%d", err, w, h)
			}
			labels = append(labels, "cfg")
		case f.Key:
			labels = append(labels, "K")
		default:
			labels = append(labels, "P")
		}
	}
	if g := bytes.Join(toBytes(labels), []byte(" ")); string(g) != "cfg K P K" {
		t.Fatalf("frames %s", g)
	}
	if !bytes.Equal(got[1].Payload, in[0].Payload) || !bytes.Equal(got[2].Payload, in[1].Payload) || got[2].DTS != 40 || got[3].DTS != 160 {
		t.Fatal("frames changed on the way")
	}
	if d.NeedKeyframe() {
		t.Fatal("still waiting for a keyframe after one")
	}
}

func toBytes(s []string) [][]byte {
	out := make([][]byte, len(s))
	for i, x := range s {
		out[i] = []byte(x)
	}
	return out
}

func FuzzVP8Depacketizer(f *testing.F) {
	p := NewVP8Packetizer(1, 96, 200)
	pkts, _ := p.Packetize(&media.Frame{Kind: media.Video, Codec: media.VP8, Key: true, Payload: vp8Frame(true, 500, 7)})
	for _, pk := range pkts {
		f.Add(pk.Payload, pk.Marker)
	}
	f.Add([]byte{0x90, 0x80, 0x80}, true)
	f.Fuzz(func(t *testing.T, payload []byte, marker bool) {
		d := NewVP8Depacketizer()
		for i := range 3 {
			_, _ = d.Push(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: 3000, Marker: marker}, Payload: payload})
		}
	})
}
