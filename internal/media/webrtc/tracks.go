package webrtc

import (
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// keyframeMinInterval: a subscriber's repeated PLI/FIR within this time is
// reported once (a lossy client can send dozens per second, and each one
// would cost a keyframe from the publisher).
const keyframeMinInterval = 500 * time.Millisecond

// OnTrack sets the handler for media the client sends. It runs on its own
// goroutine per track and should read the track (TrackRemote.ReadRTP) until
// it returns an error, which it does once the peer closes; Done waits for
// it. Without a handler the peer reads and drops the packets itself, so
// that RTCP feedback keeps working.
func (p *Peer) OnTrack(f func(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver)) {
	p.mu.Lock()
	p.onTrack = f
	p.mu.Unlock()
}

// pionTrack runs on a goroutine pion starts per incoming track.
func (p *Peer) pionTrack(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	if !p.tasks.enter() {
		return
	}
	defer p.tasks.leave()
	p.log.Info("track received", "kind", t.Kind().String(), "codec", t.Codec().MimeType,
		"pt", t.PayloadType(), "ssrc", uint32(t.SSRC()), "track", t.ID(), "stream", t.StreamID(), "rid", t.RID())

	// The receiver's RTCP (sender reports) must be read for the interceptors
	// to see it: receiver reports quote the last sender report.
	p.mu.Lock()
	first := !p.receivers[r]
	p.receivers[r] = true
	f := p.onTrack
	p.mu.Unlock()
	if first {
		p.tasks.goTask(func() { p.readReceiverRTCP(r) })
	}
	if f == nil {
		buf := make([]byte, 1500)
		for {
			if _, _, err := t.Read(buf); err != nil {
				return
			}
		}
	}
	f(t, r)
}

// AddTrack adds a track the server sends to the client (a subscription) and
// returns it for writing RTP. The client learns of it through the next
// offer: OnNegotiationNeeded fires, and the signalling layer calls Offer.
// Codec is one of OpusCodec, H264Codec, VP8Codec; id and streamID become
// the track and stream (MediaStream) ids the client sees.
func (p *Peer) AddTrack(codec webrtc.RTPCodecCapability, id, streamID string) (*LocalTrack, error) {
	if err := p.closedErr(); err != nil {
		return nil, err
	}
	static, err := webrtc.NewTrackLocalStaticRTP(codec, id, streamID)
	if err != nil {
		return nil, fmt.Errorf("webrtc: new track: %w", err)
	}
	track := &LocalTrack{TrackLocalStaticRTP: static, bound: make(chan struct{})}
	sender, err := p.pc.AddTrack(track)
	if err != nil {
		return nil, fmt.Errorf("webrtc: add track %s: %w", id, err)
	}
	p.mu.Lock()
	p.senders[track] = sender
	p.mu.Unlock()
	// Reading the sender's RTCP is what feeds NACKs to the NACK responder;
	// PLI/FIR are passed on as keyframe requests.
	p.tasks.goTask(func() { p.readSenderRTCP(track, sender) })
	p.log.Debug("track added", "track", id, "stream", streamID, "codec", codec.MimeType)
	return track, nil
}

// LocalTrack is a track the server sends. RTP written before the client
// has negotiated it is dropped, so writers wait for Bound.
type LocalTrack struct {
	*webrtc.TrackLocalStaticRTP
	once   sync.Once
	bound  chan struct{}
	budget videoBudget // the subscriber's bandwidth estimate for this track (congestion.go)
}

// Bind is called by pion when the track starts sending on the connection
// (negotiated, and DTLS up).
func (t *LocalTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	params, err := t.TrackLocalStaticRTP.Bind(ctx)
	if err == nil {
		t.once.Do(func() { close(t.bound) })
	}
	return params, err
}

// Bound is closed once the client receives what is written to the track.
func (t *LocalTrack) Bound() <-chan struct{} { return t.bound }

// RemoveTrack stops sending track; the client learns of it through the next
// offer (OnNegotiationNeeded).
func (p *Peer) RemoveTrack(track *LocalTrack) error {
	if err := p.closedErr(); err != nil {
		return err
	}
	p.mu.Lock()
	sender, ok := p.senders[track]
	delete(p.senders, track)
	p.mu.Unlock()
	if !ok {
		return ErrUnknownTrack
	}
	if err := p.pc.RemoveTrack(sender); err != nil {
		return fmt.Errorf("webrtc: remove track %s: %w", track.ID(), err)
	}
	return nil
}

// SendPLI asks the client to send a keyframe on the track with this SSRC
// (TrackRemote.SSRC), e.g. when a new subscriber joins.
func (p *Peer) SendPLI(ssrc uint32) error {
	if err := p.closedErr(); err != nil {
		return err
	}
	return p.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
}

// OnKeyframeRequest sets the callback for a client's PLI or FIR on a track
// from AddTrack (at most one per track every 500 ms). The hub should then
// ask the publisher for a keyframe.
func (p *Peer) OnKeyframeRequest(f func(trackID string)) {
	p.mu.Lock()
	p.onKeyframe = f
	p.mu.Unlock()
}

func (p *Peer) readSenderRTCP(track *LocalTrack, s *webrtc.RTPSender) {
	var last time.Time
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			case *rtcp.ReceiverEstimatedMaximumBitrate:
				// One estimate for all the streams it names: an even share each.
				if n := len(pkt.SSRCs); n > 0 && pkt.Bitrate > 0 {
					track.budget.setEstimate(float64(pkt.Bitrate)/float64(n), time.Now())
				}
				continue
			default:
				continue
			}
			if now := time.Now(); now.Sub(last) >= keyframeMinInterval {
				last = now
				id := track.ID()
				p.ev.push(func() {
					p.mu.Lock()
					f := p.onKeyframe
					p.mu.Unlock()
					if f != nil {
						f(id)
					}
				})
			}
		}
	}
}

// OnSenderReport sets the callback for the RTCP sender reports of the
// client's tracks: each maps an RTP timestamp of the track with this SSRC
// to the sender's wall clock (64-bit NTP format), which lines tracks up by
// capture time. It runs on the receiver's RTCP goroutine and must not block.
func (p *Peer) OnSenderReport(f func(ssrc uint32, ntp uint64, rtpTime uint32)) {
	p.mu.Lock()
	p.onSenderReport = f
	p.mu.Unlock()
}

// readReceiverRTCP reads a receiver's RTCP until it stops (the interceptors
// see it on the way: receiver reports quote the last sender report) and
// passes sender reports on.
func (p *Peer) readReceiverRTCP(r *webrtc.RTPReceiver) {
	for {
		pkts, _, err := r.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			sr, ok := pkt.(*rtcp.SenderReport)
			if !ok {
				continue
			}
			p.mu.Lock()
			f := p.onSenderReport
			p.mu.Unlock()
			if f != nil {
				f(sr.SSRC, sr.NTPTime, sr.RTPTime)
			}
		}
	}
}
