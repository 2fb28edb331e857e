package webrtc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/pion/rtp"

	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/media/rtpframe"
)

// Egress sends one hub stream to a subscribing peer: a video track (H.264,
// passed through) and an audio track (Opus, converted by the hub from AAC
// when the stream was published over RTMP).
type Egress struct {
	reader *media.Reader
	peer   *Peer
	video  *LocalTrack
	audio  *LocalTrack
	log    *slog.Logger
	done   chan struct{}
}

// clientReadyDelay is how long the egress waits after its tracks are bound
// before sending: a client finishes its DTLS handshake a round trip after
// the server, and drops media that comes sooner.
const clientReadyDelay = 150 * time.Millisecond

// EgressTarget fills the codec fields of a play target for WebRTC.
func EgressTarget(t media.Target) media.Target {
	t.Protocol = media.WebRTC
	t.Audio = media.Opus
	t.VideoCodecs = []media.Codec{media.H264, media.VP8}
	return t
}

// StartEgress attaches a reader for t (a play target the caller signed) and
// adds its tracks to peer, in a media stream named streamID. The caller
// renegotiates. The egress ends when the reader does (stream ended, viewer
// unsubscribed or left) or on Close; Done is closed then, after the tracks
// were removed from the peer.
func StartEgress(ctx context.Context, hub *media.Hub, peer *Peer, t media.Target, streamID string, log *slog.Logger) (*Egress, error) {
	r, err := hub.StartPlay(ctx, EgressTarget(t))
	if err != nil {
		return nil, err
	}
	e := &Egress{reader: r, peer: peer, log: log, done: make(chan struct{})}
	// Only the kinds the stream carries: a dead track would show the
	// subscriber a black picture or silence that never ends.
	info := r.Info()
	if info.Video != nil {
		codec := H264Codec("")
		if info.Video.Codec == media.VP8 {
			codec = VP8Codec()
		}
		e.video, err = peer.AddTrack(codec, streamID+"-video", streamID)
	}
	if err == nil && info.Audio != nil {
		e.audio, err = peer.AddTrack(OpusCodec(), streamID+"-audio", streamID)
	}
	if err != nil {
		r.Close()
		e.removeTracks()
		return nil, err
	}
	go e.run()
	return e, nil
}

// Close stops the egress and waits for it.
func (e *Egress) Close() {
	e.reader.Close()
	<-e.done
}

// Done is closed when the egress is over.
func (e *Egress) Done() <-chan struct{} { return e.done }

// RequestKeyframe passes a subscriber's PLI on to the stream.
func (e *Egress) RequestKeyframe() { e.reader.RequestKeyframe() }

// VideoTrackID names the video track (for keyframe requests); "" without
// video.
func (e *Egress) VideoTrackID() string {
	if e.video == nil {
		return ""
	}
	return e.video.ID()
}

func (e *Egress) run() {
	defer close(e.done)
	defer e.removeTracks()
	// Nothing written before the client negotiated the tracks arrives, and
	// the first frames are the cached GOP (the keyframe a player starts
	// at): wait for the tracks, or the stream's end.
	for _, t := range []*LocalTrack{e.video, e.audio} {
		if t == nil {
			continue
		}
		select {
		case <-t.Bound():
		case <-e.reader.Done():
		case <-e.peer.Done():
			e.reader.Close()
			return
		}
	}
	// The server's side of DTLS completes a round trip before the
	// client's: packets sent at once are lost, and with them the keyframe
	// of the cached GOP (the player would wait a whole GOP for the next).
	select {
	case <-time.After(clientReadyDelay):
	case <-e.peer.Done():
		e.reader.Close()
		return
	}
	vp := newVideoPacketizer()
	ap := rtpframe.NewOpusPacketizer(0, PayloadTypeOpus)
	var buf []*media.Frame
	for {
		frames, err := e.reader.Read(context.Background(), buf)
		for _, f := range frames {
			if werr := e.send(vp, ap, f); werr != nil {
				e.log.Debug("webrtc: egress write failed", "err", werr)
				e.reader.Close()
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, media.ErrClosed) {
				e.log.Debug("webrtc: egress read ended", "err", err)
			}
			return
		}
		buf = frames
	}
}

// videoPacketizer packetizes whichever video codec the stream carries
// (H.264 from anyone, VP8 from WebRTC publishers).
type videoPacketizer struct {
	h264 *rtpframe.H264Packetizer
	vp8  *rtpframe.VP8Packetizer
}

func newVideoPacketizer() *videoPacketizer {
	return &videoPacketizer{h264: rtpframe.NewH264Packetizer(0, PayloadTypeH264, rtpframe.DefaultMTU),
		vp8: rtpframe.NewVP8Packetizer(0, PayloadTypeVP8, rtpframe.DefaultMTU)}
}

func (v *videoPacketizer) SetConfig(f *media.Frame) error {
	if f.Codec == media.H264 {
		return v.h264.SetConfig(f.Payload)
	}
	return nil
}

func (v *videoPacketizer) Packetize(f *media.Frame) ([]*rtp.Packet, error) {
	if f.Codec == media.VP8 {
		return v.vp8.Packetize(f)
	}
	return v.h264.Packetize(f)
}

func (e *Egress) send(vp *videoPacketizer, ap *rtpframe.OpusPacketizer, f *media.Frame) error {
	switch {
	case f.Kind == media.Video && e.video == nil, f.Kind == media.Audio && e.audio == nil:
		// A kind the stream did not carry when the subscription started.
	case f.Kind == media.Video && f.Config:
		return vp.SetConfig(f)
	case f.Kind == media.Video:
		send, startedSkip := e.video.budget.admit(len(f.Payload), f.Key, time.Now())
		if !send {
			e.reader.CountDropped(1)
			if startedSkip {
				e.log.Debug("webrtc: subscriber's network is congested; skipping to the next keyframe")
				e.reader.RequestKeyframe()
			}
			return nil
		}
		pkts, err := vp.Packetize(f)
		if err != nil {
			e.log.Debug("webrtc: video frame not sent", "err", err)
			return nil
		}
		for _, p := range pkts {
			if err := e.video.WriteRTP(p); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return err
			}
		}
	case f.Config || f.Codec != media.Opus:
		// The Opus config carries nothing WebRTC needs.
	default:
		p, err := ap.Packetize(f)
		if err != nil {
			return nil
		}
		if err := e.audio.WriteRTP(p); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return err
		}
	}
	return nil
}

func (e *Egress) removeTracks() {
	for _, t := range []*LocalTrack{e.video, e.audio} {
		if t != nil {
			_ = e.peer.RemoveTrack(t)
		}
	}
}
