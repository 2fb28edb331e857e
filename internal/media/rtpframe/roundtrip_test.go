package rtpframe

import (
	"bytes"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/minirtc/minirtc/internal/media"
)

// testStreams are real x264 streams: the committed one always, a 640x360
// one (with FU-A fragments of several packets) when ffmpeg is installed.
// Each also comes without in-band SPS/PPS, as RTMP publishers send frames,
// so that the packetizer must insert the configuration's.
func testStreams(t *testing.T) map[string]stream {
	streams := map[string]stream{"320x240": committedStream(t)}
	if _, err := lookFFmpeg(); err == nil {
		streams["640x360"] = loadAnnexB(t, encodeTestsrc(t, "640x360"))
	}
	for name, s := range streams {
		bare := s
		bare.frames = nil
		for _, f := range s.frames {
			bare.frames = append(bare.frames, &media.Frame{Kind: f.Kind, Codec: f.Codec, Key: f.Key, DTS: f.DTS,
				Payload: withoutParameterSets(t, f.Payload)})
		}
		streams[name+"/no-inband-params"] = bare
	}
	return streams
}

func TestH264RoundTrip(t *testing.T) {
	for name, s := range testStreams(t) {
		t.Run(name, func(t *testing.T) {
			p := NewH264Packetizer(0x1234, 96, 1200)
			groups := packetizeAll(t, p, s)
			checkPackets(t, p, s, groups)

			d := NewH264Depacketizer()
			if !d.NeedKeyframe() {
				t.Error("a new depacketizer should want a keyframe")
			}
			got := pushAll(t, d, flatten(groups))
			if len(got) == 0 || !got[0].Config {
				t.Fatalf("first frame is not a config frame")
			}
			c, err := ParseAVCConfig(got[0].Payload)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ParseAVCConfig(s.config)
			if !equalParameterSets(c.SPS, want.SPS) || !equalParameterSets(c.PPS, want.PPS) {
				t.Error("config frame does not carry the stream's SPS/PPS")
			}
			got = got[1:]
			if len(got) != len(s.frames) {
				t.Fatalf("got %d frames, want %d", len(got), len(s.frames))
			}
			for i, f := range got {
				w := s.frames[i]
				if f.Config || f.Kind != media.Video || f.Codec != media.H264 || f.Key != w.Key || f.DTS != w.DTS || f.CTS != 0 {
					t.Fatalf("frame %d: got key=%v dts=%d cts=%d config=%v, want key=%v dts=%d", i, f.Key, f.DTS, f.CTS, f.Config, w.Key, w.DTS)
				}
				if !bytes.Equal(f.Payload, withoutParameterSets(t, w.Payload)) {
					t.Fatalf("frame %d: payload differs", i)
				}
			}
			if d.NeedKeyframe() {
				t.Error("NeedKeyframe after a clean stream")
			}
			info, ok := d.Info()
			wantInfo, _ := media.ParseVideoConfig(media.H264, s.config)
			if !ok || info != wantInfo || info.Width == 0 {
				t.Errorf("Info() = %+v, %v; want %+v", info, ok, wantInfo)
			}
		})
	}
}

// checkPackets checks what the packetizer made of a stream: sizes,
// sequence numbers, timestamps, marker bits, parameter sets ahead of IDRs.
func checkPackets(t *testing.T, p *H264Packetizer, s stream, groups [][]*rtp.Packet) {
	t.Helper()
	seq := groups[0][0].SequenceNumber
	fua := 0
	for i, g := range groups {
		f := s.frames[i]
		for j, pkt := range g {
			if pkt.SequenceNumber != seq {
				t.Fatalf("frame %d packet %d: seq %d, want %d", i, j, pkt.SequenceNumber, seq)
			}
			seq++
			if pkt.Timestamp != p.Timestamp(f.DTS) {
				t.Fatalf("frame %d: timestamp %d, want %d", i, pkt.Timestamp, p.Timestamp(f.DTS))
			}
			if pkt.Marker != (j == len(g)-1) {
				t.Fatalf("frame %d packet %d/%d: marker %v", i, j, len(g), pkt.Marker)
			}
			if pkt.MarshalSize() > 1200 {
				t.Fatalf("frame %d: packet of %d bytes", i, pkt.MarshalSize())
			}
			if pkt.SSRC != 0x1234 || pkt.PayloadType != 96 || pkt.Version != 2 {
				t.Fatalf("header %+v", pkt.Header)
			}
			if pkt.Payload[0]&0x1F == typeFUA {
				fua++
			}
		}
		if f.Key {
			// The first packet holds the SPS: alone or first in a STAP-A.
			b := g[0].Payload
			if b[0]&0x1F == typeSTAPA {
				b = b[3:]
			}
			if h264.NALUType(b[0]&0x1F) != h264.NALUTypeSPS {
				t.Fatalf("IDR frame %d does not start with an SPS", i)
			}
		}
	}
	if fua == 0 {
		t.Error("no FU-A packets: the stream does not exercise fragmentation")
	}
}

// TestH264PacketizerAgainstPion has pion's depacketizer, which nobody here
// wrote, read what ours writes.
func TestH264PacketizerAgainstPion(t *testing.T) {
	s := testStreams(t)["320x240/no-inband-params"]
	p := NewH264Packetizer(1, 96, 1200)
	params, _ := ParseAVCConfig(s.config)
	for i, g := range packetizeAll(t, p, s) {
		var pion codecs.H264Packet
		var annexB []byte
		for _, pkt := range g {
			b, err := pion.Unmarshal(pkt.Payload)
			if err != nil {
				t.Fatal(err)
			}
			annexB = append(annexB, b...)
		}
		var nalus h264.AnnexB
		if err := nalus.Unmarshal(annexB); err != nil {
			t.Fatal(err)
		}
		var want h264.AVCC
		if err := want.Unmarshal(s.frames[i].Payload); err != nil {
			t.Fatal(err)
		}
		if s.frames[i].Key {
			want = append([][]byte{params.SPS[0], params.PPS[0]}, want...)
		}
		if len(nalus) != len(want) {
			t.Fatalf("frame %d: pion read %d NAL units, want %d", i, len(nalus), len(want))
		}
		for j := range want {
			if !bytes.Equal(nalus[j], want[j]) {
				t.Fatalf("frame %d NAL unit %d differs", i, j)
			}
		}
	}
}

// TestH264DepacketizerFromPion reads what pion's packetizer writes: its
// STAP-A of SPS+PPS and its FU-A fragments.
func TestH264DepacketizerFromPion(t *testing.T) {
	s := testStreams(t)["320x240"]
	var payloader codecs.H264Payloader
	d := NewH264Depacketizer()
	seq := uint16(65500) // wraps during the stream
	var got []*media.Frame
	stapA := 0
	for i, au := range s.aus {
		annexB, err := h264.AnnexB(au).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		payloads := payloader.Payload(1200-12, annexB)
		for j, pl := range payloads {
			if pl[0]&0x1F == typeSTAPA {
				stapA++
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(i * 3600),
				Marker: j == len(payloads)-1}, Payload: pl}
			seq++
			frames, err := d.Push(pkt)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, frames...)
		}
	}
	if stapA == 0 {
		t.Fatal("pion sent no STAP-A")
	}
	var n int
	for _, f := range got {
		if f.Config {
			continue
		}
		if !bytes.Equal(f.Payload, withoutParameterSets(t, s.frames[n].Payload)) || f.DTS != s.frames[n].DTS {
			t.Fatalf("frame %d differs", n)
		}
		n++
	}
	if n != len(s.frames) {
		t.Fatalf("got %d frames, want %d", n, len(s.frames))
	}
}
