package flv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/minirtc/minirtc/internal/media"
)

func TestTagLayout(t *testing.T) {
	cases := []struct {
		name   string
		f      *media.Frame
		typ    byte
		ts     [4]byte // the three timestamp bytes, then the extended byte
		prefix []byte  // body bytes before the payload
	}{
		{"aac config", &media.Frame{Kind: media.Audio, Codec: media.AAC, Config: true, Payload: []byte{0x11, 0x90}},
			TagAudio, [4]byte{0, 0, 0, 0}, []byte{0xAF, 0}},
		{"aac past 2^24 ms", &media.Frame{Kind: media.Audio, Codec: media.AAC, DTS: 0x01234567, Payload: []byte{1, 2}},
			TagAudio, [4]byte{0x23, 0x45, 0x67, 0x01}, []byte{0xAF, 1}},
		{"h264 key with cts", &media.Frame{Kind: media.Video, Codec: media.H264, Key: true, DTS: 0xFEDCBA98, CTS: 80, Payload: []byte{0, 0, 0, 1, 0x65}},
			TagVideo, [4]byte{0xDC, 0xBA, 0x98, 0xFE}, []byte{0x17, 1, 0, 0, 80}},
		{"h264 inter after the 2^32 wrap", &media.Frame{Kind: media.Video, Codec: media.H264, DTS: 1<<32 + 5, CTS: -2, Payload: []byte{0, 0, 0, 1, 0x41}},
			TagVideo, [4]byte{0, 0, 5, 0}, []byte{0x27, 1, 0xFF, 0xFF, 0xFE}},
		{"h264 config", &media.Frame{Kind: media.Video, Codec: media.H264, Config: true, DTS: 40, Payload: []byte{1, 0x42}},
			TagVideo, [4]byte{0, 0, 40, 0}, []byte{0x17, 0, 0, 0, 0}},
		{"h265 config", &media.Frame{Kind: media.Video, Codec: media.H265, Config: true, Payload: []byte{1}},
			TagVideo, [4]byte{}, []byte{0x90, 'h', 'v', 'c', '1'}},
		{"h265 inter", &media.Frame{Kind: media.Video, Codec: media.H265, CTS: 0x010203, Payload: []byte{0, 0, 0, 1, 2}},
			TagVideo, [4]byte{}, []byte{0xA1, 'h', 'v', 'c', '1', 1, 2, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tag := Tag(c.f)
			body := append(append([]byte{}, c.prefix...), c.f.Payload...)
			if len(tag) != TagHeaderSize+len(body)+4 {
				t.Fatalf("tag is %d bytes, want %d", len(tag), TagHeaderSize+len(body)+4)
			}
			if tag[0] != c.typ || int(tag[1])<<16|int(tag[2])<<8|int(tag[3]) != len(body) {
				t.Fatalf("type/size % x", tag[:4])
			}
			if !bytes.Equal(tag[4:8], c.ts[:]) || !bytes.Equal(tag[8:11], []byte{0, 0, 0}) {
				t.Fatalf("timestamp/stream id % x, want % x 00 00 00", tag[4:11], c.ts)
			}
			if !bytes.Equal(tag[TagHeaderSize:len(tag)-4], body) {
				t.Fatalf("body % x, want % x", tag[TagHeaderSize:len(tag)-4], body)
			}
			if got := binary.BigEndian.Uint32(tag[len(tag)-4:]); got != uint32(TagHeaderSize+len(body)) {
				t.Fatalf("PreviousTagSize %d", got)
			}
			if again := Tag(c.f); &again[0] != &tag[0] {
				t.Fatal("Tag built the frame's bytes twice")
			}
			// And the demuxer reads it back.
			d := NewDemuxer(bytes.NewReader(append(Header(true, true), tag...)), 0)
			got, err := d.Next()
			if err != nil {
				t.Fatal(err)
			}
			if want := uint32(c.f.DTS); got.Timestamp != want || got.Type != c.typ || !bytes.Equal(got.Body, body) {
				t.Fatalf("demuxed %+v, want ts %d", got, want)
			}
		})
	}
}

