package transcode

import (
	"fmt"
	"runtime"

	"github.com/asticode/go-astiav"
)

// AACToOpus turns raw AAC-LC frames into 20 ms Opus packets at 48 kHz, with
// as many channels (mono or stereo) as the AudioSpecificConfig says. It is
// not safe for concurrent use: one goroutine writes, then closes.
type AACToOpus struct {
	p        *pipeline
	channels int
}

// NewAACToOpus starts a transcoder for the AAC stream described by asc, an
// AudioSpecificConfig (the payload of the stream's AAC config frame): AAC-LC,
// 8 to 48 kHz, mono or stereo.
func NewAACToOpus(asc []byte, opts ...Option) (*AACToOpus, error) {
	info, err := parseASC(asc)
	if err != nil {
		return nil, err
	}
	s := applyOptions(opts)
	enc, out, err := opusEncoder(info.channels, s)
	if err != nil {
		return nil, err
	}
	asc = append([]byte(nil), asc...) // the caller may reuse its slice
	openDec := func() (*astiav.CodecContext, error) {
		return openDecoder("aac", func(cc *astiav.CodecContext) error {
			// The decoder reads rate and channels from the config itself.
			return cc.SetExtraData(asc)
		})
	}
	p, err := newPipeline("AAC", openDec, enc, out)
	if err != nil {
		return nil, err
	}
	p.restart = true
	t := &AACToOpus{p: p, channels: info.channels}
	// A safety net, not the contract: a transcoder dropped without Close
	// still gets its C memory back when the garbage collector finds it.
	runtime.AddCleanup(t, (*pipeline).close, p)
	return t, nil
}

// Channels is the number of channels of the Opus output, 1 or 2.
func (t *AACToOpus) Channels() int { return t.channels }

// Write transcodes one raw AAC frame (no ADTS header) whose PTS is ptsMs and
// returns the Opus packets it completed, in order: as many as the frame's
// samples complete (1024-sample AAC frames and 960-sample Opus packets do not
// line up, so at 48 kHz usually one and sometimes two, at 16 kHz three or
// four).
// A frame that cannot be decoded returns an error wrapping ErrBadFrame and
// is dropped; the transcoder keeps working.
func (t *AACToOpus) Write(aacFrame []byte, ptsMs int64) ([]Packet, error) {
	defer runtime.KeepAlive(t) // t's cleanup must not free p under write
	return t.p.write(aacFrame, ptsMs)
}

// Close frees the transcoder's FFmpeg state. Audio still buffered inside
// (at most about 20 ms) is dropped. Close may be called more than once.
func (t *AACToOpus) Close() error {
	defer runtime.KeepAlive(t) // or t's cleanup could free p at the same time
	t.p.close()
	return nil
}

// OpusToAAC turns 48 kHz Opus packets into AAC-LC frames of 1024 samples at
// 48 kHz. It is not safe for concurrent use.
type OpusToAAC struct {
	p   *pipeline
	asc []byte
}

// NewOpusToAAC starts a transcoder for an Opus stream of channels channels
// (1 or 2; the Opus decoder up- or down-mixes packets that differ).
func NewOpusToAAC(channels int, opts ...Option) (*OpusToAAC, error) {
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("%w: %d Opus channels, want 1 or 2", ErrBadConfig, channels)
	}
	s := applyOptions(opts)
	enc, out, err := aacEncoder(channels, s)
	if err != nil {
		return nil, err
	}
	asc := enc.ExtraData()
	if _, err := parseASC(asc); err != nil {
		enc.Free()
		return nil, fmt.Errorf("transcode: the AAC encoder made a config we cannot read back: %w", err)
	}
	openDec := func() (*astiav.CodecContext, error) {
		return openDecoder("opus", func(cc *astiav.CodecContext) error {
			// No OpusHead from WebRTC: the decoder takes channels and
			// rate from the context, and there is no pre-skip to apply.
			layout, _ := layoutFor(channels)
			cc.SetChannelLayout(layout)
			cc.SetSampleRate(OutputRate)
			return nil
		})
	}
	p, err := newPipeline("Opus", openDec, enc, out)
	if err != nil {
		return nil, err
	}
	t := &OpusToAAC{p: p, asc: asc}
	runtime.AddCleanup(t, (*pipeline).close, p)
	return t, nil
}

// ASC is the AudioSpecificConfig of the AAC output (AAC-LC, 48 kHz), for
// the stream's AAC config frame. The caller must not modify it.
func (t *OpusToAAC) ASC() []byte { return t.asc }

// Write transcodes one Opus packet whose PTS is ptsMs and returns the AAC
// frames it completed (raw access units, no ADTS header). A packet that
// cannot be decoded returns an error wrapping ErrBadFrame and is dropped;
// the transcoder keeps working.
func (t *OpusToAAC) Write(opusPacket []byte, ptsMs int64) ([]Packet, error) {
	defer runtime.KeepAlive(t) // t's cleanup must not free p under write
	return t.p.write(opusPacket, ptsMs)
}

// Close frees the transcoder's FFmpeg state. Audio still buffered inside
// (at most about 43 ms: one partial frame and the encoder's one frame of
// lookahead) is dropped. Close may be called more than once.
func (t *OpusToAAC) Close() error {
	defer runtime.KeepAlive(t) // or t's cleanup could free p at the same time
	t.p.close()
	return nil
}
