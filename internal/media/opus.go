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
