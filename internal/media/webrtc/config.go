package webrtc

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pion/stun/v4"
)

// Config configures the engine. Start from Defaults: Validate rejects zero
// timeouts and limits instead of guessing what a zero meant.
type Config struct {
	// UDPAddr is the one UDP socket all peers share (ICE over UDP), e.g.
	// ":7882" (every interface) or "10.0.0.5:7882". Port 0 picks a free port
	// (tests); Engine.UDPAddr tells which.
	UDPAddr string `yaml:"udp_addr"`
	// TCPAddr is the ICE-TCP listener all peers share, for clients whose
	// networks block UDP. Empty disables ICE-TCP.
	TCPAddr string `yaml:"tcp_addr"`
	// PublicIPs are the addresses clients reach this host at when it sits
	// behind a 1:1 NAT (a cloud VM's public IP). They replace the local
	// interface addresses in the host candidates (one IPv4 replaces the
	// IPv4 ones, one IPv6 the IPv6 ones). Empty: the local interface
	// addresses are advertised as they are.
	PublicIPs []string `yaml:"public_ips"`
	// ICEServers are the STUN/TURN servers handed to clients (Engine.ICEServers)
	// so that they can find a path to this server through their own NAT or
	// relay through TURN. The server itself does not use them: with a
	// reachable address (or PublicIPs) it needs no reflexive candidates.
	ICEServers []ICEServer `yaml:"ice_servers"`
	// ConnectTimeout is how long a new peer has to connect (ICE and DTLS)
	// after NewPeer; past it the peer is closed with ErrConnectTimeout.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// DisconnectedTimeout: ICE without any traffic for this long is
	// "disconnected" (it may come back). FailedTimeout: disconnected for
	// this much longer is "failed", and the peer is closed with
	// ErrConnectionFailed.
	DisconnectedTimeout time.Duration `yaml:"disconnected_timeout"`
	FailedTimeout       time.Duration `yaml:"failed_timeout"`
	// MaxPeers is the most peer connections open at once on this engine;
	// NewPeer returns ErrTooManyPeers past it.
	MaxPeers int `yaml:"max_peers"`
	// IncludeLoopback also advertises loopback addresses (127.0.0.1, ::1)
	// and accepts loopback remote candidates. For tests and single-machine
	// development only: a loopback candidate is useless to any other host.
	IncludeLoopback bool `yaml:"include_loopback"`
}

// ICEServer is a STUN or TURN server as a browser's RTCIceServer takes it.
type ICEServer struct {
	// URLs like "stun:stun.example.com:3478", "turn:turn.example.com:3478?transport=udp",
	// "turns:turn.example.com:5349".
	URLs []string `yaml:"urls" json:"urls"`
	// Username and Credential are required for TURN (turn:, turns:).
	Username   string `yaml:"username" json:"username,omitempty"`
	Credential string `yaml:"credential" json:"credential,omitempty"`
}

// Defaults for Config.
const (
	DefaultUDPAddr             = ":7882"
	DefaultTCPAddr             = ":7881"
	DefaultConnectTimeout      = 15 * time.Second
	DefaultDisconnectedTimeout = 5 * time.Second
	DefaultFailedTimeout       = 25 * time.Second
	DefaultMaxPeers            = 2000
)

