package media

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
)

// overflowLimits: a player holds 20 frames at most.
func overflowLimits() Limits {
	lim := testLimits()
	lim.GOPCacheFrames, lim.ReaderQueueFrames = 16, 20
	return lim
}

// timedWrite fails the test when one WriteFrame takes long: the publisher
// must never wait for a player.
func timedWrite(t *testing.T, p *pub, f *Frame, ts uint32) {
	t.Helper()
	start := time.Now()
	p.write(f, ts)
	if el := time.Since(start); el > time.Second {
		t.Fatalf("WriteFrame(%s) took %v", name(f), el)
	}
}

func TestSlowReaderSkipsToNextKeyframe(t *testing.T) {
	e := newEnv(t, overflowLimits())
	p := e.startLive(t, "")
	slow := e.play(t, "", FLV)  // never reads until the end
	good := e.play(t, "", RTMP) // reads after every frame
	got := readNow(t, good)     // configs and K0
	for i := 1; i < 30; i++ {   // slow: 3 queued + P1..P17 = 20; P18 overflows
		timedWrite(t, p, inter(fmt.Sprintf("P%d", i)), uint32(40*i))
		got = append(got, readNow(t, good)...)
	}
	timedWrite(t, p, vcfg(t, "h264_320x240.avcc"), 1200) // sent during the skip
	timedWrite(t, p, key("K30"), 1200)
	for i := 31; i <= 35; i++ {
		timedWrite(t, p, inter(fmt.Sprintf("P%d", i)), uint32(40*i))
	}
	got = append(got, readNow(t, good)...)

	wantNames(t, readNow(t, slow), "video-config audio-config video-config K30 "+labels("P", 31, 35))
	if n := slow.Dropped(); n != 30 {
		t.Errorf("slow reader Dropped = %d, want 30 (K0 and P1..P29)", n)
	}
	wantNames(t, got, "video-config audio-config K0 "+labels("P", 1, 29)+" video-config K30 "+labels("P", 31, 35))
	if good.Dropped() != 0 {
		t.Errorf("healthy reader Dropped = %d", good.Dropped())
	}
	if st := e.h.Stats("app1", "room1"); st[0].Dropped != 30 {
		t.Errorf("Stats.Dropped = %d, want 30", st[0].Dropped)
	}
}

func TestSlowReaderByteLimit(t *testing.T) {
	lim := overflowLimits()
	lim.GOPCacheBytes, lim.MaxFrameBytes, lim.ReaderQueueBytes = 2000, 1000, 4000
	e := newEnv(t, lim)
	p := e.push(t, "kinds=v")
	p.write(vcfg(t, "h264_320x240.avcc"), 0) // 40 bytes
	p.write(media(Video, true, "K0", 1000), 0)
	e.hooks.expectLive(t)
	r := e.play(t, "", FLV)
	for i := 1; i <= 4; i++ { // 40 + 1000 + 2×1000 fit; P3 would make 4040
		p.write(media(Video, false, fmt.Sprintf("P%d", i), 1000), uint32(40*i))
	}
	p.write(media(Video, true, "K5", 1000), 200)
	wantNames(t, readNow(t, r), "video-config K5")
	if r.Dropped() != 5 {
		t.Errorf("Dropped = %d, want 5", r.Dropped())
	}
}

// A config that arrives exactly when the queue is full overflows it; the
// reader must still skip to the next keyframe, not resume on the inter
// frames that follow (they reference the dropped keyframe).
func TestOverflowOnConfigStillSkipsToKeyframe(t *testing.T) {
	e := newEnv(t, overflowLimits())
	p := e.startLive(t, "")
	r := e.play(t, "", FLV) // vcfg acfg K0
	for i := 1; i <= 17; i++ {
		p.write(inter(fmt.Sprintf("P%d", i)), uint32(40*i)) // queue: 20 frames
	}
	p.write(vcfg(t, "h264_320x240.avcc"), 700) // overflow
	p.write(inter("P18"), 720)
	p.write(inter("P19"), 760)
	p.write(key("K20"), 800)
	wantNames(t, readNow(t, r), "video-config audio-config video-config K20")
	if n := r.Dropped(); n != 20 {
		t.Errorf("Dropped = %d, want 20 (K0 and P1..P19)", n)
	}
}

func TestAudioOnlyReaderResumesOnNextAudioFrame(t *testing.T) {
	e := newEnv(t, overflowLimits())
	p := e.push(t, "kinds=a")
	p.write(acfg(aac48Mono), 0)
	e.hooks.expectLive(t)
	r := e.play(t, "", FLV)
	for i := 1; i <= 23; i++ { // acfg + A1..A19 fill the queue; A20 overflows
		timedWrite(t, p, aud(fmt.Sprintf("A%d", i)), uint32(21*i))
	}
	wantNames(t, readNow(t, r), "audio-config A21 A22 A23")
	if n := r.Dropped(); n != 20 {
		t.Errorf("Dropped = %d, want 20", n)
	}
}

