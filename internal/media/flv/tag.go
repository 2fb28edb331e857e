package flv

import (
	"encoding/binary"
	"math"

	"github.com/minirtc/minirtc/internal/media"
)

// Sizes of the fixed parts of an FLV stream.
const (
	// HeaderSize is the FLV file header plus PreviousTagSize0.
	HeaderSize = 9 + 4
	// TagHeaderSize is the header in front of every tag body.
	TagHeaderSize = 11
	// MaxBodySize is the largest body the 24-bit DataSize field can describe.
	MaxBodySize = 1<<24 - 1
)

// Tag returns f as one complete FLV tag: the 11-byte tag header, the body and
// the PreviousTagSize that follows it. The bytes are built once per frame and
// shared by every reader (media.Frame.Wire), so they must not be modified.
//
// The timestamp is the low 32 bits of the stream DTS, so it wraps after 2^32
// ms (49.7 days) exactly as FLV players expect. A frame whose body does not fit
// the 24-bit size field (only possible with media.Limits.MaxFrameBytes raised
// past 16 MiB) has no FLV form: Tag returns nil and the caller skips it.
func Tag(f *media.Frame) []byte {
	return f.Wire(media.WireFLV, buildTag)
}

func buildTag(f *media.Frame) []byte {
	n := BodySize(f)
	if n > MaxBodySize {
		return nil
	}
	b := make([]byte, 0, TagHeaderSize+n+4)
	b = AppendTagHeader(b, TagType(f), n, uint32(f.DTS))
	b = AppendBody(b, f)
	return binary.BigEndian.AppendUint32(b, uint32(TagHeaderSize+n))
}

// AppendTagHeader appends an 11-byte tag header: type, 24-bit body size,
// timestamp (low 24 bits, then bits 24-31 in the extended byte) and stream
// id 0. size must not exceed MaxBodySize.
func AppendTagHeader(dst []byte, typ byte, size int, ts uint32) []byte {
	return append(dst, typ, byte(size>>16), byte(size>>8), byte(size),
		byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24), 0, 0, 0)
}

// Header returns the 9-byte FLV file header with the audio and video flags,
// followed by PreviousTagSize0.
func Header(audio, video bool) []byte {
	var flags byte
	if audio {
		flags |= 4
	}
	if video {
		flags |= 1
	}
	return []byte{'F', 'L', 'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0}
}

// Codec ids in onMetaData. FLV's legacy ids for AVC and AAC; H.265 uses the
// enhanced-RTMP convention of the FourCC read as a number, matching the
// "hvc1" bodies AppendBody writes.
const (
	metaCodecAVC  = 7
	metaCodecAAC  = 10
	metaCodecHEVC = 'h'<<24 | 'v'<<16 | 'c'<<8 | '1'
)

// Meta returns a complete onMetaData script tag (timestamp 0) describing
// info. Players do not need it, but flv.js takes hasAudio/hasVideo and the
// frame rate from it, and ffmpeg sets up its streams from the codec ids
// before the first media tag arrives. Unknown (zero) values are left out.
func Meta(info media.Info) []byte {
	body := make([]byte, 0, 256)
	body = amfString(append(body, amfTypeString), "onMetaData")
	body = append(body, amfTypeECMAArray, 0, 0, 0, 0) // the count is patched below
	countAt, n := len(body)-4, 0
	num := func(name string, v float64) {
		if v > 0 {
			body = amfNumberProp(body, name, v)
			n++
		}
	}
	flag := func(name string, v bool) {
		body = amfBool(amfString(body, name), v)
		n++
	}
	flag("hasVideo", info.Video != nil)
	flag("hasAudio", info.Audio != nil)
	if v := info.Video; v != nil {
		id := float64(metaCodecAVC)
		if v.Codec == media.H265 {
			id = metaCodecHEVC
		}
		num("width", float64(v.Width))
		num("height", float64(v.Height))
		num("framerate", v.FPS)
		num("videocodecid", id)
	}
	if a := info.Audio; a != nil {
		num("audiocodecid", metaCodecAAC)
		num("audiosamplerate", float64(a.SampleRate))
		num("audiochannels", float64(a.Channels))
		if a.Channels > 0 {
			flag("stereo", a.Channels >= 2)
		}
	}
	binary.BigEndian.PutUint32(body[countAt:], uint32(n))
	body = append(body, 0, 0, amfTypeObjectEnd)

	tag := make([]byte, 0, TagHeaderSize+len(body)+4)
	tag = AppendTagHeader(tag, TagScript, len(body), 0)
	tag = append(tag, body...)
	return binary.BigEndian.AppendUint32(tag, uint32(TagHeaderSize+len(body)))
}

// AMF0 type markers used in onMetaData.
const (
	amfTypeNumber    = 0x00
	amfTypeBool      = 0x01
	amfTypeString    = 0x02
	amfTypeECMAArray = 0x08
	amfTypeObjectEnd = 0x09
)

// amfString appends a UTF-8 string with its 16-bit length and no type
// marker, the form of property names. s must be shorter than 64 KiB.
func amfString(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

func amfNumberProp(dst []byte, name string, v float64) []byte {
	dst = amfString(dst, name)
	dst = append(dst, amfTypeNumber)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(v))
}

// amfBool appends a boolean value (with its type marker).
func amfBool(dst []byte, v bool) []byte {
	b := byte(0)
	if v {
		b = 1
	}
	return append(dst, amfTypeBool, b)
}
