package media

import (
	"fmt"
	"sync"
	"time"
)

// Audio renditions. RTMP and HTTP-FLV players take AAC only; WebRTC peers
// take Opus only. A stream carries its audio as published and, while some
// reader needs the other codec, a second rendition made by an
// AudioConverter from the first. Both go through the stream like published
// frames (GOP cache, queues, coalescing); each reader receives only the
// rendition of its Target.Audio. The converter starts with the first reader
// that needs it and stops after the last one leaves (DESIGN §6).

// FLVVideoCodecs are the video codecs RTMP and HTTP-FLV players take
// (H.265 through enhanced RTMP); FLV audio is AAC.
var FLVVideoCodecs = []Codec{H264, H265}

// AudioConverter turns one audio codec into another. Convert is called by
// the publisher's goroutine only, in order; Close once, when no reader needs
// the rendition any more or the stream ends.
type AudioConverter interface {
	// Config is the configuration record of the output: an
	// AudioSpecificConfig for AAC, an OpusHead for Opus.
	Config() []byte
	// Convert takes one published audio frame (DTS in ms) and returns the
	// output frames it completes, if any, with DTS in ms on the same
	// timeline.
	Convert(f *Frame) ([]*Frame, error)
	Close()
}

// ConvertFunc makes an AudioConverter from codec from (with its config
// record) to codec to.
type ConvertFunc func(from Codec, config []byte, to Codec) (AudioConverter, error)

// serialConverter makes Close wait for a Convert in progress: the
// publisher converts outside the stream lock, while the last reader of the
// rendition may leave (and close it) at any moment. A converter holding C
// memory must never be closed under a running Convert.
type serialConverter struct {
	mu     sync.Mutex
	conv   AudioConverter
	closed bool
}

func (c *serialConverter) Config() []byte { return c.conv.Config() }

func (c *serialConverter) Convert(f *Frame) ([]*Frame, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil
	}
	return c.conv.Convert(f)
}

func (c *serialConverter) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.conv.Close()
	}
}

// rendition is the converted audio of a stream.
type rendition struct {
	codec   Codec
	conv    AudioConverter
	cfg     *Frame
	readers int
	failed  bool // Convert failed: logged once, frames dropped
}

// wantsAudio reports whether a reader that takes codec want receives audio
// frame f. want 0 takes the published audio.
func (s *Stream) wantsAudio(want Codec, f *Frame) bool {
	if want == 0 {
		return s.acfg == nil || f.Codec == s.acfg.Codec
	}
	return f.Codec == want
}

// audioConfigForLocked returns the audio config a reader taking want starts
// with, starting the converted rendition when it needs one. Called with s.mu
// held, for a new reader.
func (s *Stream) audioConfigForLocked(want Codec) (*Frame, error) {
	if s.acfg == nil || want == 0 || want == s.acfg.Codec {
		return s.acfg, nil
	}
	if s.alt != nil && s.alt.codec == want {
		return s.alt.cfg, nil
	}
	if s.h.convert == nil {
		return nil, Refuse(ReasonCodec, fmt.Sprintf("stream %s has %s audio and this player takes %s; this server cannot convert audio", s.key.Stream, s.acfg.Codec, want))
	}
	if s.alt != nil { // a third codec: never happens with AAC and Opus only
		return nil, Refuse(ReasonCodec, fmt.Sprintf("stream %s already converts its audio to %s", s.key.Stream, s.alt.codec))
	}
	inner, err := s.h.convert(s.acfg.Codec, s.acfg.Payload, want)
	if err != nil {
		return nil, Refuse(ReasonCodec, fmt.Sprintf("stream %s: converting %s audio to %s: %v", s.key.Stream, s.acfg.Codec, want, err))
	}
	conv := &serialConverter{conv: inner}
	cfg := &Frame{Kind: Audio, Codec: want, Config: true, DTS: max(s.lastDTS, 0), Payload: conv.Config()}
	s.alt = &rendition{codec: want, conv: conv, cfg: cfg}
	s.primeRenditionLocked()
	s.log.Info("media: audio conversion started", "from", s.acfg.Codec, "to", want)
	return cfg, nil
}

