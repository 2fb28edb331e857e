package media

import (
	"testing"
)

// FuzzParseVideoConfig feeds arbitrary records to ParseVideoConfig: it must
// never panic (records come from publishers), and whatever it accepts must
// be a plausible picture. The seed corpus in testdata/fuzz/FuzzParseVideoConfig
// holds real H.264 and H.265 records and truncated ones; run longer with
// go test -fuzz=FuzzParseVideoConfig ./internal/media
func FuzzParseVideoConfig(f *testing.F) {
	f.Add(uint8(H264), []byte{1, 0x42, 0xc0, 0x0d, 0xff, 0xe1, 0})
	f.Add(uint8(H265), make([]byte, 23))
	f.Fuzz(func(t *testing.T, codec uint8, record []byte) {
		defer noPanic(t)
		record = record[:len(record):len(record)] // nothing readable past the end
		vi, err := ParseVideoConfig(Codec(codec), record)
		if err != nil {
			return
		}
		if vi.Codec != Codec(codec) || (vi.Codec != H264 && vi.Codec != H265) {
			t.Fatalf("codec %s accepted as %s", Codec(codec), vi.Codec)
		}
		if vi.Width <= 0 || vi.Height <= 0 || vi.Width > maxDimension || vi.Height > maxDimension {
			t.Fatalf("size %dx%d accepted", vi.Width, vi.Height)
		}
		if !(vi.FPS >= 0 && vi.FPS <= 1000) {
			t.Fatalf("fps %v accepted", vi.FPS)
		}
		again, err := ParseVideoConfig(Codec(codec), record)
		if err != nil || again != vi {
			t.Fatalf("not deterministic: %+v, %v then %+v", vi, err, again)
		}
	})
}

// FuzzParseAudioConfig does the same for AAC AudioSpecificConfigs.
func FuzzParseAudioConfig(f *testing.F) {
	f.Add(uint8(AAC), aac48Stereo)
	f.Add(uint8(AAC), []byte{})
	f.Fuzz(func(t *testing.T, codec uint8, asc []byte) {
		defer noPanic(t)
		asc = asc[:len(asc):len(asc)]
		ai, err := ParseAudioConfig(Codec(codec), asc)
		if err != nil {
			return
		}
		if Codec(codec) != AAC || ai.Codec != AAC {
			t.Fatalf("codec %s accepted as %s", Codec(codec), ai.Codec)
		}
		if ai.SampleRate <= 0 || ai.SampleRate > 192000 || ai.Channels < 0 || ai.Channels > 8 {
			t.Fatalf("accepted %+v", ai)
		}
	})
}

// noPanic turns a panic into a test failure, so that one crashing input
// fails its fuzz target without killing the whole test binary.
func noPanic(t *testing.T) {
	if p := recover(); p != nil {
		t.Fatalf("panic: %v", p)
	}
}
