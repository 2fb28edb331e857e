package main

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/media/flv"
)

// benchMediaFLV is the synthetic stream's material: 2 s of 1280x720 25 fps
// H.264 baseline (one GOP of 50 frames, no B-frames) and AAC-LC 48 kHz mono
// at 64 kbit/s, made once with
//
//	ffmpeg -f lavfi -i testsrc2=size=1280x720:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
//	  -t 2 -c:v libx264 -profile:v baseline -preset veryfast -g 50 -keyint_min 50 -sc_threshold 0 -bf 0 \
//	  -b:v 250k -maxrate 300k -bufsize 300k -pix_fmt yuv420p -c:a aac -b:a 64k -ac 1 -ar 48000 -f flv bench_media.flv
//
//go:embed testdata/bench_media.flv
var benchMediaFLV []byte

// mediaSource is what the publisher sends: the codec configs and one loop
// of frames, timestamps in milliseconds from the first frame.
type mediaSource struct {
	sps, pps []byte
	asc      *mpeg4audio.AudioSpecificConfig // nil: no audio
	video    []srcFrame
	audio    []srcFrame
	loopMs   int64 // --input: the length of one loop
}

type srcFrame struct {
	dts   int64
	cts   int32
	key   bool
	nalus [][]byte // video: the NAL units, without SEI, AUD and filler
	au    []byte   // audio: one raw AAC frame
}

func (f *srcFrame) size() int {
	n := 0
	for _, u := range f.nalus {
		n += 4 + len(u)
	}
	return n
}

// loadFLVSource reads H.264 and AAC frames from an FLV file.
func loadFLVSource(data []byte) (*mediaSource, error) {
	src := &mediaSource{}
	dm := flv.NewDemuxer(bytes.NewReader(data), 0)
	first := int64(-1)
	for {
		tag, err := dm.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		b, err := flv.ParseBody(tag.Type, tag.Body)
		if errors.Is(err, flv.ErrNoMedia) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if b.Kind == media.Video && b.Codec != media.H264 {
			return nil, fmt.Errorf("video is %s; the bench pushes H.264 only", b.Codec)
		}
		payload := bytes.Clone(b.Payload) // tag bodies are only valid until Next
		switch {
		case b.Config && b.Kind == media.Video:
			if src.sps, src.pps, err = avcParams(payload); err != nil {
				return nil, err
			}
		case b.Config:
			var asc mpeg4audio.AudioSpecificConfig
			if err := asc.Unmarshal(payload); err != nil {
				return nil, fmt.Errorf("AAC config: %w", err)
			}
			src.asc = &asc
		default:
			if first < 0 {
				first = int64(tag.Timestamp)
			}
			f := srcFrame{dts: int64(tag.Timestamp) - first, cts: b.CTS, key: b.Key}
			if b.Kind == media.Audio {
				f.au = payload
				src.audio = append(src.audio, f)
				continue
			}
			if f.nalus, err = splitAVCC(payload); err != nil {
				return nil, err
			}
			if len(src.video) == 0 && !f.key {
				continue // start on a keyframe
			}
			src.video = append(src.video, f)
		}
	}
	switch {
	case src.sps == nil || len(src.video) == 0:
		return nil, errors.New("no H.264 video (configuration and frames) in the FLV")
	case src.asc == nil:
		src.audio = nil
	}
	last := src.video[len(src.video)-1].dts
	step := int64(40)
	if n := len(src.video); n > 1 {
		step = max(1, last/int64(n-1))
	}
	if n := len(src.audio); n > 0 {
		last = max(last, src.audio[n-1].dts)
	}
	src.loopMs = last + step
	return src, nil
}

// avcParams returns the first SPS and PPS of an AVCDecoderConfigurationRecord.
func avcParams(r []byte) (sps, pps []byte, err error) {
	bad := errors.New("malformed AVCDecoderConfigurationRecord")
	if len(r) < 8 || r[5]&0x1f == 0 {
		return nil, nil, bad
	}
	n := int(binary.BigEndian.Uint16(r[6:8]))
	if len(r) < 8+n+3 {
		return nil, nil, bad
	}
	sps, r = r[8:8+n], r[8+n:]
	if r[0] == 0 {
		return nil, nil, bad
	}
	n = int(binary.BigEndian.Uint16(r[1:3]))
	if len(r) < 3+n {
		return nil, nil, bad
	}
	return sps, r[3 : 3+n], nil
}

