package rtmp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/minirtc/minirtc/internal/media"
)

// RTMP message type ids (RTMP 1.0 spec §5.4, §7.1).
const (
	typeSetChunkSize   = 1
	typeAbort          = 2
	typeAck            = 3
	typeUserControl    = 4
	typeWindowAckSize  = 5
	typeAudio          = 8
	typeVideo          = 9
	typeCommandAMF3    = 17
	typeDataAMF0       = 18
	typeCommandAMF0    = 20
	extendedTimestamp  = 0xFFFFFF
	defaultChunkSize   = 128
	maxChunkStreams    = 64 // one-byte chunk basic headers: ids 2..63
	readStep           = 64 << 10
	minStep            = 4 << 10
	negotiationMaxBody = 64 << 10 // connect/createStream/publish/play are small
)

// rawMsg is one reassembled RTMP message.
type rawMsg struct {
	csid byte
	ts   uint32 // milliseconds, 32-bit clock
	typ  byte
	msid uint32
	body []byte
}

type chunkStream struct {
	started bool   // a type-0 header was seen: 1/2/3 headers may follow
	ts      uint32 // timestamp of the current message
	delta   uint32 // applied by a type-3 header that starts a message
	length  uint32
	typ     byte
	msid    uint32
	ext     bool   // the last 0/1/2 header used the extended timestamp
	body    []byte // the unfinished message; nil between messages
}

// chunkReader reassembles RTMP messages from the chunk stream.
//
// We do not use gortmplib's reader on input from the network because it
// trusts the peer's sizes: it allocates a whole chunk (up to 10 MiB, after a
// SetChunkSize the peer chooses) as soon as a 12-byte header announces it,
// and keeps unfinished messages on all 62 chunk streams. Here memory only
// grows with bytes actually received, a message may not exceed maxBody,
// and all unfinished messages together may not exceed maxPending.
type chunkReader struct {
	r          *bufio.Reader
	count      *countingReader
	chunkSize  uint32
	maxBody    uint32
	maxPending int
	pending    int // capacity held by unfinished messages
	peak       int // highest pending seen (tests and the fuzzer check it)
	streams    [maxChunkStreams]chunkStream
	hdr        [16]byte
}

func newChunkReader(r io.Reader, maxBody uint32) *chunkReader {
	c := &countingReader{r: r}
	cr := &chunkReader{r: bufio.NewReaderSize(c, 16<<10), count: c, chunkSize: defaultChunkSize}
	cr.setLimit(maxBody)
	return cr
}

// setLimit bounds message sizes: small while negotiating, the hub's
// MaxFrameBytes plus the FLV body header once media may flow.
func (cr *chunkReader) setLimit(maxBody uint32) {
	cr.maxBody = maxBody
	cr.maxPending = 2*int(maxBody) + readStep
}

// received is how many bytes were read from the connection.
func (cr *chunkReader) received() uint64 { return cr.count.n }

var errChunkSizeZero = errors.New("rtmp: the peer set chunk size 0")

// next returns the next complete message. Chunk-layer control (SetChunkSize,
// Abort) is applied here and not returned.
func (cr *chunkReader) next() (rawMsg, error) {
	for {
		m, ok, err := cr.readChunk()
		if err != nil || !ok {
			if err != nil {
				return rawMsg{}, err
			}
			continue
		}
		switch m.typ {
		case typeSetChunkSize:
			if len(m.body) < 4 {
				return rawMsg{}, fmt.Errorf("rtmp: SetChunkSize of %d bytes", len(m.body))
			}
			v := binary.BigEndian.Uint32(m.body) & 0x7FFFFFFF
			if v == 0 {
				return rawMsg{}, errChunkSizeZero
			}
			// Any size is safe: chunk bodies are read in steps, never allocated whole.
			cr.chunkSize = v
			continue
		case typeAbort:
			if len(m.body) >= 4 {
				if id := binary.BigEndian.Uint32(m.body); id >= 2 && id < maxChunkStreams {
					cs := &cr.streams[id]
					cr.pending -= cap(cs.body)
					cs.body = nil
				}
			}
			continue
		}
		return m, nil
	}
}

