package webrtc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/media/rtpframe"
)

// Ingest feeds the tracks of a publishing peer into one hub stream: RTP is
// turned into frames (rtpframe) and written through a media.Publisher, as
// an RTMP push would be. The stream's audio is Opus; RTMP and FLV players
// get it as AAC through the hub's audio conversion.
type Ingest struct {
	peer *Peer
	pub  *media.Publisher
	log  *slog.Logger

	mu      sync.Mutex // WriteFrame is called from two track goroutines
	start   time.Time  // the shared clock of both tracks
	offsets map[media.Kind]int64
	last    map[media.Kind]int64 // newest DTS written per kind
	sync    avSync
	resyncs int    // corrections made from sender reports
	video   uint32 // SSRC of the video track, for keyframe requests
	pliAt   time.Time
	done    chan struct{}
}

// StartIngest attaches a publisher for t (a push target the caller has
// signed, so the hub's admission applies as for RTMP) and feeds it the
// peer's tracks. The push ends when the peer closes, and the peer is
// closed when the server cuts the push (unpublish, kick, leave).
func StartIngest(ctx context.Context, hub *media.Hub, peer *Peer, t media.Target, log *slog.Logger) (*Ingest, error) {
	pub, err := hub.StartPush(ctx, t)
	if err != nil {
		return nil, err
	}
	in := &Ingest{peer: peer, pub: pub, log: log, start: time.Now(), offsets: map[media.Kind]int64{}, last: map[media.Kind]int64{}, done: make(chan struct{})}
	pub.OnKeyframeRequest(in.requestKeyframe)
	peer.OnSenderReport(in.senderReport)
	peer.OnTrack(in.readTrack)
	go func() {
		defer close(in.done)
		select {
		case <-pub.Done():
			_ = peer.Close()
		case <-peer.Done():
		}
		pub.Close()
	}()
	return in, nil
}

// Done is closed when the push is over.
func (in *Ingest) Done() <-chan struct{} { return in.done }

// readTrack runs on the peer's goroutine for one incoming track.
func (in *Ingest) readTrack(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	mime := strings.ToLower(track.Codec().MimeType)
	var push func(*rtp.Packet) ([]*media.Frame, error)
	var kind media.Kind
	var needKey func() bool
	switch mime {
	case strings.ToLower(webrtc.MimeTypeH264):
		d := rtpframe.NewH264Depacketizer()
		push, kind, needKey = d.Push, media.Video, d.NeedKeyframe
		in.addSyncTrack(kind, track, d.BaseTimestamp)
		in.videoTrack(track)
	case strings.ToLower(webrtc.MimeTypeVP8):
		d := rtpframe.NewVP8Depacketizer()
		push, kind, needKey = d.Push, media.Video, d.NeedKeyframe
		in.addSyncTrack(kind, track, d.BaseTimestamp)
		in.videoTrack(track)
	case strings.ToLower(webrtc.MimeTypeOpus):
		d := rtpframe.NewOpusDepacketizer()
		push, kind = d.Push, media.Audio
		in.addSyncTrack(kind, track, d.BaseTimestamp)
		channels := max(int(track.Codec().Channels), 1)
		cfg := &media.Frame{Kind: media.Audio, Codec: media.Opus, Config: true, Payload: media.OpusHead(min(channels, 2))}
		if err := in.write(cfg, 0); err != nil {
			return
		}
	default:
		in.log.Warn("webrtc: track codec not carried; ignoring it", "codec", track.Codec().MimeType)
		drain(track)
		return
	}
	for {
		p, _, err := track.ReadRTP()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				in.log.Debug("webrtc: track ended", "kind", kind, "err", err)
			}
			return
		}
		frames, err := push(p)
		if err != nil {
			in.log.Debug("webrtc: bad RTP packet dropped", "kind", kind, "err", err)
		}
		for _, f := range frames {
			if err := in.write(f, f.DTS); err != nil {
				return
			}
		}
		if needKey != nil && needKey() {
			in.requestKeyframe()
		}
	}
}

// videoTrack notes the video SSRC (for keyframe requests) and asks for
// the first picture at once.
func (in *Ingest) videoTrack(track *webrtc.TrackRemote) {
	in.mu.Lock()
	in.video = uint32(track.SSRC())
	in.mu.Unlock()
	in.requestKeyframe()
}

// write puts a frame on the stream's timeline. Each track's frames count
// from 0; the first frame of a track is placed at its arrival time on the
// ingest's clock, which lines audio and video up to within the network's
// jitter without waiting for RTCP sender reports (senderReport refines it).
// An audio frame that a correction put at or before the last one written
// is dropped: players need audio DTS to increase.
func (in *Ingest) write(f *media.Frame, dts int64) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	off, ok := in.offsets[f.Kind]
	if !ok && !f.Config {
		off = time.Since(in.start).Milliseconds()
		in.offsets[f.Kind] = off
	}
	out := off + dts
	if !f.Config {
		last, seen := in.last[f.Kind]
		if out < 0 || (f.Kind == media.Audio && seen && out <= last) {
			return nil
		}
		in.last[f.Kind] = out
	}
	err := in.pub.WriteFrame(f, uint32(out))
	if err != nil && !media.ErrCut(err) {
		in.log.Warn("webrtc: publish refused a frame; ending the push", "err", err)
		_ = in.peer.Close()
	}
	return err
}

func (in *Ingest) addSyncTrack(k media.Kind, track *webrtc.TrackRemote, base func() (uint32, bool)) {
	in.mu.Lock()
	in.sync.addTrack(k, uint32(track.SSRC()), track.Codec().ClockRate, base)
	in.mu.Unlock()
}

// senderReport re-places the audio track against the video track when the
// sender reports say their first frames were captured further apart than
// their arrival suggested. Video stays put: moving it would shift the
// picture every player is showing; audio skips or pauses for a moment once.
func (in *Ingest) senderReport(ssrc uint32, ntp uint64, rtpTime uint32) {
	in.mu.Lock()
	defer in.mu.Unlock()
	gap, ok := in.sync.senderReport(ssrc, ntp, rtpTime)
	if !ok {
		return
	}
	vOff, vok := in.offsets[media.Video]
	aOff, aok := in.offsets[media.Audio]
	if !vok || !aok {
		return
	}
	want := vOff + gap
	step := want - aOff
	switch {
	case step >= -syncTolerance && step <= syncTolerance:
		return
	case step < -maxSyncStep || step > maxSyncStep:
		in.log.Debug("webrtc: sender reports ask for an implausible audio shift; ignored", "shift_ms", step)
		return
	}
	in.offsets[media.Audio] = want
	in.resyncs++
	in.log.Info("webrtc: audio re-aligned to video by sender reports", "shift_ms", step, "corrections", in.resyncs)
}

// keyframeInterval spaces the PLIs the ingest sends itself (loss, start).
const keyframeInterval = 500 * time.Millisecond

func (in *Ingest) requestKeyframe() {
	in.mu.Lock()
	ssrc := in.video
	if ssrc == 0 || time.Since(in.pliAt) < keyframeInterval {
		in.mu.Unlock()
		return
	}
	in.pliAt = time.Now()
	in.mu.Unlock()
	_ = in.peer.SendPLI(ssrc)
}

func drain(track *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := track.Read(buf); err != nil {
			return
		}
	}
}
