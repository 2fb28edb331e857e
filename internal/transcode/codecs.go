package transcode

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/asticode/go-astiav"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// ascInfo is what we need from an AAC AudioSpecificConfig.
type ascInfo struct {
	rate     int
	channels int
}

// parseASC accepts AAC-LC, 8 to 48 kHz, mono or stereo: what RTMP publishers
// (WeChat's live-pusher, OBS, ffmpeg) send. It is checked here rather than
// left to FFmpeg so that a wrong config fails at construction with a clear
// message instead of as a stream of undecodable frames.
func parseASC(asc []byte) (ascInfo, error) {
	if len(asc) < 2 || len(asc) > 64 {
		return ascInfo{}, fmt.Errorf("%w: AudioSpecificConfig is %d bytes", ErrBadConfig, len(asc))
	}
	var c mpeg4audio.AudioSpecificConfig
	if err := c.Unmarshal(asc); err != nil {
		return ascInfo{}, fmt.Errorf("%w: AudioSpecificConfig: %v", ErrBadConfig, err)
	}
	switch {
	case c.Type != mpeg4audio.ObjectTypeAACLC || c.ExtensionType != 0:
		// HE-AAC signalled explicitly parses as LC plus an SBR/PS
		// extension; FFmpeg would decode it, but nothing here tests it.
		return ascInfo{}, fmt.Errorf("%w: AAC object type %d (extension %d), only AAC-LC (2) is supported",
			ErrBadConfig, c.Type, c.ExtensionType)
	case c.SampleRate < 8000 || c.SampleRate > 48000:
		return ascInfo{}, fmt.Errorf("%w: AAC sample rate %d Hz, want 8000 to 48000", ErrBadConfig, c.SampleRate)
	case c.ChannelConfig != 1 && c.ChannelConfig != 2:
		return ascInfo{}, fmt.Errorf("%w: AAC channel configuration %d, want 1 (mono) or 2 (stereo)", ErrBadConfig, c.ChannelConfig)
	}
	return ascInfo{rate: c.SampleRate, channels: int(c.ChannelConfig)}, nil
}

func layoutFor(channels int) (astiav.ChannelLayout, string) {
	if channels == 2 {
		return astiav.ChannelLayoutStereo, "stereo"
	}
	return astiav.ChannelLayoutMono, "mono"
}

// openDecoder opens FFmpeg's native decoder name ("aac" or "opus"); setup
// fills in what the stream's config says before the codec is opened.
func openDecoder(name string, setup func(*astiav.CodecContext) error) (*astiav.CodecContext, error) {
	codec := astiav.FindDecoderByName(name)
	if codec == nil {
		return nil, fmt.Errorf("transcode: FFmpeg has no %s decoder", name)
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, fmt.Errorf("transcode: allocating %s decoder failed", name)
	}
	if err := setup(cc); err != nil {
		cc.Free()
		return nil, err
	}
	if err := cc.Open(codec, nil); err != nil {
		cc.Free()
		return nil, fmt.Errorf("transcode: opening %s decoder: %w", name, err)
	}
	return cc, nil
}

// openEncoder opens encoder name at 48 kHz with the given channels, the
// first sample format of prefer that the encoder supports, and the private
// options opts. Time base is one sample, so packet timestamps count samples.
func openEncoder(name string, channels, bitrate int, prefer []astiav.SampleFormat, opts map[string]string) (*astiav.CodecContext, outFormat, error) {
	codec := astiav.FindEncoderByName(name)
	if codec == nil {
		return nil, outFormat{}, fmt.Errorf("transcode: FFmpeg has no %s encoder (Debian: libavcodec59 is built with it)", name)
	}
	format := astiav.SampleFormatNone
	for _, want := range prefer {
		for _, have := range codec.SampleFormats() {
			if have == want && format == astiav.SampleFormatNone {
				format = want
			}
		}
	}
	if format == astiav.SampleFormatNone {
		return nil, outFormat{}, fmt.Errorf("transcode: %s encoder takes none of the sample formats %v", name, prefer)
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, outFormat{}, fmt.Errorf("transcode: allocating %s encoder failed", name)
	}
	layout, layoutName := layoutFor(channels)
	cc.SetChannelLayout(layout)
	cc.SetSampleRate(OutputRate)
	cc.SetSampleFormat(format)
	cc.SetBitRate(int64(bitrate))
	cc.SetTimeBase(astiav.NewRational(1, OutputRate))
	// Global header: the AAC encoder puts the AudioSpecificConfig in
	// extradata instead of in-band, which is what FLV/RTMP want.
	cc.SetFlags(cc.Flags().Add(astiav.CodecContextFlagGlobalHeader))

	d := astiav.NewDictionary()
	defer d.Free()
	for k, v := range opts {
		if err := d.Set(k, v, 0); err != nil {
			cc.Free()
			return nil, outFormat{}, fmt.Errorf("transcode: %s option %s=%s: %w", name, k, v, err)
		}
	}
	if err := cc.Open(codec, d); err != nil {
		cc.Free()
		return nil, outFormat{}, fmt.Errorf("transcode: opening %s encoder (%d ch, %d bit/s): %w", name, channels, bitrate, err)
	}
	if cc.FrameSize() <= 0 {
		cc.Free()
		return nil, outFormat{}, errors.New("transcode: " + name + " encoder reports no frame size")
	}
	return cc, outFormat{format: format, layout: layoutName, frameSize: cc.FrameSize()}, nil
}

// opusEncoder opens libopus. The native "opus" encoder is experimental in
// FFmpeg 5.1; libopus is what browsers use too.
func opusEncoder(channels int, s settings) (*astiav.CodecContext, outFormat, error) {
	if s.complexity < 0 || s.complexity > 10 {
		return nil, outFormat{}, fmt.Errorf("%w: Opus complexity %d, want 0 to 10", ErrBadConfig, s.complexity)
	}
	bitrate := s.bitrate
	if bitrate == 0 {
		bitrate = 32000 * channels
	}
	if bitrate < 6000 || bitrate > 510000 {
		return nil, outFormat{}, fmt.Errorf("%w: Opus bitrate %d, want 6000 to 510000", ErrBadConfig, bitrate)
	}
	// "audio", not libwebrtc's "voip" for mono: at 32 kbit/s voip steers
	// speech to SILK/hybrid coding, which cost twice the CPU here (1.0%
	// against 0.5% of a core at complexity 5 on speech), while audio lets
	// CELT code it, which sounds fine at that rate and for music too.
	return openEncoder("libopus", channels, bitrate,
		[]astiav.SampleFormat{astiav.SampleFormatFlt, astiav.SampleFormatS16},
		map[string]string{
			"application":       "audio",
			"compression_level": strconv.Itoa(s.complexity),
		})
}

// aacEncoder opens FFmpeg's native AAC encoder (AAC-LC; Debian's FFmpeg has
// no libfdk-aac) with its default "twoloop" coder: "fast" takes 40% of the
// CPU but is the coder FFmpeg's documentation calls poor quality.
func aacEncoder(channels int, s settings) (*astiav.CodecContext, outFormat, error) {
	bitrate := s.bitrate
	if bitrate == 0 {
		bitrate = 64000 * channels
	}
	if bitrate < 16000 || bitrate > 320000 {
		return nil, outFormat{}, fmt.Errorf("%w: AAC bitrate %d, want 16000 to 320000", ErrBadConfig, bitrate)
	}
	return openEncoder("aac", channels, bitrate, []astiav.SampleFormat{astiav.SampleFormatFltp}, nil)
}