// readChunk reads one chunk; ok reports that it completed a message.
func (cr *chunkReader) readChunk() (m rawMsg, ok bool, err error) {
	b0, err := cr.r.ReadByte()
	if err != nil {
		return m, false, err
	}
	fmtType, id := b0>>6, b0&0x3F
	if id < 2 {
		// Two- and three-byte basic headers (ids >= 64): nobody sends these
		// for one stream, and they would let a peer open 65,599 chunk streams.
		return m, false, fmt.Errorf("rtmp: chunk stream id of %d bytes is not supported", id+2)
	}
	cs := &cr.streams[id]
	sizes := [4]int{11, 7, 3, 0}
	h := cr.hdr[:sizes[fmtType]]
	if _, err := io.ReadFull(cr.r, h); err != nil {
		return m, false, unexpected(err)
	}
	if fmtType != 3 && cs.body != nil {
		return m, false, fmt.Errorf("rtmp: a type-%d chunk header on chunk stream %d before its message of %d bytes was complete", fmtType, id, cs.length)
	}
	if fmtType != 0 && !cs.started {
		return m, false, fmt.Errorf("rtmp: a type-%d chunk header on chunk stream %d without a type-0 header before it", fmtType, id)
	}
	var tsField uint32
	if fmtType < 3 {
		tsField = uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])
		cs.ext = tsField == extendedTimestamp
	}
	if cs.ext {
		// Also on type-3 chunks after an extended 0/1/2 header (spec §5.3.1.3).
		var x [4]byte
		if _, err := io.ReadFull(cr.r, x[:]); err != nil {
			return m, false, unexpected(err)
		}
		if fmtType < 3 {
			tsField = binary.BigEndian.Uint32(x[:])
		}
	}
	if fmtType <= 1 {
		length := uint32(h[3])<<16 | uint32(h[4])<<8 | uint32(h[5])
		if length > cr.maxBody {
			return m, false, media.Refuse(media.ReasonBadMedia, fmt.Sprintf("a message of %d bytes; the limit is %d", length, cr.maxBody))
		}
		cs.length, cs.typ = length, h[6]
	}
	switch fmtType {
	case 0:
		cs.started = true
		cs.msid = binary.LittleEndian.Uint32(h[7:11])
		// A type-3 header that follows a type-0 one repeats its timestamp as
		// the delta (spec §5.3.1.2.4); ffmpeg relies on this.
		cs.ts, cs.delta = tsField, tsField
	case 1, 2:
		cs.ts += tsField
		cs.delta = tsField
	case 3:
		if cs.body == nil {
			cs.ts += cs.delta // a new message with the previous header
		}
	}
	if cs.body == nil {
		cs.body = []byte{} // in progress, even when empty so far
	}
	if err := cr.readBody(cs); err != nil {
		return m, false, err
	}
	if uint32(len(cs.body)) < cs.length {
		return m, false, nil
	}
	m = rawMsg{csid: id, ts: cs.ts, typ: cs.typ, msid: cs.msid, body: cs.body}
	cr.pending -= cap(cs.body)
	cs.body = nil
	return m, true, nil
}

