package media

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// startLive pushes configs and a first keyframe (all at ts 0) and consumes
// the Live hook.
func (e *env) startLive(t *testing.T, query string) *pub {
	t.Helper()
	p := e.push(t, query)
	p.write(vcfg(t, "h264_320x240.avcc"), 0)
	p.write(acfg(aac48Stereo), 0)
	p.write(key("K0"), 0)
	e.hooks.expectLive(t)
	return p
}

func TestReaderStartsAtLastKeyframe(t *testing.T) {
	e := newEnv(t, testLimits())
	p := e.push(t, "")
	p.write(vcfg(t, "h264_320x240.avcc"), 0)
	p.write(acfg(aac48Stereo), 0)
	// Video every 40 ms with a keyframe every 5 frames; each audio frame
	// is stamped 15 ms behind the video frame written before it.
	step := func(i int) {
		ts := uint32(40 * i)
		p.write(media(Video, i%5 == 0, fmt.Sprintf("v%d", i), 100), ts)
		p.write(aud(fmt.Sprintf("a%d", i)), max(ts, 15)-15)
	}
	for i := range 13 {
		step(i)
	}
	e.hooks.expectLive(t)

	r := e.play(t, "", FLV)
	first := readNow(t, r)
	wantNames(t, first, "video-config audio-config v10 a10 v11 a11 v12 a12")
	for _, c := range first[:2] {
		if c.DTS > first[2].DTS {
			t.Errorf("%s DTS %d is after the keyframe's %d", name(c), c.DTS, first[2].DTS)
		}
	}
	step(13)
	step(14)
	live := readNow(t, r)
	wantNames(t, live, "v13 a13 v14 a14")
	checkMonotonic(t, mediaOnly(append(first, live...)))
	if r.Dropped() != 0 {
		t.Errorf("Dropped = %d", r.Dropped())
	}
}

// The configs a new reader starts with are stamped no later than the first
// frame of their kind: here the cached GOP's first audio frame is 15 ms
// before the keyframe, so an audio config stamped at the keyframe would make
// audio DTS go back (an RTMP chunk stream cannot express that delta).
func TestReaderConfigsNotAfterFirstFrameOfTheirKind(t *testing.T) {
	e := newEnv(t, testLimits())
	p := e.startLive(t, "")
	p.write(aud("a0"), 20)
	p.write(inter("v1"), 40)
	p.write(aud("a1"), 45)
	p.write(key("K2"), 80)
	p.write(aud("a2"), 65)
	p.write(inter("v3"), 120)
	r := e.play(t, "", RTMP)
	got := readNow(t, r)
	wantNames(t, got, "video-config audio-config K2 a2 v3")
	checkMonotonic(t, got)
}

func TestGOPCacheBounds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    func(*Limits)
		size   int    // payload bytes per frame
		stepMS uint32 // between frames
		n      int    // inter frames after the keyframe
		cached bool
	}{
		{"within bounds", func(l *Limits) { l.GOPCacheFrames = 8 }, 100, 40, 7, true},
		{"frames", func(l *Limits) { l.GOPCacheFrames = 8 }, 100, 40, 8, false},
		{"bytes at limit", func(l *Limits) { l.GOPCacheBytes = 9000 }, 3000, 40, 2, true},
		{"bytes", func(l *Limits) { l.GOPCacheBytes = 9000 }, 3000, 40, 3, false},
		{"duration at limit", func(l *Limits) { l.GOPCacheDuration = 200 * time.Millisecond }, 100, 40, 5, true},
		{"duration", func(l *Limits) { l.GOPCacheDuration = 200 * time.Millisecond }, 100, 40, 6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := testLimits()
			lim.GOPCacheFrames, lim.ReaderQueueFrames = 16, 20
			lim.GOPCacheBytes, lim.MaxFrameBytes, lim.ReaderQueueBytes = 1<<20, 4000, 2<<20
			tc.set(&lim)
			e := newEnv(t, lim)
			p := e.push(t, "kinds=v")
			p.write(vcfg(t, "h264_320x240.avcc"), 0)
			p.write(media(Video, true, "K0", tc.size), 0)
			e.hooks.expectLive(t)
			ts := uint32(0)
			want := "video-config K0"
			for i := 1; i <= tc.n; i++ {
				ts += tc.stepMS
				p.write(media(Video, false, fmt.Sprintf("P%d", i), tc.size), ts)
				want += fmt.Sprintf(" P%d", i)
			}
			r := e.play(t, "", RTMP)
			if !tc.cached {
				want = "video-config"
			}
			wantNames(t, readNow(t, r), want)

			ts += tc.stepMS
			p.write(media(Video, false, "late", tc.size), ts)
			if !tc.cached {
				wantNames(t, readNow(t, r), "") // waiting for the next keyframe
			} else {
				wantNames(t, readNow(t, r), "late")
			}
			ts += tc.stepMS
			p.write(media(Video, true, "K1", tc.size), ts)
			ts += tc.stepMS
			p.write(media(Video, false, "P", tc.size), ts)
			wantNames(t, readNow(t, r), "K1 P")
			if r.Dropped() != 0 {
				t.Errorf("waiting for a keyframe counted %d drops", r.Dropped())
			}
			if st := e.h.Stats("app1", "room1"); len(st) != 1 || st[0].Dropped != 0 {
				t.Errorf("Stats = %+v, want one stream with no drops", st)
			}
		})
	}
}

