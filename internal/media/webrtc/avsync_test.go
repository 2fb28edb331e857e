package webrtc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/pkg/ids"
)

func TestAVSyncMath(t *testing.T) {
	var s avSync
	vBase, aBase := uint32(4_294_000_000), uint32(1000) // video wraps soon after DTS 0
	based := true
	s.addTrack(media.Video, 11, 90000, func() (uint32, bool) { return vBase, based })
	s.addTrack(media.Audio, 22, 48000, func() (uint32, bool) { return aBase, based })

	// Video DTS 0 captured at wall clock 1000 s; the report comes 2 s later,
	// past the wrap of the video clock.
	ntpAt := func(sec float64) uint64 { return uint64(sec * (1 << 32)) }
	if _, ok := s.senderReport(11, ntpAt(1002), vBase+2*90000); ok {
		t.Fatal("a gap with only video reported")
	}
	if _, ok := s.senderReport(99, ntpAt(1002), 0); ok {
		t.Fatal("an unknown SSRC completed the pair")
	}
	// Audio DTS 0 captured 250 ms after video's.
	gap, ok := s.senderReport(22, ntpAt(1003), aBase+uint32(48000*(1003-1000.25)))
	if !ok || gap != 250 {
		t.Fatalf("gap = %d, %v; want 250 ms", gap, ok)
	}
	// Audio DTS 0 before video's: negative.
	gap, _ = s.senderReport(22, ntpAt(1000), aBase+48000*1)
	if gap != -1000 {
		t.Fatalf("gap = %d, want -1000", gap)
	}
	// A track with no frame delivered yet has no DTS 0 to place.
	based = false
	if _, ok := s.senderReport(22, ntpAt(1004), aBase); ok {
		t.Fatal("a report counted before the track's first frame")
	}
	if got := ntpMicros(ntpAt(1.5)); got != 1_500_000 {
		t.Fatalf("ntpMicros(1.5 s) = %d", got)
	}
	if roundDiv(-1500, 1000) != -2 || roundDiv(1499, 1000) != 1 {
		t.Fatal("roundDiv")
	}
}

// TestIngestSyncsBySenderReports: a publisher whose video reaches the
// server 300 ms after its audio, as an encoder's delay would make it,
// although both were captured together. Lined up by arrival, the stream
// would play audio 300 ms early; with the sender reports the client sends,
// audio and video of the same instant get the same DTS. Without reports
// the arrival alignment stays (and the test sees the 300 ms).
func TestIngestSyncsBySenderReports(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reports bool
	}{{"with reports", true}, {"arrival only", false}} {
		t.Run(tc.name, func(t *testing.T) {
			skew := runSkewedPublisher(t, tc.reports)
			t.Logf("audio DTS - video DTS for one capture instant: %d ms", skew)
			if tc.reports && (skew < -20 || skew > 20) {
				t.Fatalf("audio is %d ms off video after sender reports, want within 20 ms", skew)
			}
			if !tc.reports && skew > -250 {
				t.Fatalf("without reports audio is %d ms off video, want about -300 (the test cannot see the fix otherwise)", skew)
			}
		})
	}
}

const (
	videoDelay   = 300 * time.Millisecond // how much later video is sent than captured
	videoFrameMS = 40                     // the test file is 25 fps
	audioFrameMS = 20
)

