package media

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestParseVideoConfigRealRecords(t *testing.T) {
	for _, tc := range []struct {
		codec Codec
		file  string
		want  VideoInfo
	}{
		{H264, "h264_320x240.avcc", VideoInfo{H264, 320, 240, 25}},
		{H264, "h264_640x360.avcc", VideoInfo{H264, 640, 360, 30}},
		{H265, "h265_320x240.hvcc", VideoInfo{H265, 320, 240, 25}},
	} {
		got, err := ParseVideoConfig(tc.codec, testdata(t, tc.file))
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.file, got, err, tc.want)
		}
	}
}

// hvcRecord rebuilds an HEVC record with the given arrays (type, NAL units).
func hvcRecord(header []byte, arrays ...[]any) []byte {
	r := append([]byte{}, header[:22]...)
	r = append(r, byte(len(arrays)))
	for _, a := range arrays {
		nalus := a[1].([][]byte)
		r = append(r, 0x80|a[0].(byte), 0, byte(len(nalus)))
		for _, n := range nalus {
			r = append(r, byte(len(n)>>8), byte(len(n)))
			r = append(r, n...)
		}
	}
	return r
}

func TestParseVideoConfigLayouts(t *testing.T) {
	hvc := testdata(t, "h265_320x240.hvcc")
	// The real record holds VPS, SPS and PPS arrays of one NAL unit each.
	nal := func(at int) []byte { n := int(hvc[at])<<8 | int(hvc[at+1]); return hvc[at+2 : at+2+n] }
	vps := nal(23 + 3)
	sps := nal(23 + 3 + 2 + len(vps) + 3)
	pps := nal(23 + 3 + 2 + len(vps) + 3 + 2 + len(sps) + 3)
	if sps[0]>>1&0x3f != 33 || pps[0]>>1&0x3f != 34 {
		t.Fatal("unexpected testdata layout")
	}
	for name, rec := range map[string][]byte{
		"pps first":         hvcRecord(hvc, []any{byte(34), [][]byte{pps}}, []any{byte(33), [][]byte{sps}}),
		"empty array first": hvcRecord(hvc, []any{byte(39), [][]byte{}}, []any{byte(33), [][]byte{sps}}),
		"empty sps skipped": hvcRecord(hvc, []any{byte(33), [][]byte{{}, sps}}),
	} {
		if got, err := ParseVideoConfig(H265, rec); err != nil || got.Width != 320 {
			t.Errorf("%s: %+v, %v", name, got, err)
		}
	}
	avc := testdata(t, "h264_320x240.avcc")
	twoSPS := append(append([]byte{}, avc[:5]...), 0xe2)
	twoSPS = append(twoSPS, avc[6:8+int(avc[7])]...)
	twoSPS = append(twoSPS, testdata(t, "h264_640x360.avcc")[6:]...)
	if got, err := ParseVideoConfig(H264, twoSPS); err != nil || got.Width != 320 {
		t.Errorf("two SPS: %+v, %v; want the first one's size", got, err)
	}
}

func TestParseVideoConfigErrors(t *testing.T) {
	avc := testdata(t, "h264_320x240.avcc")
	hvc := testdata(t, "h265_320x240.hvcc")
	with := func(b []byte, at int, v byte) []byte { b = bytes.Clone(b); b[at] = v; return b }
	for _, tc := range []struct {
		name  string
		codec Codec
		rec   []byte
	}{
		{"empty avc", H264, nil},
		{"avc header only", H264, avc[:6]},
		{"avc no SPS length", H264, avc[:7]},
		{"avc version 0", H264, with(avc, 0, 0)},
		{"avc no SPS", H264, with(avc, 5, 0xe0)},
		{"avc SPS length 0", H264, append(bytes.Clone(avc[:6]), 0, 0)},
		{"avc SPS truncated", H264, avc[:20]},
		{"avc SPS garbage", H264, append(bytes.Clone(avc[:6]), 0, 3, 0x67, 0xff, 0xff)},
		{"avc too big", H264, append(bytes.Clone(avc), make([]byte, 64<<10)...)},
		{"hevc empty", H265, nil},
		{"hevc header only", H265, hvc[:22]},
		{"hevc no arrays", H265, with(hvc[:23], 22, 0)},
		{"hevc array truncated", H265, hvc[:25]},
		{"hevc nal truncated", H265, hvc[:40]},
		{"hevc no SPS", H265, hvcRecord(hvc, []any{byte(32), [][]byte{{0x40, 1}}})},
		{"avc record as hevc", H265, avc},
		{"aac is not video", AAC, avc},
		{"unknown codec", Codec(99), avc},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("panic on a %d-byte record: %v", len(tc.rec), p)
				}
			}()
			// As the FLV parser hands it over: nothing readable past the end.
			rec := tc.rec[:len(tc.rec):len(tc.rec)]
			if got, err := ParseVideoConfig(tc.codec, rec); err == nil {
				t.Fatalf("accepted: %+v", got)
			}
		})
	}
}

func TestParseAudioConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		asc  []byte
		rate int
		ch   int
	}{
		{"aac-lc 48k stereo", aac48Stereo, 48000, 2},
		{"aac-lc 48k mono", aac48Mono, 48000, 1},
		{"aac-lc 16k mono", aac16Mono, 16000, 1},
		{"aac-lc 44.1k stereo", []byte{0x12, 0x10}, 44100, 2},
		{"he-aac 24k core, 48k sbr", []byte{0x2b, 0x11, 0x88, 0x00}, 48000, 2},
		{"7.1 (channel config 7)", []byte{0x11, 0xb8}, 48000, 8},
	} {
		got, err := ParseAudioConfig(AAC, tc.asc)
		if err != nil || got != (AudioInfo{AAC, tc.rate, tc.ch}) {
			t.Errorf("%s: %+v, %v; want %d Hz, %d channels", tc.name, got, err, tc.rate, tc.ch)
		}
	}
	for name, asc := range map[string][]byte{
		"empty":                   nil,
		"one byte":                {0x11},
		"explicit rate truncated": {0x17, 0x90}, // frequency index 15: a 24-bit rate should follow
		"too big":                 append([]byte{0x11, 0x90}, make([]byte, 64<<10)...),
	} {
		if got, err := ParseAudioConfig(AAC, asc); err == nil {
			t.Errorf("%s: accepted %+v", name, got)
		}
	}
	if _, err := ParseAudioConfig(H264, aac48Stereo); err == nil {
		t.Error("H264 accepted as an audio codec")
	}
}

func TestInfoEqualAndString(t *testing.T) {
	v := &VideoInfo{H264, 320, 240, 25}
	a := &AudioInfo{AAC, 48000, 2}
	v2, a2 := *v, *a
	for _, tc := range []struct {
		x, y Info
		eq   bool
	}{
		{Info{}, Info{}, true},
		{Info{Video: v, Audio: a}, Info{Video: &v2, Audio: &a2}, true},
		{Info{Video: v}, Info{Video: v, Audio: a}, false},
		{Info{Audio: a}, Info{Video: v, Audio: a}, false},
		{Info{Video: v}, Info{Video: &VideoInfo{H264, 640, 240, 25}}, false},
		{Info{Audio: a}, Info{Audio: &AudioInfo{AAC, 48000, 1}}, false},
	} {
		if tc.x.Equal(tc.y) != tc.eq || tc.y.Equal(tc.x) != tc.eq {
			t.Errorf("%s == %s: want %v", tc.x, tc.y, tc.eq)
		}
	}
	if s := (Info{Video: v, Audio: a}).String(); s != "h264 320x240@25 + aac 48000Hz/2ch" {
		t.Errorf("String = %q", s)
	}
	if s := (Info{Audio: a}).String(); s != "aac 48000Hz/2ch" {
		t.Errorf("String = %q", s)
	}
	for _, s := range []string{Video.String(), Audio.String(), Kind(9).String(), H264.String(), H265.String(), AAC.String(), Codec(0).String()} {
		if s == "" || strings.Contains(s, " ") {
			t.Errorf("name %q", s)
		}
	}
}

func TestFrameWireBuiltOnce(t *testing.T) {
	f := &Frame{Kind: Video, Payload: []byte("x")}
	var builds atomic.Int32
	build := func(f *Frame) []byte { builds.Add(1); return append([]byte("tag:"), f.Payload...) }
	var wg sync.WaitGroup
	results := make([][]byte, 16)
	for i := range results {
		wg.Go(func() { results[i] = f.Wire(WireFLV, build) })
	}
	wg.Wait()
	for _, r := range results {
		if &r[0] != &results[0][0] || string(r) != "tag:x" {
			t.Fatal("readers got different serialisations")
		}
	}
	n := builds.Load()
	f.Wire(WireFLV, build)
	if builds.Load() != n {
		t.Error("built again after the first result was stored")
	}
	if got := f.Wire(WireRTMP, func(*Frame) []byte { return []byte("rtmp") }); string(got) != "rtmp" {
		t.Errorf("formats share a cache: %q", got)
	}
}
