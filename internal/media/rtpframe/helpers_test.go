package rtpframe

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"github.com/minirtc/minirtc/internal/media"
)

// stream is a real encoder's output cut into hub frames.
type stream struct {
	config []byte         // AVCDecoderConfigurationRecord of the first SPS/PPS
	aus    [][][]byte     // NAL units per access unit, in-band SPS/PPS included
	frames []*media.Frame // the access units as hub frames, 25 fps
}

// frameMS is the frame duration of the test streams (25 fps).
const frameMS = 40

// loadAnnexB reads an Annex-B H.264 stream and cuts it into access units:
// a new one starts at a non-VCL NAL unit (AUD, SPS, PPS, SEI) after a
// slice, or at a slice with first_mb_in_slice = 0 after a slice.
func loadAnnexB(t testing.TB, path string) stream {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	nalus := splitAnnexBStream(raw)
	var s stream
	var au [][]byte
	sawSlice := false
	var sps, pps []byte
	for _, n := range nalus {
		typ := h264.NALUType(n[0] & 0x1F)
		vcl := typ == h264.NALUTypeIDR || typ == h264.NALUTypeNonIDR
		if sawSlice && (!vcl || n[1]&0x80 != 0) {
			s.aus = append(s.aus, au)
			au, sawSlice = nil, false
		}
		switch typ {
		case h264.NALUTypeSPS:
			if sps == nil {
				sps = n
			}
		case h264.NALUTypePPS:
			if pps == nil {
				pps = n
			}
		}
		au = append(au, n)
		sawSlice = sawSlice || vcl
	}
	if len(au) > 0 {
		s.aus = append(s.aus, au)
	}
	s.config, err = AVCConfig{SPS: [][]byte{sps}, PPS: [][]byte{pps}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for i, au := range s.aus {
		s.frames = append(s.frames, &media.Frame{
			Kind: media.Video, Codec: media.H264, Key: h264.IsRandomAccess(au),
			DTS: int64(i * frameMS), Payload: avcc(t, au),
		})
	}
	return s
}

// splitAnnexBStream cuts a whole Annex-B stream at its start codes
// (mediacommon's AnnexB parses one access unit, at most 50 NAL units).
func splitAnnexBStream(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				out = append(out, bytes.TrimRight(b[start:i], "\x00"))
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 {
		out = append(out, b[start:])
	}
	return out
}

func avcc(t testing.TB, nalus [][]byte) []byte {
	t.Helper()
	b, err := h264.AVCC(nalus).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withoutParameterSets returns an AVCC payload without its SPS and PPS:
// the depacketizer moves them into configuration frames.
func withoutParameterSets(t testing.TB, payload []byte) []byte {
	t.Helper()
	var nalus h264.AVCC
	if err := nalus.Unmarshal(payload); err != nil {
		t.Fatal(err)
	}
	var kept [][]byte
	for _, n := range nalus {
		if typ := h264.NALUType(n[0] & 0x1F); typ != h264.NALUTypeSPS && typ != h264.NALUTypePPS {
			kept = append(kept, n)
		}
	}
	return avcc(t, kept)
}

// committedStream is the small stream in testdata (see testdata/README.md).
func committedStream(t testing.TB) stream {
	return loadAnnexB(t, filepath.Join("testdata", "testsrc_320x240.h264"))
}

// needFFmpeg returns ffmpeg's path or skips the test.
func needFFmpeg(t testing.TB) string {
	t.Helper()
	path, err := lookFFmpeg()
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	return path
}

// encodeTestsrc encodes two seconds of ffmpeg's test pattern, the way the
// task's reference command does, into a temporary file.
func encodeTestsrc(t testing.TB, size string) string {
	t.Helper()
	ffmpeg := needFFmpeg(t)
	out := filepath.Join(t.TempDir(), "out.h264")
	cmd := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=size="+size+":rate=25", "-t", "2",
		"-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "25",
		"-bsf:v", "h264_mp4toannexb", "-f", "h264", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return out
}

// packetizeAll runs frames (after the config) through a packetizer.
func packetizeAll(t testing.TB, p *H264Packetizer, s stream) [][]*rtp.Packet {
	t.Helper()
	if err := p.SetConfig(s.config); err != nil {
		t.Fatal(err)
	}
	var out [][]*rtp.Packet
	for _, f := range s.frames {
		pkts, err := p.Packetize(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pkts)
	}
	return out
}

// pushAll feeds packets to a depacketizer, failing on errors.
func pushAll(t testing.TB, d *H264Depacketizer, pkts []*rtp.Packet) []*media.Frame {
	t.Helper()
	var out []*media.Frame
	for _, p := range pkts {
		frames, err := d.Push(p)
		if err != nil {
			t.Fatalf("packet %d: %v", p.SequenceNumber, err)
		}
		out = append(out, frames...)
	}
	return out
}

func flatten(groups [][]*rtp.Packet) []*rtp.Packet {
	var out []*rtp.Packet
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// toAnnexB writes depacketized frames as an Annex-B stream, with the
// parameter sets of each configuration frame ahead of the next keyframe.
func toAnnexB(t testing.TB, frames []*media.Frame) []byte {
	t.Helper()
	var out bytes.Buffer
	var params [][]byte
	for _, f := range frames {
		if f.Config {
			c, err := ParseAVCConfig(f.Payload)
			if err != nil {
				t.Fatal(err)
			}
			params = append(append([][]byte(nil), c.SPS...), c.PPS...)
			continue
		}
		var nalus h264.AVCC
		if err := nalus.Unmarshal(f.Payload); err != nil {
			t.Fatal(err)
		}
		if f.Key {
			nalus = append(append([][]byte(nil), params...), nalus...)
		}
		b, err := h264.AnnexB(nalus).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
	}
	return out.Bytes()
}

func lookFFmpeg() (string, error) { return exec.LookPath("ffmpeg") }

func execOutput(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}
