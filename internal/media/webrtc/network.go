package webrtc

import (
	"errors"
	"fmt"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
)

const (
	// udpSocketBuffer asks the kernel for big socket buffers: every peer's
	// media goes through this one socket, so a burst from many publishers
	// must not overflow it (the kernel caps it at net.core.rmem_max).
	udpSocketBuffer = 4 << 20
	// tcpReadQueuePackets is how many packets an ICE-TCP connection queues
	// for its peer's reader.
	tcpReadQueuePackets = 64
)

// sockets are the listeners every peer shares.
type sockets struct {
	udp    *net.UDPConn
	udpMux *ice.UDPMuxDefault
	tcp    net.Listener // nil when ICE-TCP is disabled
	tcpMux *ice.TCPMuxDefault
}

// openSockets binds the UDP socket and the ICE-TCP listener. Either both
// succeed or nothing is left open.
func openSockets(cfg Config, logs logging.LoggerFactory) (*sockets, error) {
	ua, err := net.ResolveUDPAddr("udp", cfg.UDPAddr)
	if err != nil {
		return nil, fmt.Errorf("webrtc: udp_addr: %w", err)
	}
	uc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("webrtc: listen udp %s: %w", cfg.UDPAddr, err)
	}
	_ = uc.SetReadBuffer(udpSocketBuffer)
	_ = uc.SetWriteBuffer(udpSocketBuffer)
	s := &sockets{udp: uc}
	s.udpMux = ice.NewUDPMuxDefault(ice.UDPMuxParams{Logger: logs.NewLogger("udpmux"), UDPConn: uc})

	if cfg.TCPAddr != "" {
		ln, err := net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			_ = s.close()
			return nil, fmt.Errorf("webrtc: listen tcp %s: %w", cfg.TCPAddr, err)
		}
		s.tcp = ln
		s.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{
			Listener:             ln,
			Logger:               logs.NewLogger("tcpmux"),
			ReadBufferSize:       tcpReadQueuePackets,
			WriteBufferSize:      tcpWriteBufferBytes,
			FirstStunBindTimeout: tcpFirstSTUNTimeout,
		})
	}
	return s, nil
}

// close closes the muxes, which close the socket and the listener (and
// wait for the TCP mux's connection goroutines).
func (s *sockets) close() error {
	var errs []error
	if s.tcpMux != nil {
		errs = append(errs, ignoreClosed(s.tcpMux.Close()))
	}
	errs = append(errs, ignoreClosed(s.udpMux.Close()))
	return errors.Join(errs...)
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// settingEngine configures every peer connection the same way.
func (s *sockets) settingEngine(cfg Config, logs logging.LoggerFactory) (webrtc.SettingEngine, error) {
	var se webrtc.SettingEngine
	se.LoggerFactory = logs

	// All UDP candidates come from the shared socket: no per-peer ports.
	se.SetICEUDPMux(s.udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if s.tcpMux != nil {
		se.SetICETCPMux(s.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	// The server only accepts ICE-TCP connections (passive); it never dials
	// out to addresses a client names.
	se.DisableActiveTCP(true)
	// No mDNS: it would open multicast sockets per peer, and a server's
	// candidates are meant to be seen. Browsers' .local candidates are not
	// resolved; their real address is learned from their connectivity checks
	// (peer-reflexive), which is how browsers reach servers anyway.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(cfg.DisconnectedTimeout, cfg.FailedTimeout, keepaliveInterval)
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	// Do not send connectivity checks to addresses no client can have: a
	// hostile offer could otherwise aim the server's STUN packets at its own
	// loopback services or a multicast group.
	loopback := cfg.IncludeLoopback
	se.SetRemoteIPFilter(func(ip net.IP) bool {
		return !ip.IsUnspecified() && !ip.IsMulticast() && (loopback || !ip.IsLoopback())
	})
	if len(cfg.PublicIPs) > 0 {
		// 1:1 NAT: advertise the public address instead of the private one
		// (per IP family). The socket still receives on the private address;
		// the NAT forwards the public one to it.
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        append([]string(nil), cfg.PublicIPs...),
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			return se, fmt.Errorf("webrtc: public_ips: %w", err)
		}
	}
	return se, nil
}
