package rtpframe

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pion/rtp"

	"github.com/minirtc/minirtc/internal/media"
)

func pkt(seq uint16, ts uint32, marker bool, payload ...byte) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: marker}, Payload: payload}
}

// bareStream is the committed stream without in-band parameter sets,
// played twice in a row (DTS continuing), so it has IDRs at frames 0, 25,
// 50 and 75.
func bareStream(t *testing.T) stream {
	s := testStreams(t)["320x240/no-inband-params"]
	n := len(s.frames)
	for i := range n {
		f := s.frames[i]
		s.frames = append(s.frames, &media.Frame{Kind: f.Kind, Codec: f.Codec, Key: f.Key,
			DTS: f.DTS + int64(n*frameMS), Payload: f.Payload})
	}
	return s
}

func keyIndexes(frames []*media.Frame) []int {
	var out []int
	for i, f := range frames {
		if f.Key {
			out = append(out, i)
		}
	}
	return out
}

// TestLossInIDR drops a packet in the middle of the second IDR: that IDR
// and the P-frames after it are dropped, NeedKeyframe holds until the
// next IDR, and everything from there on comes through.
func TestLossInIDR(t *testing.T) {
	s := bareStream(t)
	keys := keyIndexes(s.frames)
	if len(keys) < 3 {
		t.Fatalf("stream has keyframes at %v", keys)
	}
	groups := packetizeAll(t, NewH264Packetizer(1, 96, 400), s)
	lossAt, next := keys[1], keys[2]
	if len(groups[lossAt]) < 3 {
		t.Fatalf("IDR in %d packets", len(groups[lossAt]))
	}
	g := groups[lossAt]
	groups[lossAt] = append(g[:len(g)/2:len(g)/2], g[len(g)/2+1:]...)

	d := NewH264Depacketizer()
	var got []*media.Frame
	for i, g := range groups {
		got = append(got, pushAll(t, d, g)...)
		switch {
		case i == next-1 && !d.NeedKeyframe():
			t.Fatal("NeedKeyframe not set after losing part of an IDR")
		case i == next && d.NeedKeyframe():
			t.Fatal("NeedKeyframe still set after the next IDR")
		}
	}
	var dts []int64
	for _, f := range got {
		if !f.Config {
			dts = append(dts, f.DTS)
		}
	}
	var want []int64
	for i, f := range s.frames {
		if i < lossAt || i >= next {
			want = append(want, f.DTS)
		}
	}
	if len(dts) != len(want) {
		t.Fatalf("got %d frames, want %d", len(dts), len(want))
	}
	for i := range want {
		if dts[i] != want[i] {
			t.Fatalf("frame %d: DTS %d, want %d", i, dts[i], want[i])
		}
	}
}

// TestLossAtStartOfIDR loses the head of an IDR. Without its SPS/PPS
// STAP-A the IDR still starts visibly (first_mb_in_slice = 0) and the
// parameter sets are known: it is delivered. Without its first FU-A too,
// the next packet does not start an access unit, so the IDR is dropped.
func TestLossAtStartOfIDR(t *testing.T) {
	for lost, wantDropped := range map[int]bool{1: false, 2: true} {
		s := bareStream(t)
		keys := keyIndexes(s.frames)
		groups := packetizeAll(t, NewH264Packetizer(1, 96, 1200), s)
		if h := groups[keys[1]][1].Payload; h[0]&0x1F != typeFUA || h[1]&fuStart == 0 {
			t.Fatal("IDR's second packet is not an FU-A start")
		}
		groups[keys[1]] = groups[keys[1]][lost:]
		d := NewH264Depacketizer()
		var n int
		for i, g := range groups {
			for _, f := range pushAll(t, d, g) {
				if !f.Config {
					n++
				}
			}
			if i == keys[2]-1 && d.NeedKeyframe() != wantDropped {
				t.Fatalf("%d packets lost: NeedKeyframe %v", lost, d.NeedKeyframe())
			}
		}
		want := len(s.frames)
		if wantDropped {
			want -= keys[2] - keys[1]
		}
		if n != want {
			t.Fatalf("%d packets lost: got %d frames, want %d", lost, n, want)
		}
	}
}

