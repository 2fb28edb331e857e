package rtmp

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"

	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/media/flv"
)

// TestChunksRoundTrip checks appendMessage against our reader and against
// gortmplib's (an independent implementation), across chunk boundaries and
// the extended timestamp.
func TestChunksRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, chunkSize := range []int{1, 7, 128, 4096, 65536} {
		for _, n := range []int{0, 1, 127, 128, 129, 4096 * 3, 65536, 65537, 200_000} {
			for _, ts := range []uint32{0, 40, extendedTimestamp - 1, extendedTimestamp, 0xFFFFFFFF} {
				body := make([]byte, n)
				for i := range body {
					body[i] = byte(rnd.Uint32())
				}
				// Two messages, so the second starts where the first's chunks end.
				var stream []byte
				if chunkSize != defaultChunkSize {
					stream = appendMessage(stream, 2, 0, typeSetChunkSize, 0, binary.BigEndian.AppendUint32(nil, uint32(chunkSize)), defaultChunkSize)
				}
				stream = appendMessage(stream, 6, ts, typeVideo, 1, body, chunkSize)
				stream = appendMessage(stream, 4, ts+1, typeAudio, 1, body[:n/2], chunkSize)
				if want := chunkedSize(n, chunkSize, ts >= extendedTimestamp); len(appendMessage(nil, 6, ts, typeVideo, 1, body, chunkSize)) != want {
					t.Fatalf("chunkedSize(%d, %d) = %d, built %d", n, chunkSize, want, len(appendMessage(nil, 6, ts, 9, 1, body, chunkSize)))
				}

				cr := newChunkReader(bytes.NewReader(stream), 1<<20)
				for i, want := range []rawMsg{{6, ts, typeVideo, 1, body}, {4, ts + 1, typeAudio, 1, body[:n/2]}} {
					m, err := cr.next()
					if err != nil {
						t.Fatalf("chunk %d, body %d, ts %d: message %d: %v", chunkSize, n, ts, i, err)
					}
					if m.csid != want.csid || m.ts != want.ts || m.typ != want.typ || m.msid != want.msid || !bytes.Equal(m.body, want.body) {
						t.Fatalf("chunk %d, body %d, ts %d: message %d = {%d %d %d %d %d bytes}", chunkSize, n, ts, i, m.csid, m.ts, m.typ, m.msid, len(m.body))
					}
				}
				if _, err := cr.next(); err != io.EOF {
					t.Fatalf("after the messages: %v", err)
				}

				if chunkSize > 1 && n <= 10<<20 {
					gr := rawmessage.NewReader(bytes.NewReader(stream), bytecounter.NewReader(bytes.NewReader(nil)), func(uint32) error { return nil })
					if chunkSize != defaultChunkSize {
						if _, err := gr.Read(); err != nil {
							t.Fatal(err)
						}
						gr.SetChunkSize(uint32(chunkSize))
					}
					m, err := gr.Read()
					if err != nil || m.Timestamp != time.Duration(ts)*time.Millisecond || !bytes.Equal(m.Body, body) || m.MessageStreamID != 0x1000000 {
						t.Fatalf("gortmplib reads chunk %d, body %d, ts %d as %+v, %v", chunkSize, n, ts, m, err)
					}
				}
			}
		}
	}
}

// TestChunkHeaderCompression reads type 1, 2 and 3 headers as ffmpeg and
// OBS write them, including a type 3 that starts a message right after a
// type 0 (its delta is the type-0 timestamp, spec §5.3.1.2.4).
func TestChunkHeaderCompression(t *testing.T) {
	var s []byte
	s = appendHeader(s, 4, 100, typeAudio, 1, 2)
	s = append(s, 0xAF, 1)
	s = append(s, 0xC4, 0xAF, 2)                       // type 3: new message, delta 100 → 200
	s = append(s, 0x84, 0, 0, 21, 0xAF, 3)             // type 2: delta 21 → 221
	s = append(s, 0xC4, 0xAF, 4)                       // type 3: delta 21 → 242
	s = append(s, 0x44, 0, 0, 10, 0, 0, 3, 8, 1, 2, 3) // type 1: delta 10, length 3 → 252
	// Extended delta on a type 2 header, then a type 3 carrying it too.
	s = append(s, 0x84, 0xFF, 0xFF, 0xFF, 0x01, 0, 0, 0, 7, 8, 9)
	s = append(s, 0xC4, 0x01, 0, 0, 0, 4, 5, 6)
	cr := newChunkReader(bytes.NewReader(s), 1<<20)
	for i, want := range []uint32{100, 200, 221, 242, 252, 252 + 1<<24, 252 + 2<<24} {
		m, err := cr.next()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if m.ts != want {
			t.Errorf("message %d: ts %d, want %d", i, m.ts, want)
		}
	}
}

