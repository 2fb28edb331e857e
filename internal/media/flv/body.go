// Package flv turns hub frames into FLV tags and serves them over HTTP
// (HTTP-FLV); it also reads FLV back for tests and the benchmark tool.
package flv

import "github.com/minirtc/minirtc/internal/media"

// FLV tag types, which are also the RTMP message type ids of the same bodies.
const (
	TagAudio  = 8
	TagVideo  = 9
	TagScript = 18
)

// TagType is the FLV tag type (and RTMP message type id) for f.
func TagType(f *media.Frame) byte {
	if f.Kind == media.Audio {
		return TagAudio
	}
	return TagVideo
}

// Enhanced RTMP/FLV (the "hvc1" FourCC) packet types and frame types.
const (
	exSequenceStart = 0
	exCodedFrames   = 1
	exKeyFrame      = 1 << 4
	exInterFrame    = 2 << 4
	exHeader        = 0x80
)

// BodySize is the size of f's FLV tag / RTMP message body.
func BodySize(f *media.Frame) int {
	switch {
	case f.Kind == media.Audio:
		return 2 + len(f.Payload)
	case f.Codec == media.H265 && !f.Config:
		return 8 + len(f.Payload)
	case f.Codec == media.H265:
		return 5 + len(f.Payload)
	default:
		return 5 + len(f.Payload)
	}
}

// AppendBody appends f's FLV tag body, which is also its RTMP message body:
// legacy FLV for H.264 and AAC, enhanced RTMP ("hvc1") for H.265.
func AppendBody(dst []byte, f *media.Frame) []byte {
	switch {
	case f.Kind == media.Audio:
		// AAC, 44 kHz, 16-bit, stereo: the header values FLV requires for AAC
		// whatever the real format; the AudioSpecificConfig is the truth.
		kind := byte(1)
		if f.Config {
			kind = 0
		}
		dst = append(dst, 0xAF, kind)
	case f.Codec == media.H265:
		ft := byte(exInterFrame)
		if f.Key || f.Config {
			ft = exKeyFrame
		}
		if f.Config {
			dst = append(dst, exHeader|ft|exSequenceStart, 'h', 'v', 'c', '1')
		} else {
			dst = append(dst, exHeader|ft|exCodedFrames, 'h', 'v', 'c', '1', byte(f.CTS>>16), byte(f.CTS>>8), byte(f.CTS))
		}
	default: // H.264
		ft := byte(0x27)
		if f.Key || f.Config {
			ft = 0x17
		}
		kind := byte(1)
		if f.Config {
			kind = 0
		}
		dst = append(dst, ft, kind, byte(f.CTS>>16), byte(f.CTS>>8), byte(f.CTS))
	}
	return append(dst, f.Payload...)
}