func TestTagTooLarge(t *testing.T) {
	f := &media.Frame{Kind: media.Audio, Codec: media.AAC, Payload: make([]byte, MaxBodySize-1)}
	if Tag(f) != nil {
		t.Fatal("a body past 2^24-1 bytes got a tag")
	}
	f = &media.Frame{Kind: media.Audio, Codec: media.AAC, Payload: make([]byte, MaxBodySize-2)}
	if len(Tag(f)) != TagHeaderSize+MaxBodySize+4 {
		t.Fatal("the largest body did not get a tag")
	}
}

func TestHeader(t *testing.T) {
	for _, c := range []struct {
		a, v  bool
		flags byte
	}{{true, true, 5}, {true, false, 4}, {false, true, 1}, {false, false, 0}} {
		h := Header(c.a, c.v)
		want := []byte{'F', 'L', 'V', 1, c.flags, 0, 0, 0, 9, 0, 0, 0, 0}
		if !bytes.Equal(h, want) || len(h) != HeaderSize {
			t.Fatalf("Header(%v, %v) = % x", c.a, c.v, h)
		}
		fh, err := NewDemuxer(bytes.NewReader(h), 0).ReadHeader()
		if err != nil || fh.Audio != c.a || fh.Video != c.v || fh.Version != 1 {
			t.Fatalf("read back %+v, %v", fh, err)
		}
	}
}

func TestMeta(t *testing.T) {
	info := media.Info{
		Video: &media.VideoInfo{Codec: media.H264, Width: 1280, Height: 720, FPS: 29.97},
		Audio: &media.AudioInfo{Codec: media.AAC, SampleRate: 48000, Channels: 1},
	}
	tag := Meta(info)
	d := NewDemuxer(bytes.NewReader(append(Header(true, true), tag...)), 0)
	got, err := d.Next()
	if err != nil || got.Type != TagScript || got.Timestamp != 0 {
		t.Fatalf("%+v %v", got, err)
	}
	name, rest, ok := amf0(got.Body)
	if !ok || name != "onMetaData" {
		t.Fatalf("name %v", name)
	}
	arr, rest, ok := amf0(rest)
	if !ok || len(rest) != 0 {
		t.Fatalf("array: ok=%v, %d bytes left", ok, len(rest))
	}
	if n := binary.BigEndian.Uint32(got.Body[13+1:]); int(n) != len(arr.(map[string]any)) {
		t.Fatalf("ECMA array count %d, has %d entries", n, len(arr.(map[string]any)))
	}
	want := map[string]any{"hasVideo": true, "hasAudio": true, "width": 1280.0, "height": 720.0, "framerate": 29.97, "videocodecid": 7.0,
		"audiocodecid": 10.0, "audiosamplerate": 48000.0, "audiochannels": 1.0, "stereo": false}
	for k, v := range want {
		if arr.(map[string]any)[k] != v {
			t.Errorf("%s = %v, want %v", k, arr.(map[string]any)[k], v)
		}
	}
	// H.265 and no audio: the enhanced-RTMP FourCC as the codec id.
	got2, _ := NewDemuxer(bytes.NewReader(append(Header(false, true), Meta(media.Info{Video: &media.VideoInfo{Codec: media.H265, Width: 2, Height: 2}})...)), 0).Next()
	_, rest, _ = amf0(got2.Body)
	arr, _, ok = amf0(rest)
	if m := arr.(map[string]any); !ok || m["videocodecid"] != float64(0x68766331) || m["hasAudio"] != false || len(m) != 5 {
		t.Fatalf("h265 meta %v", arr)
	}
}

