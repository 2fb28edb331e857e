package transcode

import (
	"errors"
	"testing"
)

// FuzzAACToOpus feeds arbitrary bytes as one AAC frame between good ones:
// no panic, no crash in C, an ErrBadFrame at worst, and the good frames
// after it still transcode. Seeds: testdata/fuzz/FuzzAACToOpus.
func FuzzAACToOpus(f *testing.F) {
	in := readADTS(f, "sine1k_48k_mono.aac")
	f.Add(in.frames[20])
	f.Fuzz(func(t *testing.T, frame []byte) {
		tr, err := NewAACToOpus(in.asc)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		for i := range 3 {
			if _, err := tr.Write(in.frames[i], in.pts(0, i)); err != nil {
				t.Fatalf("good frame %d: %v", i, err)
			}
		}
		if _, err := tr.Write(frame, in.pts(0, 3)); err != nil && !errors.Is(err, ErrBadFrame) {
			t.Fatalf("fuzzed frame: %v, want nil or ErrBadFrame", err)
		}
		for i := 4; i < 8; i++ {
			if _, err := tr.Write(in.frames[i], in.pts(0, i)); err != nil {
				t.Fatalf("good frame %d after the fuzzed one: %v", i, err)
			}
		}
	})
}

// FuzzOpusToAAC does the same for Opus packets (a WebRTC publisher is no
// more trusted than an RTMP one). Seeds: testdata/fuzz/FuzzOpusToAAC.
func FuzzOpusToAAC(f *testing.F) {
	packets := readOgg(f, "sine1k_mono_20ms.opus")
	f.Add(packets[20])
	f.Fuzz(func(t *testing.T, packet []byte) {
		tr, err := NewOpusToAAC(1)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		for i := range 3 {
			if _, err := tr.Write(packets[i], int64(i)*20); err != nil {
				t.Fatalf("good packet %d: %v", i, err)
			}
		}
		if _, err := tr.Write(packet, 60); err != nil && !errors.Is(err, ErrBadFrame) {
			t.Fatalf("fuzzed packet: %v, want nil or ErrBadFrame", err)
		}
		for i := 4; i < 8; i++ {
			if _, err := tr.Write(packets[i], int64(i)*20); err != nil {
				t.Fatalf("good packet %d after the fuzzed one: %v", i, err)
			}
		}
	})
}