// primeRenditionLocked converts the audio of the cached GOP, so that a
// player starting at the cached keyframe gets audio from there too, not
// only from the next published frame (up to a GOP later than its video).
// Called with s.mu held, before anyone else can use the new converter.
func (s *Stream) primeRenditionLocked() {
	if !s.gopValid {
		return
	}
	out := make([]*Frame, 0, len(s.gop)+len(s.gop)/2)
	for _, f := range s.gop {
		out = append(out, f)
		if f.Kind != Audio || f.Codec != s.acfg.Codec {
			continue
		}
		conv, err := s.alt.conv.Convert(f)
		if err != nil {
			continue // the live path logs conversion failures
		}
		for _, g := range conv {
			g.Kind, g.Codec, g.Config = Audio, s.alt.codec, false
			out = append(out, g)
			s.gopBytes += len(g.Payload)
		}
	}
	s.gop = out
}

// releaseAudioLocked is called when a reader of the converted rendition
// leaves: the last one stops the converter.
func (s *Stream) releaseAudioLocked(want Codec) {
	if s.alt == nil || s.alt.codec != want {
		return
	}
	s.alt.readers--
	if s.alt.readers > 0 {
		return
	}
	s.stopRenditionLocked("no player needs it")
}

func (s *Stream) stopRenditionLocked(why string) {
	if s.alt == nil {
		return
	}
	s.alt.conv.Close()
	s.log.Info("media: audio conversion stopped", "to", s.alt.codec, "why", why)
	s.alt = nil
}

// converterFor returns the converter that must see the published audio
// frame f, or nil. Called with s.mu held, after f was written.
func (s *Stream) converterFor(f *Frame) AudioConverter {
	if s.alt == nil || f.Kind != Audio || f.Config || s.acfg == nil || f.Codec != s.acfg.Codec {
		return nil
	}
	return s.alt.conv
}

// restartRenditionLocked follows a change of the published audio config:
// the converter is rebuilt for it, and its readers get the new output
// config. Called with s.mu held.
func (s *Stream) restartRenditionLocked() {
	if s.alt == nil {
		return
	}
	want, readers := s.alt.codec, s.alt.readers
	s.stopRenditionLocked("the published audio config changed")
	cfg, err := s.audioConfigForLocked(want)
	if err != nil {
		s.log.Warn("media: audio conversion cannot restart; its players get no audio", "err", err)
		return
	}
	s.alt.readers = readers
	s.fanOutLocked(cfg)
}

// writeConverted delivers what conv made of a published frame. Frames of a
// converter that was stopped meanwhile are dropped.
func (s *Stream) writeConverted(conv AudioConverter, out []*Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.alt == nil || s.alt.conv != conv {
		return
	}
	for _, f := range out {
		f.Kind, f.Codec, f.Config = Audio, s.alt.codec, false
		if f.DTS > s.lastDTS {
			s.lastDTS = f.DTS
		}
		s.cacheLocked(f)
		s.fanOutLocked(f)
	}
}

// fanOutLocked queues f to every reader that takes it and wakes them (or
// holds it, see coalesce.go).
func (s *Stream) fanOutLocked(f *Frame) {
	for _, r := range s.readers {
		if f.Kind == Audio && !s.wantsAudio(r.audio, f) {
			continue
		}
		r.push(f, &s.h.lim)
	}
	s.wakeLocked(f)
}

// convert runs the stream's converter on a published audio frame, outside
// the stream lock (it takes ~0.1 ms).
func (p *Publisher) convert(conv AudioConverter, f *Frame) {
	out, err := conv.Convert(f)
	if err != nil {
		s := p.s
		s.mu.Lock()
		first := s.alt != nil && s.alt.conv == conv && !s.alt.failed
		if first {
			s.alt.failed = true
		}
		s.mu.Unlock()
		if first {
			s.log.Warn("media: audio conversion failed on a frame; dropping such frames", "err", err, "dts", f.DTS)
		}
		return
	}
	if len(out) > 0 {
		p.s.writeConverted(conv, out)
	}
}

// keyframeRequestInterval spaces keyframe requests to a publisher: an
// encoder asked too often makes only keyframes.
const keyframeRequestInterval = 500 * time.Millisecond

// RequestKeyframe asks the stream's publisher for a keyframe, if it can
// make one on demand (WebRTC: a PLI). At most one request per
// keyframeRequestInterval reaches it.
func (s *Stream) RequestKeyframe() {
	s.mu.Lock()
	p := s.pub
	now := s.h.now()
	if p == nil || p.onKeyframe == nil || now.Sub(s.keyframeAskedAt) < keyframeRequestInterval {
		s.mu.Unlock()
		return
	}
	s.keyframeAskedAt = now
	ask := p.onKeyframe
	s.mu.Unlock()
	ask()
}
