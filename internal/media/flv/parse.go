package flv

import (
	"errors"
	"fmt"

	"github.com/minirtc/minirtc/internal/media"
)

// Body is an audio or video tag body decoded back into the hub's terms.
// Payload aliases the body it was parsed from.
type Body struct {
	Kind   media.Kind
	Codec  media.Codec
	Config bool // Payload is a codec configuration record
	Key    bool // a video keyframe; never set on configs
	CTS    int32
	// Payload is AVCC/HVCC NAL units, one raw AAC frame, or the
	// configuration record.
	Payload []byte
}

// Frame returns b as a new hub frame (DTS left 0), sharing b.Payload.
func (b Body) Frame() *media.Frame {
	return &media.Frame{Kind: b.Kind, Codec: b.Codec, Config: b.Config, Key: b.Key, CTS: b.CTS, Payload: b.Payload}
}

// Errors from ParseBody (errors.Is).
var (
	// ErrNoMedia marks a well-formed tag that carries no frame: an end of
	// sequence, a video command frame, enhanced metadata, a script tag.
	// Readers skip it.
	ErrNoMedia = errors.New("flv: tag carries no media frame")
	// ErrUnsupported marks a codec or packet kind the hub does not carry
	// (MP3, VP6, AV1 ...).
	ErrUnsupported = errors.New("flv: unsupported codec or packet type")
	// ErrBadBody marks a body that is too short or malformed.
	ErrBadBody = errors.New("flv: malformed tag body")
)

// Legacy FLV codec ids. 12 for H.265 is not in the FLV spec but is what
// Chinese CDNs and encoders have long sent; it has the AVC layout.
const (
	soundFormatAAC = 10
	codecIDAVC     = 7
	codecIDHEVC    = 12
)

// Legacy video frame types.
const (
	frameKey       = 1
	frameInter     = 2
	frameDisposal  = 3
	frameGenerated = 4
	frameCommand   = 5
)

// ParseBody decodes an audio (8) or video (9) tag body, which is also an
// RTMP audio or video message body: legacy AAC, legacy AVC (and H.265 with
// codec id 12), and enhanced RTMP "avc1"/"hvc1". Bodies come from the
// network: every length is checked, and nothing is allocated.
func ParseBody(tagType byte, body []byte) (Body, error) {
	switch tagType {
	case TagAudio:
		return parseAudio(body)
	case TagVideo:
		if len(body) > 0 && body[0]&exHeader != 0 {
			return parseEnhancedVideo(body)
		}
		return parseLegacyVideo(body)
	case TagScript:
		return Body{}, ErrNoMedia
	}
	return Body{}, fmt.Errorf("%w: tag type %d", ErrUnsupported, tagType)
}

func parseAudio(b []byte) (Body, error) {
	if len(b) < 1 {
		return Body{}, fmt.Errorf("%w: empty audio body", ErrBadBody)
	}
	if f := b[0] >> 4; f != soundFormatAAC {
		return Body{}, fmt.Errorf("%w: sound format %d (only AAC, 10)", ErrUnsupported, f)
	}
	if len(b) < 2 {
		return Body{}, fmt.Errorf("%w: AAC body without packet type", ErrBadBody)
	}
	out := Body{Kind: media.Audio, Codec: media.AAC, Payload: b[2:]}
	switch b[1] {
	case 0:
		out.Config = true
	case 1:
	default:
		return Body{}, fmt.Errorf("%w: AAC packet type %d", ErrBadBody, b[1])
	}
	return out, nil
}

func parseLegacyVideo(b []byte) (Body, error) {
	if len(b) < 1 {
		return Body{}, fmt.Errorf("%w: empty video body", ErrBadBody)
	}
	ft, id := b[0]>>4, b[0]&0x0f
	var out Body
	switch id {
	case codecIDAVC:
		out.Codec = media.H264
	case codecIDHEVC:
		out.Codec = media.H265
	default:
		return Body{}, fmt.Errorf("%w: video codec id %d", ErrUnsupported, id)
	}
	if ft == frameCommand {
		return Body{}, ErrNoMedia
	}
	if len(b) < 5 {
		return Body{}, fmt.Errorf("%w: %s body of %d bytes", ErrBadBody, out.Codec, len(b))
	}
	out.Kind = media.Video
	out.Payload = b[5:]
	switch b[1] {
	case 0:
		out.Config = true
	case 1:
		out.CTS = si24(b[2:5])
	case 2:
		return Body{}, ErrNoMedia // end of sequence
	default:
		return Body{}, fmt.Errorf("%w: %s packet type %d", ErrBadBody, out.Codec, b[1])
	}
	switch ft {
	case frameKey, frameGenerated:
		out.Key = !out.Config
	case frameInter, frameDisposal:
	default:
		return Body{}, fmt.Errorf("%w: video frame type %d", ErrBadBody, ft)
	}
	return out, nil
}

// Enhanced RTMP packet types beyond those AppendBody writes.
const (
	exSequenceEnd  = 2
	exCodedFramesX = 3 // coded frames without the composition time
	exMetadata     = 4
)

func parseEnhancedVideo(b []byte) (Body, error) {
	if len(b) < 5 {
		return Body{}, fmt.Errorf("%w: enhanced video body of %d bytes", ErrBadBody, len(b))
	}
	ft, pt := (b[0]>>4)&7, b[0]&0x0f
	var out Body
	switch string(b[1:5]) { // no allocation: the compiler compares in place
	case "avc1":
		out.Codec = media.H264
	case "hvc1":
		out.Codec = media.H265
	default:
		return Body{}, fmt.Errorf("%w: video FourCC %q", ErrUnsupported, b[1:5])
	}
	if ft == frameCommand {
		return Body{}, ErrNoMedia
	}
	out.Kind = media.Video
	switch pt {
	case exSequenceStart:
		out.Config = true
		out.Payload = b[5:]
	case exCodedFrames:
		if len(b) < 8 {
			return Body{}, fmt.Errorf("%w: enhanced coded frames without composition time", ErrBadBody)
		}
		out.CTS = si24(b[5:8])
		out.Payload = b[8:]
	case exCodedFramesX:
		out.Payload = b[5:]
	case exSequenceEnd, exMetadata:
		return Body{}, ErrNoMedia
	default:
		return Body{}, fmt.Errorf("%w: enhanced video packet type %d", ErrUnsupported, pt)
	}
	switch ft {
	case frameKey, frameGenerated:
		out.Key = !out.Config
	case frameInter, frameDisposal:
	default:
		return Body{}, fmt.Errorf("%w: video frame type %d", ErrBadBody, ft)
	}
	return out, nil
}

// si24 reads a signed 24-bit big-endian integer.
func si24(b []byte) int32 {
	return int32(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8) >> 8
}