// runSkewedPublisher publishes the test file with delayed video and returns
// the median of (audio DTS - capture) minus the median of (video DTS -
// capture) over the frames after the first second.
func runSkewedPublisher(t *testing.T, reports bool) int64 {
	aus := loadTestAUs(t)
	key := media.Key{App: "app", Room: "room", Stream: "alice_main"}
	hub, err := media.NewHub(media.Limits{}, media.Options{Admission: admitAll{key}, Hooks: nopHooks{}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	e := newEngine(t, testConfig())
	p := newPeer(t, e, "pub")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in, err := StartIngest(ctx, hub, p, media.Target{Path: "push"}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	c := newClientWith(t, clientOptions{keep: loopbackOnly, noReports: true})
	audio, _ := webrtc.NewTrackLocalStaticRTP(OpusCodec(), "audio", "alice_main")
	video, _ := webrtc.NewTrackLocalStaticRTP(H264Codec(""), "video", "alice_main")
	var ssrc [2]uint32
	for i, tr := range []webrtc.TrackLocal{audio, video} {
		tx, err := c.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			t.Fatal(err)
		}
		ssrc[i] = uint32(tx.Sender().GetParameters().Encodings[0].SSRC)
	}
	connect(t, c, p)
	waitConnected(t, c, 10*time.Second)
	time.Sleep(200 * time.Millisecond) // DTLS and the track bindings

	const aBase, vBase = 7777, 123456
	t0 := time.Now()
	var wg sync.WaitGroup
	done := make(chan struct{})
	run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	run(func() { // audio: sent as captured
		for j := 0; ; j++ {
			if !sleepUntil(done, t0.Add(time.Duration(j*audioFrameMS)*time.Millisecond)) {
				return
			}
			payload := make([]byte, 40)
			payload[0] = 0xfc
			binary.BigEndian.PutUint32(payload[1:], uint32(j))
			_ = audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(j),
				Timestamp: uint32(aBase + j*48*audioFrameMS)}, Payload: payload})
		}
	})
	run(func() { // video: sent videoDelay after capture
		pay := &codecs.H264Payloader{}
		seq := uint16(0)
		for k, au := range aus {
			if !sleepUntil(done, t0.Add(videoDelay+time.Duration(k*videoFrameMS)*time.Millisecond)) {
				return
			}
			payloads := pay.Payload(1200, au)
			for i, pl := range payloads {
				_ = video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: i == len(payloads)-1, SequenceNumber: seq,
					Timestamp: uint32(vBase + k*90*videoFrameMS)}, Payload: pl})
				seq++
			}
		}
	})
	if reports {
		run(func() { // sender reports with the capture clock, as a browser sends them
			for i := 1; ; i++ {
				if !sleepUntil(done, t0.Add(time.Duration(i)*100*time.Millisecond)) {
					return
				}
				now := time.Now()
				ms := now.Sub(t0).Milliseconds()
				_ = c.WriteRTCP([]rtcp.Packet{
					&rtcp.SenderReport{SSRC: ssrc[0], NTPTime: toNTP(now), RTPTime: uint32(aBase + 48*ms)},
					&rtcp.SenderReport{SSRC: ssrc[1], NTPTime: toNTP(now), RTPTime: uint32(vBase + 90*ms)},
				})
			}
		})
	}

	// The stream is live once media arrived; the reader then starts at the
	// first keyframe, which is cached.
	var rd *media.Reader
	for deadline := time.Now().Add(3 * time.Second); rd == nil; time.Sleep(10 * time.Millisecond) {
		if rd, err = hub.StartPlay(ctx, media.Target{Path: "play"}); err != nil && time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	defer rd.Close()

	// Each frame's capture time, known from its content.
	videoIndex := map[[32]byte]int{}
	for k, au := range aus {
		videoIndex[sliceHash(au)] = k
	}
	var audioErr, videoErr []int64
	readCtx, stop := context.WithTimeout(ctx, time.Duration(len(aus)*videoFrameMS)*time.Millisecond+videoDelay+500*time.Millisecond)
	defer stop()
	var buf []*media.Frame
	for {
		frames, err := rd.Read(readCtx, buf[:0])
		if err != nil {
			break
		}
		for _, f := range frames {
			switch {
			case f.Config:
			case f.Kind == media.Audio && len(f.Payload) >= 5:
				capture := int64(binary.BigEndian.Uint32(f.Payload[1:])) * audioFrameMS
				if capture >= 1000 {
					audioErr = append(audioErr, f.DTS-capture)
				}
			case f.Kind == media.Video:
				k, ok := videoIndex[sliceHash(avccToAnnexB(f.Payload))]
				if ok && k*videoFrameMS >= 1000 {
					videoErr = append(videoErr, f.DTS-int64(k*videoFrameMS))
				}
			}
		}
		buf = frames
	}
	close(done)
	wg.Wait()
	if len(audioErr) < 20 || len(videoErr) < 10 {
		t.Fatalf("got %d audio and %d video frames after the first second", len(audioErr), len(videoErr))
	}
	in.mu.Lock()
	t.Logf("corrections: %d", in.resyncs)
	in.mu.Unlock()
	return median(audioErr) - median(videoErr)
}

func sleepUntil(done <-chan struct{}, at time.Time) bool {
	select {
	case <-done:
		return false
	case <-time.After(time.Until(at)):
		return true
	}
}

func toNTP(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	sec := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return sec<<32 | frac
}

func median(v []int64) int64 {
	s := append([]int64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// loadTestAUs reads the rtpframe test stream (25 fps) as Annex-B access
// units: a new one starts at a non-slice NAL unit after a slice, or at a
// slice after a slice (the encoder makes one slice per picture).
func loadTestAUs(t *testing.T) [][]byte {
	t.Helper()
	raw, err := os.ReadFile("../rtpframe/testdata/testsrc_320x240.h264")
	if err != nil {
		t.Fatal(err)
	}
	var aus [][]byte
	var cur []byte
	sawSlice := false
	for _, n := range bytes.Split(raw, []byte{0, 0, 1}) {
		n = bytes.TrimRight(n, "\x00")
		if len(n) == 0 {
			continue
		}
		typ := n[0] & 0x1f
		slice := typ == 1 || typ == 5
		if sawSlice {
			aus, cur, sawSlice = append(aus, cur), nil, false
		}
		cur = append(append(cur, 0, 0, 0, 1), n...)
		sawSlice = slice
	}
	if len(cur) > 0 {
		aus = append(aus, cur)
	}
	return aus
}

// sliceHash identifies an access unit by its slice NAL unit.
func sliceHash(annexB []byte) [32]byte {
	for _, n := range bytes.Split(annexB, []byte{0, 0, 1}) {
		n = bytes.TrimRight(n, "\x00")
		if len(n) > 0 && (n[0]&0x1f == 1 || n[0]&0x1f == 5) {
			return sha256.Sum256(n)
		}
	}
	return [32]byte{}
}

func avccToAnnexB(avcc []byte) []byte {
	var out []byte
	for len(avcc) >= 4 {
		n := int(binary.BigEndian.Uint32(avcc))
		if n > len(avcc)-4 {
			break
		}
		out = append(append(out, 0, 0, 0, 1), avcc[4:4+n]...)
		avcc = avcc[4+n:]
	}
	return out
}

// admitAll admits every push and play to one stream.
type admitAll struct{ key media.Key }

func (a admitAll) AdmitPush(context.Context, media.Target) (media.PushTicket, error) {
	return media.PushTicket{Key: a.key, User: ids.UserID("alice"), Video: true, Audio: true}, nil
}

func (a admitAll) AdmitPlay(context.Context, media.Target) (media.PlayTicket, error) {
	return media.PlayTicket{Key: a.key}, nil
}

type nopHooks struct{}

func (nopHooks) Live(media.Key, ids.UserID, media.Info) {}
func (nopHooks) Ended(media.Key, ids.UserID)            {}
