package flv

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// fuzzMaxTag is the tag limit under fuzzing: small, so that memory stays
// bounded whatever sizes the input claims.
const fuzzMaxTag = 64 << 10

// FuzzDemux feeds arbitrary bytes to the Demuxer (and every audio/video
// body it returns to ParseBody): no panic, no tag over the limit, a buffer
// that never outgrows one tag plus one read, and a clean end. The seed
// corpus in testdata/fuzz/FuzzDemux holds a real ffmpeg-made FLV (cut to a
// few KB) and truncated, oversized and garbage streams; run longer with:
// go test -fuzz=FuzzDemux ./internal/media/flv
func FuzzDemux(f *testing.F) {
	f.Add(append(Header(true, true), Meta(testInfo())...))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDemuxer(bytes.NewReader(data), fuzzMaxTag)
		var err error
		for {
			var tag DemuxTag
			if tag, err = d.Next(); err != nil {
				break
			}
			if len(tag.Body) > fuzzMaxTag {
				t.Fatalf("a %d-byte body passed the %d-byte limit", len(tag.Body), fuzzMaxTag)
			}
			if b, err := ParseBody(tag.Type, tag.Body); err == nil && len(b.Payload) > len(tag.Body) {
				t.Fatal("payload longer than its body")
			}
		}
		if cap(d.buf) > TagHeaderSize+fuzzMaxTag+4+minRead {
			t.Fatalf("buffer grew to %d bytes", cap(d.buf))
		}
		if d.Offset() > int64(len(data)) {
			t.Fatalf("offset %d past the %d bytes of input", d.Offset(), len(data))
		}
		switch {
		case err == io.EOF, errors.Is(err, ErrSignature), errors.Is(err, ErrTruncated),
			errors.Is(err, ErrTooLarge), errors.Is(err, ErrPrevTagSize):
		default:
			t.Fatalf("unclassified error %v", err)
		}
	})
}

// FuzzBody feeds arbitrary bodies to ParseBody. What it accepts must
// survive AppendBody and parse back to the same frame, with BodySize right:
// the RTMP ingest relies on ParseBody and every egress on AppendBody.
func FuzzBody(f *testing.F) {
	f.Add(byte(TagVideo), []byte{0x17, 1, 0, 0, 40, 0, 0, 0, 1, 0x65})
	f.Add(byte(TagAudio), []byte{0xAF, 0, 0x11, 0x90})
	f.Add(byte(TagVideo), []byte{0xA1, 'h', 'v', 'c', '1', 0xFF, 0xFF, 0xFE, 5})
	f.Fuzz(func(t *testing.T, typ byte, body []byte) {
		b, err := ParseBody(typ, body)
		if err != nil {
			if !errors.Is(err, ErrNoMedia) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrBadBody) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		fr := b.Frame()
		out := AppendBody(nil, fr)
		if len(out) != BodySize(fr) {
			t.Fatalf("AppendBody wrote %d bytes, BodySize says %d", len(out), BodySize(fr))
		}
		again, err := ParseBody(TagType(fr), out)
		if err != nil {
			t.Fatalf("re-parse of % x: %v", out, err)
		}
		if !sameBody(b, again) {
			t.Fatalf("round trip changed %+v into %+v", b, again)
		}
		if b.Config && b.Key {
			t.Fatal("a config marked as keyframe")
		}
	})
}
