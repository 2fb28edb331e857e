package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// WebRTC participants. A Client publishes a stream over WebRTC with
// PublishWebRTC (one peer connection per stream, the client offers) and
// subscribes with SubscribeWebRTC (one downlink per client: the server
// offers in webrtc_offer events, the client answers). See docs/protocol.md
// §8.7.

// WebRTCOptions configure the client's peer connections.
type WebRTCOptions struct {
	// TCPOnly restricts ICE to TCP candidates (the server's ICE-TCP port),
	// as a client behind a UDP-blocking firewall would be.
	TCPOnly bool
	// IncludeLoopback lets ICE use 127.0.0.1 (a server on this machine).
	IncludeLoopback bool
	// VP8 publishes VP8 video instead of H.264 (WriteVideo then takes VP8
	// frames). Only WebRTC subscribers can play such a stream.
	VP8 bool
}

// negotiationTimeout bounds one offer/answer exchange, gathering included.
const negotiationTimeout = 10 * time.Second

// newPeerConnection makes a pion peer connection speaking Opus and H.264
// (constrained baseline, packetization-mode 1), as minirtc does.
func (c *Client) newPeerConnection(o WebRTCOptions) (*webrtc.PeerConnection, error) {
	m := &webrtc.MediaEngine{}
	codecs := []struct {
		p webrtc.RTPCodecParameters
		k webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}}, PayloadType: 102}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
	}
	for _, cd := range codecs {
		if err := m.RegisterCodec(cd.p, cd.k); err != nil {
			return nil, err
		}
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(o.IncludeLoopback)
	if o.TCPOnly {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	} else {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	cfg := webrtc.Configuration{}
	if info := c.Joined().WebRTC; info != nil {
		for _, s := range info.ICEServers {
			cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
	}
	return api.NewPeerConnection(cfg)
}

// localDescription sets d as the local description and returns it with
// every candidate gathered (no trickle needed).
func localDescription(ctx context.Context, pc *webrtc.PeerConnection, d webrtc.SessionDescription) (string, error) {
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(d); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return pc.LocalDescription().SDP, nil
}

// WebRTCPublication is a stream published over WebRTC. Write media with
// WriteVideo and WriteAudio (or PublishFiles), then Close.
type WebRTCPublication struct {
	Stream protocol.Stream
	c      *Client
	pc     *webrtc.PeerConnection
	video  *webrtc.TrackLocalStaticSample
	audio  *webrtc.TrackLocalStaticSample
	vp8    bool
	// lock: what the app server keeps off (force_mute); the writes obey it.
	lock *mediaLock
}

// PublishWebRTC publishes a stream with tag over WebRTC: it offers an H.264
// and/or Opus track (as media says) and applies the server's answer. The
// stream goes live when media written to it reaches the server.
func (c *Client) PublishWebRTC(ctx context.Context, tag ids.Tag, media protocol.MediaType, o WebRTCOptions) (*WebRTCPublication, error) {
	pc, err := c.newPeerConnection(o)
	if err != nil {
		return nil, err
	}
	sid := string(ids.Stream(c.Joined().Self.UserID, tag.OrDefault()))
	// Registered before asking, so that a force_mute that follows the
	// answer at once is not missed.
	p := &WebRTCPublication{c: c, pc: pc, vp8: o.VP8, lock: c.trackLock(ids.StreamID(sid))}
	fail := func(err error) (*WebRTCPublication, error) {
		c.untrackLock(ids.StreamID(sid), p.lock)
		_ = pc.Close()
		return nil, err
	}
	if media != protocol.MediaAudio {
		mime := webrtc.MimeTypeH264
		if o.VP8 {
			mime = webrtc.MimeTypeVP8
		}
		if p.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000}, sid+"-video", sid); err != nil {
			return fail(err)
		}
		if _, err = pc.AddTransceiverFromTrack(p.video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return fail(err)
		}
	}
	if media != protocol.MediaVideo {
		if p.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, sid+"-audio", sid); err != nil {
			return fail(err)
		}
		if _, err = pc.AddTransceiverFromTrack(p.audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return fail(err)
		}
	}
	nctx, cancel := context.WithTimeout(ctx, negotiationTimeout)
	defer cancel()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(err)
	}
	sdp, err := localDescription(nctx, pc, offer)
	if err != nil {
		return fail(err)
	}
	var resp protocol.PublishResponse
	if err := c.Do(nctx, protocol.OpPublish, &protocol.PublishRequest{Tag: tag, Media: media, Transport: protocol.TransportWebRTC, Offer: sdp}, &resp); err != nil {
		return fail(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: resp.Answer}); err != nil {
		return fail(fmt.Errorf("client: applying the server's answer: %w", err))
	}
	p.Stream = resp.Stream
	// The app server's lock outlives the stream: published again, it comes
	// back muted (docs/api.md).
	p.lock.answer(resp.Stream.AudioLocked, resp.Stream.VideoLocked)
	return p, nil
}

// Connected waits until the publication's ICE and DTLS are up.
func (p *WebRTCPublication) Connected(ctx context.Context) error {
	return waitConnected(ctx, p.pc)
}

// WriteVideo sends one H.264 access unit in Annex-B form (or one VP8
// frame, with WebRTCOptions.VP8) lasting d. While the app server keeps the
// video off (Locked) it sends nothing and returns nil; after the unlock it
// sends again from the next keyframe on.
func (p *WebRTCPublication) WriteVideo(annexB []byte, d time.Duration) error {
	if p.video == nil {
		return errors.New("client: this publication has no video")
	}
	send, dropped := p.lock.videoFrame(isKeyframe(annexB, p.vp8))
	if !send {
		return nil
	}
	s := mediaSample(annexB, d)
	s.PrevDroppedPackets = dropped
	return p.video.WriteSample(s)
}

// WriteAudio sends one Opus packet lasting d. While the app server keeps
// the audio muted (Locked) it sends an Opus packet of silence of the same
// duration instead (nothing, for a duration Opus cannot make).
func (p *WebRTCPublication) WriteAudio(opus []byte, d time.Duration) error {
	if p.audio == nil {
		return errors.New("client: this publication has no audio")
	}
	if muted, _ := p.lock.get(); muted {
		if opus = opusSilence(d); opus == nil {
			return nil
		}
	}
	return p.audio.WriteSample(mediaSample(opus, d))
}

// Close ends the peer connection; the server ends the push (the stream
// stays published for the unpublish grace, like a dropped RTMP push).
func (p *WebRTCPublication) Close() error {
	p.c.untrackLock(p.Stream.ID, p.lock)
	return p.pc.Close()
}

func waitConnected(ctx context.Context, pc *webrtc.PeerConnection) error {
	for {
		switch pc.ConnectionState() {
		case webrtc.PeerConnectionStateConnected:
			return nil
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			return fmt.Errorf("client: peer connection %s", pc.ConnectionState())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// rtcState is the client's WebRTC downlink, created by the first
// SubscribeWebRTC.
type rtcState struct {
	mu    sync.Mutex
	down  *Downlink
	offer chan protocol.WebRTCOfferEvent // latest offer only (capacity 1)
}

// handleOffer is called for every webrtc_offer event, under c.mu: it only
// hands the offer to the downlink's goroutine, keeping the latest.
func (c *Client) handleOffer(ev protocol.WebRTCOfferEvent) {
	ch := c.rtc.offer
	if ch == nil {
		return
	}
	for {
		select {
		case ch <- ev:
			return
		default:
			select {
			case <-ch: // an older offer nobody answered yet: superseded
			default:
			}
		}
	}
}
