package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/media/webrtc"
	"github.com/minirtc/minirtc/internal/signal"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// webrtcGlue runs the WebRTC side of signalling sessions (signal.WebRTC):
// one peer connection per stream a session publishes (client offers), and
// one downlink per session carrying every stream it subscribed to over
// WebRTC (server offers, client answers). Media meets the hub through
// webrtc.Ingest and webrtc.Egress, admitted with URLs signed here exactly
// as RTMP pushes and plays are.
type webrtcGlue struct {
	engine *webrtc.Engine
	hub    *media.Hub
	media  *mediaGlue
	log    *slog.Logger

	mu       sync.Mutex
	sessions map[ids.SessionID]*rtcSession
	closed   bool
}

// rtcSession is one signalling session's peer connections.
type rtcSession struct {
	party   signal.Party
	uplinks map[ids.Tag]*uplink
	down    *downlink
}

type uplink struct {
	peer   *webrtc.Peer
	ingest *webrtc.Ingest
	stream ids.StreamID
}

func newWebRTCGlue(engine *webrtc.Engine, hub *media.Hub, mg *mediaGlue, log *slog.Logger) *webrtcGlue {
	return &webrtcGlue{engine: engine, hub: hub, media: mg, log: log, sessions: map[ids.SessionID]*rtcSession{}}
}

