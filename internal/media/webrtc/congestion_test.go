package webrtc

import (
	"context"
	"encoding/binary"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/media/rtpframe"
)

func TestVideoBudget(t *testing.T) {
	var b videoBudget
	now := time.Unix(1000, 0)
	// No estimate: everything goes.
	for i := 0; i < 10; i++ {
		if send, _ := b.admit(100_000, false, now); !send {
			t.Fatal("frame refused without an estimate")
		}
	}
	// 400 kbit/s is 50 kB/s, drained at 62.5 kB/s; the queue may hold 500
	// ms of the estimate, 25 kB.
	b.setEstimate(400_000, now)
	if send, _ := b.admit(20_000, true, now); !send {
		t.Fatal("keyframe refused")
	}
	send, started := b.admit(6_000, false, now)
	if send || !started {
		t.Fatalf("frame over the budget: send %v, started skip %v", send, started)
	}
	// Drained long enough, but the chain is broken: still skipping.
	now = now.Add(time.Second)
	b.setEstimate(400_000, now)
	if send, started := b.admit(1_000, false, now); send || started {
		t.Fatal("a frame after a dropped one was sent")
	}
	// A keyframe always goes, even over the budget, and ends the skip.
	if send, _ := b.admit(30_000, true, now); !send {
		t.Fatal("keyframe refused")
	}
	now = now.Add(80 * time.Millisecond) // 5 kB drained: 25 kB queued
	if send, _ := b.admit(1_000, false, now); send {
		t.Fatal("frame sent while the queue is full")
	}
	if got := b.dropped.Load(); got != 3 {
		t.Fatalf("dropped %d, want 3", got)
	}
	// A stale estimate is forgotten.
	now = now.Add(estimateMaxAge + time.Second)
	if send, _ := b.admit(100_000, false, now); !send {
		t.Fatal("stale estimate still applied")
	}
}