// splitAVCC splits 4-byte length-prefixed NAL units, dropping SEI (6),
// access unit delimiters (9) and filler (12): the bench adds its own.
func splitAVCC(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errors.New("truncated AVCC")
		}
		n := int(binary.BigEndian.Uint32(b))
		if n == 0 || n > len(b)-4 {
			return nil, errors.New("bad AVCC NAL length")
		}
		nal := b[4 : 4+n]
		b = b[4+n:]
		switch nal[0] & 0x1f {
		case 6, 9, 12:
			continue
		}
		out = append(out, nal)
	}
	return out, nil
}

// The stamp every video frame carries: an SEI user_data_unregistered NAL
// unit with a fixed UUID and, in hexadecimal ASCII (no zero bytes, so no
// emulation prevention is ever needed), the send time in unix nanoseconds,
// the frame's sequence number and its RTMP timestamp.
var stampUUID = [16]byte{'m', 'i', 'n', 'i', 'r', 't', 'c', '-', 'b', 'e', 'n', 'c', 'h', 0xa5, 0x5a, 0x01}

const (
	stampPayload = 16 + 16 + 8 + 8
	stampNALSize = 3 + stampPayload + 1 // header, type, size, payload, trailing bits
)

type stamp struct {
	sent int64  // unix nanoseconds (monotonic clock of this process)
	seq  uint32 // video frame number
	ts   uint32 // RTMP timestamp the publisher gave it, ms
}

// putStamp writes the SEI NAL unit into b (stampNALSize bytes).
func putStamp(b []byte, s stamp) {
	b[0], b[1], b[2] = 6, 5, stampPayload
	copy(b[3:], stampUUID[:])
	putHex(b[19:35], uint64(s.sent))
	putHex(b[35:43], uint64(s.seq))
	putHex(b[43:51], uint64(s.ts))
	b[51] = 0x80
}

func putHex(b []byte, v uint64) {
	const digits = "0123456789abcdef"
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
}

func parseHex(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// findStamp looks for the stamp in an AVCC access unit. It is the first
// NAL unit of every frame the bench sends; the scan stops at the first
// slice. It allocates nothing.
func findStamp(avcc []byte) (stamp, bool) {
	for len(avcc) >= 4 {
		n := int(binary.BigEndian.Uint32(avcc))
		if n < 1 || n > len(avcc)-4 {
			return stamp{}, false
		}
		nal := avcc[4 : 4+n]
		avcc = avcc[4+n:]
		switch nal[0] & 0x1f {
		case 1, 2, 3, 4, 5:
			return stamp{}, false
		case 6:
			if n != stampNALSize || nal[1] != 5 || nal[2] != stampPayload || !bytes.Equal(nal[3:19], stampUUID[:]) {
				continue
			}
			sent, ok1 := parseHex(nal[19:35])
			seq, ok2 := parseHex(nal[35:43])
			ts, ok3 := parseHex(nal[43:51])
			if ok1 && ok2 && ok3 {
				return stamp{sent: int64(sent), seq: uint32(seq), ts: uint32(ts)}, true
			}
		}
	}
	return stamp{}, false
}

// fillerNAL is a filler-data NAL unit (type 12) of exactly n bytes (n >= 2).
func fillerNAL(n int) []byte {
	b := bytes.Repeat([]byte{0xff}, n)
	b[0], b[n-1] = 12, 0x80
	return b
}

// benchClock gives unix nanoseconds read from the monotonic clock, so that
// send and arrival times (same process) are immune to wall clock steps.
var (
	benchEpoch     = time.Now()
	benchEpochUnix = benchEpoch.UnixNano()
)

func monoNow() int64 { return benchEpochUnix + int64(time.Since(benchEpoch)) }

// audioRing records when each audio frame was sent, by RTMP timestamp
// (ms; AAC frames are at least 20 ms apart): AAC frames have no room for a
// stamp, so readers look their send time up here. Publisher and readers
// share the process; every field is atomic, nothing is locked.
type audioRing struct {
	slots [1 << 16]audioSlot // 65 s of timestamps
}

type audioSlot struct {
	ts   atomic.Uint32
	seq  atomic.Uint32
	sent atomic.Int64
}

func (r *audioRing) put(ts, seq uint32, sent int64) {
	s := &r.slots[ts&(1<<16-1)]
	s.ts.Store(math.MaxUint32) // invalid while being written
	s.sent.Store(sent)
	s.seq.Store(seq)
	s.ts.Store(ts)
}

func (r *audioRing) get(ts uint32) (seq uint32, sent int64, ok bool) {
	s := &r.slots[ts&(1<<16-1)]
	if s.ts.Load() != ts {
		return 0, 0, false
	}
	seq, sent = s.seq.Load(), s.sent.Load()
	return seq, sent, s.ts.Load() == ts
}
