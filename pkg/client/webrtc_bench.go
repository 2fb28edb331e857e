package client

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// RTPFunc receives one RTP packet of a subscribed stream's video (H.264)
// or audio (Opus) track and when it was read. p and its payload are only
// valid during the call: the downlink reuses them.
type RTPFunc func(stream ids.StreamID, video bool, p *rtp.Packet, at time.Time)

// SubscribeWebRTCRTP is SubscribeWebRTC for load tools: the downlink hands
// every RTP packet (after SRTP and the interceptors, as pion reads it) to
// onPacket instead of reassembling frames, and keeps no counts. A receiver
// thus costs what any WebRTC peer must spend, and no more, so that one
// process can play hundreds of them; onPacket decides what to parse. The
// client must not have a downlink yet.
func (c *Client) SubscribeWebRTCRTP(ctx context.Context, o WebRTCOptions, onPacket RTPFunc, streams ...ids.StreamID) (*Downlink, error) {
	c.rtc.mu.Lock()
	if c.rtc.down != nil {
		c.rtc.mu.Unlock()
		return nil, errors.New("client: this client already has a WebRTC downlink")
	}
	pc, err := c.newPeerConnection(o)
	if err != nil {
		c.rtc.mu.Unlock()
		return nil, err
	}
	d := &Downlink{c: c, pc: pc, counts: map[ids.StreamID]*FrameCounts{}, done: make(chan struct{})}
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		sid := ids.StreamID(track.StreamID())
		video := strings.EqualFold(track.Codec().MimeType, webrtc.MimeTypeH264)
		buf := make([]byte, 1500)
		var p rtp.Packet
		for {
			n, _, err := track.Read(buf)
			if err != nil {
				return
			}
			if p.Unmarshal(buf[:n]) != nil {
				continue
			}
			onPacket(sid, video, &p, time.Now())
		}
	})
	offers := make(chan protocol.WebRTCOfferEvent, 1)
	c.mu.Lock()
	c.rtc.offer = offers
	c.mu.Unlock()
	c.rtc.down = d
	c.rtc.mu.Unlock()
	go d.answerOffers(offers)

	var resp protocol.SubscribeResponse
	if err := c.Do(ctx, protocol.OpSubscribe, &protocol.SubscribeRequest{Streams: streams, Transport: protocol.TransportWebRTC}, &resp); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}
