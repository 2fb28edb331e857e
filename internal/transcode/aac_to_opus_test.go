package transcode

import (
	"math"
	"path/filepath"
	"sync"
	"testing"
)

// transcodeAAC runs in's frames (all but those in skip) through a fresh
// AACToOpus with PTS starting at base.
func transcodeAAC(t *testing.T, in aacInput, base int64, skip func(i int) bool) []Packet {
	t.Helper()
	tr, err := NewAACToOpus(in.asc)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if tr.Channels() != in.channels {
		t.Errorf("Channels() = %d, want %d", tr.Channels(), in.channels)
	}
	var out []Packet
	for i, f := range in.frames {
		if skip != nil && skip(i) {
			continue
		}
		ps, err := tr.Write(f, in.pts(base, i))
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		out = append(out, ps...)
	}
	return out
}

// decodeOpus decodes packets with libopus through the ffmpeg command:
// libopus is the decoder browsers use.
func decodeOpus(t *testing.T, channels int, packets []Packet) []float64 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.opus")
	writeOgg(t, path, channels, packets)
	pcm := ffmpegDecode(t, path, "-c:a", "libopus")
	if len(pcm) != totalSamples(packets) {
		t.Fatalf("ffmpeg decoded %d samples from packets of %d", len(pcm), totalSamples(packets))
	}
	return pcm
}

func TestAACToOpus(t *testing.T) {
	for _, name := range []string{"sine1k_48k_mono.aac", "sine1k_16k_mono.aac", "sine1k_44k_stereo.aac"} {
		t.Run(name, func(t *testing.T) {
			in := readADTS(t, name)
			const base = 90_000 // a stream that has been running for 90 s
			out := transcodeAAC(t, in, base, nil)

			inDur := float64(len(in.frames)) * 1024 * 1000 / float64(in.rate)
			outDur := float64(totalSamples(out)) * 1000 / OutputRate
			if math.Abs(outDur-inDur) > 60 {
				t.Errorf("output lasts %.0f ms, input %.0f ms", outDur, inDur)
			}
			// Every packet is 20 ms, stamped 20 ms after the one before,
			// starting at the first input PTS.
			for i, p := range out {
				if p.Samples != 960 || p.Duration().Milliseconds() != 20 {
					t.Fatalf("packet %d has %d samples", i, p.Samples)
				}
				if want := int64(base + 20*i); p.PTSMs != want {
					t.Fatalf("packet %d PTS %d, want %d", i, p.PTSMs, want)
				}
				// The TOC byte's stereo flag (RFC 6716 3.1) says what a
				// browser will hear.
				if stereo := p.Data[0]&0x04 != 0; stereo != (in.channels == 2) {
					t.Fatalf("packet %d stereo=%v for %d input channels", i, stereo, in.channels)
				}
			}
			last := out[len(out)-1]
			inEnd := float64(in.pts(base, len(in.frames)))
			if end := float64(last.PTSMs) + 20; math.Abs(end-inEnd) > 60 {
				t.Errorf("output ends at %.0f ms, input at %.0f ms", end, inEnd)
			}

			pcm := decodeOpus(t, in.channels, out)
			rms, purity := toneStats(pcm, 0.2, float64(len(pcm))/OutputRate-0.2, 1000)
			inRMS, _ := toneStats(ffmpegDecode(t, in.path), 0.2, 1.8, 1000)
			if db := 20 * math.Log10(rms/inRMS); math.Abs(db) > 1 {
				t.Errorf("output level %.1f dB from the input's", db)
			}
			if purity < 0.95 {
				t.Errorf("only %.1f%% of the energy is at 1 kHz", 100*purity)
			}
			if _, off := toneStats(pcm, 0.2, 1.8, 3000); off > 0.01 {
				t.Errorf("%.1f%% of the energy at 3 kHz", 100*off)
			}
		})
	}
}

// TestAACToOpusKeepsSync checks what lip sync depends on: a tone that starts
// at input PTS T is heard at output PTS T plus the documented delay (Opus's
// 6.5 ms pre-skip), also after a hole in the input.
func TestAACToOpusKeepsSync(t *testing.T) {
	in := readADTS(t, "onset1s_48k_mono.aac")
	const base = 5000
	// Where the tone starts in the input, as a player of the RTMP stream
	// hears it: frames are back to back at 48 kHz from base.
	idx := onset(ffmpegDecode(t, in.path))
	if idx < 0 {
		t.Fatal("no tone in the input")
	}
	inOnset := base + float64(idx)*1000/OutputRate

	for _, tc := range []struct {
		name string
		skip func(int) bool
	}{
		{"continuous", nil},
		// 10 frames (213 ms) lost before the tone starts, as when a
		// publisher's audio stalls: PTS jump, samples do not.
		{"gap", func(i int) bool { return i >= 20 && i < 30 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := transcodeAAC(t, in, base, tc.skip)
			maxStep := int64(0)
			for i := 1; i < len(out); i++ {
				step := out[i].PTSMs - out[i-1].PTSMs
				if step <= 0 {
					t.Fatalf("PTS go from %d to %d", out[i-1].PTSMs, out[i].PTSMs)
				}
				maxStep = max(maxStep, step)
			}
			if tc.skip != nil && maxStep < 200 {
				t.Errorf("largest PTS step %d ms: the 213 ms hole was smoothed over", maxStep)
			}
			j := onset(decodeOpus(t, 1, out))
			if j < 0 {
				t.Fatal("no tone in the output")
			}
			lag := timeOf(out, j) - inOnset
			t.Logf("tone at input %.1f ms, output %.1f ms (lag %.1f ms)", inOnset, timeOf(out, j), lag)
			if lag < 0 || lag > 12 {
				t.Errorf("output tone %.1f ms after the input's, want 0 to 12 (6.5 ms pre-skip)", lag)
			}
		})
	}
}

// The hub runs one transcoder per stream, each on its own goroutine: they
// must not share state (run with -race).
func TestTranscodersInParallel(t *testing.T) {
	in := readADTS(t, "sine1k_44k_stereo.aac")
	packets := readOgg(t, "sine1k_mono_20ms.opus")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			if g%2 == 0 {
				tr, err := NewAACToOpus(in.asc)
				if err != nil {
					errs <- err
					return
				}
				defer tr.Close()
				for i, f := range in.frames {
					if _, err := tr.Write(f, in.pts(0, i)); err != nil {
						errs <- err
						return
					}
				}
				return
			}
			tr, err := NewOpusToAAC(1)
			if err != nil {
				errs <- err
				return
			}
			defer tr.Close()
			for i, p := range packets {
				if _, err := tr.Write(p, int64(i)*20); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
