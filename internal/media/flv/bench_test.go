package flv

import (
	"testing"
)

// BenchmarkTag: building a frame's tag (once per frame, whatever the number
// of readers), and what every further reader pays for it.
func BenchmarkTag(b *testing.B) {
	f := vframe(false, 1, 4<<10) // a 1 Mbps stream's typical inter frame
	f.DTS, f.CTS = 1<<24+40, 80
	b.Run("build", func(b *testing.B) {
		b.SetBytes(int64(len(f.Payload)))
		b.ReportAllocs()
		for b.Loop() {
			_ = buildTag(f)
		}
	})
	b.Run("shared", func(b *testing.B) {
		Tag(f)
		b.ReportAllocs()
		for b.Loop() {
			_ = Tag(f)
		}
	})
}

// BenchmarkDemux reads testsrc's tags in a loop and decodes their bodies, as
// the benchmark tool does for each of its players.
func BenchmarkDemux(b *testing.B) {
	l := newLoop(b)
	d := NewDemuxer(l, 0)
	b.SetBytes(int64(len(l.tags)) / int64(len(loadTestsrc(b))))
	b.ReportAllocs()
	for b.Loop() {
		tag, err := d.Next()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseBody(tag.Type, tag.Body); err != nil {
			b.Fatal(err)
		}
	}
}