// TestCongestedSubscriberSkipsToKeyframes: a 1.25 Mbit/s stream to three
// subscribers. Two report (REMB) 10 and 1.25 Mbit/s and get every frame;
// the third reports 300 kbit/s and gets keyframes and only whole chains after them —
// never a frame whose predecessor was dropped — and the drops are counted.
func TestCongestedSubscriberSkipsToKeyframes(t *testing.T) {
	key := media.Key{App: "app", Room: "room", Stream: "alice_main"}
	hub, err := media.NewHub(media.Limits{}, media.Options{Admission: admitAll{key}, Hooks: nopHooks{}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub, err := hub.StartPush(ctx, media.Target{Path: "push"})
	if err != nil {
		t.Fatal(err)
	}
	avcc, err := os.ReadFile("../testdata/h264_320x240.avcc")
	if err != nil {
		t.Fatal(err)
	}
	const fps, gop = 30, 30
	sent := make(chan int, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // 40 kB keyframes, 4 kB others: about 1.25 Mbit/s
		defer wg.Done()
		_ = pub.WriteFrame(&media.Frame{Kind: media.Video, Codec: media.H264, Config: true, Payload: avcc}, 0)
		tk := time.NewTicker(time.Second / fps)
		defer tk.Stop()
		i := 0
		defer func() { sent <- i }()
		for ; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			k := i%gop == 0
			size := 4_000
			if k {
				size = 40_000
			}
			if err := pub.WriteFrame(&media.Frame{Kind: media.Video, Codec: media.H264, Key: k, Payload: indexedSlice(i, k, size)}, uint32(i*1000/fps)); err != nil {
				return
			}
		}
	}()

	healthy := newBudgetSubscriber(t, ctx, hub, 10_000_000)
	atRate := newBudgetSubscriber(t, ctx, hub, 1_250_000) // keeping up, just
	congested := newBudgetSubscriber(t, ctx, hub, 300_000)
	time.Sleep(4 * time.Second)
	cancel()
	wg.Wait()
	total := <-sent

	for _, s := range []*budgetSubscriber{healthy, atRate, congested} {
		s.mu.Lock()
		t.Logf("REMB %d bit/s: %d frames (%d keyframes) of %d, %d dropped by the server",
			s.remb, len(s.got), s.keys, total, s.egress.reader.Dropped())
		s.mu.Unlock()
	}
	for _, s := range []*budgetSubscriber{healthy, atRate} {
		s.mu.Lock()
		// The server sent every frame: its drop count is the property.
		// What arrives also depends on the loopback network of a loaded
		// test machine, which loses packets (a frame missing one is not
		// reassembled), so only a second's worth is required.
		if n := len(s.got); n < 30 {
			t.Errorf("REMB %d: subscriber got %d frames", s.remb, n)
		}
		if d := s.egress.reader.Dropped(); d != 0 {
			t.Errorf("REMB %d: %d frames dropped", s.remb, d)
		}
		s.mu.Unlock()
	}
	congested.mu.Lock()
	defer congested.mu.Unlock()
	if congested.keys < 3 || len(congested.got) > total/2 {
		t.Errorf("congested subscriber got %d frames (%d keyframes) of %d: want keyframes and few others", len(congested.got), congested.keys, total)
	}
	if congested.broken > 0 {
		t.Errorf("congested subscriber got %d frames whose predecessor was dropped", congested.broken)
	}
	if congested.egress.reader.Dropped() == 0 {
		t.Error("no drops counted for the congested subscriber")
	}
}

// indexedSlice is an AVCC access unit of one slice NAL unit of size bytes
// that carries its index.
func indexedSlice(i int, key bool, size int) []byte {
	b := make([]byte, 4+size)
	binary.BigEndian.PutUint32(b, uint32(size))
	b[4] = 0x41 // non-IDR slice
	if key {
		b[4] = 0x65
	}
	binary.BigEndian.PutUint32(b[5:], uint32(i))
	for j := 9; j < len(b); j++ {
		b[j] = 0x55 // no start-code look-alikes
	}
	return b
}

type budgetSubscriber struct {
	egress *Egress
	remb   int

	mu     sync.Mutex
	got    []int
	keys   int
	broken int // frames received whose predecessor was not
}

// newBudgetSubscriber connects a client that subscribes to the stream and
// keeps sending REMB with bps.
func newBudgetSubscriber(t *testing.T, ctx context.Context, hub *media.Hub, bps int) *budgetSubscriber {
	e := newEngine(t, testConfig())
	p := newPeer(t, e, "sub")
	c := newClient(t, false)
	mic, _ := webrtc.NewTrackLocalStaticRTP(OpusCodec(), "mic", "bob_main")
	if _, err := c.AddTrack(mic); err != nil {
		t.Fatal(err)
	}
	connect(t, c, p)
	waitConnected(t, c, 10*time.Second)
	negotiation := make(chan struct{}, 4)
	p.OnNegotiationNeeded(func() { negotiation <- struct{}{} })

	s := &budgetSubscriber{remb: bps}
	c.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		ssrc := uint32(track.SSRC())
		go func() { // REMB until the test ends
			tk := time.NewTicker(100 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tk.C:
				}
				_ = c.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: float32(bps), SSRCs: []uint32{ssrc}}})
			}
		}()
		d := rtpframe.NewH264Depacketizer()
		last := -1
		for {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			frames, _ := d.Push(pkt)
			for _, f := range frames {
				i, ok := sliceIndex(f.Payload)
				if f.Config || !ok {
					continue
				}
				s.mu.Lock()
				s.got = append(s.got, i)
				if f.Key {
					s.keys++
				} else if i != last+1 {
					s.broken++
				}
				s.mu.Unlock()
				last = i
			}
		}
	})
	var err error
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s.egress, err = StartEgress(ctx, hub, p, media.Target{Path: "play"}, "alice_main", testLogger(t))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	t.Cleanup(s.egress.Close)
	<-negotiation
	offer, err := p.Offer()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetAnswer(clientAnswer(t, c, offer)); err != nil {
		t.Fatal(err)
	}
	return s
}

// sliceIndex finds the slice NAL unit of an AVCC access unit and reads the
// index indexedSlice put there.
func sliceIndex(avcc []byte) (int, bool) {
	for len(avcc) >= 4 {
		n := int(binary.BigEndian.Uint32(avcc))
		if n > len(avcc)-4 {
			return 0, false
		}
		nal := avcc[4 : 4+n]
		if len(nal) >= 5 && (nal[0]&0x1f == 1 || nal[0]&0x1f == 5) {
			return int(binary.BigEndian.Uint32(nal[1:])), true
		}
		avcc = avcc[4+n:]
	}
	return 0, false
}
