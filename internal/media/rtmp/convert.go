package rtmp

import (
	"encoding/binary"
	"fmt"

	"github.com/minirtc/minirtc/internal/media"
)

// maxBodyHeader is the largest FLV body header before the payload (an
// enhanced-RTMP coded-frames header: flags, FourCC, composition time).
const maxBodyHeader = 8

// FourCCs of enhanced RTMP (veovera E-RTMP v1/v2).
const (
	fourCCHEVC = "hvc1"
	fourCCAVC  = "avc1"
	fourCCAAC  = "mp4a"
)

// Enhanced RTMP video packet types.
const (
	exVideoSequenceStart = 0
	exVideoCodedFrames   = 1
	exVideoSequenceEnd   = 2
	exVideoCodedFramesX  = 3
	exVideoMetadata      = 4
	exVideoMultitrack    = 6
	exVideoModEx         = 7
)

// Enhanced RTMP audio packet types.
const (
	exAudioSequenceStart      = 0
	exAudioCodedFrames        = 1
	exAudioSequenceEnd        = 2
	exAudioMultichannelConfig = 4
	exAudioMultitrack         = 5
)

const (
	frameKey     = 1
	frameCommand = 5 // "video info/command frame": no picture
)

// Legacy FLV codec ids, named for the refusal message.
var (
	videoCodecNames = map[byte]string{1: "JPEG", 2: "Sorenson H.263", 3: "Screen video", 4: "On2 VP6",
		5: "On2 VP6 with alpha", 6: "Screen video v2", 13: "AV1 (codec id 13)"}
	audioCodecNames = map[byte]string{0: "linear PCM", 1: "ADPCM", 2: "MP3", 3: "linear PCM (little-endian)",
		4: "Nellymoser 16 kHz", 5: "Nellymoser 8 kHz", 6: "Nellymoser", 7: "G.711 A-law", 8: "G.711 mu-law",
		11: "Speex", 14: "MP3 8 kHz", 15: "device-specific audio"}
)

func unsupported(kind, name string) error {
	return media.Refuse(media.ReasonCodec, fmt.Sprintf("unsupported codec %s (%s); minirtc carries H.264, H.265 and AAC", name, kind))
}

func malformed(format string, a ...any) error {
	return media.Refuse(media.ReasonBadMedia, fmt.Sprintf(format, a...))
}

// frameFromMessage turns the body of an RTMP audio (8) or video (9)
// message, which is an FLV tag body, into a hub frame. The payload aliases
// body. A nil frame and nil error mean there is nothing to carry (sequence
// end, command frames, empty bodies, metadata).
//
// We parse the bodies here rather than take gortmplib's message types: those
// re-marshal configuration records through go-mp4 instead of keeping the
// encoder's bytes, refuse records with several SPS/PPS, and drop the
// keyframe flag of enhanced-RTMP coded frames.
func frameFromMessage(typ byte, body []byte) (*media.Frame, error) {
	if len(body) == 0 {
		return nil, nil
	}
	switch typ {
	case typeVideo:
		if body[0]&0x80 != 0 {
			return exVideoFrame(body)
		}
		return legacyVideoFrame(body)
	case typeAudio:
		return audioFrame(body)
	}
	return nil, nil
}

func legacyVideoFrame(body []byte) (*media.Frame, error) {
	frameType, codecID := body[0]>>4, body[0]&0x0F
	if frameType == frameCommand {
		return nil, nil
	}
	var codec media.Codec
	switch codecID {
	case 7:
		codec = media.H264
	case 12: // the widespread unofficial FLV id for H.265
		codec = media.H265
	default:
		name := videoCodecNames[codecID]
		if name == "" {
			name = fmt.Sprintf("with FLV video codec id %d", codecID)
		}
		return nil, unsupported("video", name)
	}
	if len(body) < 5 {
		return nil, malformed("%s video message of %d bytes", codec, len(body))
	}
	f := &media.Frame{Kind: media.Video, Codec: codec, Payload: body[5:]}
	switch body[1] {
	case 0:
		f.Config = true
	case 1:
		f.Key = frameType == frameKey
		f.CTS = si24(body[2:5])
	case 2: // end of sequence
		return nil, nil
	default:
		return nil, malformed("%s video packet type %d", codec, body[1])
	}
	return checkVideo(f)
}

