package media

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// An Opus stream's configuration record is its OpusHead (RFC 7845 §5.1):
// the hub needs the channel count for stream info, and a converter to AAC
// needs it to set up its decoder. WebRTC carries no such record in band, so
// the WebRTC ingest makes one with OpusHead.

// opusHeadSize is the OpusHead of channel mapping family 0 (mono or stereo).
const opusHeadSize = 19

// OpusHead returns the OpusHead for a mono or stereo Opus stream at 48 kHz.
func OpusHead(channels int) []byte {
	b := make([]byte, opusHeadSize)
	copy(b, "OpusHead")
	b[8] = 1 // version
	b[9] = byte(channels)
	binary.LittleEndian.PutUint16(b[10:], 312) // pre-skip: libopus's usual 6.5 ms at 48 kHz
	binary.LittleEndian.PutUint32(b[12:], 48000)
	return b
}

// ParseOpusHead returns the channel count of an OpusHead.
func ParseOpusHead(b []byte) (channels int, err error) {
	if len(b) < opusHeadSize || string(b[:8]) != "OpusHead" {
		return 0, errors.New("opus config: not an OpusHead")
	}
	if len(b) > maxConfigSize {
		return 0, fmt.Errorf("opus config is %d bytes, the limit is %d", len(b), maxConfigSize)
	}
	if b[8]>>4 != 0 {
		return 0, fmt.Errorf("opus config: unsupported version %d", b[8])
	}
	ch := int(b[9])
	if ch < 1 || ch > 2 || b[18] != 0 {
		return 0, fmt.Errorf("opus config: %d channels with mapping family %d; only mono and stereo are carried", ch, b[18])
	}
	return ch, nil
}

// VP8 has no configuration record; the hub needs one to know a stream's
// picture size (and to start a player at a keyframe of that size). The
// WebRTC ingest makes it from each keyframe header: "VP8C", then width and
// height as little-endian 16-bit numbers.

// VP8Config returns the configuration record of a VP8 stream.
func VP8Config(width, height int) []byte {
	b := []byte{'V', 'P', '8', 'C', 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(b[4:], uint16(width))
	binary.LittleEndian.PutUint16(b[6:], uint16(height))
	return b
}

// ParseVP8Config returns the picture size of a VP8Config record.
func ParseVP8Config(b []byte) (width, height int, err error) {
	if len(b) != 8 || string(b[:4]) != "VP8C" {
		return 0, 0, errors.New("vp8 config: not a minirtc VP8 record")
	}
	width, height = int(binary.LittleEndian.Uint16(b[4:])), int(binary.LittleEndian.Uint16(b[6:]))
	if width == 0 || height == 0 || width > 16383 || height > 16383 {
		return 0, 0, fmt.Errorf("vp8 config: impossible size %dx%d", width, height)
	}
	return width, height, nil
}
