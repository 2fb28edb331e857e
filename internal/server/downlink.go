package server

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/media/webrtc"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// downlink is a session's subscribing peer connection. The server is
// always the offerer on it, so offers never cross: while an offer waits
// for its answer, further changes only mark the downlink dirty, and the
// answer triggers the next offer.
type downlink struct {
	g    *webrtcGlue
	s    *rtcSession
	peer *webrtc.Peer

	mu       sync.Mutex
	egress   map[ids.StreamID]*webrtc.Egress
	offerID  int64
	awaiting bool // an offer was sent and not answered yet
	dirty    bool // the tracks changed since the last offer
	closed   bool
}

func newDownlink(g *webrtcGlue, s *rtcSession, peer *webrtc.Peer) *downlink {
	d := &downlink{g: g, s: s, peer: peer, egress: map[ids.StreamID]*webrtc.Egress{}}
	peer.OnKeyframeRequest(d.keyframeRequested)
	return d
}

// add starts an egress per new stream, then offers.
func (d *downlink) add(ctx context.Context, streams []ids.StreamID) error {
	p := d.s.party
	var started []*webrtc.Egress
	for _, sid := range streams {
		d.mu.Lock()
		_, have := d.egress[sid]
		d.mu.Unlock()
		if have {
			continue
		}
		t, err := d.g.target(ctx, auth.MediaGrant{Action: auth.ActionPlay, App: p.App, Room: p.Room, Stream: sid, User: p.User, Expires: d.g.media.now().Add(d.g.media.ttl.play)})
		if err == nil {
			var e *webrtc.Egress
			e, err = webrtc.StartEgress(ctx, d.g.hub, d.peer, t, string(sid), d.g.log.With("session", p.Session, "stream", sid))
			if err == nil {
				started = append(started, e)
				d.mu.Lock()
				d.egress[sid] = e
				d.mu.Unlock()
				go d.watch(sid, e)
				continue
			}
		}
		// All or nothing, like subscribe itself.
		for i, e := range started {
			d.mu.Lock()
			delete(d.egress, streams[i])
			d.mu.Unlock()
			e.Close()
		}
		return refusalError(err)
	}
	d.negotiate()
	return nil
}

// watch drops a stream's egress when it ends (unpublished, unsubscribed,
// viewer gone) and renegotiates.
func (d *downlink) watch(sid ids.StreamID, e *webrtc.Egress) {
	<-e.Done()
	d.mu.Lock()
	if d.egress[sid] == e {
		delete(d.egress, sid)
	}
	closed := d.closed
	d.mu.Unlock()
	if !closed {
		d.negotiate()
	}
}

func (d *downlink) remove(streams []ids.StreamID) {
	for _, sid := range streams {
		d.mu.Lock()
		e := d.egress[sid]
		d.mu.Unlock()
		if e != nil {
			e.Close() // watch renegotiates
		}
	}
}

// negotiate sends an offer now, or after the answer to the one in flight.
func (d *downlink) negotiate() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	if d.awaiting {
		d.dirty = true
		d.mu.Unlock()
		return
	}
	d.awaiting, d.dirty = true, false
	d.offerID++
	id := d.offerID
	streams := make([]ids.StreamID, 0, len(d.egress))
	for sid := range d.egress {
		streams = append(streams, sid)
	}
	d.mu.Unlock()
	slices.Sort(streams)

	sdp, err := d.peer.Offer()
	if err != nil {
		if !errors.Is(err, webrtc.ErrPeerClosed) {
			d.g.log.Warn("webrtc: downlink offer failed; closing it", "session", d.s.party.Session, "err", err)
		}
		_ = d.peer.Close()
		return
	}
	d.s.party.Send(protocol.EvWebRTCOffer, &protocol.WebRTCOfferEvent{OfferID: id, SDP: sdp, Streams: streams})
}

func (d *downlink) answer(offerID int64, sdp string) error {
	d.mu.Lock()
	if !d.awaiting || offerID != d.offerID {
		cur := d.offerID
		d.mu.Unlock()
		return protocol.Errorf(protocol.CodeNegotiation, "offer %d is not the one waiting for an answer (%d is)", offerID, cur)
	}
	d.mu.Unlock()
	if err := d.peer.SetAnswer(sdp); err != nil {
		return protocol.Errorf(protocol.CodeNegotiation, "answer: %v", err)
	}
	d.mu.Lock()
	d.awaiting = false
	again := d.dirty
	d.mu.Unlock()
	if again {
		d.negotiate()
	}
	return nil
}

func (d *downlink) keyframeRequested(trackID string) {
	d.mu.Lock()
	var target *webrtc.Egress
	for _, e := range d.egress {
		if e.VideoTrackID() == trackID {
			target = e
		}
	}
	d.mu.Unlock()
	if target != nil {
		target.RequestKeyframe()
	}
}

// closeAll ends every egress once the peer is gone.
func (d *downlink) closeAll() {
	d.mu.Lock()
	d.closed = true
	all := make([]*webrtc.Egress, 0, len(d.egress))
	for _, e := range d.egress {
		all = append(all, e)
	}
	d.mu.Unlock()
	for _, e := range all {
		e.Close()
	}
}
