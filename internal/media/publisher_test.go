package media

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func (e *env) expectNoEnded(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case k := <-e.hooks.ended:
		t.Fatalf("unexpected Ended(%v)", k)
	case <-time.After(wait):
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestReconnectWithinGraceContinuesTimeline(t *testing.T) {
	e := newEnv(t, testLimits())
	p1 := e.startLive(t, "")
	r := e.play(t, "", FLV)
	for i := 1; i < 25; i++ {
		p1.write(inter(fmt.Sprintf("v%d", i)), uint32(40*i))
		p1.write(aud(fmt.Sprintf("a%d", i)), uint32(40*i))
	}
	last := e.h.Stats("app1", "room1")[0]
	p1.p.Close()
	if st := e.h.Stats("app1", "room1"); len(st) != 1 || st[0].Pushing {
		t.Fatalf("during the grace: %+v, want a live stream without a pusher", st)
	}

	// live-pusher reconnects: its clock restarts at 0.
	p2 := e.push(t, "")
	p2.write(vcfg(t, "h264_320x240.avcc"), 0)
	p2.write(acfg(aac48Stereo), 0)
	k := p2.write(key("w0"), 0)
	a := p2.write(aud("b0"), 0)
	v1 := p2.write(inter("w1"), 40)
	a1 := p2.write(aud("b1"), 40)
	e.hooks.expectNoLive(t) // same info: not announced again
	if k.DTS != 960+resumeGap || a.DTS != k.DTS || v1.DTS != k.DTS+40 || a1.DTS != v1.DTS {
		t.Errorf("new session DTS: key %d, audio %d, video %d, audio %d; want %d, %d, %d, %d",
			k.DTS, a.DTS, v1.DTS, a1.DTS, 960+resumeGap, 960+resumeGap, 1020, 1020)
	}
	all := readNow(t, r)
	checkMonotonic(t, all)
	if got := names(mediaOnly(all)); got[len(got)-len("w0 b0 w1 b1"):] != "w0 b0 w1 b1" {
		t.Errorf("reader got %s", got)
	}
	if isClosed(r.Done()) {
		t.Fatal("the reader was closed by a reconnect")
	}
	if st := e.h.Stats("app1", "room1"); len(st) != 1 || !st[0].Pushing || st[0].BytesIn <= last.BytesIn {
		t.Fatalf("after the reconnect: %+v", st)
	}
	e.expectNoEnded(t, 2*e.h.Limits().UnpublishGrace)
}

// A reconnecting pusher whose first frame is audio stamped a little after
// its first video frame (audio leads by 60 ms): the new session's video must
// not go back before the video the stream already delivered.
func TestReconnectKeepsEachKindMonotonic(t *testing.T) {
	e := newEnv(t, testLimits())
	p1 := e.startLive(t, "")
	r := e.play(t, "", FLV)
	for i := 1; i <= 24; i++ {
		p1.write(inter(fmt.Sprintf("v%d", i)), uint32(40*i))
		p1.write(aud(fmt.Sprintf("a%d", i)), uint32(40*i-10))
	}
	p1.p.Close()
	p2 := e.push(t, "")
	p2.write(acfg(aac48Stereo), 5060)
	p2.write(aud("b0"), 5060)
	p2.write(vcfg(t, "h264_320x240.avcc"), 5000)
	p2.write(key("w0"), 5000)
	p2.write(aud("b1"), 5080)
	p2.write(inter("w1"), 5040)
	checkMonotonic(t, mediaOnly(readNow(t, r)))
}

func TestGraceExpiresEndsStream(t *testing.T) {
	e := newEnv(t, testLimits())
	p := e.startLive(t, "")
	r := e.play(t, "", FLV)
	p.write(inter("P1"), 40)
	start := time.Now()
	p.p.Close()
	if !isClosed(p.p.Done()) {
		t.Error("Close did not close Done")
	}
	select {
	case k := <-e.hooks.ended:
		if k != testKey {
			t.Fatalf("Ended(%v), want %v", k, testKey)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no Ended after the grace")
	}
	if el := time.Since(start); el < e.h.Limits().UnpublishGrace {
		t.Errorf("Ended after %v, before the grace %v", el, e.h.Limits().UnpublishGrace)
	}
	wantNames(t, readToEOF(t, r), "video-config audio-config K0 P1")
	if _, err := e.h.StartPlay(context.Background(), target(testPath, "", FLV)); AsRefusal(err).Reason != ReasonNotLive {
		t.Errorf("StartPlay after the end: %v", err)
	}
	if len(e.h.AllStats()) != 0 {
		t.Error("an ended stream still has stats")
	}
	// Publishing again starts a new stream at DTS 0.
	p2 := e.push(t, "")
	p2.write(vcfg(t, "h264_320x240.avcc"), 7000)
	if f := p2.write(key("K"), 7000); f.DTS != 0 {
		t.Errorf("a new stream starts at DTS %d", f.DTS)
	}
}

func TestSecondPusher(t *testing.T) {
	e := newEnv(t, testLimits())
	p1 := e.startLive(t, "")
	r := e.play(t, "", RTMP)
	for _, q := range []string{"", "user=bob"} {
		_, err := e.h.StartPush(context.Background(), target(testPath, q, RTMP))
		if AsRefusal(err).Reason != ReasonBusy {
			t.Fatalf("second pusher (%q) while the first is active: %v, want %s", q, err, ReasonBusy)
		}
	}
	e.clk.add(time.Second)
	p1.write(inter("P1"), 1000) // still active
	e.clk.add(e.h.Limits().StaleAfter - time.Millisecond)
	if _, err := e.h.StartPush(context.Background(), target(testPath, "", RTMP)); AsRefusal(err).Reason != ReasonBusy {
		t.Fatalf("just under StaleAfter: %v", err)
	}
	if isClosed(p1.p.Done()) {
		t.Fatal("a refused pusher cut the first one")
	}
	e.clk.add(2 * time.Millisecond)
	p2 := e.push(t, "")
	if !isClosed(p1.p.Done()) {
		t.Fatal("the quiet pusher was not cut")
	}
	if err := p1.p.WriteFrame(inter("late"), 1040); !ErrCut(err) {
		t.Fatalf("WriteFrame on the replaced pusher: %v, want ErrCut", err)
	}
	p1.p.Close() // its connection goroutine cleans up: no grace, no end
	p2.write(key("K2"), 0)
	wantNames(t, readNow(t, r), "video-config audio-config K0 P1 K2")
	e.expectNoEnded(t, 2*e.h.Limits().UnpublishGrace)
	if isClosed(r.Done()) || isClosed(p2.p.Done()) {
		t.Fatal("the closed replaced pusher ended the stream")
	}
}

func TestHubCloseCutsPushAndPlayers(t *testing.T) {
	e := newEnv(t, testLimits())
	p := e.startLive(t, "")
	r := e.play(t, "", FLV)
	p.write(inter("P1"), 40)
	e.h.Close(testKey)
	if !isClosed(p.p.Done()) {
		t.Fatal("Close did not cut the publisher")
	}
	err := p.p.WriteFrame(inter("P2"), 80)
	if !ErrCut(err) {
		t.Fatalf("WriteFrame after Close: %v, want ErrCut", err)
	}
	if ErrCut(Refuse(ReasonBadMedia, "x")) {
		t.Error("ErrCut matches a refusal")
	}
	p.p.Close()
	wantNames(t, readToEOF(t, r), "video-config audio-config K0 P1")
	if _, err := r.Read(context.Background(), nil); err == nil {
		t.Error("Read after EOF succeeded")
	}
	r.Close()
	r.Close()
	e.expectNoEnded(t, 2*e.h.Limits().UnpublishGrace)
	e.h.Close(testKey) // again: nothing to close
	if _, err := e.h.StartPlay(context.Background(), target(testPath, "", FLV)); AsRefusal(err).Reason != ReasonNotLive {
		t.Errorf("StartPlay after Close: %v", err)
	}
}

func TestCloseViewer(t *testing.T) {
	e := newEnv(t, testLimits())
	e.startLive(t, "")
	bob1 := e.play(t, "viewer=bob", RTMP)
	bob2 := e.play(t, "viewer=bob", FLV)
	carol := e.play(t, "viewer=carol", FLV)
	anon := e.play(t, "", FLV)
	e.h.CloseViewer(testKey, "bob")
	for _, r := range []*Reader{bob1, bob2} {
		if !isClosed(r.Done()) {
			t.Fatal("bob's player still open")
		}
		if _, err := r.Read(context.Background(), nil); !errors.Is(err, ErrClosed) {
			t.Errorf("Read on a closed viewer's player: %v, want ErrClosed", err)
		}
		if r.Viewer() != "bob" || r.Key() != testKey {
			t.Errorf("reader viewer %q key %v", r.Viewer(), r.Key())
		}
	}
	if isClosed(carol.Done()) || isClosed(anon.Done()) {
		t.Fatal("CloseViewer(bob) closed other players")
	}
	if bob1.Protocol() != RTMP || carol.Protocol() != FLV {
		t.Error("Protocol()")
	}
	st := e.h.Stats("app1", "room1")[0]
	if st.Readers[RTMP] != 0 || st.Readers[FLV] != 2 {
		t.Errorf("readers after CloseViewer: %v", st.Readers)
	}
	e.h.CloseViewer(Key{App: "app1", Room: "other"}, "carol")
	if isClosed(carol.Done()) {
		t.Fatal("CloseViewer in another room closed carol")
	}
	e.h.CloseViewer(Key{App: "app1", Room: "room1"}, "carol") // every stream of the room
	if !isClosed(carol.Done()) || isClosed(anon.Done()) {
		t.Fatal("CloseViewer(room, carol)")
	}
}