func TestParseBody(t *testing.T) {
	ok := []struct {
		name string
		typ  byte
		body []byte
		want Body
	}{
		{"aac config", TagAudio, []byte{0xAF, 0, 0x11, 0x90}, Body{Kind: media.Audio, Codec: media.AAC, Config: true, Payload: []byte{0x11, 0x90}}},
		{"aac raw, 22 kHz header bits", TagAudio, []byte{0xA6, 1, 9}, Body{Kind: media.Audio, Codec: media.AAC, Payload: []byte{9}}},
		{"avc config", TagVideo, []byte{0x17, 0, 0, 0, 0, 1, 2}, Body{Kind: media.Video, Codec: media.H264, Config: true, Payload: []byte{1, 2}}},
		{"avc key", TagVideo, []byte{0x17, 1, 0, 0, 40, 7}, Body{Kind: media.Video, Codec: media.H264, Key: true, CTS: 40, Payload: []byte{7}}},
		{"avc disposable, negative cts", TagVideo, []byte{0x37, 1, 0xFF, 0xFF, 0xD8, 7}, Body{Kind: media.Video, Codec: media.H264, CTS: -40, Payload: []byte{7}}},
		{"legacy hevc (id 12)", TagVideo, []byte{0x1C, 1, 0, 0, 0, 7}, Body{Kind: media.Video, Codec: media.H265, Key: true, Payload: []byte{7}}},
		{"hvc1 config", TagVideo, []byte{0x90, 'h', 'v', 'c', '1', 1}, Body{Kind: media.Video, Codec: media.H265, Config: true, Payload: []byte{1}}},
		{"hvc1 inter", TagVideo, []byte{0xA1, 'h', 'v', 'c', '1', 0, 0, 3, 5}, Body{Kind: media.Video, Codec: media.H265, CTS: 3, Payload: []byte{5}}},
		{"avc1 key, no cts", TagVideo, []byte{0x93, 'a', 'v', 'c', '1', 5}, Body{Kind: media.Video, Codec: media.H264, Key: true, Payload: []byte{5}}},
	}
	for _, c := range ok {
		got, err := ParseBody(c.typ, c.body)
		if err != nil || !sameBody(got, c.want) {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
	bad := []struct {
		name string
		typ  byte
		body []byte
		err  error
	}{
		{"empty audio", TagAudio, nil, ErrBadBody},
		{"mp3", TagAudio, []byte{0x2F, 0}, ErrUnsupported},
		{"aac without packet type", TagAudio, []byte{0xAF}, ErrBadBody},
		{"aac packet type 2", TagAudio, []byte{0xAF, 2}, ErrBadBody},
		{"empty video", TagVideo, nil, ErrBadBody},
		{"vp6", TagVideo, []byte{0x14, 0}, ErrUnsupported},
		{"short avc", TagVideo, []byte{0x17, 1, 0, 0}, ErrBadBody},
		{"avc end of sequence", TagVideo, []byte{0x17, 2, 0, 0, 0}, ErrNoMedia},
		{"avc command frame", TagVideo, []byte{0x57, 0}, ErrNoMedia},
		{"avc frame type 0", TagVideo, []byte{0x07, 1, 0, 0, 0}, ErrBadBody},
		{"av01", TagVideo, []byte{0x90, 'a', 'v', '0', '1'}, ErrUnsupported},
		{"hvc1 coded frames without cts", TagVideo, []byte{0x91, 'h', 'v', 'c', '1', 0}, ErrBadBody},
		{"hvc1 sequence end", TagVideo, []byte{0x92, 'h', 'v', 'c', '1'}, ErrNoMedia},
		{"hvc1 multitrack", TagVideo, []byte{0x96, 'h', 'v', 'c', '1'}, ErrUnsupported},
		{"script", TagScript, []byte{2}, ErrNoMedia},
		{"unknown type", 7, []byte{1}, ErrUnsupported},
	}
	for _, c := range bad {
		if _, err := ParseBody(c.typ, c.body); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
	}
}

func sameBody(a, b Body) bool {
	return a.Kind == b.Kind && a.Codec == b.Codec && a.Config == b.Config && a.Key == b.Key && a.CTS == b.CTS &&
		bytes.Equal(a.Payload, b.Payload)
}

func TestParseBodyAllocates(t *testing.T) {
	body := []byte{0xA1, 'h', 'v', 'c', '1', 0, 0, 3, 5}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseBody(TagVideo, body) }); n != 0 {
		t.Fatalf("ParseBody allocates %v times", n)
	}
}
