package rtmp

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"

	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/media/flv"
)

func TestFrameFromMessage(t *testing.T) {
	au := nal(10)
	avcRec := []byte{1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1, 0, 2, 0x67, 0x42, 1, 0, 2, 0x68, 0xCE}
	hvcRec := append(make([]byte, 21), 0x0F, 0)
	cases := []struct {
		name   string
		typ    byte
		body   []byte
		want   *media.Frame
		errHas string
	}{
		{"h264 config", typeVideo, append([]byte{0x17, 0, 0, 0, 0}, avcRec...),
			&media.Frame{Kind: media.Video, Codec: media.H264, Config: true, Payload: avcRec}, ""},
		{"h264 key", typeVideo, append([]byte{0x17, 1, 0, 0, 80}, au...),
			&media.Frame{Kind: media.Video, Codec: media.H264, Key: true, CTS: 80, Payload: au}, ""},
		{"h264 inter, negative cts", typeVideo, append([]byte{0x27, 1, 0xFF, 0xFF, 0xD8}, au...),
			&media.Frame{Kind: media.Video, Codec: media.H264, CTS: -40, Payload: au}, ""},
		{"h264 end of sequence", typeVideo, []byte{0x17, 2, 0, 0, 0}, nil, ""},
		{"h264 empty AU", typeVideo, []byte{0x27, 1, 0, 0, 0}, nil, ""},
		{"command frame", typeVideo, []byte{0x57, 0}, nil, ""},
		{"empty body", typeVideo, nil, nil, ""},
		{"legacy h265 (id 12)", typeVideo, append([]byte{0x1C, 1, 0, 0, 0}, au...),
			&media.Frame{Kind: media.Video, Codec: media.H265, Key: true, Payload: au}, ""},
		{"hvc1 sequence start", typeVideo, append([]byte{0x90, 'h', 'v', 'c', '1'}, hvcRec...),
			&media.Frame{Kind: media.Video, Codec: media.H265, Config: true, Payload: hvcRec}, ""},
		{"hvc1 coded frames", typeVideo, append([]byte{0x91, 'h', 'v', 'c', '1', 0, 0, 40}, au...),
			&media.Frame{Kind: media.Video, Codec: media.H265, Key: true, CTS: 40, Payload: au}, ""},
		{"hvc1 inter coded frames X", typeVideo, append([]byte{0xA3, 'h', 'v', 'c', '1'}, au...),
			&media.Frame{Kind: media.Video, Codec: media.H265, Payload: au}, ""},
		{"avc1 enhanced", typeVideo, append([]byte{0x93, 'a', 'v', 'c', '1'}, au...),
			&media.Frame{Kind: media.Video, Codec: media.H264, Key: true, Payload: au}, ""},
		{"hvc1 metadata", typeVideo, []byte{0x94, 'h', 'v', 'c', '1', 2}, nil, ""},
		{"aac config", typeAudio, []byte{0xAF, 0, 0x11, 0x90},
			&media.Frame{Kind: media.Audio, Codec: media.AAC, Config: true, Payload: []byte{0x11, 0x90}}, ""},
		{"aac frame", typeAudio, []byte{0xAE, 1, 0x21, 0x10},
			&media.Frame{Kind: media.Audio, Codec: media.AAC, Payload: []byte{0x21, 0x10}}, ""},
		{"mp4a enhanced frame", typeAudio, []byte{0x91, 'm', 'p', '4', 'a', 0x21},
			&media.Frame{Kind: media.Audio, Codec: media.AAC, Payload: []byte{0x21}}, ""},
		{"vp9", typeVideo, []byte{0x90, 'v', 'p', '0', '9'}, nil, `unsupported codec "vp09"`},
		{"multitrack", typeVideo, []byte{0x96, 0}, nil, "multitrack"},
		{"binary fourcc", typeVideo, []byte{0x90, 0, 1, 2, 3}, nil, "FourCC 0x00010203"},
		{"sorenson", typeVideo, []byte{0x22, 0}, nil, "Sorenson H.263"},
		{"unknown video id", typeVideo, []byte{0x2F, 0}, nil, "FLV video codec id 15"},
		{"pcmu", typeAudio, []byte{0x82, 0}, nil, "G.711 mu-law"},
		{"short h264", typeVideo, []byte{0x17, 1}, nil, "video message of 2 bytes"},
		{"bad avc packet type", typeVideo, []byte{0x17, 9, 0, 0, 0}, nil, "packet type 9"},
		{"two-byte NAL lengths", typeVideo, append([]byte{0x17, 0, 0, 0, 0}, 1, 0x42, 0, 0x1E, 0xFD), nil, "2-byte NAL unit lengths"},
		{"stray AU bytes", typeVideo, append([]byte{0x27, 1, 0, 0, 0}, append(nal(3), 0, 0)...), nil, "2 stray bytes"},
		{"zero NAL length", typeVideo, []byte{0x27, 1, 0, 0, 0, 0, 0, 0, 0}, nil, "NAL unit of 0 bytes"},
		{"short aac", typeAudio, []byte{0xAF}, nil, "AAC message of 1 bytes"},
	}
	for _, c := range cases {
		f, err := frameFromMessage(c.typ, c.body)
		switch {
		case c.errHas != "":
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("%s: error %v, want one containing %q", c.name, err, c.errHas)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case (f == nil) != (c.want == nil):
			t.Errorf("%s: got %+v, want %+v", c.name, f, c.want)
		case f != nil && (f.Kind != c.want.Kind || f.Codec != c.want.Codec || f.Config != c.want.Config || f.Key != c.want.Key ||
			f.CTS != c.want.CTS || !bytes.Equal(f.Payload, c.want.Payload)):
			t.Errorf("%s: got %+v, want %+v", c.name, f, c.want)
		}
	}
}

