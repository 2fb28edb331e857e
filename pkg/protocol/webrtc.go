package protocol

import "github.com/minirtc/minirtc/pkg/ids"

// Transport says how a stream's media travels for publish and subscribe.
type Transport string

// Transports.
const (
	TransportRTMP   Transport = "rtmp"   // publish: a signed RTMP push URL (default)
	TransportURL    Transport = "url"    // subscribe: signed RTMP and HTTP-FLV play URLs (default)
	TransportWebRTC Transport = "webrtc" // SDP offer/answer on this connection, media over ICE
)

// WebRTCInfo is what a client needs to set up its peer connections.
type WebRTCInfo struct {
	ICEServers []ICEServer `json:"ice_servers"`
}

// ICEServer is a STUN or TURN server for RTCPeerConnection's iceServers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Downlink names the session's subscribing peer connection in
// webrtc_candidate and webrtc_closed; a publishing one is named by its tag.
const Downlink = "downlink"

// WebRTCAnswerRequest is the data of "webrtc_answer": the client's answer
// to the webrtc_offer with OfferID.
type WebRTCAnswerRequest struct {
	OfferID int64  `json:"offer_id"`
	SDP     string `json:"sdp"`
}

// WebRTCCandidateRequest is the data of "webrtc_candidate": a trickled ICE
// candidate of the client, for the peer connection Target (Downlink, or
// the tag of a stream published over WebRTC). An empty Candidate ends the
// client's candidates.
type WebRTCCandidateRequest struct {
	Target        string  `json:"target"`
	Candidate     string  `json:"candidate"`
	SDPMid        *string `json:"sdp_mid,omitempty"`
	SDPMLineIndex *uint16 `json:"sdp_mline_index,omitempty"`
}

// WebRTCOfferEvent is the data of "webrtc_offer": the server's offer for
// the session's downlink, sent when subscriptions over WebRTC change.
// Tracks are in media streams whose id is the stream id.
type WebRTCOfferEvent struct {
	OfferID int64          `json:"offer_id"`
	SDP     string         `json:"sdp"`
	Streams []ids.StreamID `json:"streams"` // the streams the downlink carries after this offer
}

// WebRTCClosedEvent is the data of "webrtc_closed": a peer connection of
// the session failed or was closed by the server.
type WebRTCClosedEvent struct {
	Target string `json:"target"` // Downlink or a tag
	Reason string `json:"reason"`
}
