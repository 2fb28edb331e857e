package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/server"
	"github.com/minirtc/minirtc/internal/transcode"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// wrStream is one published stream: pushed over RTMP by bench media's
// publisher, or published over WebRTC by a Go participant.
type wrStream struct {
	r       *webrtcRun
	user    ids.UserID
	id      ids.StreamID
	pushURL string // rtmp-to-webrtc
	rtmp    *publisher
	ring    *audioRing
	playURL string // webrtc-to-flv: the receivers' HTTP-FLV URL
	wpub    *webrtcPublisher
	in      audioInput
}

func (r *webrtcRun) newStream(i int) (*wrStream, error) {
	o := r.o
	st := &wrStream{r: r, user: ids.UserID(fmt.Sprintf("benchpub-%s-%d", r.runID, i))}
	st.id = ids.StreamID(string(st.user) + "_" + string(ids.DefaultTag))
	g := auth.MediaGrant{App: r.app, Room: ids.RoomID(o.room), Stream: st.id, User: st.user, Expires: time.Now().Add(auth.MaxTTL)}
	if o.mode == modeRTMPToWebRTC {
		g.Action = auth.ActionIngest
		st.pushURL = server.PushURLFor(o.rtmpURL, r.secret, g)
		st.ring = new(audioRing)
		st.rtmp, _ = newPublisher(r.src, o.mediaOpts(), st.ring)
		// AAC frames of 1024 samples, stamped as bench media's publisher
		// does; an Opus packet (20 ms) leaves the transcoder once its last
		// sample was decoded.
		sr := int64(r.src.asc.SampleRate)
		st.in = audioInput{dur: 1024e3 / float64(sr), lookahead: 20, count: st.rtmp.audioSent.Load,
			sent: func(j int64) (int64, bool) {
				seq, sent, ok := st.ring.get(uint32(j * 1024 * 1000 / sr))
				return sent, ok && seq == uint32(j)
			}}
		return st, nil
	}
	g.Action, g.User = auth.ActionView, ids.UserID("benchview-"+r.runID)
	st.playURL = server.PlayURLsFor(o.rtmpURL, o.httpURL, r.secret, g).FLV
	wp, err := newWebRTCPublisher(r.src, o)
	if err != nil {
		return nil, err
	}
	st.wpub = wp
	// 20 ms Opus packets in; an AAC frame (1024 samples) leaves FFmpeg's
	// encoder when the frame after it is complete (one frame of lookahead).
	st.in = audioInput{dur: 20, lookahead: 2 * 1024e3 / 48000, outDur: 1024e3 / 48000, count: wp.audioSent.Load, sent: wp.sentAt}
	return st, nil
}

// token mints a signalling token for user in the bench room.
func (r *webrtcRun) token(user ids.UserID) (string, error) {
	now := time.Now()
	return auth.Mint(r.secret, auth.Claims{App: r.app, User: user, Room: ids.RoomID(r.o.room), IssuedAt: now, ExpiresAt: now.Add(auth.MaxTTL)})
}

