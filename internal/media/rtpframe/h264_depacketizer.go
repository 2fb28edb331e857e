package rtpframe

import (
	"errors"
	"fmt"

	"github.com/pion/rtp"

	"github.com/minirtc/minirtc/internal/media"
)

// H264Depacketizer turns the RTP packets of one H.264 track (RFC 6184,
// packetization-mode 1) into hub frames: AVCC access units, with SPS and
// PPS moved into configuration frames.
//
// An access unit ends at the marker bit, or when a packet with another
// timestamp arrives. One that lost a packet, or whose packets break the
// format, is dropped, and so is every frame after it until the next intact
// IDR, because they refer to the lost picture; meanwhile NeedKeyframe is
// true, so the caller can send a PLI. The track starts in that state: its
// first frame is an IDR. Not safe for concurrent use.
type H264Depacketizer struct {
	reorder  reorder
	released []released // scratch
	au       accessUnit
	timeline timeline

	needKey bool
	gap     bool // packets were lost before a padding packet: the gap carries over

	sps, pps      [][]byte // current parameter sets
	config        []byte   // AVCDecoderConfigurationRecord built from them
	configPending bool     // config changed since the last keyframe delivered
	info          media.VideoInfo
	haveInfo      bool
}

// NewH264Depacketizer returns a depacketizer waiting for its first IDR.
func NewH264Depacketizer() *H264Depacketizer {
	return &H264Depacketizer{
		reorder:  newReorder(VideoClockRate),
		timeline: timeline{clockRate: VideoClockRate},
		needKey:  true,
	}
}

// NeedKeyframe reports whether frames are being dropped until the next IDR.
func (d *H264Depacketizer) NeedKeyframe() bool { return d.needKey }

// Info returns the picture size and declared frame rate read from the
// current SPS, once one has arrived and parsed.
func (d *H264Depacketizer) Info() (media.VideoInfo, bool) { return d.info, d.haveInfo }

// BaseTimestamp returns the RTP timestamp of DTS 0, once a frame has been
// delivered: with an RTCP sender report it places the track on wall-clock
// time.
func (d *H264Depacketizer) BaseTimestamp() (uint32, bool) {
	return d.timeline.base0, d.timeline.based
}

// SetConfig sets the parameter sets from an AVCDecoderConfigurationRecord,
// for a sender that gives them out of band (sprop-parameter-sets in SDP).
// A configuration frame goes out before the next keyframe.
func (d *H264Depacketizer) SetConfig(avcc []byte) error {
	c, err := ParseAVCConfig(avcc)
	if err != nil {
		return err
	}
	return d.setParameterSets(cloneAll(c.SPS), cloneAll(c.PPS))
}

// Push takes one RTP packet and returns the frames it completes, in order
// (a configuration frame comes just before the keyframe it applies to).
// p is not retained. Loss is not an error; a non-nil error reports a
// malformed or oversized access unit, which was dropped. The depacketizer
// stays usable after an error, and frames returned with one are valid.
func (d *H264Depacketizer) Push(p *rtp.Packet) ([]*media.Frame, error) {
	if p == nil {
		return nil, errors.New("nil RTP packet")
	}
	d.released = d.reorder.push(p, d.released[:0])
	var (
		frames []*media.Frame
		errs   []error
	)
	for _, r := range d.released {
		var err error
		frames, err = d.process(r.p, r.lost, frames)
		if err != nil {
			errs = append(errs, err)
		}
	}
	clear(d.released)
	return frames, errors.Join(errs...)
}

// process handles one packet in sequence order; lost says packets went
// missing just before it.
func (d *H264Depacketizer) process(p *rtp.Packet, lost bool, frames []*media.Frame) ([]*media.Frame, error) {
	var errEnd, errAdd error // at most one from the unit before, one from this packet
	lost, d.gap = lost || d.gap, false
	if lost {
		// Whatever was lost, a picture later ones refer to may be in it.
		d.needKey = true
	}
	if d.au.active && p.Timestamp != d.au.ts {
		// The previous unit ended without its marker. If packets are
		// missing in between, they may have been its last ones.
		if lost {
			d.au.broken = true
		}
		frames, errEnd = d.finish(frames)
	}
	if len(p.Payload) == 0 { // padding only (bandwidth probing)
		if lost && d.au.active {
			d.au.broken = true
		}
		d.gap = lost && !d.au.active
		return frames, errEnd
	}
	switch {
	case !d.au.active:
		d.au.reset(p.Timestamp)
		// After a gap, only a packet that visibly starts an access unit
		// proves that none of this one was lost.
		d.au.broken = lost && !startsAccessUnit(p.Payload)
	case lost:
		d.au.broken = true
	}
	errAdd = d.au.add(p.Payload)
	if p.Marker {
		var err error
		frames, err = d.finish(frames)
		errAdd = errors.Join(errAdd, err)
	}
	if errEnd != nil {
		return frames, errors.Join(errEnd, errAdd)
	}
	return frames, errAdd
}

// finish closes the access unit and delivers it if it is whole and
// decodable.
func (d *H264Depacketizer) finish(frames []*media.Frame) ([]*media.Frame, error) {
	au := &d.au
	au.active = false
	defer au.release()
	ext := d.timeline.advance(au.ts)
	var err error
	if au.fu >= 0 && !au.broken {
		err = fmt.Errorf("%w: FU-A without its end fragment", ErrMalformed)
		au.broken = true
	}
	if au.broken {
		d.needKey = true
		return frames, err
	}
	if len(au.sps) > 0 || len(au.pps) > 0 {
		sps, pps := au.sps, au.pps
		if len(sps) == 0 {
			sps = d.sps
		}
		if len(pps) == 0 {
			pps = d.pps
		}
		if err := d.setParameterSets(sps, pps); err != nil {
			d.needKey = true
			return frames, err
		}
	}
	switch {
	case au.nalus == 0: // parameter sets only
		return frames, nil
	case !au.idr && d.needKey:
		return frames, nil
	case au.idr && d.config == nil:
		d.needKey = true // undecodable without parameter sets
		return frames, nil
	}
	dts := d.timeline.dts(ext)
	if au.idr {
		d.needKey = false
		if d.configPending {
			d.configPending = false
			frames = append(frames, &media.Frame{Kind: media.Video, Codec: media.H264, Config: true, DTS: dts, Payload: d.config})
		}
	}
	payload := make([]byte, len(au.buf))
	copy(payload, au.buf)
	return append(frames, &media.Frame{Kind: media.Video, Codec: media.H264, Key: au.idr, DTS: dts, Payload: payload}), nil
}

// setParameterSets makes sps and pps current, building a new configuration
// record if they changed.
func (d *H264Depacketizer) setParameterSets(sps, pps [][]byte) error {
	if d.config != nil && equalParameterSets(sps, d.sps) && equalParameterSets(pps, d.pps) {
		return nil
	}
	if len(sps) == 0 || len(pps) == 0 {
		// Half a configuration: wait for the other half.
		d.sps, d.pps = sps, pps
		return nil
	}
	record, err := AVCConfig{SPS: sps, PPS: pps}.Marshal()
	if err != nil {
		return err
	}
	d.sps, d.pps, d.config, d.configPending = sps, pps, record, true
	d.info, err = media.ParseVideoConfig(media.H264, record)
	d.haveInfo = err == nil
	return nil
}
