package transcode

import (
	"errors"
	"fmt"
	"math"

	"github.com/asticode/go-astiav"
)

// inputPadding is FFmpeg's AV_INPUT_BUFFER_PADDING_SIZE: decoders read up to
// this many bytes past the end of a packet (bit readers work in words), so
// the bytes must exist and be zero. go-astiav v0.16.0's Packet.FromData does
// not add them, so we pass a padded copy and shrink the size after.
const inputPadding = 64

var zeroPadding [inputPadding]byte

// pipeline is decoder -> filter graph -> encoder, the machinery both
// directions share. It owns every FFmpeg object it allocates and frees them
// all in close.
type pipeline struct {
	what string // "AAC" or "Opus": the input codec, for error messages

	dec, enc       *astiav.CodecContext
	decPkt, encPkt *astiav.Packet
	decFrame, out  *astiav.Frame
	g              *graph // built from the first decoded frame
	outFmt         outFormat
	scratch        []byte // the input frame plus zero padding

	// openDec opens a decoder for the stream. restart says to retry a
	// refused frame on a fresh one (see write), with a budget of restarts
	// that refills by one every restartEvery frames.
	openDec          func() (*astiav.CodecContext, error)
	restart          bool
	restarts, frames int
	restarted        int // restarts so far, for tests

	tl timeline
	// next is the position (48 kHz samples) of the next frame the encoder
	// gets; packets come back with it in their pts, minus the encoder's
	// padding, which we learn from the first packet.
	next     int64
	first    int64
	pad      int64
	padKnown bool
	sent     bool
}

// newPipeline takes over enc (it frees it on failure too) and opens the
// decoder with openDec, which it calls again to restart a decoder that a
// bad frame has misconfigured.
func newPipeline(what string, openDec func() (*astiav.CodecContext, error), enc *astiav.CodecContext, out outFormat) (*pipeline, error) {
	p := &pipeline{what: what, enc: enc, openDec: openDec, outFmt: out,
		decPkt: astiav.AllocPacket(), encPkt: astiav.AllocPacket(),
		decFrame: astiav.AllocFrame(), out: astiav.AllocFrame()}
	if p.decPkt == nil || p.encPkt == nil || p.decFrame == nil || p.out == nil {
		p.close()
		return nil, errors.New("transcode: allocating FFmpeg packets/frames failed")
	}
	p.restarts = restartBurst
	var err error
	if p.dec, err = openDec(); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// write decodes one input frame with PTS ptsMs and returns the packets the
// encoder completed. On error the frame is dropped; packets completed before
// the error are still returned.
func (p *pipeline) write(data []byte, ptsMs int64) ([]Packet, error) {
	switch {
	case p.dec == nil:
		return nil, ErrClosed
	case len(data) == 0:
		// An empty packet would tell FFmpeg's decoder "end of stream", after
		// which it refuses everything.
		return nil, fmt.Errorf("%w: empty %s frame", ErrBadFrame, p.what)
	case len(data) > maxFrameBytes:
		return nil, fmt.Errorf("%w: %s frame of %d bytes, limit %d", ErrBadFrame, p.what, len(data), maxFrameBytes)
	}
	p.scratch = append(append(p.scratch[:0], data...), zeroPadding[:]...)
	p.refillRestarts()
	out, used, err := p.decode(len(data), ptsMs)
	if err == nil || used || !p.restart || !errors.Is(err, ErrBadFrame) || !p.takeRestart() {
		return out, err
	}
	// The decoder refused the frame, or decoded it to a format we cannot
	// take. Either the frame is broken, or an earlier broken frame that
	// decoded "fine" left the decoder misconfigured: a program config
	// element in it makes FFmpeg's AAC decoder expect 5.1, or nothing, from
	// then on, and refuse every good frame after. Start the decoder afresh
	// from the stream's config and give it the frame once more. If the
	// fresh decoder refuses it too, the frame is broken, and decoding it may
	// have misconfigured the fresh decoder in turn (a bogus SBR header
	// does), so restart once more to leave a clean decoder for the next
	// frame. A restart costs one frame of overlap: a click at worst. Opus
	// has no such state (every packet says what it is), so its decoder is
	// never restarted.
	if rerr := p.restartDecoder(); rerr != nil {
		return out, errors.Join(err, rerr)
	}
	out, used, err = p.decode(len(data), ptsMs)
	if err != nil && !used && p.takeRestart() {
		err = errors.Join(err, p.restartDecoder())
	}
	return out, err
}

// Opening an AAC decoder takes about half a millisecond, so restarts come
// from a budget: restartBurst at once (enough for a few broken frames in a
// row), then one per restartEvery frames, so that a publisher sending
// nothing but garbage costs a fraction of a percent of a core, not 5%.
const (
	restartBurst = 4
	restartEvery = 8
)

func (p *pipeline) refillRestarts() {
	if p.restarts >= restartBurst {
		return
	}
	if p.frames++; p.frames >= restartEvery {
		p.frames, p.restarts = 0, p.restarts+1
	}
}

func (p *pipeline) takeRestart() bool {
	if p.restarts == 0 {
		return false
	}
	p.restarts--
	return true
}

// decode decodes the n-byte frame in p.scratch and returns what the encoder
// completed. used says whether decoded audio went on into the pipeline.
func (p *pipeline) decode(n int, ptsMs int64) (out []Packet, used bool, err error) {
	if err := p.decPkt.FromData(p.scratch); err != nil {
		return nil, false, fmt.Errorf("transcode: copying %s frame: %w", p.what, err)
	}
	p.decPkt.SetSize(n)
	err = p.dec.SendPacket(p.decPkt)
	p.decPkt.Unref()
	if err != nil {
		return nil, false, fmt.Errorf("%w: decoding %s frame of %d bytes: %s", ErrBadFrame, p.what, n, describe(err))
	}
	for {
		err := p.dec.ReceiveFrame(p.decFrame)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return out, used, nil
		}
		if err != nil {
			return out, used, fmt.Errorf("%w: decoding %s frame of %d bytes: %s", ErrBadFrame, p.what, n, describe(err))
		}
		var fed bool
		out, fed, err = p.filter(out, ptsMs, !used)
		used = used || fed
		if err != nil {
			return out, used, err
		}
	}
}

