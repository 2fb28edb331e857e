// Package media is the hub of the media plane: publishers write frames into
// a Stream, the Stream keeps the last GOP and fans every frame out to its
// Readers, and each egress (RTMP, HTTP-FLV, later WebRTC and recording) turns
// frames into its own wire format. Protocols never talk to each other; they
// meet only at this package's frame model.
package media

import "sync/atomic"

// Kind says whether a frame is audio or video.
type Kind uint8

// Frame kinds.
const (
	Video Kind = iota + 1
	Audio
)

func (k Kind) String() string {
	switch k {
	case Video:
		return "video"
	case Audio:
		return "audio"
	}
	return "unknown"
}

// Codec is a frame's codec.
type Codec uint8

// Codecs the hub carries.
const (
	H264 Codec = iota + 1
	H265
	AAC
	Opus // WebRTC audio: one Opus packet per frame, 48 kHz timeline
	VP8  // WebRTC video between browsers only: never offered to RTMP/FLV readers
)

func (c Codec) String() string {
	switch c {
	case H264:
		return "h264"
	case H265:
		return "h265"
	case AAC:
		return "aac"
	case Opus:
		return "opus"
	case VP8:
		return "vp8"
	}
	return "unknown"
}

// WireFormat names a serialised form of a frame that egresses share.
type WireFormat uint8

// Wire formats cached on frames. Add one per egress that can share bytes
// between readers.
const (
	WireFLV  WireFormat = iota // an FLV tag (header, body, previous-tag-size)
	WireRTMP                   // RTMP chunks of one message on the play chunk streams
	numWireFormats
)

// Frame is one access unit, or a codec configuration record when Config is
// set. A frame is immutable once written to a Stream: many readers hold it at
// once.
type Frame struct {
	Kind  Kind
	Codec Codec
	// Config marks a codec configuration record: AVCDecoderConfigurationRecord
	// (H.264), HEVCDecoderConfigurationRecord (H.265) or AudioSpecificConfig
	// (AAC). Readers get the current configs before any media, and again
	// whenever they change.
	Config bool
	// Key marks a video keyframe (IDR); a reader may start there.
	Key bool
	// DTS is the decode time in milliseconds on the stream's timeline, which
	// never goes backwards per kind (see Timeline).
	DTS int64
	// CTS is PTS minus DTS in milliseconds (B-frames; 0 for audio).
	CTS int32
	// Payload is AVCC/HVCC (4-byte length-prefixed NAL units) for video,
	// one raw AAC frame for audio, or the configuration record.
	Payload []byte

	wire [numWireFormats]atomic.Pointer[[]byte]
}

// Wire returns the frame serialised in format w, building it with build the
// first time any reader asks. Concurrent first calls may both build; one
// result wins and everyone gets that one, so build must be deterministic.
func (f *Frame) Wire(w WireFormat, build func(*Frame) []byte) []byte {
	if p := f.wire[w].Load(); p != nil {
		return *p
	}
	b := build(f)
	if f.wire[w].CompareAndSwap(nil, &b) {
		return b
	}
	return *f.wire[w].Load()
}

// restamped returns a copy of a config frame with another DTS, for a reader
// that needs the current config after frames newer than the config itself.
func (f *Frame) restamped(dts int64) *Frame {
	return &Frame{Kind: f.Kind, Codec: f.Codec, Config: f.Config, Key: f.Key, DTS: dts, CTS: f.CTS, Payload: f.Payload}
}
