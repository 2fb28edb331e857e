package webrtc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// PeerOptions describe a new peer connection.
type PeerOptions struct {
	// ID names the peer in logs (e.g. the signalling session id).
	ID string
	// SendOnly is for a connection the client only receives on (a
	// subscriber's downlink): it negotiates no transport-wide congestion
	// feedback, so browsers report their bandwidth estimate in REMB, which
	// the egress adapts to (congestion.go).
	SendOnly bool
}

// Peer is one client's WebRTC connection: media it publishes arrives through
// OnTrack, media it subscribes to is written to tracks from AddTrack.
//
// Callbacks (OnState, OnLocalCandidate, OnNegotiationNeeded,
// OnKeyframeRequest) run one at a time on the peer's own goroutine, in
// order; they may call any Peer method, Close included, but should return
// quickly. Set them before Answer or Offer so that no event is missed.
// OnTrack handlers each run on their own goroutine.
type Peer struct {
	e   *Engine
	id  string
	log *slog.Logger
	pc  *webrtc.PeerConnection

	// negMu serialises the offer/answer exchange so that two signalling
	// messages cannot interleave their pion calls.
	negMu sync.Mutex

	ev    *events
	tasks tasks

	mu               sync.Mutex
	onTrack          func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
	onState          func(webrtc.PeerConnectionState, error)
	onCandidate      func(string)
	onNegotiation    func()
	onKeyframe       func(trackID string)
	onSenderReport   func(ssrc uint32, ntp uint64, rtpTime uint32)
	lastState        webrtc.PeerConnectionState
	connected        bool
	remoteCandidates int
	senders          map[*LocalTrack]*webrtc.RTPSender
	receivers        map[*webrtc.RTPReceiver]bool
	err              error

	closeOnce sync.Once
	closing   chan struct{} // closed when shutdown starts
	pcClosed  chan struct{} // closed when the pion connection is closed
	done      chan struct{} // closed when every goroutine of the peer ended
	timer     *time.Timer
	stopCtx   func() bool
	started   time.Time
}

// NewPeer creates a peer connection on the engine's shared sockets. It is
// closed when ctx is done, when it has not connected within
// Config.ConnectTimeout, when its connection fails, or by Close.
func (e *Engine) NewPeer(ctx context.Context, opts PeerOptions) (*Peer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Cheap check first: making a connection generates a certificate.
	e.mu.Lock()
	full, closed := len(e.peers) >= e.cfg.MaxPeers, e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrEngineClosed
	}
	if full {
		return nil, fmt.Errorf("%w (max_peers %d)", ErrTooManyPeers, e.cfg.MaxPeers)
	}

	api := e.api
	if opts.SendOnly {
		api = e.sendAPI
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{
		// One transport for everything: one ICE/DTLS session per client.
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	})
	if err != nil {
		return nil, fmt.Errorf("webrtc: new peer connection: %w", err)
	}
	p := &Peer{
		e:         e,
		id:        opts.ID,
		log:       e.log.With("peer", opts.ID),
		pc:        pc,
		ev:        newEvents(),
		lastState: webrtc.PeerConnectionStateNew,
		senders:   map[*LocalTrack]*webrtc.RTPSender{},
		receivers: map[*webrtc.RTPReceiver]bool{},
		closing:   make(chan struct{}),
		pcClosed:  make(chan struct{}),
		done:      make(chan struct{}),
		started:   time.Now(),
	}
	go p.ev.run()
	timeout := e.cfg.ConnectTimeout
	// The timer and the context hook may fire at once (a context already
	// done); finish reads them under p.mu.
	p.mu.Lock()
	p.timer = time.AfterFunc(timeout, func() {
		p.mu.Lock()
		connected := p.connected
		p.mu.Unlock()
		if !connected {
			p.shutdown(fmt.Errorf("%w: not connected within %s (ice %s, signaling %s)",
				ErrConnectTimeout, timeout, pc.ICEConnectionState(), pc.SignalingState()))
		}
	})
	p.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		p.shutdown(fmt.Errorf("webrtc: peer context done: %w", context.Cause(ctx)))
	})
	p.mu.Lock()
	p.stopCtx = stop
	p.mu.Unlock()
	pc.OnConnectionStateChange(p.pionState)
	pc.OnICECandidate(p.pionCandidate)
	pc.OnTrack(p.pionTrack)
	pc.OnNegotiationNeeded(p.pionNegotiationNeeded)
	if err := e.admit(p); err != nil {
		p.shutdown(err)
		<-p.done
		if errors.Is(err, ErrTooManyPeers) {
			err = fmt.Errorf("%w (max_peers %d)", err, e.cfg.MaxPeers)
		}
		return nil, err
	}
	p.log.Debug("peer created")
	return p, nil
}

