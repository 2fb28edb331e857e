package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	pmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/media/rtpframe"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

func mediaSample(data []byte, d time.Duration) pmedia.Sample {
	return pmedia.Sample{Data: data, Duration: d}
}

// ReceivedFrame is a frame the downlink reassembled from RTP: an H.264
// access unit (AVCC, with the configuration record in Config frames), a
// VP8 frame, or an Opus packet.
type ReceivedFrame struct {
	Stream ids.StreamID
	Video  bool
	Config bool // an AVCDecoderConfigurationRecord (SPS/PPS)
	Key    bool
	DTS    time.Duration // from the track's first frame
	Data   []byte
	At     time.Time // when it was complete
}

// FrameCounts are what a downlink received for one stream.
type FrameCounts struct {
	Video, Keyframes, Audio    int
	FirstVideoAt, FirstAudioAt time.Time
}

// Downlink receives the streams the client subscribed to over WebRTC. It
// answers the server's offers by itself.
type Downlink struct {
	c  *Client
	pc *webrtc.PeerConnection

	onFrame func(ReceivedFrame)
	mu      sync.Mutex
	counts  map[ids.StreamID]*FrameCounts
	tracks  map[ids.StreamID][]string
	err     error
	done    chan struct{}
	closed  sync.Once
}

// DownlinkOptions configure SubscribeWebRTC's downlink (the first call
// creates it; later calls reuse it and ignore these).
type DownlinkOptions struct {
	WebRTCOptions
	// OnFrame, if set, is called with every frame received, on the track's
	// goroutine.
	OnFrame func(ReceivedFrame)
}

// SubscribeWebRTC subscribes to streams over WebRTC and returns the
// client's downlink, which receives them once the server's offer is
// answered.
func (c *Client) SubscribeWebRTC(ctx context.Context, o DownlinkOptions, streams ...ids.StreamID) (*Downlink, error) {
	d, err := c.downlink(o)
	if err != nil {
		return nil, err
	}
	var resp protocol.SubscribeResponse
	if err := c.Do(ctx, protocol.OpSubscribe, &protocol.SubscribeRequest{Streams: streams, Transport: protocol.TransportWebRTC}, &resp); err != nil {
		return nil, err
	}
	return d, nil
}

func (c *Client) downlink(o DownlinkOptions) (*Downlink, error) {
	c.rtc.mu.Lock()
	defer c.rtc.mu.Unlock()
	if c.rtc.down != nil {
		return c.rtc.down, nil
	}
	pc, err := c.newPeerConnection(o.WebRTCOptions)
	if err != nil {
		return nil, err
	}
	d := &Downlink{c: c, pc: pc, onFrame: o.OnFrame, counts: map[ids.StreamID]*FrameCounts{}, tracks: map[ids.StreamID][]string{}, done: make(chan struct{})}
	pc.OnTrack(d.readTrack)
	offers := make(chan protocol.WebRTCOfferEvent, 1)
	c.mu.Lock()
	c.rtc.offer = offers
	c.mu.Unlock()
	c.rtc.down = d
	go d.answerOffers(offers)
	return d, nil
}

// answerOffers answers the server's offers in order (a superseded one is
// skipped: the server only accepts the answer to its latest).
func (d *Downlink) answerOffers(offers <-chan protocol.WebRTCOfferEvent) {
	for {
		select {
		case ev := <-offers:
			if err := d.answer(ev); err != nil {
				d.fail(fmt.Errorf("client: answering offer %d: %w", ev.OfferID, err))
				return
			}
		case <-d.done:
			return
		case <-d.c.ctx.Done():
			d.Close()
			return
		}
	}
}

func (d *Downlink) answer(ev protocol.WebRTCOfferEvent) error {
	ctx, cancel := context.WithTimeout(d.c.ctx, negotiationTimeout)
	defer cancel()
	if err := d.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: ev.SDP}); err != nil {
		return err
	}
	ans, err := d.pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	sdp, err := localDescription(ctx, d.pc, ans)
	if err != nil {
		return err
	}
	err = d.c.Do(ctx, protocol.OpWebRTCAnswer, &protocol.WebRTCAnswerRequest{OfferID: ev.OfferID, SDP: sdp}, nil)
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Code == protocol.CodeNegotiation {
		return nil // superseded while we answered: the next offer follows
	}
	return err
}

func (d *Downlink) readTrack(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	sid := ids.StreamID(track.StreamID())
	mime := track.Codec().MimeType
	video := strings.EqualFold(mime, webrtc.MimeTypeH264) || strings.EqualFold(mime, webrtc.MimeTypeVP8)
	d.mu.Lock()
	d.tracks[sid] = append(d.tracks[sid], track.Kind().String())
	d.mu.Unlock()
	var push func(*rtp.Packet) ([]*media.Frame, error)
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypeVP8):
		push = rtpframe.NewVP8Depacketizer().Push
	case video:
		push = rtpframe.NewH264Depacketizer().Push
	default:
		push = rtpframe.NewOpusDepacketizer().Push
	}
	for {
		p, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		frames, _ := push(p)
		now := time.Now()
		for _, f := range frames {
			d.count(sid, video, f, now)
			if d.onFrame != nil {
				d.onFrame(ReceivedFrame{Stream: sid, Video: video, Config: f.Config, Key: f.Key, DTS: time.Duration(f.DTS) * time.Millisecond, Data: f.Payload, At: now})
			}
		}
	}
}

func (d *Downlink) count(sid ids.StreamID, video bool, f *media.Frame, now time.Time) {
	if f.Config {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.counts[sid]
	if c == nil {
		c = &FrameCounts{}
		d.counts[sid] = c
	}
	switch {
	case video:
		if c.Video == 0 {
			c.FirstVideoAt = now
		}
		c.Video++
		if f.Key {
			c.Keyframes++
		}
	default:
		if c.Audio == 0 {
			c.FirstAudioAt = now
		}
		c.Audio++
	}
}

// Counts returns what was received of stream so far.
func (d *Downlink) Counts(stream ids.StreamID) FrameCounts {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.counts[stream]; c != nil {
		return *c
	}
	return FrameCounts{}
}

// Tracks lists the kinds ("audio", "video") of the tracks received for
// stream so far, in arrival order.
func (d *Downlink) Tracks(stream ids.StreamID) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.tracks[stream]...)
}

// Connected waits until the downlink's ICE and DTLS are up.
func (d *Downlink) Connected(ctx context.Context) error { return waitConnected(ctx, d.pc) }

// Err is why the downlink stopped, if it did.
func (d *Downlink) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

func (d *Downlink) fail(err error) {
	d.mu.Lock()
	if d.err == nil {
		d.err = err
	}
	d.mu.Unlock()
	d.Close()
}

// Close ends the downlink (the server drops its tracks when it notices).
func (d *Downlink) Close() error {
	d.closed.Do(func() {
		close(d.done)
		_ = d.pc.Close()
		d.c.rtc.mu.Lock()
		if d.c.rtc.down == d {
			d.c.rtc.down = nil
		}
		d.c.rtc.mu.Unlock()
	})
	return nil
}
