package rtpframe

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/pion/rtp"

	"github.com/minirtc/minirtc/internal/media"
)

func TestOpusRoundTrip(t *testing.T) {
	p := NewOpusPacketizer(7, 111)
	p.seq = 65530
	p.tsOffset = 1<<32 - 48*100 // the timestamp wraps after 100 ms
	rng := rand.New(rand.NewPCG(1, 2))
	var in []*media.Frame
	var pkts []*rtp.Packet
	for i := range 200 {
		payload := make([]byte, 1+rng.IntN(300))
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		f := &media.Frame{Kind: media.Audio, Codec: media.Opus, DTS: int64(1000 + i*20), Payload: payload}
		pkt, err := p.Packetize(f)
		if err != nil {
			t.Fatal(err)
		}
		if pkt.PayloadType != 111 || pkt.SSRC != 7 || pkt.Timestamp != p.Timestamp(f.DTS) {
			t.Fatalf("header %+v", pkt.Header)
		}
		in = append(in, f)
		pkts = append(pkts, pkt)
	}
	// Swap neighbours now and then, and lose one packet: Opus passes on.
	for i := 10; i+1 < len(pkts); i += 17 {
		pkts[i], pkts[i+1] = pkts[i+1], pkts[i]
	}
	pkts = append(pkts[:50], pkts[51:]...)
	in = append(in[:50], in[51:]...)

	d := NewOpusDepacketizer()
	var got []*media.Frame
	for _, pkt := range pkts {
		frames, err := d.Push(pkt)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, frames...)
	}
	// The last packets wait only if something is missing; nothing is.
	if len(got) != len(in) {
		t.Fatalf("got %d frames, want %d", len(got), len(in))
	}
	for i, f := range got {
		if f.Kind != media.Audio || f.Codec != media.Opus || f.DTS != in[i].DTS-1000 || !bytes.Equal(f.Payload, in[i].Payload) {
			t.Fatalf("frame %d: dts %d, want %d", i, f.DTS, in[i].DTS-1000)
		}
	}
	if base, ok := d.BaseTimestamp(); !ok || base != p.Timestamp(1000) {
		t.Fatalf("BaseTimestamp() = %d, %v", base, ok)
	}
}

func TestOpusEdgeCases(t *testing.T) {
	p := NewOpusPacketizer(1, 111)
	for _, f := range []*media.Frame{
		{Kind: media.Audio, Codec: media.AAC, Payload: []byte{1}},
		{Kind: media.Audio, Codec: media.Opus},
		{Kind: media.Video, Codec: media.Opus, Payload: []byte{1}},
	} {
		if _, err := p.Packetize(f); err == nil {
			t.Errorf("packetized %+v", f)
		}
	}
	d := NewOpusDepacketizer()
	if frames, _ := d.Push(pkt(1, 0, false)); len(frames) != 0 {
		t.Error("padding gave a frame")
	}
	payload := []byte{0xFC, 1, 2}
	frames, _ := d.Push(pkt(2, 960, false, payload...))
	payload[0] = 0
	if len(frames) != 1 || frames[0].DTS != 0 || frames[0].Payload[0] != 0xFC {
		t.Fatalf("frames %+v", frames)
	}
	// Timestamps going back a little (a sender's clock) give negative
	// steps, not a jump of 24 hours.
	frames, _ = d.Push(pkt(3, 0, false, 1))
	if len(frames) != 1 || frames[0].DTS != -20 {
		t.Fatalf("frames %+v", frames)
	}
}