// readBody reads one chunk's worth of the current message, growing the
// buffer only as bytes arrive.
func (cr *chunkReader) readBody(cs *chunkStream) error {
	need := min(cs.length-uint32(len(cs.body)), cr.chunkSize)
	for need > 0 {
		n := len(cs.body)
		// Steps grow with what arrived (4 KiB, then doubling up to 64 KiB),
		// so what we hold is at most about twice what the peer sent.
		step := int(min(need, uint32(min(readStep, max(minStep, n)))))
		if cap(cs.body)-n < step {
			newCap := min(int(cs.length), max(n+step, 2*cap(cs.body)))
			if cr.pending+newCap-cap(cs.body) > cr.maxPending {
				return fmt.Errorf("rtmp: unfinished messages would hold %d bytes; the limit is %d", cr.pending+newCap-cap(cs.body), cr.maxPending)
			}
			nb := make([]byte, n, newCap)
			copy(nb, cs.body)
			cr.pending += newCap - cap(cs.body)
			cr.peak = max(cr.peak, cr.pending)
			cs.body = nb
		}
		if _, err := io.ReadFull(cr.r, cs.body[n:n+step]); err != nil {
			return unexpected(err)
		}
		cs.body = cs.body[:n+step]
		need -= uint32(step)
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

type countingReader struct {
	r io.Reader
	n uint64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += uint64(n)
	return n, err
}

// chunkedSize is the size of a message of n body bytes sent as chunks of
// chunkSize: a type-0 header, then type-3 headers between chunks.
func chunkedSize(n, chunkSize int, ext bool) int {
	hdr, cont := 12, 1
	if ext {
		hdr, cont = 16, 5
	}
	chunks := max(1, (n+chunkSize-1)/chunkSize)
	return hdr + n + (chunks-1)*cont
}

// appendHeader appends a type-0 chunk header: absolute timestamp (extended
// when it does not fit in 24 bits), body length, type and message stream id
// (little-endian, as the spec says and every player reads it).
func appendHeader(dst []byte, csid byte, ts uint32, typ byte, msid uint32, n int) []byte {
	t := min(ts, extendedTimestamp)
	dst = append(dst, csid&0x3F, byte(t>>16), byte(t>>8), byte(t), byte(n>>16), byte(n>>8), byte(n), typ,
		byte(msid), byte(msid>>8), byte(msid>>16), byte(msid>>24))
	if ts >= extendedTimestamp {
		dst = binary.BigEndian.AppendUint32(dst, ts)
	}
	return dst
}

// splitChunks takes buf = a type-0 header (hdrLen bytes) followed by the
// whole body, with capacity for the continuation headers, and moves the
// body apart in place so that a type-3 header (plus the extended timestamp
// when the first header has one) precedes every chunkSize bytes.
func splitChunks(buf []byte, hdrLen, chunkSize int, csid byte, ts uint32) []byte {
	n := len(buf) - hdrLen
	ext := ts >= extendedTimestamp
	cont := 1
	if ext {
		cont = 5
	}
	chunks := max(1, (n+chunkSize-1)/chunkSize)
	out := buf[:len(buf)+(chunks-1)*cont]
	// From the last chunk backwards, so no byte is overwritten before it moved.
	for i := chunks - 1; i >= 1; i-- {
		src := hdrLen + i*chunkSize
		end := min(src+chunkSize, hdrLen+n)
		dst := src + i*cont
		copy(out[dst:], buf[src:end])
		h := out[dst-cont : dst]
		h[0] = 0xC0 | csid&0x3F
		if ext {
			binary.BigEndian.PutUint32(h[1:], ts)
		}
	}
	return out
}

// appendMessage appends body as one RTMP message in chunks of chunkSize.
func appendMessage(dst []byte, csid byte, ts uint32, typ byte, msid uint32, body []byte, chunkSize int) []byte {
	start := len(dst)
	size := chunkedSize(len(body), chunkSize, ts >= extendedTimestamp)
	if cap(dst)-start < size {
		nd := make([]byte, start, start+size)
		copy(nd, dst)
		dst = nd
	}
	dst = appendHeader(dst, csid, ts, typ, msid, len(body))
	hdrLen := len(dst) - start
	dst = append(dst, body...)
	out := splitChunks(dst[start:], hdrLen, chunkSize, csid, ts) // in place: same backing array
	return dst[:start+len(out)]
}
