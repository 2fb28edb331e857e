package transcode

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestNewRefusesBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		name string
		asc  []byte
	}{
		{"nil", nil},
		{"one byte", []byte{0x11}},
		{"garbage", []byte{0xff, 0xff, 0xff, 0xff}},
		{"HE-AAC", []byte{0x2b, 0x11, 0x88, 0x00}},
		{"AAC Main", []byte{0x09, 0x88}},
		{"7.1 channels", []byte{0x11, 0xb8}},
		{"96 kHz", []byte{0x10, 0x08}},
		{"7350 Hz", []byte{0x16, 0x08}},
		{"channels from a PCE", []byte{0x11, 0x80}},
		{"oversized", bytes.Repeat([]byte{0x11, 0x88}, 100)},
	} {
		if _, err := NewAACToOpus(tc.asc); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s (%x): got %v, want ErrBadConfig", tc.name, tc.asc, err)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
	for _, ch := range []int{0, 3, -1} {
		if _, err := NewOpusToAAC(ch); !errors.Is(err, ErrBadConfig) {
			t.Errorf("NewOpusToAAC(%d): %v, want ErrBadConfig", ch, err)
		}
	}
	asc := []byte{0x11, 0x88}
	for _, o := range []Option{WithComplexity(11), WithComplexity(-1), WithBitrate(1000), WithBitrate(1 << 20)} {
		if _, err := NewAACToOpus(asc, o); !errors.Is(err, ErrBadConfig) {
			t.Errorf("bad option: %v, want ErrBadConfig", err)
		}
	}
	if _, err := NewOpusToAAC(1, WithBitrate(1000)); !errors.Is(err, ErrBadConfig) {
		t.Errorf("AAC at 1 kbit/s: %v, want ErrBadConfig", err)
	}
}

// badFrames are frames a broken or hostile publisher sends.
func badFrames(good []byte) map[string][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 300)
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	return map[string][]byte{
		"empty":     {},
		"oversized": make([]byte, maxFrameBytes+1),
		"garbage":   garbage,
		"all ones":  {0xff, 0xff, 0xff, 0xff},
		"truncated": good[:3],
	}
}

func TestAACToOpusSurvivesBadFrames(t *testing.T) {
	in := readADTS(t, "sine1k_48k_mono.aac")
	tr, err := NewAACToOpus(in.asc)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	bad := badFrames(in.frames[10])
	var out []Packet
	for i, f := range in.frames {
		if i%10 == 5 { // a bad frame in place of every tenth good one
			for name, b := range bad {
				ps, err := tr.Write(b, in.pts(0, i))
				if !errors.Is(err, ErrBadFrame) || len(ps) != 0 {
					t.Fatalf("%s frame: %d packets, error %v; want ErrBadFrame", name, len(ps), err)
				}
				if i == 5 {
					t.Logf("%s: %v", name, err)
				}
			}
			continue
		}
		ps, err := tr.Write(f, in.pts(0, i))
		if err != nil {
			t.Fatalf("good frame %d after bad ones: %v", i, err)
		}
		out = append(out, ps...)
	}
	if _, err := tr.Write(nil, 0); !errors.Is(err, ErrBadFrame) {
		t.Errorf("nil frame: %v", err)
	}
	// The tone survives (a dropped frame costs 21 ms of it) and every
	// packet's PTS still follows the input's: each lost frame re-anchors.
	pcm := decodeOpus(t, 1, out)
	share := tonefulShare(pcm)
	t.Logf("%.0f%% of 20 ms windows carry the tone", 100*share)
	if share < 0.8 {
		t.Errorf("after bad frames only %.0f%% of 20 ms windows carry the tone", 100*share)
	}
	last := out[len(out)-1]
	if end := float64(last.PTSMs + 20); math.Abs(end-float64(in.pts(0, len(in.frames)))) > 60 {
		t.Errorf("output ends at %.0f ms, input at %d ms", end, in.pts(0, len(in.frames)))
	}

	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := tr.Write(in.frames[0], 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
}

func TestOpusToAACSurvivesBadPackets(t *testing.T) {
	packets := readOgg(t, "sine1k_mono_20ms.opus")
	tr, err := NewOpusToAAC(1)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// Opus has little redundancy: a truncated packet or random bytes often
	// decode as valid (if wrong-sounding) audio. Only what the decoder can
	// tell is broken fails; the transcoder keeps going either way.
	bad := map[string][]byte{
		"empty":     {},
		"oversized": make([]byte, maxFrameBytes+1),
		// Code 3 (RFC 6716 3.2.5) claiming 63 frames of 20 ms: 1.26 s,
		// over the 120 ms limit.
		"too long": {0x0b, 0x3f},
	}
	var out []Packet
	for i, p := range packets {
		if i%10 == 5 {
			for name, b := range bad {
				ps, err := tr.Write(b, int64(i)*20)
				if !errors.Is(err, ErrBadFrame) || len(ps) != 0 {
					t.Fatalf("%s packet: %d frames, error %v; want ErrBadFrame", name, len(ps), err)
				}
			}
		}
		ps, err := tr.Write(p, int64(i)*20)
		if err != nil {
			t.Fatalf("good packet %d after bad ones: %v", i, err)
		}
		out = append(out, ps...)
	}
	pcm := decodeAAC(t, tr.ASC(), out)
	if _, purity := toneStats(pcm, 0.2, 1.8, 1000); purity < 0.95 {
		t.Errorf("after bad packets only %.1f%% of the energy is at 1 kHz", 100*purity)
	}
	tr.Close()
	if _, err := tr.Write(packets[0], 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
}

// A publisher that sends nothing but garbage costs bounded CPU: decoder
// restarts (half a millisecond each) come from a budget, not one per frame.
func TestAACGarbageStreamRestartsRarely(t *testing.T) {
	in := readADTS(t, "sine1k_48k_mono.aac")
	tr, err := NewAACToOpus(in.asc)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	garbage := badFrames(in.frames[0])["garbage"]
	const n = 800
	for i := range n {
		if _, err := tr.Write(garbage, int64(i)*21); !errors.Is(err, ErrBadFrame) {
			t.Fatalf("garbage frame %d: %v", i, err)
		}
	}
	if limit := restartBurst + n/restartEvery; tr.p.restarted > limit {
		t.Errorf("%d decoder restarts for %d garbage frames, want at most %d", tr.p.restarted, n, limit)
	}
	for i := range 5 {
		if _, err := tr.Write(in.frames[i], int64(n+i)*21); err != nil {
			t.Fatalf("good frame %d after the garbage: %v", i, err)
		}
	}
}