func exVideoFrame(body []byte) (*media.Frame, error) {
	frameType, packetType := body[0]>>4&0x07, body[0]&0x0F
	if frameType == frameCommand && packetType != exVideoMetadata {
		return nil, nil // a command byte follows, no FourCC
	}
	switch packetType {
	case exVideoMultitrack:
		return nil, unsupported("video", "enhanced-RTMP multitrack video")
	case exVideoModEx:
		return nil, unsupported("video", "enhanced-RTMP ModEx video packets")
	}
	if len(body) < 5 {
		return nil, malformed("enhanced video message of %d bytes", len(body))
	}
	var codec media.Codec
	switch fourCC := string(body[1:5]); fourCC {
	case fourCCHEVC:
		codec = media.H265
	case fourCCAVC:
		codec = media.H264
	default:
		return nil, unsupported("video", printableFourCC(body[1:5]))
	}
	f := &media.Frame{Kind: media.Video, Codec: codec, Payload: body[5:]}
	switch packetType {
	case exVideoSequenceStart:
		f.Config = true
	case exVideoCodedFrames:
		if len(body) < 8 {
			return nil, malformed("%s coded frames message of %d bytes", codec, len(body))
		}
		f.CTS, f.Payload = si24(body[5:8]), body[8:]
		f.Key = frameType == frameKey
	case exVideoCodedFramesX:
		f.Key = frameType == frameKey
	case exVideoSequenceEnd, exVideoMetadata:
		return nil, nil
	default:
		return nil, unsupported("video", fmt.Sprintf("enhanced-RTMP video packet type %d", packetType))
	}
	return checkVideo(f)
}

// checkVideo drops empty access units and refuses payloads that are not
// 4-byte length-prefixed NAL units, which every egress relies on.
func checkVideo(f *media.Frame) (*media.Frame, error) {
	if f.Config {
		if n := nalLengthSize(f.Codec, f.Payload); n != 0 && n != 4 {
			return nil, malformed("%s config with %d-byte NAL unit lengths; only 4 is supported", f.Codec, n)
		}
		return f, nil
	}
	if len(f.Payload) == 0 {
		return nil, nil
	}
	for p := f.Payload; len(p) > 0; {
		if len(p) < 4 {
			return nil, malformed("%s access unit ends in %d stray bytes", f.Codec, len(p))
		}
		n := binary.BigEndian.Uint32(p)
		if n == 0 || uint64(n) > uint64(len(p)-4) {
			return nil, malformed("%s access unit has a NAL unit of %d bytes with %d left", f.Codec, n, len(p)-4)
		}
		p = p[4+n:]
	}
	return f, nil
}

// nalLengthSize reads lengthSizeMinusOne+1 from a configuration record, 0
// when the record is too short to say (the hub refuses it then).
func nalLengthSize(c media.Codec, rec []byte) int {
	switch {
	case c == media.H264 && len(rec) >= 5:
		return int(rec[4]&3) + 1
	case c == media.H265 && len(rec) >= 22:
		return int(rec[21]&3) + 1
	}
	return 0
}

func audioFrame(body []byte) (*media.Frame, error) {
	format := body[0] >> 4
	var (
		config  bool
		payload []byte
	)
	switch format {
	case 10: // AAC: 1 byte flags, 1 byte packet type
		if len(body) < 2 {
			return nil, malformed("AAC message of %d bytes", len(body))
		}
		switch body[1] {
		case 0:
			config = true
		case 1:
		default:
			return nil, malformed("AAC packet type %d", body[1])
		}
		payload = body[2:]
	case 9: // enhanced RTMP audio
		packetType := body[0] & 0x0F
		switch packetType {
		case exAudioMultitrack:
			return nil, unsupported("audio", "enhanced-RTMP multitrack audio")
		case exAudioSequenceEnd, exAudioMultichannelConfig:
			return nil, nil
		}
		if len(body) < 5 {
			return nil, malformed("enhanced audio message of %d bytes", len(body))
		}
		if string(body[1:5]) != fourCCAAC {
			return nil, unsupported("audio", printableFourCC(body[1:5]))
		}
		switch packetType {
		case exAudioSequenceStart:
			config = true
		case exAudioCodedFrames:
		default:
			return nil, unsupported("audio", fmt.Sprintf("enhanced-RTMP audio packet type %d", packetType))
		}
		payload = body[5:]
	default:
		name := audioCodecNames[format]
		if name == "" {
			name = fmt.Sprintf("with FLV sound format %d", format)
		}
		return nil, unsupported("audio", name)
	}
	if !config && len(payload) == 0 {
		return nil, nil
	}
	return &media.Frame{Kind: media.Audio, Codec: media.AAC, Config: config, Payload: payload}, nil
}

// si24 reads a signed 24-bit big-endian composition time.
func si24(b []byte) int32 {
	return int32(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8) >> 8
}

func printableFourCC(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return fmt.Sprintf("FourCC 0x%X", b)
		}
	}
	return fmt.Sprintf("%q", b)
}