func (g *webrtcGlue) Info() *protocol.WebRTCInfo {
	info := &protocol.WebRTCInfo{ICEServers: []protocol.ICEServer{}}
	for _, s := range g.engine.ICEServers() {
		info.ICEServers = append(info.ICEServers, protocol.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return info
}

// session returns p's state, creating it.
func (g *webrtcGlue) session(p signal.Party) (*rtcSession, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, protocol.Errorf(protocol.CodeGoingAway, "the server is shutting down")
	}
	s := g.sessions[p.Session]
	if s == nil {
		s = &rtcSession{party: p, uplinks: map[ids.Tag]*uplink{}}
		g.sessions[p.Session] = s
	}
	return s, nil
}

// target signs a media URL for grant and turns it into the hub's Target,
// so that WebRTC goes through the same admission as RTMP and FLV.
func (g *webrtcGlue) target(ctx context.Context, grant auth.MediaGrant) (media.Target, error) {
	secret, err := g.media.secret(ctx, grant.App)
	if err != nil {
		return media.Target{}, err
	}
	q, err := auth.ParseMediaQuery(auth.SignMedia(secret, grant))
	if err != nil {
		return media.Target{}, err
	}
	return media.Target{Path: grant.Path(), Query: q, Protocol: media.WebRTC, Remote: "webrtc"}, nil
}

func (g *webrtcGlue) Publish(ctx context.Context, p signal.Party, sid ids.StreamID, _ protocol.MediaType, offer string) (string, error) {
	s, err := g.session(p)
	if err != nil {
		return "", err
	}
	tag, _ := sid.Owns(p.User)
	t, err := g.target(ctx, auth.MediaGrant{Action: auth.ActionPush, App: p.App, Room: p.Room, Stream: sid, User: p.User, Expires: g.media.now().Add(g.media.ttl.push)})
	if err != nil {
		return "", err
	}
	peer, err := g.engine.NewPeer(context.Background(), webrtc.PeerOptions{ID: string(p.Session) + "/" + string(tag)})
	if err != nil {
		return "", negotiationError(err)
	}
	in, err := webrtc.StartIngest(ctx, g.hub, peer, t, g.log.With("session", p.Session, "stream", sid))
	if err != nil {
		_ = peer.Close()
		return "", refusalError(err)
	}
	answer, err := peer.Answer(offer)
	if err != nil {
		_ = peer.Close()
		<-in.Done()
		return "", negotiationError(err)
	}
	up := &uplink{peer: peer, ingest: in, stream: sid}
	g.mu.Lock()
	old := s.uplinks[tag]
	s.uplinks[tag] = up
	g.mu.Unlock()
	if old != nil {
		_ = old.peer.Close()
	}
	go g.watchUplink(s, tag, up)
	return answer, nil
}

// watchUplink forgets an uplink when its peer closes, telling the client
// when the server did not close it on purpose (ICE failed or timed out).
func (g *webrtcGlue) watchUplink(s *rtcSession, tag ids.Tag, up *uplink) {
	<-up.ingest.Done()
	<-up.peer.Done()
	g.mu.Lock()
	current := s.uplinks[tag] == up
	if current {
		delete(s.uplinks, tag)
	}
	g.mu.Unlock()
	if err := up.peer.Err(); current && err != nil && !errors.Is(err, webrtc.ErrPeerClosed) {
		s.party.Send(protocol.EvWebRTCClosed, &protocol.WebRTCClosedEvent{Target: string(tag), Reason: err.Error()})
	}
}

func (g *webrtcGlue) Subscribe(ctx context.Context, p signal.Party, streams []ids.StreamID) error {
	s, err := g.session(p)
	if err != nil {
		return err
	}
	d, err := g.downlinkOf(s)
	if err != nil {
		return err
	}
	return d.add(ctx, streams)
}

func (g *webrtcGlue) downlinkOf(s *rtcSession) (*downlink, error) {
	g.mu.Lock()
	d := s.down
	g.mu.Unlock()
	if d != nil {
		return d, nil
	}
	peer, err := g.engine.NewPeer(context.Background(), webrtc.PeerOptions{ID: string(s.party.Session) + "/" + protocol.Downlink, SendOnly: true})
	if err != nil {
		return nil, negotiationError(err)
	}
	d = newDownlink(g, s, peer)
	g.mu.Lock()
	if s.down != nil { // a concurrent subscribe made one
		g.mu.Unlock()
		_ = peer.Close()
		return s.down, nil
	}
	s.down = d
	g.mu.Unlock()
	go g.watchDownlink(s, d)
	return d, nil
}

func (g *webrtcGlue) watchDownlink(s *rtcSession, d *downlink) {
	<-d.peer.Done()
	d.closeAll()
	g.mu.Lock()
	current := s.down == d
	if current {
		s.down = nil
	}
	g.mu.Unlock()
	if err := d.peer.Err(); current && err != nil && !errors.Is(err, webrtc.ErrPeerClosed) {
		s.party.Send(protocol.EvWebRTCClosed, &protocol.WebRTCClosedEvent{Target: protocol.Downlink, Reason: err.Error()})
	}
}

// currentDownlink is p's downlink, or nil.
func (g *webrtcGlue) currentDownlink(p signal.Party) *downlink {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.sessions[p.Session]; s != nil {
		return s.down
	}
	return nil
}

func (g *webrtcGlue) Unsubscribe(p signal.Party, streams []ids.StreamID) {
	if d := g.currentDownlink(p); d != nil {
		d.remove(streams)
	}
}

func (g *webrtcGlue) Answer(p signal.Party, offerID int64, sdp string) error {
	d := g.currentDownlink(p)
	if d == nil {
		return protocol.Errorf(protocol.CodeNegotiation, "no downlink offer is waiting for an answer (subscribe with transport %q first)", protocol.TransportWebRTC)
	}
	return d.answer(offerID, sdp)
}

func (g *webrtcGlue) Candidate(p signal.Party, c protocol.WebRTCCandidateRequest) error {
	g.mu.Lock()
	s := g.sessions[p.Session]
	var peer *webrtc.Peer
	if s != nil {
		if c.Target == protocol.Downlink && s.down != nil {
			peer = s.down.peer
		} else if up := s.uplinks[ids.Tag(c.Target)]; up != nil {
			peer = up.peer
		}
	}
	g.mu.Unlock()
	if peer == nil {
		return protocol.Errorf(protocol.CodeInvalidField, "target %q is not a peer connection of this session", c.Target)
	}
	if c.Candidate == "" {
		return nil // end of candidates: nothing to do with muxed ICE
	}
	if err := peer.AddICECandidate(c.Candidate); err != nil {
		return protocol.Errorf(protocol.CodeInvalidField, "candidate: %v", err)
	}
	return nil
}

func (g *webrtcGlue) SessionEnded(id ids.SessionID) {
	g.mu.Lock()
	s := g.sessions[id]
	delete(g.sessions, id)
	g.mu.Unlock()
	if s != nil {
		g.closeSession(s)
	}
}

func (g *webrtcGlue) closeSession(s *rtcSession) {
	g.mu.Lock()
	var peers []*webrtc.Peer
	for _, up := range s.uplinks {
		peers = append(peers, up.peer)
	}
	if s.down != nil {
		peers = append(peers, s.down.peer)
	}
	g.mu.Unlock()
	for _, p := range peers {
		_ = p.Close()
	}
}

// shutdown closes every peer connection and then the engine.
func (g *webrtcGlue) shutdown() error {
	g.mu.Lock()
	g.closed = true
	sessions := g.sessions
	g.sessions = map[ids.SessionID]*rtcSession{}
	g.mu.Unlock()
	for _, s := range sessions {
		g.closeSession(s)
	}
	return g.engine.Close()
}

// negotiationError turns a peer setup failure into the protocol's code.
func negotiationError(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	if errors.Is(err, webrtc.ErrTooManyPeers) {
		return protocol.Errorf(protocol.CodeInternal, "the server has its maximum number of WebRTC connections; try again later")
	}
	if errors.Is(err, webrtc.ErrNoSupportedCodecs) {
		return protocol.Errorf(protocol.CodeCodec, "%v", err)
	}
	return protocol.Errorf(protocol.CodeNegotiation, "%v", err)
}

// refusalError turns a hub refusal into the protocol's code.
func refusalError(err error) error {
	var ref *media.Refusal
	if errors.As(err, &ref) {
		switch ref.Reason {
		case media.ReasonCodec:
			return protocol.Errorf(protocol.CodeCodec, "%s", ref.Message)
		case media.ReasonNotLive, media.ReasonNotPublished:
			return protocol.Errorf(protocol.CodeStreamNotFound, "%s", ref.Message)
		case media.ReasonLimit, media.ReasonUnavailable:
			return protocol.Errorf(protocol.CodeInternal, "%s", ref.Message)
		}
		return protocol.Errorf(protocol.CodeNegotiation, "%s", ref.Message)
	}
	return fmt.Errorf("webrtc: %w", err)
}