func TestLiveAnnouncement(t *testing.T) {
	e := newEnv(t, testLimits())
	p := e.push(t, "")
	if _, err := e.h.StartPlay(context.Background(), target(testPath, "", FLV)); AsRefusal(err).Reason != ReasonNotLive {
		t.Fatalf("StartPlay before any media: %v, want %s", err, ReasonNotLive)
	}
	p.write(aud("early-a"), 0)
	p.write(key("early-v"), 0)
	if n := p.p.DroppedBeforeConfig(); n != 2 {
		t.Errorf("DroppedBeforeConfig = %d, want 2", n)
	}
	p.write(vcfg(t, "h264_320x240.avcc"), 10)
	p.write(key("K0"), 10)
	e.hooks.expectNoLive(t) // audio declared, its config has not come
	p.write(acfg(aac48Stereo), 20)
	ev := e.hooks.expectLive(t)
	want := Info{Video: &VideoInfo{Codec: H264, Width: 320, Height: 240, FPS: 25}, Audio: &AudioInfo{Codec: AAC, SampleRate: 48000, Channels: 2}}
	if ev.Key != testKey || ev.User != "alice" || !ev.Info.Equal(want) {
		t.Fatalf("Live(%v, %s, %s), want (%v, alice, %s)", ev.Key, ev.User, ev.Info, testKey, want)
	}
	r := e.play(t, "", FLV)
	wantNames(t, readNow(t, r), "video-config audio-config K0")

	// The same configs again: no new announcement.
	p.write(vcfg(t, "h264_320x240.avcc"), 40)
	p.write(acfg(aac48Stereo), 40)
	e.hooks.expectNoLive(t)

	// Another size, then another audio config: Live again each time.
	p.write(vcfg(t, "h264_640x360.avcc"), 80)
	ev = e.hooks.expectLive(t)
	if v := ev.Info.Video; v == nil || v.Width != 640 || v.Height != 360 || v.FPS != 30 || ev.Info.Audio.SampleRate != 48000 {
		t.Fatalf("after a new video config: %s", ev.Info)
	}
	p.write(acfg(aac16Mono), 80)
	ev = e.hooks.expectLive(t)
	if a := ev.Info.Audio; a == nil || a.SampleRate != 16000 || a.Channels != 1 || ev.Info.Video.Width != 640 {
		t.Fatalf("after a new audio config: %s", ev.Info)
	}
	if st := e.h.Stats("app1", "room1"); len(st) != 1 || !st[0].Info.Equal(ev.Info) {
		t.Fatalf("Stats info %+v, want %s", st, ev.Info)
	}
}

func TestLiveAfterTimeoutWithoutDeclaredVideo(t *testing.T) {
	e := newEnv(t, testLimits()) // LiveTimeout 1 s
	p := e.push(t, "")           // declares audio and video
	p.write(acfg(aac16Mono), 0)
	p.write(aud("A0"), 0)
	e.clk.add(500 * time.Millisecond)
	p.write(aud("A1"), 500)
	e.hooks.expectNoLive(t)
	e.clk.add(500 * time.Millisecond)
	p.write(aud("A2"), 1000)
	ev := e.hooks.expectLive(t)
	if ev.Info.Video != nil || ev.Info.Audio == nil || ev.Info.Audio.SampleRate != 16000 {
		t.Fatalf("Live info %s, want audio only", ev.Info)
	}
	r := e.play(t, "", RTMP)
	wantNames(t, readNow(t, r), "audio-config")
	p.write(aud("A3"), 1020)
	wantNames(t, readNow(t, r), "A3")

	// The camera comes on later: Live again, with video.
	p.write(vcfg(t, "h264_320x240.avcc"), 1040)
	if ev := e.hooks.expectLive(t); ev.Info.Video == nil || ev.Info.Video.Width != 320 {
		t.Fatalf("Live info %s, want video too", ev.Info)
	}
	p.write(key("K"), 1040)
	wantNames(t, readNow(t, r), "video-config K")
}