// Limits that are not configurable. They bound what one client can make the
// server hold or do.
const (
	// MaxSDPBytes bounds an offer or answer. A browser's SDP is ~2-6 KiB,
	// plus ~2 KiB per extra track.
	MaxSDPBytes = 64 << 10
	// MaxMediaSections bounds the m= sections (tracks) of one connection.
	MaxMediaSections = 128
	// MaxRemoteCandidates bounds the candidates trickled by one client.
	MaxRemoteCandidates = 64
	// MaxPeersLimit is the highest MaxPeers accepted.
	MaxPeersLimit = 1_000_000
	// keepaliveInterval: ICE consent checks on an idle connection; below
	// DisconnectedTimeout so that a quiet but healthy peer stays connected.
	keepaliveInterval = 2 * time.Second
	// gatherTimeout bounds the wait for local candidates in Answer/Offer.
	// With the muxes they are known at once; this only guards against a
	// stuck gatherer.
	gatherTimeout = 5 * time.Second
	// tcpFirstSTUNTimeout closes an ICE-TCP connection that sends no STUN
	// binding request, so idle sockets cannot pile up.
	tcpFirstSTUNTimeout = 10 * time.Second
	// tcpWriteBufferBytes bounds what is queued for one ICE-TCP connection;
	// past it packets are dropped (as UDP would) rather than blocking the
	// sender of a room's media behind one slow client.
	tcpWriteBufferBytes = 1 << 20
)

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		UDPAddr:             DefaultUDPAddr,
		TCPAddr:             DefaultTCPAddr,
		ConnectTimeout:      DefaultConnectTimeout,
		DisconnectedTimeout: DefaultDisconnectedTimeout,
		FailedTimeout:       DefaultFailedTimeout,
		MaxPeers:            DefaultMaxPeers,
	}
}

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	if c.UDPAddr == "" {
		return errors.New("webrtc: udp_addr is required (WebRTC media needs a UDP port)")
	}
	if err := checkListenAddr(c.UDPAddr); err != nil {
		return fmt.Errorf("webrtc: udp_addr %q: %w", c.UDPAddr, err)
	}
	if c.TCPAddr != "" {
		if err := checkListenAddr(c.TCPAddr); err != nil {
			return fmt.Errorf("webrtc: tcp_addr %q: %w", c.TCPAddr, err)
		}
	}
	seen := map[netip.Addr]bool{}
	for _, s := range c.PublicIPs {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || ip.Zone() != "" {
			return fmt.Errorf("webrtc: public_ips: %q is not an IP address", s)
		}
		ip = ip.Unmap()
		if ip.IsUnspecified() || ip.IsMulticast() || ip.IsLoopback() {
			return fmt.Errorf("webrtc: public_ips: %s cannot be reached by clients", ip)
		}
		if seen[ip] {
			return fmt.Errorf("webrtc: public_ips: %s is listed twice", ip)
		}
		seen[ip] = true
	}
	for i, s := range c.ICEServers {
		if err := s.validate(); err != nil {
			return fmt.Errorf("webrtc: ice_servers[%d]: %w", i, err)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"connect_timeout", c.ConnectTimeout},
		{"disconnected_timeout", c.DisconnectedTimeout},
		{"failed_timeout", c.FailedTimeout},
	} {
		if d.v <= 0 {
			return fmt.Errorf("webrtc: %s must be positive, got %s", d.name, d.v)
		}
	}
	if c.MaxPeers <= 0 || c.MaxPeers > MaxPeersLimit {
		return fmt.Errorf("webrtc: max_peers must be between 1 and %d, got %d", MaxPeersLimit, c.MaxPeers)
	}
	return nil
}

// checkListenAddr accepts "host:port" where host is empty or an IP literal
// (a host name would make the bound address depend on DNS at start-up).
func checkListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("bad port %q", port)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("host %q is not an IP address", host)
		}
	}
	return nil
}

func (s ICEServer) validate() error {
	if len(s.URLs) == 0 {
		return errors.New("urls is empty")
	}
	for _, raw := range s.URLs {
		u, err := stun.ParseURI(raw)
		if err != nil {
			return fmt.Errorf("url %q: %w", raw, err)
		}
		if (u.Scheme == stun.SchemeTypeTURN || u.Scheme == stun.SchemeTypeTURNS) && (s.Username == "" || s.Credential == "") {
			return fmt.Errorf("url %q: TURN needs username and credential", raw)
		}
	}
	return nil
}

// clone returns a deep copy, so that callers cannot change the engine's
// configuration through the slices they passed or got back.
func (s ICEServer) clone() ICEServer {
	s.URLs = append([]string(nil), s.URLs...)
	return s
}