func TestReadWaitsAndHonoursContext(t *testing.T) {
	e := newEnv(t, testLimits())
	p := e.startLive(t, "")
	r := e.play(t, "", FLV)
	buf := readNow(t, r)
	if r.Pending() {
		t.Fatal("Pending after reading everything")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Read(ctx, buf); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read on an idle stream: %v", err)
	}
	wrote := make(chan error)
	go func() {
		time.Sleep(10 * time.Millisecond)
		wrote <- p.p.WriteFrame(inter("P1"), 40)
	}()
	fs, err := r.Read(context.Background(), buf)
	if werr := <-wrote; werr != nil {
		t.Fatal(werr)
	}
	if err != nil || names(fs) != "P1" {
		t.Fatalf("Read = %s, %v", names(fs), err)
	}
	if buf[0] != nil {
		t.Error("Read kept a reference to a delivered frame in the old buffer")
	}
	p.write(inter("P2"), 80)
	if !r.Pending() {
		t.Fatal("not Pending with a frame queued")
	}
	r.Sent(100)
	if st := e.h.Stats("app1", "room1")[0]; st.BytesOut != 100 {
		t.Errorf("BytesOut = %d", st.BytesOut)
	}
	r.Close() // P2 is still queued: a closed player does not drain
	for range 2 {
		if fs, err := r.Read(context.Background(), nil); !errors.Is(err, ErrClosed) || len(fs) != 0 {
			t.Fatalf("Read after Close = %s, %v; want ErrClosed", names(fs), err)
		}
	}
	if !isClosed(r.Done()) {
		t.Fatal("Done not closed by Close")
	}
	if st := e.h.Stats("app1", "room1")[0]; st.Readers[FLV] != 0 {
		t.Errorf("a closed player is still counted: %v", st.Readers)
	}
}

// TestConcurrentPublishAndPlay runs a publisher and players of every speed
// at once (for the race detector), and checks what each player got: DTS
// never goes backwards, nothing is reordered or duplicated, after a gap
// playback resumes at a keyframe, and delivered + Dropped() accounts for
// every frame.
func TestConcurrentPublishAndPlay(t *testing.T) {
	e := newEnv(t, overflowLimits())
	p := e.startLive(t, "")
	const total = 3000 // media frames after K0
	var (
		readers = []*Reader{e.play(t, "", FLV), e.play(t, "", RTMP), e.play(t, "", FLV), e.play(t, "", FLV)}
		pauses  = []time.Duration{0, 0, 50 * time.Microsecond, -1} // -1: reads only at the end
		results = make([][]*Frame, len(readers))
		wg      sync.WaitGroup
	)
	for i, r := range readers {
		wg.Go(func() {
			if pauses[i] < 0 {
				<-r.Done()
			}
			var buf []*Frame
			for {
				fs, err := r.Read(context.Background(), buf)
				results[i] = append(results[i], fs...)
				if err != nil {
					return
				}
				buf = fs
				time.Sleep(pauses[i])
			}
		})
	}
	var churn sync.WaitGroup
	stop := make(chan struct{})
	churn.Go(func() { // players come and go; stats are read
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			r, err := e.h.StartPlay(context.Background(), target(testPath, "viewer=v"+strconv.Itoa(n%3), FLV))
			if err == nil {
				r.Read(context.Background(), nil)
			}
			e.h.CloseViewer(testKey, ids.UserID("v"+strconv.Itoa((n+1)%3)))
			e.h.Stats("app1", "room1")
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= total; i++ {
			f := media(Video, i%25 == 0, fmt.Sprintf("F%d", i), 10)
			if i%2 == 1 {
				f = media(Audio, false, fmt.Sprintf("F%d", i), 10)
			}
			if err := p.p.WriteFrame(f, uint32(20*i)); err != nil {
				t.Errorf("WriteFrame: %v", err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the publisher was blocked")
	}
	close(stop)
	churn.Wait()
	e.h.Close(testKey)
	wg.Wait()
	e.h.CloseViewer(Key{App: "app1", Room: "room1"}, "v0")

	for i, fs := range results {
		checkMonotonic(t, fs)
		prev := 0
		delivered := 0
		for _, f := range mediaOnly(fs) {
			n := 0
			if f := name(f); f != "K0" {
				n, _ = strconv.Atoi(strings.TrimPrefix(f, "F"))
			}
			if n <= prev && !(n == 0 && prev == 0) {
				t.Fatalf("reader %d: %s after F%d", i, name(f), prev)
			}
			if n != prev+1 && n != 0 && !(f.Kind == Video && f.Key) {
				t.Fatalf("reader %d: resumed at %s after F%d, not at a keyframe", i, name(f), prev)
			}
			prev = n
			delivered++
		}
		if got := int64(delivered) + readers[i].Dropped(); got != total+1 {
			t.Errorf("reader %d: %d delivered + %d dropped = %d, want %d", i, delivered, readers[i].Dropped(), got, total+1)
		}
		t.Logf("reader %d: %d delivered, %d dropped", i, delivered, readers[i].Dropped())
	}
}
