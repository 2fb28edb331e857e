package webrtc

import "errors"

// Errors returned by the engine and its peers. Callers test them with
// errors.Is; the returned errors wrap them with details.
var (
	// ErrEngineClosed: the engine was closed; its peers are closed too.
	ErrEngineClosed = errors.New("webrtc: engine closed")
	// ErrTooManyPeers: Config.MaxPeers peers are open already.
	ErrTooManyPeers = errors.New("webrtc: too many peer connections")
	// ErrPeerClosed: the peer was closed with Close, or is being closed.
	ErrPeerClosed = errors.New("webrtc: peer closed")
	// ErrConnectTimeout: ICE and DTLS did not connect within
	// Config.ConnectTimeout of NewPeer.
	ErrConnectTimeout = errors.New("webrtc: peer did not connect in time")
	// ErrConnectionFailed: ICE or DTLS failed (after Config.FailedTimeout
	// without connectivity, or a DTLS error).
	ErrConnectionFailed = errors.New("webrtc: peer connection failed")
	// ErrRemoteClosed: the client closed the connection (DTLS close_notify).
	ErrRemoteClosed = errors.New("webrtc: peer closed by the client")

	// ErrBadSDP: the session description could not be parsed or applied.
	ErrBadSDP = errors.New("webrtc: bad session description")
	// ErrSDPTooLarge: the session description is over MaxSDPBytes.
	ErrSDPTooLarge = errors.New("webrtc: session description too large")
	// ErrTooManyMediaSections: the description has over MaxMediaSections m= sections.
	ErrTooManyMediaSections = errors.New("webrtc: too many media sections")
	// ErrNoMedia: an offer without any audio or video m= section.
	ErrNoMedia = errors.New("webrtc: offer has no audio or video")
	// ErrNoSupportedCodecs: none of the offered audio/video codecs is one
	// the engine speaks (Opus, H.264 packetization-mode 1, VP8).
	ErrNoSupportedCodecs = errors.New("webrtc: no supported codec offered")
	// ErrTooManyCandidates: over MaxRemoteCandidates trickled candidates.
	ErrTooManyCandidates = errors.New("webrtc: too many remote ICE candidates")

	// ErrNotStable: Offer was called while an offer (ours or the client's)
	// is outstanding. Negotiation is not lost: OnNegotiationNeeded fires again
	// once the signaling state is stable.
	ErrNotStable = errors.New("webrtc: negotiation in progress")
	// ErrGlare: the client's offer crossed an outstanding server offer. The
	// server is the impolite peer (pion cannot roll back): the client rolls
	// back its offer, answers the server's, and offers again.
	ErrGlare = errors.New("webrtc: offer crossed an outstanding server offer")
	// ErrNoPendingOffer: SetAnswer without an outstanding server offer (a
	// duplicate or stale answer); it can be dropped.
	ErrNoPendingOffer = errors.New("webrtc: no outstanding offer to answer")
	// ErrUnknownTrack: RemoveTrack of a track this peer does not send.
	ErrUnknownTrack = errors.New("webrtc: unknown local track")
)
