package webrtc

import (
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
)

// Negotiation. The client usually offers (to publish, or to start a session
// with recvonly transceivers) and the server answers. The server offers
// only to change what it sends (AddTrack/RemoveTrack), and only from the
// stable signaling state, so its offers never overlap each other.
//
// Glare (the client's offer crossing a server offer): pion v4 cannot roll a
// description back, so the server is the "impolite" peer of perfect
// negotiation. Answer refuses the crossing offer with ErrGlare and keeps its
// own; the client (a browser can roll back) rolls back, answers the server's
// offer, then offers again.
//
// Errors found before pion sees a description (size, parse, no media, no
// supported codec, glare) leave the peer as it was. An error after pion
// applied part of it cannot be undone (no rollback), so the peer is closed
// with that error rather than left half-negotiated.

// Answer applies the client's offer and returns the server's answer. The
// answer carries all the server's candidates (they come from the shared
// sockets, so they are known at once): the client need not wait for
// trickled ones. Errors: ErrSDPTooLarge, ErrTooManyMediaSections, ErrBadSDP,
// ErrNoMedia, ErrNoSupportedCodecs, ErrGlare.
func (p *Peer) Answer(offer string) (string, error) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.closedErr(); err != nil {
		return "", err
	}
	if err := checkSDP(offer, true); err != nil {
		return "", err
	}
	if s := p.pc.SignalingState(); s != webrtc.SignalingStateStable {
		return "", fmt.Errorf("%w (signaling %s)", ErrGlare, s)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", p.failed(webrtc.SignalingStateStable, fmt.Errorf("%w: %w", ErrBadSDP, err))
	}
	if err := preferCodecs(p.pc); err != nil {
		return "", p.failed(webrtc.SignalingStateStable, fmt.Errorf("webrtc: %w", err))
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", p.failed(webrtc.SignalingStateStable, fmt.Errorf("%w: create answer: %w", ErrBadSDP, err))
	}
	if acceptedMedia(answer.SDP) == 0 {
		return "", p.failed(webrtc.SignalingStateStable, ErrNoSupportedCodecs)
	}
	if err := p.setLocal(answer); err != nil {
		return "", p.failed(webrtc.SignalingStateStable, err)
	}
	return p.pc.LocalDescription().SDP, nil
}

// Offer creates a server offer (renegotiation after AddTrack/RemoveTrack,
// usually from OnNegotiationNeeded); send it to the client and pass its
// answer to SetAnswer. It returns ErrNotStable while an offer is
// outstanding; the change is then offered later (OnNegotiationNeeded fires
// again once stable).
func (p *Peer) Offer() (string, error) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.closedErr(); err != nil {
		return "", err
	}
	if s := p.pc.SignalingState(); s != webrtc.SignalingStateStable {
		return "", fmt.Errorf("%w (signaling %s)", ErrNotStable, s)
	}
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return "", fmt.Errorf("webrtc: create offer: %w", err)
	}
	if err := p.setLocal(offer); err != nil {
		return "", p.failed(webrtc.SignalingStateStable, err)
	}
	return p.pc.LocalDescription().SDP, nil
}

// SetAnswer applies the client's answer to the server's last Offer. After
// an error found before pion applied the answer, the offer is still
// outstanding and a corrected answer may follow.
func (p *Peer) SetAnswer(answer string) error {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.closedErr(); err != nil {
		return err
	}
	if s := p.pc.SignalingState(); s != webrtc.SignalingStateHaveLocalOffer {
		return fmt.Errorf("%w (signaling %s)", ErrNoPendingOffer, s)
	}
	if err := checkSDP(answer, false); err != nil {
		return err
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return p.failed(webrtc.SignalingStateHaveLocalOffer, fmt.Errorf("%w: %w", ErrBadSDP, err))
	}
	return nil
}

// failed returns err, first closing the peer with it when pion's signaling
// state moved away from before: the description was partly applied and
// cannot be rolled back.
func (p *Peer) failed(before webrtc.SignalingState, err error) error {
	if p.pc.SignalingState() != before {
		p.log.Info("negotiation failed; closing", "err", err)
		p.shutdown(err)
	}
	return err
}

// AddICECandidate adds a candidate the client trickled: the "candidate:..."
// string of its RTCIceCandidate (sdpMid and sdpMLineIndex are not needed:
// all media shares one transport). An empty string means end of candidates.
// Call it after Answer or SetAnswer.
func (p *Peer) AddICECandidate(candidate string) error {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.closedErr(); err != nil {
		return err
	}
	p.mu.Lock()
	if p.remoteCandidates >= MaxRemoteCandidates {
		p.mu.Unlock()
		return fmt.Errorf("%w (at most %d)", ErrTooManyCandidates, MaxRemoteCandidates)
	}
	p.remoteCandidates++
	p.mu.Unlock()
	if err := p.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: candidate}); err != nil {
		return fmt.Errorf("webrtc: add ice candidate: %w", err)
	}
	return nil
}

// OnLocalCandidate sets the callback for the server's own candidates as
// they are gathered ("candidate:..." strings; "" marks the end). Answer and
// Offer already include them, so a client that does not trickle can ignore
// it. A browser needs sdpMLineIndex 0 (or the first mid) with each.
func (p *Peer) OnLocalCandidate(f func(candidate string)) {
	p.mu.Lock()
	p.onCandidate = f
	p.mu.Unlock()
}

// OnNegotiationNeeded sets the callback for when the server has something
// new to offer (AddTrack, RemoveTrack). It fires only in the stable
// signaling state; the usual handler calls Offer and sends the result.
func (p *Peer) OnNegotiationNeeded(f func()) {
	p.mu.Lock()
	p.onNegotiation = f
	p.mu.Unlock()
}

// setLocal applies our description and waits for candidate gathering, so
// that the description returned includes the candidates.
func (p *Peer) setLocal(d webrtc.SessionDescription) error {
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(d); err != nil {
		return fmt.Errorf("webrtc: set local %s: %w", d.Type, err)
	}
	t := time.NewTimer(gatherTimeout)
	defer t.Stop()
	select {
	case <-gathered:
	case <-t.C:
		p.log.Warn("ice gathering incomplete; sending the candidates known so far", "after", gatherTimeout)
	case <-p.closing:
		return p.Err()
	}
	return nil
}

func (p *Peer) pionCandidate(c *webrtc.ICECandidate) {
	s := ""
	if c != nil {
		s = c.ToJSON().Candidate
	}
	p.ev.push(func() {
		p.mu.Lock()
		f := p.onCandidate
		p.mu.Unlock()
		if f != nil {
			f(s)
		}
	})
}

// pionNegotiationNeeded runs inside pion's operation queue; the user
// callback must not (it calls Offer), so it is queued.
func (p *Peer) pionNegotiationNeeded() {
	p.ev.push(func() {
		p.mu.Lock()
		f := p.onNegotiation
		p.mu.Unlock()
		if f != nil {
			f()
		}
	})
}
