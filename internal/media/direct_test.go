package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDirect stands in for an egress's DirectWriter. Every stopEvery-th
// TryWrite (0: never, 1: always) sends only the first half of the batch and
// keeps the rest, as a full socket would; the player's goroutine must send
// that rest before its next batch, which write checks.
type fakeDirect struct {
	stopEvery int

	mu    sync.Mutex
	calls int
	sent  []*Frame // in the order a client would receive them
	rest  []*Frame
}

func (d *fakeDirect) TryWrite(frames []*Frame) (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.rest) > 0 {
		panic("TryWrite while the egress still owes the rest of the last batch")
	}
	d.calls++
	if d.stopEvery > 0 && d.calls%d.stopEvery == 0 {
		half := len(frames) / 2
		d.sent = append(d.sent, frames[:half]...)
		d.rest = append(d.rest, frames[half:]...)
		return half, false
	}
	d.sent = append(d.sent, frames...)
	return len(frames), true
}

// write is the egress goroutine's blocking write: the rest first.
func (d *fakeDirect) write(frames []*Frame) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent = append(d.sent, d.rest...)
	d.rest = nil
	d.sent = append(d.sent, frames...)
}

// playDirect runs an egress loop for r until Read fails, returning how
// many batches Read returned.
func playDirect(r *Reader, d *fakeDirect) (reads int, err error) {
	var buf []*Frame
	for first := true; ; first = false {
		fs, err := r.Read(context.Background(), buf)
		if err != nil {
			d.write(nil)
			return reads, err
		}
		reads++
		d.write(fs)
		if first {
			r.SetDirect(d)
		}
		buf = fs
	}
}

// Frames reach a directly written player exactly once and in order, across
// every hand-back to its goroutine, while the publisher writes concurrently;
// the goroutine of a player whose socket keeps up is hardly woken.
func TestDirectWritingDeliversEverythingInOrder(t *testing.T) {
	e := newEnv(t, overflowLimits())
	p := e.startLive(t, "")
	const total = 3000
	writers := []*fakeDirect{{stopEvery: 0}, {stopEvery: 7}, {stopEvery: 1}}
	readers := make([]*Reader, len(writers))
	reads := make([]int, len(writers))
	var wg sync.WaitGroup
	for i, d := range writers {
		readers[i] = e.play(t, "", FLV)
		wg.Go(func() {
			var err error
			reads[i], err = playDirect(readers[i], d)
			if !errors.Is(err, io.EOF) {
				t.Errorf("player %d ended with %v, want EOF", i, err)
			}
		})
	}
	for i := 1; i <= total; i++ {
		f := media(Video, i%25 == 0, fmt.Sprintf("F%d", i), 10)
		if i%2 == 1 {
			f = media(Audio, false, fmt.Sprintf("F%d", i), 10)
		}
		p.write(f, uint32(20*i))
		if i%100 == 0 {
			time.Sleep(time.Millisecond) // let writers run between bursts
		}
	}
	e.h.Close(testKey)
	wg.Wait()

	for i, d := range writers {
		got := mediaOnly(d.sent)
		checkMonotonic(t, got)
		prev := 0
		for _, f := range got {
			n := 0
			if f := name(f); f != "K0" {
				n, _ = strconv.Atoi(strings.TrimPrefix(f, "F"))
			}
			if n <= prev && n != 0 {
				t.Fatalf("player %d: %s after F%d", i, name(f), prev)
			}
			if n != prev+1 && n != 0 && !(f.Kind == Video && f.Key) {
				t.Fatalf("player %d: resumed at %s after F%d, not at a keyframe", i, name(f), prev)
			}
			prev = n
		}
		if n := int64(len(got)) + readers[i].Dropped(); n != total+1 {
			t.Errorf("player %d: %d sent + %d dropped, want %d", i, len(got), readers[i].Dropped(), total+1)
		}
		t.Logf("player %d (stops every %d): %d TryWrite calls, %d Reads, %d dropped", i, d.stopEvery, d.calls, reads[i], readers[i].Dropped())
	}
	if w := writers[0]; w.calls == 0 || reads[0] > 3 {
		t.Errorf("a player that keeps up: %d TryWrite calls and %d Reads; want the writer to do the work", w.calls, reads[0])
	}
	if w := writers[2]; w.calls == 0 || reads[2] < w.calls {
		t.Errorf("a player that never keeps up: %d TryWrite calls but only %d Reads; every stop must hand back", w.calls, reads[2])
	}
}

// Closing a directly written player ends its Read at once, and the
// stream's writer stops touching it.
func TestDirectPlayerClose(t *testing.T) {
	e := newEnv(t, testLimits())
	p := e.startLive(t, "")
	r := e.play(t, "", RTMP)
	d := &fakeDirect{}
	res := make(chan error, 1)
	go func() { _, err := playDirect(r, d); res <- err }()
	p.write(aud("A1"), 20)
	waitFor(t, "the writer sends A1", func() bool { return strings.Contains(names(d.snapshot()), "A1") })
	r.Close()
	select {
	case err := <-res:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Read after Close: %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Read did not return after Close")
	}
	before := len(d.snapshot())
	p.write(aud("A2"), 40)
	time.Sleep(20 * time.Millisecond)
	if after := len(d.snapshot()); after != before {
		t.Fatalf("a closed player was still written to: %s", names(d.snapshot()))
	}
}

func (d *fakeDirect) snapshot() []*Frame {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*Frame(nil), d.sent...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}
