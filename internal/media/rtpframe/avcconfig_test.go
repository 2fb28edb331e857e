package rtpframe

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/minirtc/minirtc/internal/media"
)

func TestAVCConfigRoundTrip(t *testing.T) {
	for _, name := range []string{"h264_320x240.avcc", "h264_640x360.avcc"} {
		record, err := os.ReadFile(filepath.Join("..", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseAVCConfig(record)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.SPS) != 1 || len(c.PPS) != 1 || c.LengthSize != 4 || c.Profile != c.SPS[0][1] || c.Level != c.SPS[0][3] {
			t.Fatalf("%s: %+v", name, c)
		}
		b, err := AVCConfig{SPS: c.SPS, PPS: c.PPS}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, record) {
			t.Fatalf("%s: rebuilt record %x, want %x", name, b, record)
		}
		for n := range len(record) - 1 {
			if _, err := ParseAVCConfig(record[:n]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s truncated to %d: %v", name, n, err)
			}
		}
	}
}

// TestAVCConfigHighProfile checks the High-profile tail (chroma format and
// bit depths) that ISO/IEC 14496-15 requires for profile_idc 100 and up.
func TestAVCConfigHighProfile(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	out := filepath.Join(t.TempDir(), "high.h264")
	if b, err := execOutput(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-frames:v", "1",
		"-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p", "-f", "h264", out); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	s := loadAnnexB(t, out)
	c, err := ParseAVCConfig(s.config)
	if err != nil {
		t.Fatal(err)
	}
	if c.Profile != 100 {
		t.Fatalf("profile %d", c.Profile)
	}
	tail := s.config[len(s.config)-4:]
	if !bytes.Equal(tail, []byte{0xFD, 0xF8, 0xF8, 0}) { // 4:2:0, 8 bits
		t.Fatalf("tail %x", tail)
	}
	if info, err := media.ParseVideoConfig(media.H264, s.config); err != nil || info.Width != 160 {
		t.Fatalf("%+v, %v", info, err)
	}
}

func TestAVCConfigErrors(t *testing.T) {
	_, pps, record := testParams(t)
	for name, b := range map[string][]byte{
		"version":        append([]byte{2}, record[1:]...),
		"3-byte lengths": append(append([]byte(nil), record[:4]...), append([]byte{0xFE}, record[5:]...)...),
		"no SPS":         {1, 66, 0, 30, 0xFF, 0xE0, 1, 0, byte(len(pps))},
		"PPS as SPS":     append([]byte{1, 66, 0, 30, 0xFF, 0xE1, 0, byte(len(pps))}, pps...),
		"zero-size SPS":  {1, 66, 0, 30, 0xFF, 0xE1, 0, 0, 0},
	} {
		if _, err := ParseAVCConfig(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := (AVCConfig{PPS: [][]byte{pps}}).Marshal(); err == nil {
		t.Error("marshalled a config without SPS")
	}
	if _, err := (AVCConfig{SPS: [][]byte{{0x67, 1}}, PPS: [][]byte{pps}}).Marshal(); err == nil {
		t.Error("marshalled a config with a 2-byte SPS")
	}
}

func TestPacketizerErrors(t *testing.T) {
	p := NewH264Packetizer(1, 96, 0)
	if p.maxPayload != DefaultMTU-12 {
		t.Fatalf("max payload %d", p.maxPayload)
	}
	if NewH264Packetizer(1, 96, 10).maxPayload != MinMTU-12 {
		t.Fatal("small MTU not raised")
	}
	for name, f := range map[string]*media.Frame{
		"codec":          {Kind: media.Video, Codec: media.H265, Payload: []byte{0, 0, 0, 1, 0x65}},
		"bad config":     {Kind: media.Video, Codec: media.H264, Config: true, Payload: []byte{1, 2}},
		"truncated AVCC": {Kind: media.Video, Codec: media.H264, Payload: []byte{0, 0, 0, 9, 0x65}},
		"truncated len":  {Kind: media.Video, Codec: media.H264, Payload: []byte{0, 0, 0, 1, 0x65, 0, 0}},
		"too many NALUs": {Kind: media.Video, Codec: media.H264, Payload: bytes.Repeat([]byte{0, 0, 0, 1, 0x41}, MaxNALUsPerAccessUnit+1)},
	} {
		if pkts, err := p.Packetize(f); err == nil || pkts != nil {
			t.Errorf("%s: %d packets, %v", name, len(pkts), err)
		}
	}
	// Empty and AUD-only access units make no packets.
	for _, payload := range [][]byte{nil, {0, 0, 0, 0}, {0, 0, 0, 2, 0x09, 0xF0}} {
		if pkts, err := p.Packetize(&media.Frame{Kind: media.Video, Codec: media.H264, Payload: payload}); err != nil || len(pkts) != 0 {
			t.Errorf("%x: %d packets, %v", payload, len(pkts), err)
		}
	}
	// A record with 2-byte lengths makes the packetizer read frames so.
	sps, pps, _ := testParams(t)
	record, _ := AVCConfig{SPS: [][]byte{sps}, PPS: [][]byte{pps}}.Marshal()
	record[4] = 0xFD
	if err := p.SetConfig(record); err != nil {
		t.Fatal(err)
	}
	pkts, err := p.Packetize(&media.Frame{Kind: media.Video, Codec: media.H264, Payload: []byte{0, 4, 0x41, 1, 2, 3}})
	if err != nil || len(pkts) != 1 || !bytes.Equal(pkts[0].Payload, []byte{0x41, 1, 2, 3}) || !pkts[0].Marker {
		t.Fatalf("%v, %v", pkts, err)
	}
}
