package transcode

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// aacInput is an ADTS file from testdata as an RTMP publisher would hand it
// to the hub: raw frames, an AudioSpecificConfig, and millisecond PTS.
type aacInput struct {
	path     string
	asc      []byte
	rate     int
	channels int
	frames   [][]byte
}

func readADTS(t testing.TB, name string) aacInput {
	t.Helper()
	path := filepath.Join("testdata", name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ps mpeg4audio.ADTSPackets
	if err := ps.Unmarshal(b); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	asc, err := mpeg4audio.AudioSpecificConfig{Type: ps[0].Type, SampleRate: ps[0].SampleRate,
		ChannelConfig: ps[0].ChannelConfig}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	in := aacInput{path: path, asc: asc, rate: ps[0].SampleRate, channels: int(ps[0].ChannelConfig)}
	for _, p := range ps {
		in.frames = append(in.frames, p.AU)
	}
	return in
}

// pts is frame i's PTS when the stream starts at base: whole milliseconds,
// as RTMP carries them.
func (in aacInput) pts(base int64, i int) int64 {
	return base + int64(math.Round(float64(i)*1024*1000/float64(in.rate)))
}

// readOgg returns the Opus packets of an Ogg Opus file (without the
// OpusHead and OpusTags header packets).
func readOgg(t testing.TB, name string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var packets [][]byte
	var cur []byte
	for len(b) > 0 {
		if len(b) < 27 || string(b[:4]) != "OggS" {
			t.Fatalf("%s: bad Ogg page", name)
		}
		nseg := int(b[26])
		lacing := b[27 : 27+nseg]
		body := b[27+nseg:]
		for _, l := range lacing {
			cur = append(cur, body[:l]...)
			body = body[l:]
			if l < 255 {
				packets, cur = append(packets, cur), nil
			}
		}
		b = body
	}
	if len(packets) < 3 || !bytes.HasPrefix(packets[0], []byte("OpusHead")) {
		t.Fatalf("%s: not Ogg Opus", name)
	}
	return packets[2:]
}

// oggCRC is Ogg's CRC-32: polynomial 0x04c11db7, not reflected, which
// hash/crc32 does not do.
func oggCRC(b []byte) uint32 {
	var crc uint32
	for _, c := range b {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// writeOgg writes Opus packets to an Ogg Opus file with pre-skip 0, so that
// a decoder's output lines up sample for sample with the packets.
func writeOgg(t testing.TB, path string, channels int, packets []Packet) {
	t.Helper()
	var f bytes.Buffer
	seq := uint32(0)
	page := func(flags byte, granule int64, packet []byte) {
		h := make([]byte, 27, 27+len(packet)/255+1)
		copy(h, "OggS")
		h[5] = flags
		binary.LittleEndian.PutUint64(h[6:], uint64(granule))
		binary.LittleEndian.PutUint32(h[14:], 0x6d696e69)
		binary.LittleEndian.PutUint32(h[18:], seq)
		n := len(packet)
		for ; n >= 255; n -= 255 {
			h = append(h, 255)
		}
		h = append(h, byte(n))
		h[26] = byte(len(h) - 27)
		pg := append(h, packet...)
		binary.LittleEndian.PutUint32(pg[22:], oggCRC(pg))
		f.Write(pg)
		seq++
	}
	head := []byte("OpusHead\x01")
	head = append(head, byte(channels), 0, 0) // pre-skip 0
	head = binary.LittleEndian.AppendUint32(head, OutputRate)
	head = append(head, 0, 0, 0) // gain 0, mapping family 0
	page(0x02, 0, head)
	page(0, 0, []byte("OpusTags\x04\x00\x00\x00test\x00\x00\x00\x00"))
	granule := int64(0)
	for i, p := range packets {
		granule += int64(p.Samples)
		flags := byte(0)
		if i == len(packets)-1 {
			flags = 0x04
		}
		page(flags, granule, p.Data)
	}
	if err := os.WriteFile(path, f.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeADTS writes raw AAC frames to an ADTS file whose headers come from
// asc, read here bit by bit independently of the code under test: if the
// config is wrong, ffmpeg decodes the file wrongly or not at all.
func writeADTS(t testing.TB, path string, asc []byte, packets []Packet) {
	t.Helper()
	if len(asc) < 2 {
		t.Fatalf("ASC %x too short", asc)
	}
	aot, freqIndex, ch := asc[0]>>3, (asc[0]&7)<<1|asc[1]>>7, (asc[1]>>3)&0xf
	var f bytes.Buffer
	for _, p := range packets {
		n := 7 + len(p.Data)
		f.Write([]byte{0xff, 0xf1, (aot-1)<<6 | freqIndex<<2 | ch>>2, (ch&3)<<6 | byte(n>>11),
			byte(n >> 3), byte(n&7)<<5 | 0x1f, 0xfc})
		f.Write(p.Data)
	}
	if err := os.WriteFile(path, f.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ffmpegDecode decodes a file with the ffmpeg command (the peer nobody here
// wrote) to 48 kHz mono float samples.
func ffmpegDecode(t testing.TB, path string, inputArgs ...string) []float64 {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not on PATH (scripts/deps.sh test installs it)")
	}
	args := append([]string{"-hide_banner", "-loglevel", "error"}, inputArgs...)
	args = append(args, "-i", path, "-f", "s16le", "-ac", "1", "-ar", "48000", "-")
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", args...)
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, stderr.String())
	}
	pcm := make([]float64, len(raw)/2)
	for i := range pcm {
		pcm[i] = float64(int16(binary.LittleEndian.Uint16(raw[2*i:]))) / 32768
	}
	return pcm
}

// toneStats measures pcm (48 kHz) between from and to seconds: its RMS, and
// the share of its energy at freq (Goertzel), 1 for a pure tone. The window
// is cut to whole periods of freq so a pure tone leaks nothing.
func toneStats(pcm []float64, from, to, freq float64) (rms, purity float64) {
	a, b := int(from*OutputRate), int(to*OutputRate)
	b = min(b, len(pcm))
	period := OutputRate / freq
	b = a + int(math.Floor(float64(b-a)/period)*period)
	x := pcm[a:b]
	if len(x) == 0 {
		return 0, 0
	}
	var energy, s1, s2 float64
	coef := 2 * math.Cos(2*math.Pi*freq/OutputRate)
	for _, v := range x {
		energy += v * v
		s1, s2 = v+coef*s1-s2, s1
	}
	power := s1*s1 + s2*s2 - coef*s1*s2 // |X(freq)|^2
	n := float64(len(x))
	return math.Sqrt(energy / n), 2 * power / (n * energy)
}

// onset is the index of the first sample louder than half the test tone's
// amplitude (1/8), or -1.
func onset(pcm []float64) int {
	for i, v := range pcm {
		if math.Abs(v) > 1.0/16 {
			return i
		}
	}
	return -1
}

// timeOf is the PTS in milliseconds of decoded sample i, given the packets
// that were decoded back to back (sample i lies in one of them).
func timeOf(packets []Packet, i int) float64 {
	for _, p := range packets {
		if i < p.Samples {
			return float64(p.PTSMs) + float64(i)*1000/OutputRate
		}
		i -= p.Samples
	}
	return math.NaN()
}

// totalSamples sums the packets' durations.
func totalSamples(packets []Packet) int {
	n := 0
	for _, p := range packets {
		n += p.Samples
	}
	return n
}

// tonefulShare is the share of 20 ms windows of pcm (between 0.2 s from
// either end) that carry the 1 kHz tone: for audio with dropped frames,
// whose phase jumps defeat a Goertzel over the whole signal.
func tonefulShare(pcm []float64) float64 {
	n, good := 0, 0
	for from := 0.2; from+0.02 <= float64(len(pcm))/OutputRate-0.2; from += 0.02 {
		rms, purity := toneStats(pcm, from, from+0.02, 1000)
		n++
		if rms > 0.05 && purity > 0.9 {
			good++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(good) / float64(n)
}
