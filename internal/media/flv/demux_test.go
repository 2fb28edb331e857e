package flv

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"testing/iotest"

	"github.com/minirtc/minirtc/internal/media"
)

func TestDemuxFFmpegFile(t *testing.T) {
	data, err := os.ReadFile("testdata/testsrc.flv")
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]io.Reader{
		"whole":    bytes.NewReader(data),
		"bytewise": iotest.OneByteReader(bytes.NewReader(data)),
		"data+err": iotest.DataErrReader(bytes.NewReader(data)),
	} {
		t.Run(name, func(t *testing.T) {
			d := NewDemuxer(r, 0)
			h, err := d.ReadHeader()
			if err != nil || !h.Audio || !h.Video {
				t.Fatalf("header %+v, %v", h, err)
			}
			var counts [3]int // no media, video, audio
			var keys, configs int
			var last [2]uint32
			for {
				tag, err := d.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				b, err := ParseBody(tag.Type, tag.Body)
				if errors.Is(err, ErrNoMedia) { // onMetaData, and ffmpeg's end of sequence
					counts[0]++
					continue
				}
				if err != nil {
					t.Fatalf("tag at %d: %v", d.Offset(), err)
				}
				counts[b.Kind]++
				if b.Key {
					keys++
				}
				if b.Config {
					configs++
				}
				if tag.Timestamp < last[b.Kind-1] {
					t.Fatalf("%s timestamp went back: %d after %d", b.Kind, tag.Timestamp, last[b.Kind-1])
				}
				last[b.Kind-1] = tag.Timestamp
			}
			// 2 s at 25 fps (50 frames and the config) with a keyframe every 25
			// frames; 48 kHz AAC is
			// 1024 samples a frame.
			if counts[0] != 2 || counts[media.Video] != 51 || keys != 2 || configs != 2 || counts[media.Audio] < 90 {
				t.Fatalf("no media %d, video %d (keys %d), audio %d, configs %d", counts[0], counts[media.Video], keys, counts[media.Audio], configs)
			}
			if d.Offset() != int64(len(data)) {
				t.Fatalf("offset %d at the end of %d bytes", d.Offset(), len(data))
			}
		})
	}
}

func TestDemuxErrors(t *testing.T) {
	tag := Tag(&media.Frame{Kind: media.Audio, Codec: media.AAC, DTS: 7, Payload: []byte{1, 2, 3}})
	stream := append(Header(true, false), tag...)
	badPrev := bytes.Clone(stream)
	badPrev[len(badPrev)-1]++
	cases := []struct {
		name string
		data []byte
		max  int
		err  error
		tags int
	}{
		{"empty", nil, 0, ErrTruncated, 0},
		{"not flv", []byte("GIF89a......."), 0, ErrSignature, 0},
		{"tiny data offset", []byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 8, 0, 0, 0, 0}, 0, ErrSignature, 0},
		{"huge data offset", []byte{'F', 'L', 'V', 1, 5, 0, 1, 0, 0}, 0, ErrSignature, 0},
		{"header only", Header(true, true), 0, io.EOF, 0},
		{"header without PreviousTagSize0", Header(true, true)[:10], 0, ErrTruncated, 0},
		{"one tag", stream, 0, io.EOF, 1},
		{"cut in the tag header", stream[:HeaderSize+5], 0, ErrTruncated, 0},
		{"cut in the body", stream[:HeaderSize+TagHeaderSize+2], 0, ErrTruncated, 0},
		{"cut in PreviousTagSize", stream[:len(stream)-1], 0, ErrTruncated, 0},
		{"over the limit", stream, 4, ErrTooLarge, 0},
		{"at the limit", stream, 5, io.EOF, 1},
		{"bad PreviousTagSize", badPrev, 0, ErrPrevTagSize, 0},
		{"claims 16 MiB", append(Header(true, false), 8, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 2), 0, ErrTruncated, 0},
	}
	for _, c := range cases {
		d := NewDemuxer(bytes.NewReader(c.data), c.max)
		tags := 0
		var err error
		for {
			if _, err = d.Next(); err != nil {
				break
			}
			tags++
		}
		if !errors.Is(err, c.err) || tags != c.tags {
			t.Errorf("%s: %d tags then %v; want %d then %v", c.name, tags, err, c.tags, c.err)
		}
		// Errors stay: a demuxer does not resync in the middle of garbage.
		if _, again := d.Next(); c.err != io.EOF && again == nil {
			t.Errorf("%s: Next after an error succeeded", c.name)
		}
	}
	// A read error is passed on, wrapped.
	d := NewDemuxer(iotest.ErrReader(io.ErrClosedPipe), 0)
	if _, err := d.Next(); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("read error: %v", err)
	}
	// A reader that never delivers ends in ErrNoProgress, not a spin.
	if _, err := NewDemuxer(zeroReader{}, 0).Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("empty reads: %v", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// loopReader serves the same FLV tags forever (after the header).
type loopReader struct {
	head, tags []byte
	pos        int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if l.head != nil {
		n := copy(p, l.head)
		l.head = l.head[n:]
		if len(l.head) == 0 {
			l.head = nil
		}
		return n, nil
	}
	n := copy(p, l.tags[l.pos:])
	l.pos = (l.pos + n) % len(l.tags)
	return n, nil
}

// newLoop makes a loopReader of testsrc's tags (without its script tag).
func newLoop(t testing.TB) *loopReader {
	var tags []byte
	for _, f := range loadTestsrc(t) {
		fr := f.Frame()
		fr.DTS = int64(f.TS)
		tags = append(tags, Tag(fr)...)
	}
	return &loopReader{head: Header(true, true), tags: tags}
}

func TestDemuxSteadyStateAllocs(t *testing.T) {
	d := NewDemuxer(newLoop(t), 0)
	for range 500 { // let the buffer grow to the largest tag
		if _, err := d.Next(); err != nil {
			t.Fatal(err)
		}
	}
	n := testing.AllocsPerRun(1000, func() {
		tag, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseBody(tag.Type, tag.Body); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("Next+ParseBody allocate %v times a tag", n)
	}
	if cap(d.buf) > 64<<10 {
		t.Fatalf("buffer grew to %d bytes for tags of at most a few KiB", cap(d.buf))
	}
}