// ID is the id from PeerOptions.
func (p *Peer) ID() string { return p.id }

// PeerConnection exposes the pion connection for what this package does not
// wrap (stats, transceivers). Do not set its handlers: the peer uses them.
func (p *Peer) PeerConnection() *webrtc.PeerConnection { return p.pc }

// OnState sets the callback for connection state changes (ICE and DTLS
// together: new, connecting, connected, disconnected, failed, closed).
// Intermediate states may be skipped, never reordered. The last call has
// state closed and err equal to Err().
func (p *Peer) OnState(f func(state webrtc.PeerConnectionState, err error)) {
	p.mu.Lock()
	p.onState = f
	p.mu.Unlock()
}

// Done is closed once the peer is closed and all its goroutines (OnTrack
// handlers included) have returned.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Err is why the peer closed: ErrPeerClosed after Close, ErrConnectTimeout,
// ErrConnectionFailed, ErrRemoteClosed, ErrEngineClosed, or the context's
// error. Nil while the peer is open.
func (p *Peer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Close closes the connection and waits until pion has stopped (not for
// OnTrack handlers: wait on Done for those). Err then is ErrPeerClosed
// unless the peer had already closed for another reason. Do not call it
// from a pion handler set through PeerConnection.
func (p *Peer) Close() error {
	p.shutdown(ErrPeerClosed)
	<-p.pcClosed
	return nil
}

// closedErr is the error for calls on a closing peer, nil while open.
func (p *Peer) closedErr() error {
	select {
	case <-p.closing:
		return p.Err()
	default:
		return nil
	}
}

// shutdown starts closing with err as the reason; the first reason wins.
func (p *Peer) shutdown(err error) {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.closing)
		go p.finish(err)
	})
}

func (p *Peer) finish(reason error) {
	p.mu.Lock()
	timer, stopCtx := p.timer, p.stopCtx
	p.mu.Unlock()
	timer.Stop()
	if stopCtx != nil {
		stopCtx()
	}
	// GracefulClose waits for pion's goroutines; it runs here, not in the
	// caller, because a pion handler may be what triggered the close.
	if err := p.pc.GracefulClose(); err != nil {
		p.log.Debug("peer close", "err", err)
	}
	close(p.pcClosed)
	p.tasks.closeAndWait()
	p.emitState(webrtc.PeerConnectionStateClosed)
	p.ev.close()
	<-p.ev.exited
	p.e.forget(p)
	level := slog.LevelInfo
	if errors.Is(reason, ErrPeerClosed) || errors.Is(reason, ErrEngineClosed) {
		level = slog.LevelDebug
	}
	p.log.Log(context.Background(), level, "peer closed", "reason", reason, "age", time.Since(p.started).Round(time.Millisecond))
	close(p.done)
}

// pionState runs on a goroutine pion starts per change.
func (p *Peer) pionState(s webrtc.PeerConnectionState) {
	switch s {
	case webrtc.PeerConnectionStateConnected:
		p.mu.Lock()
		first := !p.connected
		p.connected = true
		p.mu.Unlock()
		if first {
			p.mu.Lock()
			p.timer.Stop()
			p.mu.Unlock()
			attrs := []any{"after", time.Since(p.started).Round(time.Millisecond)}
			if pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair(); err == nil && pair != nil {
				attrs = append(attrs, "local", pair.Local.String(), "remote", pair.Remote.String())
			}
			p.log.Info("peer connected", attrs...)
		}
	case webrtc.PeerConnectionStateFailed:
		p.shutdown(fmt.Errorf("%w (ice %s)", ErrConnectionFailed, p.pc.ICEConnectionState()))
	case webrtc.PeerConnectionStateClosed:
		// Pion closes by itself when the client ends DTLS (close_notify).
		p.shutdown(ErrRemoteClosed)
	}
	// Report the current state, not s: pion's per-change goroutines can run
	// in any order, the connection's state cannot.
	p.emitState(p.pc.ConnectionState())
}

// emitState queues an OnState call when the state changed since the last.
func (p *Peer) emitState(s webrtc.PeerConnectionState) {
	p.mu.Lock()
	if s == p.lastState || p.lastState == webrtc.PeerConnectionStateClosed {
		p.mu.Unlock()
		return
	}
	var err error
	if s == webrtc.PeerConnectionStateClosed {
		err = p.err
	}
	p.lastState = s
	// Queued under p.mu, so that the state recorded above is always the
	// one delivered: a pion goroutine reporting "closed" must not record
	// it and then find the queue closed by finish, which skips its own
	// "closed" because it sees it recorded.
	p.ev.push(func() {
		p.mu.Lock()
		f := p.onState
		p.mu.Unlock()
		if f != nil {
			f(s, err)
		}
	})
	p.mu.Unlock()
}