// filter feeds the decoded frame in p.decFrame to the graph and encodes
// what comes out. timed says ptsMs belongs to this frame's first sample.
// It reports whether the frame went in.
func (p *pipeline) filter(out []Packet, ptsMs int64, timed bool) ([]Packet, bool, error) {
	defer p.decFrame.Unref()
	n, rate := p.decFrame.NbSamples(), p.decFrame.SampleRate()
	if n <= 0 || rate <= 0 {
		return out, false, nil
	}
	if p.g == nil || !p.g.fits(p.decFrame) {
		// First frame, or the decoder changed format mid-stream (implicit
		// SBR doubles the rate, a PCE changes channels). A new graph
		// drops the few samples the old one held; the encoder timeline
		// jumps to where the input is so the loss does not shift A/V sync.
		g, err := newGraph(p.decFrame, p.outFmt)
		if err != nil {
			return out, false, err
		}
		p.g.free()
		p.g = g
		p.next = max(p.next, int64(math.Round(p.tl.pos)))
	}
	samples48 := float64(n) * OutputRate / float64(rate)
	if timed {
		p.tl.input(ptsMs, samples48)
	} else {
		p.tl.continued(samples48)
	}
	p.decFrame.SetPts(p.g.samples)
	p.g.samples += int64(n)
	// Without the keep-ref flag the source takes over the frame's buffers.
	if err := p.g.src.BuffersrcAddFrame(p.decFrame, 0); err != nil {
		return out, true, fmt.Errorf("transcode: feeding filter graph: %w", err)
	}
	for {
		err := p.g.sink.BuffersinkGetFrame(p.out, 0)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return out, true, nil
		}
		if err != nil {
			return out, true, fmt.Errorf("transcode: reading filter graph: %w", err)
		}
		if out, err = p.encode(out); err != nil {
			return out, true, err
		}
	}
}

// encode sends the frame in p.out to the encoder and collects its packets.
func (p *pipeline) encode(out []Packet) ([]Packet, error) {
	defer p.out.Unref()
	p.out.SetPts(p.next)
	if !p.sent {
		p.first, p.sent = p.next, true
	}
	p.next += int64(p.out.NbSamples())
	if err := p.enc.SendFrame(p.out); err != nil {
		return out, fmt.Errorf("transcode: encoding: %w", err)
	}
	for {
		err := p.enc.ReceivePacket(p.encPkt)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("transcode: encoding: %w", err)
		}
		// Encoders stamp a packet with the time of its first *decoded*
		// sample, which is earlier than the input sample it starts with by
		// the encoder's priming (Opus pre-skip, AAC's 1024 samples). We
		// stamp it with its input sample instead: audio then plays that
		// much late, never before its video, and PTS never precede the
		// input's. go-astiav does not expose initial_padding, so it is
		// learned as first frame pts minus first packet pts.
		if !p.padKnown {
			p.pad, p.padKnown = p.first-p.encPkt.Pts(), true
		}
		samples := int(p.encPkt.Duration())
		if samples <= 0 {
			samples = p.outFmt.frameSize
		}
		out = append(out, Packet{
			Data:    p.encPkt.Data(), // a Go copy
			PTSMs:   p.tl.stamp(float64(p.encPkt.Pts() + p.pad)),
			Samples: samples,
		})
		p.encPkt.Unref()
	}
}

// restartDecoder replaces the decoder with a fresh one. The dropped state
// is one frame of overlap, a click at worst.
func (p *pipeline) restartDecoder() error {
	dec, err := p.openDec()
	if err != nil {
		return fmt.Errorf("transcode: restarting %s decoder: %w", p.what, err)
	}
	p.dec.Free()
	p.dec = dec
	p.restarted++
	return nil
}

// close frees everything; it is safe to call more than once.
func (p *pipeline) close() {
	p.scratch = nil
	p.g.free()
	p.g = nil
	for _, cc := range []**astiav.CodecContext{&p.dec, &p.enc} {
		if *cc != nil {
			(*cc).Free()
			*cc = nil
		}
	}
	for _, pk := range []**astiav.Packet{&p.decPkt, &p.encPkt} {
		if *pk != nil {
			(*pk).Free()
			*pk = nil
		}
	}
	for _, f := range []**astiav.Frame{&p.decFrame, &p.out} {
		if *f != nil {
			(*f).Free()
			*f = nil
		}
	}
}

// describe is FFmpeg's text for err. go-astiav's Error.Error returns "" for
// codes av_strerror does not know, which the AAC decoder does return.
func describe(err error) string {
	var e astiav.Error
	if errors.As(err, &e) {
		if s := e.Error(); s != "" {
			return s
		}
		return fmt.Sprintf("FFmpeg error %d", int(e))
	}
	return err.Error()
}
