package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// VideoInfo describes a stream's video as announced to the room.
type VideoInfo struct {
	Codec  Codec
	Width  int
	Height int
	// FPS is the frame rate the encoder declares in its SPS, 0 when it does
	// not; the measured rate is in Stats.
	FPS float64
}

// AudioInfo describes a stream's audio as announced to the room.
type AudioInfo struct {
	Codec      Codec
	SampleRate int
	Channels   int
}

// Info is what a stream carries: nil parts are absent.
type Info struct {
	Video *VideoInfo
	Audio *AudioInfo
}

// Equal reports whether two infos describe the same media.
func (i Info) Equal(o Info) bool {
	if (i.Video == nil) != (o.Video == nil) || (i.Audio == nil) != (o.Audio == nil) {
		return false
	}
	return (i.Video == nil || *i.Video == *o.Video) && (i.Audio == nil || *i.Audio == *o.Audio)
}

// Limits on what we accept in configuration records.
const (
	maxConfigSize = 64 << 10
	maxDimension  = 16384
)

var errShortRecord = errors.New("record is truncated")

// ParseVideoConfig reads width, height and declared frame rate from an
// AVCDecoderConfigurationRecord (H.264) or HEVCDecoderConfigurationRecord
// (H.265). Publishers send these from the network: every length is checked.
func ParseVideoConfig(codec Codec, record []byte) (VideoInfo, error) {
	if len(record) > maxConfigSize {
		return VideoInfo{}, fmt.Errorf("%s config is %d bytes, the limit is %d", codec, len(record), maxConfigSize)
	}
	var (
		w, h int
		fps  float64
	)
	switch codec {
	case VP8:
		var err error
		if w, h, err = ParseVP8Config(record); err != nil {
			return VideoInfo{}, err
		}
	case H264:
		sps, err := avcFirstSPS(record)
		if err != nil {
			return VideoInfo{}, fmt.Errorf("h264 config: %w", err)
		}
		var s h264.SPS
		if err := s.Unmarshal(sps); err != nil {
			return VideoInfo{}, fmt.Errorf("h264 SPS: %w", err)
		}
		w, h, fps = s.Width(), s.Height(), s.FPS()
	case H265:
		sps, err := hvcFirstSPS(record)
		if err != nil {
			return VideoInfo{}, fmt.Errorf("h265 config: %w", err)
		}
		var s h265.SPS
		if err := s.Unmarshal(sps); err != nil {
			return VideoInfo{}, fmt.Errorf("h265 SPS: %w", err)
		}
		w, h, fps = s.Width(), s.Height(), s.FPS()
	default:
		return VideoInfo{}, fmt.Errorf("%s is not a video codec", codec)
	}
	if w <= 0 || h <= 0 || w > maxDimension || h > maxDimension {
		return VideoInfo{}, fmt.Errorf("%s SPS gives an impossible size %dx%d", codec, w, h)
	}
	if math.IsNaN(fps) || math.IsInf(fps, 0) || fps < 0 || fps > 1000 {
		fps = 0 // a nonsense timing info is "not declared", not an error
	}
	return VideoInfo{Codec: codec, Width: w, Height: h, FPS: math.Round(fps*100) / 100}, nil
}

// avcFirstSPS returns the first SPS of an AVCDecoderConfigurationRecord
// (ISO/IEC 14496-15 §5.3.3.1).
func avcFirstSPS(r []byte) ([]byte, error) {
	if len(r) < 8 {
		return nil, errShortRecord
	}
	if r[0] != 1 {
		return nil, fmt.Errorf("configuration version %d, want 1", r[0])
	}
	if r[5]&0x1f == 0 {
		return nil, errors.New("record has no SPS")
	}
	n := int(binary.BigEndian.Uint16(r[6:8:8]))
	if len(r) < 8+n {
		return nil, errShortRecord
	}
	if n == 0 {
		return nil, errors.New("SPS is empty")
	}
	return r[8 : 8+n], nil
}

// hvcFirstSPS returns the first SPS (NAL type 33) of an
// HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1).
func hvcFirstSPS(r []byte) ([]byte, error) {
	const header = 22
	if len(r) < header+1 {
		return nil, errShortRecord
	}
	pos := header + 1
	for range int(r[header]) {
		if len(r) < pos+3 {
			return nil, errShortRecord
		}
		typ := r[pos] & 0x3f
		count := int(binary.BigEndian.Uint16(r[pos+1:]))
		pos += 3
		for range count {
			if len(r) < pos+2 {
				return nil, errShortRecord
			}
			n := int(binary.BigEndian.Uint16(r[pos:]))
			pos += 2
			if len(r) < pos+n {
				return nil, errShortRecord
			}
			if typ == 33 && n > 0 {
				return r[pos : pos+n], nil
			}
			pos += n
		}
	}
	return nil, errors.New("record has no SPS")
}

// ParseAudioConfig reads sample rate and channels from an AAC
// AudioSpecificConfig.
func ParseAudioConfig(codec Codec, asc []byte) (AudioInfo, error) {
	if codec == Opus {
		ch, err := ParseOpusHead(asc)
		if err != nil {
			return AudioInfo{}, err
		}
		return AudioInfo{Codec: Opus, SampleRate: 48000, Channels: ch}, nil
	}
	if codec != AAC {
		return AudioInfo{}, fmt.Errorf("%s is not a supported audio codec", codec)
	}
	if len(asc) > maxConfigSize {
		return AudioInfo{}, fmt.Errorf("aac config is %d bytes, the limit is %d", len(asc), maxConfigSize)
	}
	var c mpeg4audio.AudioSpecificConfig
	if err := c.Unmarshal(asc); err != nil {
		return AudioInfo{}, fmt.Errorf("aac config: %w", err)
	}
	ch := int(c.ChannelConfig)
	switch {
	case ch == 7:
		ch = 8
	case ch > 7:
		return AudioInfo{}, fmt.Errorf("aac config: reserved channel configuration %d", c.ChannelConfig)
	}
	rate := c.SampleRate
	if c.ExtensionSampleRate > 0 { // HE-AAC: the decoder outputs the SBR rate
		rate = c.ExtensionSampleRate
	}
	if rate <= 0 || rate > 192000 {
		return AudioInfo{}, fmt.Errorf("aac config: impossible sample rate %d", rate)
	}
	return AudioInfo{Codec: AAC, SampleRate: rate, Channels: ch}, nil
}
