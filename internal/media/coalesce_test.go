package media

import (
	"context"
	"testing"
	"time"
)

// readWithin returns what one Read yields within d (nil if it waited
// longer).
func readWithin(r *Reader, d time.Duration) []*Frame {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	fs, _ := r.Read(ctx, nil)
	return fs
}

// waitingRead starts a Read that is waiting (not just polling the queue)
// when it returns.
func waitingRead(r *Reader) <-chan []*Frame {
	got := make(chan []*Frame, 1)
	go func() { got <- readWithin(r, 5*time.Second) }()
	time.Sleep(10 * time.Millisecond)
	return got
}

// From Limits.CoalesceReaders players on, an audio frame does not wake the
// players when the next video frame is due within CoalesceDelay: it leaves
// with that frame, or after CoalesceDelay if the frame does not come.
func TestCoalescedAudioWaitsForVideo(t *testing.T) {
	lim := testLimits()
	lim.CoalesceReaders = 2
	lim.CoalesceDelay = 150 * time.Millisecond
	e := newEnv(t, lim)
	p := e.startLive(t, "")
	r1, r2 := e.play(t, "", FLV), e.play(t, "", FLV)
	time.Sleep(100 * time.Millisecond)
	p.write(inter("V1"), 100) // video every ~100 ms: the next is due within 150 ms
	readNow(t, r1)
	readNow(t, r2)

	got := waitingRead(r1)
	p.write(aud("A1"), 110)
	select {
	case fs := <-got:
		t.Fatalf("audio woke the player at once: %s", names(fs))
	case <-time.After(40 * time.Millisecond):
	}
	p.write(inter("V2"), 200)
	select {
	case fs := <-got:
		wantNames(t, fs, "A1 V2")
	case <-time.After(2 * time.Second):
		t.Fatal("the video frame did not wake the player")
	}
	readNow(t, r2)

	// The video frame does not come: held audio leaves after CoalesceDelay.
	got = waitingRead(r1)
	start := time.Now()
	p.write(aud("A2"), 210)
	select {
	case fs := <-got:
		if waited := time.Since(start); waited < 100*time.Millisecond {
			t.Errorf("held audio left after %s, before the %s delay", waited, lim.CoalesceDelay)
		}
		wantNames(t, fs, "A2")
	case <-time.After(2 * time.Second):
		t.Fatal("held audio never left")
	}
	readNow(t, r2)

	// Video overdue by more than its interval (a paused camera): audio
	// goes at once.
	time.Sleep(150 * time.Millisecond)
	got = waitingRead(r1)
	p.write(aud("A3"), 400)
	select {
	case fs := <-got:
		wantNames(t, fs, "A3")
	case <-time.After(50 * time.Millisecond):
		t.Fatal("audio was held although the video had stopped")
	}
}

// Below the threshold every frame wakes its players at once.
func TestFewPlayersAreNotCoalesced(t *testing.T) {
	lim := testLimits()
	lim.CoalesceReaders = 3
	lim.CoalesceDelay = 10 * time.Second
	e := newEnv(t, lim)
	p := e.startLive(t, "")
	p.write(inter("V1"), 40)
	r := e.play(t, "", FLV)
	readNow(t, r)
	got := waitingRead(r)
	p.write(aud("A1"), 50)
	select {
	case fs := <-got:
		wantNames(t, fs, "A1")
	case <-time.After(time.Second):
		t.Fatal("with one player, audio was held back")
	}
}
