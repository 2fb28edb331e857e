package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/minirtc/minirtc/internal/media/flv"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
)

// wrReceiver is one receiver of one stream: a WebRTC participant (its
// video and audio tracks each have a goroutine, so the v* and a* fields
// are each owned by one) or an HTTP-FLV player (one goroutine).
type wrReceiver struct {
	run    *webrtcRun
	st     *wrStream
	index  int
	state  atomic.Int32 // rdPending...
	frames atomic.Int64 // video frames, for the progress line
	playAt int64        // frames sent before this came out of the GOP cache

	// Video: the stamp of the frame being received, by RTP timestamp.
	vSeq      uint16
	vHaveSeq  bool
	cur       stamp
	curTS     uint32
	pending   bool
	lastFrame int64 // stamp seq of the last frame, -1 before any

	aSeq     uint16
	aHaveSeq bool
	aTS0     uint32
	aHaveTS0 bool
	obsMu    sync.Mutex
	obs      []audioObs // audio frames received in the window
}

func (rc *wrReceiver) play(ctx context.Context) {
	rc.lastFrame = -1
	rc.state.Store(rdConnecting)
	var err error
	if rc.run.o.mode == modeRTMPToWebRTC {
		err = rc.playWebRTC(ctx)
	} else {
		err = rc.playFLV(ctx)
	}
	switch {
	case ctx.Err() != nil:
		rc.state.Store(rdStopped)
	case rc.state.Load() == rdPlaying:
		rc.run.disconnects.add(mediaErrLabel(err))
		rc.state.Store(rdLost)
	default:
		rc.run.connectErrors.add(mediaErrLabel(err))
		rc.state.Store(rdFailed)
	}
}

// playWebRTC joins the room, subscribes over WebRTC and waits until ctx
// ends or the peer connection fails.
func (rc *wrReceiver) playWebRTC(ctx context.Context) error {
	r := rc.run
	tok, err := r.token(ids.UserID(fmt.Sprintf("benchsub-%s-%05d", r.runID, rc.index)))
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, r.o.connectTimeout)
	defer cancel()
	c, err := client.Join(cctx, wsURL(r.o.httpURL), tok, ids.RoomID(r.o.room), &client.Options{DisableReconnect: true})
	if err != nil {
		return err
	}
	defer c.Close()
	rc.playAt = monoNow()
	d, err := c.SubscribeWebRTCRTP(cctx, client.WebRTCOptions{IncludeLoopback: true}, rc.onRTP, rc.st.id)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Connected(cctx); err != nil {
		return err
	}
	rc.state.Store(rdPlaying)
	for ctx.Err() == nil {
		if err := d.Err(); err != nil {
			return err
		}
		waitCtx(ctx, 200*time.Millisecond)
	}
	return nil
}

// onRTP handles one packet without reassembling frames: the stamp is
// read from the packet that carries the SEI NAL unit (alone or in a
// STAP-A), and the frame is timed when its last packet arrives.
func (rc *wrReceiver) onRTP(_ ids.StreamID, video bool, p *rtp.Packet, at time.Time) {
	r := rc.run
	measuring := r.measuring.Load()
	if measuring {
		r.packets.Add(1)
	}
	if !video {
		rc.onOpus(p, at, measuring)
		return
	}
	if rc.vHaveSeq && p.SequenceNumber-rc.vSeq-1 < 1000 && measuring {
		r.lostPackets.Add(int64(p.SequenceNumber - rc.vSeq - 1))
	}
	rc.vSeq, rc.vHaveSeq = p.SequenceNumber, true
	if s, ok := rtpStamp(p.Payload); ok {
		rc.cur, rc.curTS, rc.pending = s, p.Timestamp, true
	}
	if !p.Marker {
		return
	}
	rc.frames.Add(1)
	if !rc.pending || rc.curTS != p.Timestamp {
		if measuring {
			r.unstamped.Add(1)
		}
		return
	}
	rc.pending = false
	rc.videoFrame(rc.cur, monoAt(at), measuring)
}