// TestReordering shuffles packets within small windows and duplicates a
// few: the output must be that of the stream in order.
func TestReordering(t *testing.T) {
	s := bareStream(t)
	pkts := flatten(packetizeAll(t, NewH264Packetizer(1, 96, 150), s))
	want := pushAll(t, NewH264Depacketizer(), pkts)

	shuffled := append([]*rtp.Packet(nil), pkts...)
	reversed := 0
	for i := 5; i+3 < len(shuffled); i += 5 {
		// Reverse runs of 4 (each packet moves by up to 3 places) within
		// one frame interval, as a network reorders: by a few ms. Not the
		// very first packets: what comes before the first is lost.
		if shuffled[i+3].Timestamp-shuffled[i].Timestamp > 3600 {
			continue
		}
		shuffled[i], shuffled[i+1], shuffled[i+2], shuffled[i+3] = shuffled[i+3], shuffled[i+2], shuffled[i+1], shuffled[i]
		reversed++
	}
	if reversed < 20 {
		t.Fatalf("only %d runs reversed", reversed)
	}
	for i := 7; i < len(shuffled); i += 50 {
		shuffled = append(shuffled[:i+1], shuffled[i:]...) // duplicate
	}
	d := NewH264Depacketizer()
	got := pushAll(t, d, shuffled)
	if len(got) != len(want) || d.NeedKeyframe() {
		t.Fatalf("got %d frames (need keyframe: %v), want %d", len(got), d.NeedKeyframe(), len(want))
	}
	for i := range want {
		if got[i].DTS != want[i].DTS || got[i].Key != want[i].Key || !bytes.Equal(got[i].Payload, want[i].Payload) {
			t.Fatalf("frame %d differs", i)
		}
	}
}

// TestSequenceAndTimestampWrap starts the packetizer just before both
// counters wrap.
func TestSequenceAndTimestampWrap(t *testing.T) {
	s := bareStream(t)
	p := NewH264Packetizer(1, 96, 600)
	p.seq = 65500
	p.tsOffset = 1<<32 - 90*1000 // wraps one second in
	d := NewH264Depacketizer()
	got := pushAll(t, d, flatten(packetizeAll(t, p, s)))
	var n int
	for _, f := range got {
		if f.Config {
			continue
		}
		if f.DTS != s.frames[n].DTS {
			t.Fatalf("frame %d: DTS %d, want %d", n, f.DTS, s.frames[n].DTS)
		}
		n++
	}
	if n != len(s.frames) {
		t.Fatalf("got %d frames, want %d", n, len(s.frames))
	}
	if base, ok := d.BaseTimestamp(); !ok || base != p.Timestamp(0) {
		t.Fatalf("BaseTimestamp() = %d, %v; want %d", base, ok, p.Timestamp(0))
	}
}

// Minimal NAL units: the depacketizer does not decode slices, it only
// reads first_mb_in_slice (the top bit after the header).
var (
	testIDR = []byte{0x65, 0x88, 0x84, 0x00, 0x33}
	testP   = []byte{0x41, 0x9a, 0x02, 0x03}
)

