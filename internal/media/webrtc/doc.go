// Package webrtc is minirtc's WebRTC engine: browsers (and other WebRTC
// clients) publish and subscribe media through pion peer connections that
// all share one UDP port and one ICE-TCP port.
//
// # Ports
//
// Config.UDPAddr (default :7882) is a single UDP socket for every peer: ICE
// connectivity checks, DTLS and SRTP of all clients arrive there and are
// told apart by ICE username fragment and remote address (pion's UDP mux).
// Config.TCPAddr (default :7881) is a listener for ICE-TCP (RFC 6544,
// passive candidates), for clients whose networks block UDP; media over TCP
// is worse under loss, so clients prefer UDP when both work. Empty TCPAddr
// disables it. Only these two ports need to be open in a firewall; no
// per-peer ports are ever bound. The server never dials out: active TCP
// candidates and mDNS are disabled.
//
// # Candidates
//
// The server's candidates are host candidates only, formed from the shared
// sockets: for each local interface address (from the bound address when it
// is an IP, else from every interface that is up, loopback excluded unless
// Config.IncludeLoopback) one UDP candidate with the UDP port and one
// passive TCP candidate with the TCP port. They are known without any
// network round trip, so Answer and Offer return descriptions that already
// hold them (non-trickle clients work); OnLocalCandidate also reports them
// for clients that want to trickle. The server gathers no server-reflexive
// or relay candidates: it is meant to be reachable. STUN/TURN servers in
// Config.ICEServers are for clients (Engine.ICEServers), to get through
// their own NATs.
//
// # NAT 1:1
//
// A host behind a 1:1 NAT (a cloud VM with a private address and a public
// one) sets Config.PublicIPs: each listed IP replaces the local addresses
// of its family in the host candidates, keeping the shared ports, so the
// NAT must forward those ports (UDP 7882, TCP 7881) unchanged. The private
// address is then not advertised; clients on the same private network reach
// the server through the public address (hairpinning) or through the
// peer-reflexive address ICE learns from their checks.
//
// # Peers
//
// Engine.NewPeer makes a peer connection (one per client, everything
// bundled on one transport). The client normally offers and Peer.Answer
// answers; to send the client new media the server adds tracks
// (Peer.AddTrack) and offers (Peer.Offer, Peer.SetAnswer) when
// OnNegotiationNeeded says so. negotiate.go describes the glare rule. A
// peer that does not connect within Config.ConnectTimeout, whose connection
// fails, whose context ends, or whose client closes, closes itself: Done is
// closed and Err says why. Codecs are Opus, H.264 (packetization-mode 1;
// Constrained Baseline preferred, so browsers publish what RTMP/FLV players
// take as is) and VP8; see codecs.go for payload types and interceptors.
//
// # Limits
//
// Config.MaxPeers bounds open peers; MaxSDPBytes, MaxMediaSections and
// MaxRemoteCandidates bound what one client can make the server parse and
// hold; remote candidates on loopback (unless IncludeLoopback), multicast
// or unspecified addresses are ignored so that an offer cannot aim the
// server's connectivity checks at them.
//
// # Logs
//
// Pion's logs go to the engine's slog.Logger with a "pion" scope attribute
// (its Info as Debug; expected shutdown noise as Debug). Pion's loggers are
// per engine, so they do not carry the peer id; the package's own records
// do ("peer" attribute).
package webrtc