// videoFrame records a complete frame's latency and any frames skipped
// since the last one.
func (rc *wrReceiver) videoFrame(s stamp, now int64, measuring bool) {
	r := rc.run
	if measuring && rc.lastFrame >= 0 && int64(s.seq)-rc.lastFrame > 1 {
		r.skipped.Add(int64(s.seq) - rc.lastFrame - 1)
	}
	rc.lastFrame = int64(s.seq)
	if measuring && s.sent >= rc.playAt {
		d := time.Duration(now - s.sent)
		r.videoFrames.Add(1)
		r.video.record(d)
		// Keyframes are the long bursts (tens of packets to every
		// receiver at once): their tail is not the other frames'.
		if s.seq%uint32(r.gopFrames) == 0 {
			r.videoKey.record(d)
		} else {
			r.videoDelta.record(d)
		}
	}
}

func (rc *wrReceiver) onOpus(p *rtp.Packet, at time.Time, measuring bool) {
	r := rc.run
	if rc.aHaveSeq && p.SequenceNumber-rc.aSeq-1 < 1000 && measuring {
		r.lostPackets.Add(int64(p.SequenceNumber - rc.aSeq - 1))
	}
	rc.aSeq, rc.aHaveSeq = p.SequenceNumber, true
	if !rc.aHaveTS0 {
		rc.aTS0, rc.aHaveTS0 = p.Timestamp, true
	}
	if measuring {
		r.audioFrames.Add(1)
		rel := float64(int32(p.Timestamp-rc.aTS0)) / 48 // ms since this receiver's first packet
		rc.addObs(audioObs{rel: rel, at: monoAt(at)})
	}
}

func (rc *wrReceiver) addObs(o audioObs) {
	rc.obsMu.Lock()
	rc.obs = append(rc.obs, o)
	rc.obsMu.Unlock()
}

// rtpStamp finds the bench stamp in an H.264 RTP payload: a single SEI NAL
// unit, or one inside a STAP-A (RFC 6184 5.7.1). The stamp is 52 bytes,
// so it is never fragmented.
func rtpStamp(b []byte) (stamp, bool) {
	if len(b) == 0 {
		return stamp{}, false
	}
	switch b[0] & 0x1f {
	case 6:
		return nalStamp(b)
	case 24:
		for b = b[1:]; len(b) >= 2; {
			n := int(binary.BigEndian.Uint16(b))
			if n == 0 || n > len(b)-2 {
				return stamp{}, false
			}
			if s, ok := nalStamp(b[2 : 2+n]); ok {
				return s, true
			}
			b = b[2+n:]
		}
	}
	return stamp{}, false
}

// nalStamp parses one NAL unit with findStamp (which takes AVCC).
func nalStamp(nal []byte) (stamp, bool) {
	if len(nal) != stampNALSize || nal[0]&0x1f != 6 {
		return stamp{}, false
	}
	var avcc [4 + stampNALSize]byte
	binary.BigEndian.PutUint32(avcc[:], stampNALSize)
	copy(avcc[4:], nal)
	return findStamp(avcc[:])
}

// playFLV plays the stream over HTTP-FLV (webrtc-to-flv): a handful of
// players, so net/http's client is cheap enough here.
func (rc *wrReceiver) playFLV(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rc.st.playURL, nil)
	if err != nil {
		return err
	}
	rc.playAt = monoNow()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return flvRefusal(resp.StatusCode, resp.Body)
	}
	rc.state.Store(rdPlaying)
	dm := flv.NewDemuxer(resp.Body, 0)
	for {
		tag, err := dm.Next()
		if err != nil {
			return err
		}
		now, b, measuring := monoNow(), tag.Body, rc.run.measuring.Load()
		switch {
		case tag.Type == flv.TagVideo && len(b) > 5 && b[0]&0x0f == 7 && b[1] == 1:
			rc.frames.Add(1)
			if s, ok := findStamp(b[5:]); ok {
				rc.videoFrame(s, now, measuring)
			} else if measuring {
				rc.run.unstamped.Add(1)
			}
		case tag.Type == flv.TagAudio && len(b) > 2 && b[0]>>4 == 10 && b[1] == 1 && measuring:
			rc.run.audioFrames.Add(1)
			rc.addObs(audioObs{rel: float64(tag.Timestamp), at: now})
		}
	}
}
