package webrtc

import (
	"log/slog"
	"net"
	"sync"

	"github.com/pion/webrtc/v4"
)

// Engine owns the shared sockets and the pion API every peer connection is
// made with. It is safe for concurrent use.
type Engine struct {
	cfg Config
	log *slog.Logger
	api *webrtc.API
	// sendAPI makes connections that only send (PeerOptions.SendOnly).
	sendAPI *webrtc.API
	sock    *sockets

	mu     sync.Mutex
	peers  map[*Peer]struct{}
	closed bool
}

// New validates cfg, binds the UDP socket and (unless cfg.TCPAddr is empty)
// the ICE-TCP listener, and prepares the codecs and interceptors. Close
// releases them.
func New(cfg Config, log *slog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "webrtc")
	cfg.PublicIPs = append([]string(nil), cfg.PublicIPs...)
	servers := make([]ICEServer, len(cfg.ICEServers))
	for i, s := range cfg.ICEServers {
		servers[i] = s.clone()
	}
	cfg.ICEServers = servers

	m, err := newMediaEngine()
	if err != nil {
		return nil, err
	}
	reg, err := newInterceptors(m, true)
	if err != nil {
		return nil, err
	}
	sendM, err := newMediaEngine()
	if err != nil {
		return nil, err
	}
	sendReg, err := newInterceptors(sendM, false)
	if err != nil {
		return nil, err
	}
	logs := pionLogs{log: log}
	sock, err := openSockets(cfg, logs)
	if err != nil {
		return nil, err
	}
	se, err := sock.settingEngine(cfg, logs)
	if err != nil {
		_ = sock.close()
		return nil, err
	}
	e := &Engine{
		cfg:   cfg,
		log:   log,
		sock:  sock,
		peers: map[*Peer]struct{}{},
		api:   webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)),
		// The same sockets (the ICE muxes dispatch by ufrag) and codecs.
		sendAPI: webrtc.NewAPI(webrtc.WithMediaEngine(sendM), webrtc.WithInterceptorRegistry(sendReg), webrtc.WithSettingEngine(se)),
	}
	attrs := []any{"udp", e.UDPAddr().String(), "public_ips", cfg.PublicIPs}
	if a := e.TCPAddr(); a != nil {
		attrs = append(attrs, "tcp", a.String())
	}
	log.Info("webrtc listening", attrs...)
	return e, nil
}

// UDPAddr is the bound UDP address (with the real port when the
// configuration asked for port 0).
func (e *Engine) UDPAddr() *net.UDPAddr {
	a, _ := e.sock.udp.LocalAddr().(*net.UDPAddr)
	return a
}

// TCPAddr is the bound ICE-TCP address, nil when ICE-TCP is disabled.
func (e *Engine) TCPAddr() *net.TCPAddr {
	if e.sock.tcp == nil {
		return nil
	}
	a, _ := e.sock.tcp.Addr().(*net.TCPAddr)
	return a
}

// ICEServers returns the STUN/TURN servers to hand to clients (a copy).
func (e *Engine) ICEServers() []ICEServer {
	out := make([]ICEServer, len(e.cfg.ICEServers))
	for i, s := range e.cfg.ICEServers {
		out[i] = s.clone()
	}
	return out
}

// Peers returns how many peer connections are open.
func (e *Engine) Peers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.peers)
}

// Close closes every peer (their Err is ErrEngineClosed), waits for them,
// then closes the sockets. It is idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	peers := make([]*Peer, 0, len(e.peers))
	for p := range e.peers {
		peers = append(peers, p)
	}
	e.mu.Unlock()

	for _, p := range peers {
		p.shutdown(ErrEngineClosed)
	}
	for _, p := range peers {
		<-p.Done()
	}
	err := e.sock.close()
	e.log.Info("webrtc closed", "peers_closed", len(peers))
	return err
}

// admit registers p, enforcing MaxPeers. A peer already closing (its
// context was done) is not registered: its finish may have run forget.
func (e *Engine) admit(p *Peer) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case p.closedErr() != nil:
		return p.closedErr()
	case e.closed:
		return ErrEngineClosed
	case len(e.peers) >= e.cfg.MaxPeers:
		return ErrTooManyPeers
	}
	e.peers[p] = struct{}{}
	return nil
}

func (e *Engine) forget(p *Peer) {
	e.mu.Lock()
	delete(e.peers, p)
	e.mu.Unlock()
}
