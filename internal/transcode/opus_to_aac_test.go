package transcode

import (
	"math"
	"path/filepath"
	"testing"
)

// opusInput is an Ogg Opus file's packets as a WebRTC publisher would send
// them: one packet per frame, PTS from the 48 kHz RTP clock in ms.
type opusInput struct {
	path     string
	packets  [][]byte
	frameMs  int64
	channels int
}

func transcodeOpus(t *testing.T, in opusInput, channels int, base int64) (*OpusToAAC, []Packet) {
	t.Helper()
	tr, err := NewOpusToAAC(channels)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	var out []Packet
	for i, p := range in.packets {
		ps, err := tr.Write(p, base+int64(i)*in.frameMs)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		out = append(out, ps...)
	}
	return tr, out
}

// decodeAAC decodes frames through an ADTS file built from asc with the
// ffmpeg command.
func decodeAAC(t *testing.T, asc []byte, frames []Packet) []float64 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.aac")
	writeADTS(t, path, asc, frames)
	pcm := ffmpegDecode(t, path)
	if len(pcm) != totalSamples(frames) {
		t.Fatalf("ffmpeg decoded %d samples from frames of %d", len(pcm), totalSamples(frames))
	}
	return pcm
}

func TestOpusToAAC(t *testing.T) {
	mono := opusInput{path: "sine1k_mono_20ms.opus", frameMs: 20, channels: 1}
	stereo60 := opusInput{path: "sine1k_stereo_60ms.opus", frameMs: 60, channels: 2}
	for _, tc := range []struct {
		name     string
		in       opusInput
		channels int
	}{
		{"mono 20ms", mono, 1},
		{"stereo 60ms", stereo60, 2},
		{"stereo 60ms to mono", stereo60, 1},
		{"mono 20ms to stereo", mono, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.packets = readOgg(t, in.path)
			const base = 1_000_000
			tr, out := transcodeOpus(t, in, tc.channels, base)

			// The AudioSpecificConfig, read bit by bit (ISO 14496-3
			// 1.6.2.1): object type 2 (AAC-LC), frequency index 3 (48 kHz).
			asc := tr.ASC()
			if len(asc) < 2 {
				t.Fatalf("ASC %x", asc)
			}
			if aot, freq, ch := asc[0]>>3, (asc[0]&7)<<1|asc[1]>>7, int(asc[1]>>3&0xf); aot != 2 || freq != 3 || ch != tc.channels {
				t.Errorf("ASC %x: object type %d, frequency index %d, %d channels; want 2, 3, %d", asc, aot, freq, ch, tc.channels)
			}

			inDur := float64(int64(len(in.packets)) * in.frameMs)
			outDur := float64(totalSamples(out)) * 1000 / OutputRate
			if math.Abs(outDur-inDur) > 60 {
				t.Errorf("output lasts %.0f ms, input %.0f ms", outDur, inDur)
			}
			for i, p := range out {
				if p.Samples != 1024 {
					t.Fatalf("frame %d has %d samples", i, p.Samples)
				}
				if want := base + float64(i)*1024*1000/OutputRate; math.Abs(float64(p.PTSMs)-want) > 0.5 {
					t.Fatalf("frame %d PTS %d, want %.1f", i, p.PTSMs, want)
				}
			}

			pcm := decodeAAC(t, asc, out)
			rms, purity := toneStats(pcm, 0.2, float64(len(pcm))/OutputRate-0.2, 1000)
			inRMS, _ := toneStats(ffmpegDecode(t, filepath.Join("testdata", in.path)), 0.2, 1.8, 1000)
			if db := 20 * math.Log10(rms/inRMS); math.Abs(db) > 1 {
				t.Errorf("output level %.1f dB from the input's", db)
			}
			if purity < 0.95 {
				t.Errorf("only %.1f%% of the energy is at 1 kHz", 100*purity)
			}
		})
	}
}

// TestOpusToAACKeepsSync: a tone that starts at input PTS T is heard at
// output PTS T plus the AAC encoder's 1024 samples of priming (21.3 ms).
func TestOpusToAACKeepsSync(t *testing.T) {
	in := opusInput{path: "onset1s_mono_20ms.opus", frameMs: 20, channels: 1}
	in.packets = readOgg(t, in.path)
	const base = 7000
	// Where the tone starts in the packets as a WebRTC receiver hears
	// them: decoded back to back, no pre-skip.
	var asPackets []Packet
	for _, p := range in.packets {
		asPackets = append(asPackets, Packet{Data: p, Samples: 960})
	}
	idx := onset(decodeOpus(t, 1, asPackets))
	if idx < 0 {
		t.Fatal("no tone in the input")
	}
	inOnset := base + float64(idx)*1000/OutputRate

	tr, out := transcodeOpus(t, in, 1, base)
	j := onset(decodeAAC(t, tr.ASC(), out))
	if j < 0 {
		t.Fatal("no tone in the output")
	}
	lag := timeOf(out, j) - inOnset
	t.Logf("tone at input %.1f ms, output %.1f ms (lag %.1f ms)", inOnset, timeOf(out, j), lag)
	if lag < 0 || lag > 30 {
		t.Errorf("output tone %.1f ms after the input's, want 0 to 30 (21.3 ms priming)", lag)
	}
}