func TestChunkReaderBoundsMemory(t *testing.T) {
	const limit = 4 << 20
	t.Run("announced but not sent", func(t *testing.T) {
		var s []byte
		s = appendMessage(s, 2, 0, typeSetChunkSize, 0, binary.BigEndian.AppendUint32(nil, 0x7FFFFFFF), defaultChunkSize)
		s = appendHeader(s, 6, 0, typeVideo, 1, limit)
		s = append(s, make([]byte, 100)...)
		cr := newChunkReader(bytes.NewReader(s), limit)
		if _, err := cr.next(); err != io.ErrUnexpectedEOF {
			t.Fatalf("got %v", err)
		}
		if cr.peak > readStep {
			t.Errorf("holding %d bytes after receiving 100 of a %d-byte message", cr.peak, limit)
		}
	})
	t.Run("too long", func(t *testing.T) {
		cr := newChunkReader(bytes.NewReader(appendHeader(nil, 6, 0, typeVideo, 1, limit+1)), limit)
		_, err := cr.next()
		if r := media.AsRefusal(err); r.Reason != media.ReasonBadMedia {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("many unfinished messages", func(t *testing.T) {
		// Every chunk stream starts a message of the limit and sends half.
		const limit = 256 << 10
		var s []byte
		s = appendMessage(s, 2, 0, typeSetChunkSize, 0, binary.BigEndian.AppendUint32(nil, limit/2), defaultChunkSize)
		for id := byte(3); id < 64; id++ {
			s = appendHeader(s, id, 0, typeVideo, 1, limit)
			s = append(s, make([]byte, limit/2)...)
		}
		cr := newChunkReader(bytes.NewReader(s), limit)
		_, err := cr.next()
		if err == nil || !strings.Contains(err.Error(), "unfinished messages") {
			t.Fatalf("got %v", err)
		}
		if cr.peak > cr.maxPending {
			t.Errorf("peak %d over the bound %d", cr.peak, cr.maxPending)
		}
	})
	t.Run("abort frees", func(t *testing.T) {
		var s []byte
		s = appendHeader(s, 6, 0, typeVideo, 1, 1000)
		s = append(s, make([]byte, 128)...)
		s = appendMessage(s, 2, 0, typeAbort, 0, []byte{0, 0, 0, 6}, defaultChunkSize)
		s = appendMessage(s, 6, 5, typeVideo, 1, []byte{1, 2, 3}, defaultChunkSize)
		cr := newChunkReader(bytes.NewReader(s), limit)
		m, err := cr.next()
		if err != nil || m.ts != 5 || !bytes.Equal(m.body, []byte{1, 2, 3}) || cr.pending != 0 {
			t.Fatalf("after abort: %+v %v, pending %d", m, err, cr.pending)
		}
	})
	t.Run("protocol errors", func(t *testing.T) {
		for name, s := range map[string][]byte{
			"type 3 first":        {0xC6, 1},
			"type 1 first":        {0x46, 0, 0, 0, 0, 0, 1, 9, 1},
			"extended chunk id":   {0x00, 1},
			"header mid-message":  append(append(appendHeader(nil, 6, 0, 9, 1, 300), make([]byte, 128)...), appendHeader(nil, 6, 0, 9, 1, 1)...),
			"zero chunk size":     appendMessage(nil, 2, 0, typeSetChunkSize, 0, []byte{0, 0, 0, 0}, 128),
			"short chunk size":    appendMessage(nil, 2, 0, typeSetChunkSize, 0, []byte{0, 1}, 128),
			"truncated header":    {0x06, 0, 0},
			"truncated extension": {0x06, 0xFF, 0xFF, 0xFF, 0, 0, 1, 9, 1, 0, 0, 0, 1},
		} {
			if _, err := newChunkReader(bytes.NewReader(s), limit).next(); err == nil || err == io.EOF {
				t.Errorf("%s: got %v, want an error", name, err)
			}
		}
	})
}

// TestBuildChunks checks the play side's message against gortmplib's
// reader: header fields, body = the FLV body, split at 65536.
func TestBuildChunks(t *testing.T) {
	for _, f := range []*media.Frame{
		{Kind: media.Video, Codec: media.H264, Key: true, DTS: 1234, CTS: 80, Payload: nal(150_000)},
		{Kind: media.Video, Codec: media.H265, DTS: 1 << 25, CTS: -40, Payload: nal(100)},
		{Kind: media.Audio, Codec: media.AAC, DTS: 0xFFFFFF, Payload: nal(300)},
		{Kind: media.Audio, Codec: media.AAC, Config: true, Payload: []byte{0x11, 0x88}},
	} {
		b := buildChunks(f)
		if len(b) != chunkedSize(flv.BodySize(f), outChunkSize, uint32(f.DTS) >= extendedTimestamp) {
			t.Errorf("%v: %d bytes", f.Kind, len(b))
		}
		var in []byte
		in = appendMessage(in, 2, 0, typeSetChunkSize, 0, binary.BigEndian.AppendUint32(nil, outChunkSize), defaultChunkSize)
		in = append(in, b...)
		gr := rawmessage.NewReader(bytes.NewReader(in), bytecounter.NewReader(bytes.NewReader(nil)), func(uint32) error { return nil })
		gr.Read()
		gr.SetChunkSize(outChunkSize)
		m, err := gr.Read()
		if err != nil {
			t.Fatal(err)
		}
		wantCS := byte(csidVideo)
		if f.Kind == media.Audio {
			wantCS = csidAudio
		}
		if m.ChunkStreamID != wantCS || m.Type != flv.TagType(f) || m.Timestamp != time.Duration(f.DTS)*time.Millisecond ||
			m.MessageStreamID != 0x1000000 || !bytes.Equal(m.Body, flv.AppendBody(nil, f)) {
			t.Errorf("%v %v: gortmplib read cs %d type %d ts %v msid %#x, body equal %v", f.Kind, f.Codec, m.ChunkStreamID, m.Type,
				m.Timestamp, m.MessageStreamID, bytes.Equal(m.Body, flv.AppendBody(nil, f)))
		}
		back, err := frameFromMessage(m.Type, m.Body)
		if err != nil || back.Key != f.Key || back.CTS != f.CTS || back.Config != f.Config || !bytes.Equal(back.Payload, f.Payload) {
			t.Errorf("%v %v: parsed back as %+v, %v", f.Kind, f.Codec, back, err)
		}
	}
}

// nal is an AVCC payload of one NAL unit of n bytes.
func nal(n int) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(n))
	for i := range n {
		b = append(b, byte(i|1))
	}
	return b
}