func testParams(t testing.TB) (sps, pps []byte, record []byte) {
	record, err := os.ReadFile(filepath.Join("..", "testdata", "h264_320x240.avcc"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseAVCConfig(record)
	if err != nil {
		t.Fatal(err)
	}
	return c.SPS[0], c.PPS[0], record
}

func stapA(nalus ...[]byte) []byte {
	b := []byte{typeSTAPA | 0x60}
	for _, n := range nalus {
		b = append(b, byte(len(n)>>8), byte(len(n)))
		b = append(b, n...)
	}
	return b
}

func fuA(nal []byte, start, end bool, data []byte) []byte {
	hdr := nal[0] & 0x1F
	if start {
		hdr |= fuStart
	}
	if end {
		hdr |= fuEnd
	}
	return append([]byte{nal[0]&0xE0 | typeFUA, hdr}, data...)
}

func TestSTAPAAndConfig(t *testing.T) {
	sps, pps, _ := testParams(t)
	d := NewH264Depacketizer()
	frames, err := d.Push(pkt(10, 1000, true, stapA(sps, pps, testIDR)...))
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 2 || !frames[0].Config || !frames[1].Key {
		t.Fatalf("got %d frames", len(frames))
	}
	c, err := ParseAVCConfig(frames[0].Payload)
	if err != nil || !bytes.Equal(c.SPS[0], sps) || !bytes.Equal(c.PPS[0], pps) || c.Profile != sps[1] || c.Level != sps[3] {
		t.Fatalf("config %+v, %v", c, err)
	}
	if !bytes.Equal(frames[1].Payload, append([]byte{0, 0, 0, byte(len(testIDR))}, testIDR...)) || frames[1].DTS != 0 {
		t.Fatalf("keyframe %x at %d", frames[1].Payload, frames[1].DTS)
	}
	if info, ok := d.Info(); !ok || info.Width != 320 || info.Height != 240 {
		t.Fatalf("Info() = %+v, %v", info, ok)
	}
	// A STAP-A of two slices of one P picture, no marker: it ends when the
	// next timestamp arrives.
	frames, err = d.Push(pkt(11, 1000+3600, false, stapA(testP, []byte{0x41, 0x12, 0x34})...))
	if err != nil || len(frames) != 0 {
		t.Fatalf("%d frames, %v", len(frames), err)
	}
	frames, err = d.Push(pkt(12, 1000+7200, true, testP...))
	if err != nil || len(frames) != 2 || frames[0].DTS != 40 || frames[1].DTS != 80 || frames[0].Key {
		t.Fatalf("%d frames, %v", len(frames), err)
	}
	if want := []byte{0, 0, 0, 4, 0x41, 0x9a, 2, 3, 0, 0, 0, 3, 0x41, 0x12, 0x34}; !bytes.Equal(frames[0].Payload, want) {
		t.Fatalf("payload %x", frames[0].Payload)
	}
	// The same parameter sets again: no new config frame.
	frames, _ = d.Push(pkt(13, 1000+10800, true, stapA(sps, pps, testIDR)...))
	if len(frames) != 1 || !frames[0].Key {
		t.Fatalf("repeated parameter sets gave %d frames", len(frames))
	}
	// Other parameter sets: a config frame before the keyframe.
	_, _, record640 := testParams(t)
	record640, _ = os.ReadFile(filepath.Join("..", "testdata", "h264_640x360.avcc"))
	c640, _ := ParseAVCConfig(record640)
	frames, _ = d.Push(pkt(14, 1000+14400, true, stapA(c640.SPS[0], c640.PPS[0], testIDR)...))
	if len(frames) != 2 || !frames[0].Config || frames[0].DTS != 160 {
		t.Fatalf("changed parameter sets gave %d frames", len(frames))
	}
	if info, _ := d.Info(); info.Width != 640 || info.Height != 360 {
		t.Fatalf("Info() = %+v after the change", info)
	}
}

func TestMalformedSTAPA(t *testing.T) {
	sps, pps, _ := testParams(t)
	for name, payload := range map[string][]byte{
		"empty":          {typeSTAPA},
		"zero size":      {typeSTAPA, 0, 0, 0x41},
		"size too large": {typeSTAPA, 0, 9, 0x41, 1},
		"odd byte":       append(stapA(testP), 7),
		"nested":         stapA([]byte{typeSTAPA, 0, 1, 0x41}),
	} {
		t.Run(name, func(t *testing.T) {
			d := NewH264Depacketizer()
			if _, err := d.Push(pkt(1, 0, true, stapA(sps, pps, testIDR)...)); err != nil {
				t.Fatal(err)
			}
			frames, err := d.Push(pkt(2, 3600, true, payload...))
			if !errors.Is(err, ErrMalformed) || len(frames) != 0 || !d.NeedKeyframe() {
				t.Fatalf("%d frames, %v, need keyframe %v", len(frames), err, d.NeedKeyframe())
			}
		})
	}
}

func TestFUA(t *testing.T) {
	sps, pps, _ := testParams(t)
	idr := append([]byte{0x65, 0x88}, bytes.Repeat([]byte{0xAB}, 3000)...)
	start := func(d *H264Depacketizer, seq uint16) {
		if _, err := d.Push(pkt(seq, 0, false, stapA(sps, pps)...)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("whole", func(t *testing.T) {
		d := NewH264Depacketizer()
		start(d, 1)
		d.Push(pkt(2, 0, false, fuA(idr, true, false, idr[1:1000])...))
		d.Push(pkt(3, 0, false, fuA(idr, false, false, idr[1000:2000])...))
		frames, err := d.Push(pkt(4, 0, true, fuA(idr, false, true, idr[2000:])...))
		if err != nil || len(frames) != 2 || !frames[1].Key || !bytes.Equal(frames[1].Payload[4:], idr) {
			t.Fatalf("%d frames, %v", len(frames), err)
		}
	})
	t.Run("start and end in one", func(t *testing.T) {
		d := NewH264Depacketizer()
		start(d, 1)
		frames, err := d.Push(pkt(2, 0, true, fuA(idr, true, true, idr[1:])...))
		if err != nil || len(frames) != 2 || !bytes.Equal(frames[1].Payload[4:], idr) {
			t.Fatalf("%d frames, %v", len(frames), err)
		}
	})
	for name, payloads := range map[string][][]byte{
		"start missing":           {fuA(idr, false, false, idr[1:1000]), fuA(idr, false, true, idr[1000:])},
		"end missing, marker":     {fuA(idr, true, false, idr[1:1000]), fuA(idr, false, false, idr[1000:])},
		"end missing, new start":  {fuA(idr, true, false, idr[1:1000]), fuA(idr, true, true, idr[1:])},
		"end missing, single NAL": {fuA(idr, true, false, idr[1:1000]), testP},
		"no data":                 {fuA(idr, true, true, nil)},
	} {
		t.Run(name, func(t *testing.T) {
			d := NewH264Depacketizer()
			start(d, 1)
			var err error
			var frames []*media.Frame
			for i, p := range payloads {
				var f []*media.Frame
				var e error
				f, e = d.Push(pkt(uint16(2+i), 0, i == len(payloads)-1, p...))
				frames, err = append(frames, f...), errors.Join(err, e)
			}
			if !errors.Is(err, ErrMalformed) || len(frames) != 0 || !d.NeedKeyframe() {
				t.Fatalf("%d frames, %v, need keyframe %v", len(frames), err, d.NeedKeyframe())
			}
			// A whole IDR afterwards is delivered.
			frames, err = d.Push(pkt(uint16(2+len(payloads)), 3600, true, stapA(sps, pps, testIDR)...))
			if err != nil || len(frames) != 2 || d.NeedKeyframe() {
				t.Fatalf("after: %d frames, %v", len(frames), err)
			}
		})
	}
	t.Run("lost end is loss, not an error", func(t *testing.T) {
		d := NewH264Depacketizer()
		start(d, 1)
		d.Push(pkt(2, 0, false, fuA(idr, true, false, idr[1:1000])...))
		// seq 3 (the end, with the marker) is lost; the next picture comes.
		var frames []*media.Frame
		for i := range MaxReorderPackets {
			f, err := d.Push(pkt(uint16(4+i), 3600*uint32(1+i), true, testP...))
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, f...)
		}
		if len(frames) != 0 || !d.NeedKeyframe() {
			t.Fatalf("%d frames after losing an IDR's end", len(frames))
		}
	})
}

func TestLimits(t *testing.T) {
	sps, pps, _ := testParams(t)
	t.Run("access unit size", func(t *testing.T) {
		d := NewH264Depacketizer()
		d.Push(pkt(0, 0, false, stapA(sps, pps)...))
		chunk := bytes.Repeat([]byte{1}, 1400)
		var err error
		seq := uint16(1)
		for i := 0; i <= MaxAccessUnitSize/len(chunk); i++ {
			_, e := d.Push(pkt(seq, 0, false, fuA(testIDR, i == 0, false, chunk)...))
			err = errors.Join(err, e)
			seq++
		}
		frames, e := d.Push(pkt(seq, 0, true, fuA(testIDR, false, true, chunk)...))
		if err = errors.Join(err, e); !errors.Is(err, ErrTooLarge) || len(frames) != 0 {
			t.Fatalf("%d frames, %v", len(frames), err)
		}
		if cap(d.au.buf) > MaxAccessUnitSize+1500 {
			t.Fatalf("buffer grew to %d", cap(d.au.buf))
		}
	})
	t.Run("NAL unit count", func(t *testing.T) {
		d := NewH264Depacketizer()
		d.Push(pkt(0, 0, false, stapA(sps, pps, testIDR)...))
		var err error
		for i := range MaxNALUsPerAccessUnit {
			_, e := d.Push(pkt(uint16(1+i), 0, i == MaxNALUsPerAccessUnit-1, testIDR...))
			err = errors.Join(err, e)
		}
		if !errors.Is(err, ErrTooLarge) {
			t.Fatal(err)
		}
	})
}

func TestUnsupportedAndReservedTypes(t *testing.T) {
	for _, typ := range []byte{0, typeSTAPB, typeMTAP16, typeMTAP24, typeFUB, 30, 31} {
		d := NewH264Depacketizer()
		d.Push(pkt(1, 0, true, testIDR...))
		_, err := d.Push(pkt(2, 3600, true, typ, 1, 2, 3))
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
			t.Errorf("type %d: %v", typ, err)
		}
	}
	d := NewH264Depacketizer()
	d.Push(pkt(1, 0, true, testIDR...))
	if _, err := d.Push(pkt(2, 3600, true, 0x80|0x41, 1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("forbidden bit: %v", err)
	}
}

func TestIDRWithoutParameterSets(t *testing.T) {
	d := NewH264Depacketizer()
	frames, err := d.Push(pkt(1, 0, true, testIDR...))
	if err != nil || len(frames) != 0 || !d.NeedKeyframe() {
		t.Fatalf("%d frames, %v", len(frames), err)
	}
	// Given out of band (sprop-parameter-sets), they make the next IDR
	// decodable, and go out first.
	_, _, record := testParams(t)
	if err := d.SetConfig(record); err != nil {
		t.Fatal(err)
	}
	frames, err = d.Push(pkt(2, 3600, true, testIDR...))
	if err != nil || len(frames) != 2 || !frames[0].Config || !bytes.Equal(frames[0].Payload, record) || d.NeedKeyframe() {
		t.Fatalf("%d frames, %v", len(frames), err)
	}
}

func TestPaddingPackets(t *testing.T) {
	sps, pps, _ := testParams(t)
	d := NewH264Depacketizer()
	var frames []*media.Frame
	for _, p := range []*rtp.Packet{
		pkt(1, 0, true, stapA(sps, pps, testIDR)...),
		pkt(2, 0, false), // padding, same timestamp
		pkt(3, 3600, true, testP...),
		pkt(4, 3600, false),               // padding
		pkt(6, 3600, false),               // padding after a loss
		pkt(7, 3600+4600, true, testP...), // past ReorderWindow: 5 is given up
	} {
		f, err := d.Push(p)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f...)
	}
	// Seq 5 is lost: we cannot know it was only padding, so the last P
	// frame may miss a reference and is dropped.
	if len(frames) != 3 || !d.NeedKeyframe() {
		t.Fatalf("%d frames, need keyframe %v", len(frames), d.NeedKeyframe())
	}
	// A whole IDR after the loss is taken.
	frames, err := d.Push(pkt(8, 16200, true, stapA(sps, pps, testIDR)...))
	if err != nil || len(frames) != 1 || !frames[0].Key || d.NeedKeyframe() {
		t.Fatalf("%d frames, need keyframe %v", len(frames), d.NeedKeyframe())
	}
}