// A reader that joins after a new video config but before the keyframe that
// follows it must not get frames of the old GOP under the new config: they
// were encoded with the old SPS/PPS.
func TestNewVideoConfigDoesNotServeOldGOP(t *testing.T) {
	e := newEnv(t, testLimits())
	old := vcfg(t, "h264_320x240.avcc")
	p := e.push(t, "kinds=v")
	p.write(old, 0)
	p.write(key("K0"), 0)
	p.write(inter("P1"), 40)
	e.hooks.expectLive(t)
	p.write(vcfg(t, "h264_640x360.avcc"), 80)
	e.hooks.expectLive(t)

	r := e.play(t, "", FLV)
	var cfg *Frame
	for _, f := range readNow(t, r) {
		switch {
		case f.Config:
			cfg = f
		case cfg == nil || string(cfg.Payload) != string(old.Payload):
			t.Errorf("old-GOP frame %s delivered under the new 640x360 config", name(f))
		}
	}
}

func TestFrameErrors(t *testing.T) {
	lim := testLimits()
	e := newEnv(t, lim)
	p := e.push(t, "")
	for _, tc := range []struct {
		name string
		f    *Frame
	}{
		{"too big", media(Video, true, "big", lim.MaxFrameBytes+1)},
		{"no kind", &Frame{Payload: []byte{1}}},
		{"bad video config", &Frame{Kind: Video, Codec: H264, Config: true, Payload: []byte{1, 2, 3}}},
		{"audio codec for video", &Frame{Kind: Video, Codec: AAC, Config: true, Payload: aac16Mono}},
		{"bad audio config", &Frame{Kind: Audio, Codec: AAC, Config: true, Payload: []byte{0xff}}},
	} {
		err := p.p.WriteFrame(tc.f, 0)
		if AsRefusal(err).Reason != ReasonBadMedia {
			t.Errorf("%s: %v, want %s", tc.name, err, ReasonBadMedia)
		}
	}
}

func TestShutdown(t *testing.T) {
	e := newEnv(t, testLimits())
	p := e.startLive(t, "")
	r := e.play(t, "", FLV)
	e.h.Shutdown()
	<-p.p.Done()
	wantNames(t, readToEOF(t, r), "video-config audio-config K0")
	for _, err := range []error{
		func() error { _, err := e.h.StartPush(context.Background(), target(testPath, "", RTMP)); return err }(),
		func() error { _, err := e.h.StartPlay(context.Background(), target(testPath, "", RTMP)); return err }(),
	} {
		if AsRefusal(err).Reason != ReasonUnavailable {
			t.Errorf("after Shutdown: %v, want %s", err, ReasonUnavailable)
		}
	}
	if err := p.p.WriteFrame(inter("P"), 40); !ErrCut(err) {
		t.Errorf("WriteFrame after Shutdown: %v, want ErrCut", err)
	}
	select {
	case k := <-e.hooks.ended:
		t.Errorf("Ended(%v) on Shutdown", k)
	default:
	}
}

func TestNewHubNeedsCollaborators(t *testing.T) {
	if _, err := NewHub(Limits{}, Options{}); err == nil {
		t.Error("NewHub without Admission and Hooks succeeded")
	}
	if _, err := NewHub(Limits{GOPCacheFrames: -1}, Options{Admission: &fakeAdmission{}, Hooks: newFakeHooks()}); err == nil {
		t.Error("NewHub with invalid limits succeeded")
	}
	h, err := NewHub(Limits{}, Options{Admission: &fakeAdmission{}, Hooks: newFakeHooks()})
	if err != nil {
		t.Fatal(err)
	}
	if h.Limits() != (Limits{}).WithDefaults() {
		t.Errorf("Limits() = %+v, want the defaults", h.Limits())
	}
	if err := errors.New("x"); AsRefusal(err).Reason != ReasonUnavailable {
		t.Error("a plain error is not 'unavailable'")
	}
}
