package signal

import (
	"context"
	"encoding/json"
	"time"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// WebRTC runs the peer connections of sessions (the media plane, in a
// server). Without it, the webrtc transport answers 3013. Errors should be
// *protocol.Error; others are reported as internal errors.
type WebRTC interface {
	// Info is what clients learn at join: the ICE servers to use.
	Info() *protocol.WebRTCInfo
	// Publish answers the client's offer for a stream it has just
	// published (pending); media on it makes the stream live.
	Publish(ctx context.Context, p Party, stream ids.StreamID, media protocol.MediaType, offer string) (answer string, err error)
	// Subscribe adds streams to the session's downlink; a webrtc_offer
	// follows through p.Send.
	Subscribe(ctx context.Context, p Party, streams []ids.StreamID) error
	// Unsubscribe removes streams from the downlink (unknown ones are
	// ignored).
	Unsubscribe(p Party, streams []ids.StreamID)
	// Answer takes the client's answer to the downlink offer offerID.
	Answer(p Party, offerID int64, sdp string) error
	// Candidate takes a trickled ICE candidate of the client.
	Candidate(p Party, c protocol.WebRTCCandidateRequest) error
	// SessionEnded closes the session's peer connections.
	SessionEnded(session ids.SessionID)
}

// Party is the session a WebRTC call is about.
type Party struct {
	App     ids.AppID
	Room    ids.RoomID
	User    ids.UserID
	Session ids.SessionID
	// Send delivers an event to this session only; it is numbered and
	// replayed on resume like room events. It does not block.
	Send func(name string, data any)
}

func (s *session) party() Party {
	return Party{App: s.identity.App, Room: s.roomID, User: s.identity.User, Session: s.id, Send: s.send}
}

// send delivers an event of this session alone (WebRTC negotiation).
func (s *session) send(name string, data any) {
	s.Deliver(&room.Event{App: s.identity.App, Room: s.roomID, Name: name, Data: data, At: time.Now()})
}

func (h *Handler) webrtcOrRefuse() (WebRTC, error) {
	if h.webrtc == nil {
		return nil, protocol.Errorf(protocol.CodeNoWebRTC, "this server does not take WebRTC; use transport %q", protocol.TransportRTMP)
	}
	return h.webrtc, nil
}

// publishWebRTC is publish with transport "webrtc".
func publishWebRTC(ctx context.Context, s *session, req *protocol.PublishRequest) (any, error) {
	w, err := s.h.webrtcOrRefuse()
	if err != nil {
		return nil, err
	}
	if req.Offer == "" {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "offer (an SDP offer) is required with transport %q", protocol.TransportWebRTC)
	}
	if len(req.Offer) > maxSDPBytes {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "offer is %d bytes, the limit is %d", len(req.Offer), maxSDPBytes)
	}
	st, perr := s.member.Publish(req.Tag, req.Media)
	if perr != nil {
		return nil, perr
	}
	answer, err := w.Publish(ctx, s.party(), st.ID, st.Media, req.Offer)
	if err != nil {
		_ = s.member.Unpublish(st.Tag) // no peer connection, no stream
		return nil, err
	}
	return &protocol.PublishResponse{Stream: st, Answer: answer}, nil
}

// subscribeWebRTC is subscribe with transport "webrtc".
func subscribeWebRTC(ctx context.Context, s *session, req *protocol.SubscribeRequest) (any, error) {
	w, err := s.h.webrtcOrRefuse()
	if err != nil {
		return nil, err
	}
	before, err := s.member.Subscriptions()
	if err != nil {
		return nil, err
	}
	subs, serr := s.member.Subscribe(req.Streams)
	if serr != nil {
		return nil, serr
	}
	if err := w.Subscribe(ctx, s.party(), req.Streams); err != nil {
		// Undo only what this request added.
		var added []ids.StreamID
		for _, sid := range req.Streams {
			if !containsID(before, sid) {
				added = append(added, sid)
			}
		}
		_, _ = s.member.Unsubscribe(added)
		return nil, err
	}
	return &protocol.SubscribeResponse{Subscriptions: subs}, nil
}

func containsID(list []ids.StreamID, id ids.StreamID) bool {
	for _, x := range list {
		if x == id {
			return true
		}
	}
	return false
}

// maxSDPBytes bounds an SDP offer or answer (a browser's is 3–10 KB).
const maxSDPBytes = 64 << 10

func opWebRTCAnswer(_ context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.WebRTCAnswerRequest](data)
	if err != nil {
		return nil, err
	}
	w, err := s.h.webrtcOrRefuse()
	if err != nil {
		return nil, err
	}
	if req.SDP == "" || len(req.SDP) > maxSDPBytes {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "sdp must be an SDP answer of at most %d bytes", maxSDPBytes)
	}
	return nil, w.Answer(s.party(), req.OfferID, req.SDP)
}

// maxCandidateBytes bounds one trickled candidate line.
const maxCandidateBytes = 1024

func opWebRTCCandidate(_ context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.WebRTCCandidateRequest](data)
	if err != nil {
		return nil, err
	}
	w, err := s.h.webrtcOrRefuse()
	if err != nil {
		return nil, err
	}
	if req.Target == "" {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "target must be %q or the tag of a stream you publish over WebRTC", protocol.Downlink)
	}
	if len(req.Candidate) > maxCandidateBytes {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "candidate is %d bytes, the limit is %d", len(req.Candidate), maxCandidateBytes)
	}
	if err := w.Candidate(s.party(), *req); err != nil {
		return nil, err
	}
	return nil, nil
}

// checkTransport validates a transport name for op.
func checkTransport(t protocol.Transport, op string, allowed ...protocol.Transport) error {
	if t == "" {
		return nil
	}
	for _, a := range allowed {
		if t == a {
			return nil
		}
	}
	return protocol.Errorf(protocol.CodeInvalidField, "transport %q is not one of %v for %s", t, allowed, op)
}

func (h *Handler) webrtcInfo() *protocol.WebRTCInfo {
	if h.webrtc == nil {
		return nil
	}
	return h.webrtc.Info()
}
