package flv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Errors from the Demuxer (errors.Is); the returned errors add the offset.
var (
	ErrSignature   = errors.New("flv: not an FLV stream")
	ErrTruncated   = errors.New("flv: stream ends inside a tag")
	ErrTooLarge    = errors.New("flv: tag larger than the limit")
	ErrPrevTagSize = errors.New("flv: PreviousTagSize does not match the tag")
)

// DefaultMaxTagSize is the Demuxer's tag body limit when none is given: the
// most the 24-bit size field allows.
const DefaultMaxTagSize = MaxBodySize

// minRead is the least the Demuxer asks its reader for, so that a stream of
// small tags costs one read call per many tags.
const minRead = 16 << 10

// FileHeader is the FLV file header.
type FileHeader struct {
	Version      byte
	Audio, Video bool // what the muxer declared; players treat it as a hint
}

// DemuxTag is one tag read back. Body is valid until the next call to Next.
type DemuxTag struct {
	Type      byte   // TagAudio, TagVideo, TagScript, or anything the stream had
	Timestamp uint32 // milliseconds, with the extended byte as bits 24-31
	Body      []byte
}

// Demuxer reads an FLV stream tag by tag through one reusable buffer: after
// the first few tags it allocates nothing, and it never holds more than one
// tag (bounded by maxTagSize) plus one read's worth of bytes.
type Demuxer struct {
	r      io.Reader
	max    int
	buf    []byte
	start  int   // first unconsumed byte in buf
	end    int   // end of valid data in buf
	off    int64 // stream offset of buf[start], for errors
	header bool
	err    error // sticky read error
}

// NewDemuxer reads FLV from r; tags with bodies over maxTagSize bytes (0:
// DefaultMaxTagSize) are an error.
func NewDemuxer(r io.Reader, maxTagSize int) *Demuxer {
	if maxTagSize <= 0 || maxTagSize > MaxBodySize {
		maxTagSize = DefaultMaxTagSize
	}
	return &Demuxer{r: r, max: maxTagSize}
}

// Offset is the stream offset of the next unread byte.
func (d *Demuxer) Offset() int64 { return d.off }

// ReadHeader reads the file header and PreviousTagSize0. Next calls it
// itself if it was not called.
func (d *Demuxer) ReadHeader() (FileHeader, error) {
	if d.header {
		return FileHeader{}, errors.New("flv: header already read")
	}
	if err := d.fill(9); err != nil {
		return FileHeader{}, d.truncated(err, "file header")
	}
	b := d.buf[d.start:]
	if b[0] != 'F' || b[1] != 'L' || b[2] != 'V' {
		return FileHeader{}, fmt.Errorf("%w: signature %q", ErrSignature, b[:3])
	}
	h := FileHeader{Version: b[3], Audio: b[4]&4 != 0, Video: b[4]&1 != 0}
	dataOffset := binary.BigEndian.Uint32(b[5:9])
	if dataOffset < 9 || dataOffset > 1024 {
		return FileHeader{}, fmt.Errorf("%w: header size %d", ErrSignature, dataOffset)
	}
	n := int(dataOffset) + 4 // the header, then PreviousTagSize0
	if err := d.fill(n); err != nil {
		return FileHeader{}, d.truncated(err, "file header")
	}
	d.consume(n)
	d.header = true
	return h, nil
}

// Next returns the next tag. It returns io.EOF at the end of a stream that
// ends between tags, and an ErrTruncated error when it ends inside one.
func (d *Demuxer) Next() (DemuxTag, error) {
	if !d.header {
		if _, err := d.ReadHeader(); err != nil {
			return DemuxTag{}, err
		}
	}
	if err := d.fill(TagHeaderSize); err != nil {
		if err == io.EOF && d.end == d.start {
			return DemuxTag{}, io.EOF
		}
		return DemuxTag{}, d.truncated(err, "tag header")
	}
	h := d.buf[d.start : d.start+TagHeaderSize]
	size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	if size > d.max {
		return DemuxTag{}, fmt.Errorf("%w: tag at offset %d has a %d-byte body, the limit is %d", ErrTooLarge, d.off, size, d.max)
	}
	total := TagHeaderSize + size + 4
	if err := d.fill(total); err != nil {
		return DemuxTag{}, d.truncated(err, "tag body")
	}
	b := d.buf[d.start : d.start+total]
	if prev := binary.BigEndian.Uint32(b[total-4:]); prev != uint32(TagHeaderSize+size) {
		return DemuxTag{}, fmt.Errorf("%w: tag at offset %d is %d bytes, PreviousTagSize says %d", ErrPrevTagSize, d.off, TagHeaderSize+size, prev)
	}
	t := DemuxTag{
		Type:      b[0],
		Timestamp: uint32(b[7])<<24 | uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6]),
		Body:      b[TagHeaderSize : TagHeaderSize+size : TagHeaderSize+size],
	}
	d.consume(total)
	return t, nil
}

func (d *Demuxer) consume(n int) {
	d.start += n
	d.off += int64(n)
}

// fill makes at least n unconsumed bytes available in buf[start:end]. The
// buffer grows by doubling as bytes actually arrive, up to what the tag
// needs plus one read: a stream that claims a huge tag and then stops costs
// no more than it sent. n never exceeds the largest tag allowed.
func (d *Demuxer) fill(n int) error {
	if d.end-d.start >= n {
		return nil
	}
	if d.start+n > len(d.buf) && d.start > 0 {
		d.end = copy(d.buf, d.buf[d.start:d.end])
		d.start = 0
	}
	for empty := 0; d.end-d.start < n; {
		if d.err != nil {
			return d.err
		}
		if d.end == len(d.buf) {
			nb := make([]byte, min(n+minRead, max(2*len(d.buf), 2*minRead)))
			d.end = copy(nb, d.buf[d.start:d.end])
			d.start, d.buf = 0, nb
		}
		m, err := d.r.Read(d.buf[d.end:])
		d.end += m
		switch {
		case err != nil:
			d.err = err
		case m > 0:
			empty = 0
		default: // as bufio: give up on a reader that keeps delivering nothing
			if empty++; empty >= 100 {
				d.err = io.ErrNoProgress
			}
		}
	}
	return nil
}

func (d *Demuxer) truncated(err error, what string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: %s at offset %d (%d bytes there)", ErrTruncated, what, d.off, d.end-d.start)
	}
	return fmt.Errorf("flv: reading %s at offset %d: %w", what, d.off, err)
}