// publish starts the stream and returns once its first keyframe was sent.
func (st *wrStream) publish(ctx context.Context, wg *sync.WaitGroup) error {
	o := st.r.o
	if st.rtmp != nil {
		if err := st.rtmp.connect(ctx, st.pushURL, o.connectTimeout); err != nil {
			return err
		}
		wg.Go(func() {
			if err := st.rtmp.run(ctx); err != nil {
				fmt.Fprintf(st.r.errOut, "warning: stream %s: %v\n", st.id, err)
			}
		})
		select {
		case <-st.rtmp.live:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	tok, err := st.r.token(st.user)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, o.connectTimeout)
	defer cancel()
	c, err := client.Join(cctx, wsURL(o.httpURL), tok, ids.RoomID(o.room), &client.Options{DisableReconnect: true})
	if err != nil {
		return fmt.Errorf("publisher joins: %w", err)
	}
	context.AfterFunc(ctx, func() { c.Close() })
	pub, err := c.PublishWebRTC(cctx, ids.DefaultTag, protocol.MediaAudioVideo, client.WebRTCOptions{IncludeLoopback: true})
	if err != nil {
		return fmt.Errorf("publish over WebRTC: %w", err)
	}
	if err := pub.Connected(cctx); err != nil {
		return fmt.Errorf("publish over WebRTC: %w", err)
	}
	st.wpub.pub = pub
	wg.Go(func() { st.wpub.run(ctx) })
	return nil
}

// wsURL is the signalling URL on the server's HTTP port.
func wsURL(httpBase string) string {
	if rest, ok := strings.CutPrefix(httpBase, "https://"); ok {
		return "wss://" + rest + "/ws"
	}
	return "ws://" + strings.TrimPrefix(httpBase, "http://") + "/ws"
}

// webrtcPublisher sends the synthetic stream over WebRTC in real time:
// Annex-B access units with the stamp as their first NAL unit after the
// parameter sets, and 20 ms Opus packets.
type webrtcPublisher struct {
	pub       *client.WebRTCPublication
	fps       float64
	aus       [][]byte // per GOP position, Annex-B; the stamp at stampAt[i]
	stampAt   []int
	opus      [][]byte
	noAudio   bool
	mu        sync.Mutex
	sent      []int64 // send time of every Opus packet
	audioSent atomic.Int64
	late      atomic.Int64
}

// newWebRTCPublisher builds the access units from bench media's synthetic
// GOP. pion's H.264 packetizer drops filler NAL units, so the padding goes
// in SEI NAL units instead, which every hop forwards. The Opus packets are
// the fixture's AAC transcoded once by the same library the server uses.
func newWebRTCPublisher(src *mediaSource, o webrtcOpts) (*webrtcPublisher, error) {
	mp, _ := newPublisher(src, o.mediaOpts(), nil)
	wp := &webrtcPublisher{fps: o.fps, noAudio: !o.audio}
	start := []byte{0, 0, 0, 1}
	for pos, nalus := range mp.gop {
		var au []byte
		if pos == 0 {
			au = append(append(append(au, start...), src.sps...), start...)
			au = append(au, src.pps...)
		}
		au = append(au, start...)
		wp.stampAt = append(wp.stampAt, len(au))
		au = append(au, make([]byte, stampNALSize)...)
		for _, n := range nalus[1:] {
			if n[0]&0x1f == 12 {
				n = seiPadding(len(n))
			}
			au = append(append(au, start...), n...)
		}
		wp.aus = append(wp.aus, au)
	}
	if !o.audio {
		return wp, nil
	}
	asc, err := src.asc.Marshal()
	if err != nil {
		return nil, err
	}
	t, err := transcode.NewAACToOpus(asc)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	for i, f := range src.audio {
		pkts, err := t.Write(f.au, int64(i)*1024*1000/int64(src.asc.SampleRate))
		if err != nil {
			return nil, err
		}
		for _, p := range pkts {
			wp.opus = append(wp.opus, p.Data)
		}
	}
	if len(wp.opus) == 0 {
		return nil, fmt.Errorf("no Opus packets from the fixture's audio")
	}
	return wp, nil
}

// seiPadding is an SEI NAL unit (user data unregistered, all 0xff after a
// UUID: no emulation prevention needed) of exactly n bytes, or nil if n
// is too small to hold one.
func seiPadding(n int) []byte {
	for sizeBytes := 1; n-3-sizeBytes >= 16; sizeBytes++ {
		ps := n - 3 - sizeBytes
		if ps/255+1 != sizeBytes {
			continue
		}
		b := make([]byte, 0, n)
		b = append(b, 6, 5)
		for ; ps >= 255; ps -= 255 {
			b = append(b, 0xff)
		}
		b = append(b, byte(ps))
		b = append(b, "minirtc-padding!"...)
		for len(b) < n-1 {
			b = append(b, 0xff)
		}
		return append(b, 0x80)
	}
	return nil
}

func (wp *webrtcPublisher) sentAt(j int64) (int64, bool) {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	if j < 0 || j >= int64(len(wp.sent)) {
		return 0, false
	}
	return wp.sent[j], true
}

// run sends video frame i at i/fps and Opus packet j at 20 ms × j.
func (wp *webrtcPublisher) run(ctx context.Context) {
	defer wp.pub.Close()
	frameDur := time.Duration(float64(time.Second) / wp.fps)
	t0 := time.Now()
	var i, j int64
	for ctx.Err() == nil {
		vDue, aDue := time.Duration(i)*frameDur, time.Duration(j)*20*time.Millisecond
		video := wp.noAudio || vDue <= aDue
		due := t0.Add(aDue)
		if video {
			due = t0.Add(vDue)
		}
		if !waitCtx(ctx, time.Until(due)) {
			return
		}
		if time.Since(due) > publisherLate {
			wp.late.Add(1)
		}
		if video {
			pos := int(i % int64(len(wp.aus)))
			au := wp.aus[pos]
			putStamp(au[wp.stampAt[pos]:], stamp{sent: monoNow(), seq: uint32(i), ts: uint32(vDue / time.Millisecond)})
			_ = wp.pub.WriteVideo(au, frameDur) // WriteSample copies the data into packets
			i++
			continue
		}
		wp.mu.Lock()
		wp.sent = append(wp.sent, monoNow())
		wp.mu.Unlock()
		_ = wp.pub.WriteAudio(wp.opus[j%int64(len(wp.opus))], 20*time.Millisecond)
		wp.audioSent.Add(1)
		j++
	}
}
