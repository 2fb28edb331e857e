package rtpframe

import (
	"math/rand/v2"
	"testing"

	"github.com/minirtc/minirtc/internal/media"
)

// bench720p returns a config and access units sized like 720p at about
// 2 Mbps, 30 fps, one IDR per second: an IDR of ~60 KB, P-frames of
// ~7 KB (one slice each, as browsers and x264 send them).
func bench720p(b *testing.B) (record []byte, idr, p *media.Frame) {
	_, _, record = testParams(b)
	rng := rand.New(rand.NewPCG(1, 1))
	slice := func(hdr byte, n int) []byte {
		nal := make([]byte, n)
		for i := range nal {
			nal[i] = byte(rng.Uint32())
		}
		nal[0] = hdr
		return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, nal...)
	}
	idr = &media.Frame{Kind: media.Video, Codec: media.H264, Key: true, Payload: slice(0x65, 60_000)}
	p = &media.Frame{Kind: media.Video, Codec: media.H264, Payload: slice(0x41, 7_000)}
	return record, idr, p
}

func BenchmarkPacketizeH264(b *testing.B) {
	record, idr, p := bench720p(b)
	for _, bc := range []struct {
		name  string
		frame *media.Frame
	}{{"IDR-60KB", idr}, {"P-7KB", p}} {
		b.Run(bc.name, func(b *testing.B) {
			pk := NewH264Packetizer(1, 96, 1200)
			if err := pk.SetConfig(record); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(bc.frame.Payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pk.Packetize(bc.frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDepacketizeH264(b *testing.B) {
	record, idr, p := bench720p(b)
	pk := NewH264Packetizer(1, 96, 1200)
	if err := pk.SetConfig(record); err != nil {
		b.Fatal(err)
	}
	// One second: an IDR and 29 P-frames.
	var frames []*media.Frame
	for i := range 30 {
		f := p
		if i == 0 {
			f = idr
		}
		frames = append(frames, &media.Frame{Kind: media.Video, Codec: media.H264, Key: f.Key, DTS: int64(i * 33), Payload: f.Payload})
	}
	var bytes int64
	pkts := flatten(packetizeAll(b, pk, stream{config: record, frames: frames}))
	for _, f := range frames {
		bytes += int64(len(f.Payload))
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		d := NewH264Depacketizer()
		for _, p := range pkts {
			if _, err := d.Push(p); err != nil {
				b.Fatal(err)
			}
		}
	}
}