// TestFixtureRoundTrip: every tag ffmpeg wrote parses to a frame whose
// FLV body, as the egresses write it, is the tag again (H.264/AAC bodies
// differ only in the AAC header's rate/size/channel bits, which FLV fixes).
func TestFixtureRoundTrip(t *testing.T) {
	for _, tag := range readFLV(t, "tiny.flv") {
		f, err := frameFromMessage(tag.typ, tag.body)
		if err != nil {
			t.Fatal(err)
		}
		if f == nil {
			continue
		}
		got := flv.AppendBody(nil, f)
		want := tag.body
		if f.Kind == media.Audio {
			got, want = got[1:], want[1:]
		}
		if !bytes.Equal(got, want) {
			t.Errorf("tag at %d ms (%v key=%v): body differs after a round trip", tag.ts, f.Kind, f.Key)
		}
	}
}

// TestHostileHeaderAllocation measures what one 12-byte header announcing
// a big message costs: nothing much here, the whole chunk in gortmplib's
// reader (which is why we do not read the network with it).
func TestHostileHeaderAllocation(t *testing.T) {
	var in []byte
	in = appendMessage(in, 2, 0, typeSetChunkSize, 0, binary.BigEndian.AppendUint32(nil, 10<<20), defaultChunkSize)
	in = appendHeader(in, 6, 0, typeVideo, 1, 10<<20)
	in = append(in, 0x17)

	alloc := func(read func()) uint64 {
		var a, b runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&a)
		read()
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	ours := alloc(func() {
		cr := newChunkReader(bytes.NewReader(in), 16<<20)
		cr.next()
	})
	theirs := alloc(func() {
		r := rawmessage.NewReader(bytes.NewReader(in), bytecounter.NewReader(bytes.NewReader(nil)), func(uint32) error { return nil })
		r.Read()
		r.SetChunkSize(10 << 20)
		r.Read()
	})
	t.Logf("bytes allocated for a header announcing 10 MiB: ours %d, gortmplib's %d", ours, theirs)
	if ours > 512<<10 {
		t.Errorf("our reader allocated %d bytes for a bare header", ours)
	}
}
