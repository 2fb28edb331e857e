package media

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// relabel is a test AudioConverter: every published audio frame "aN"
// becomes one Opus frame "opus-aN" with the same DTS; frames labelled
// "bad" fail. The real converters are tested in internal/transcode.
type relabel struct {
	mu     sync.Mutex
	closed bool
	seen   int
}

func (c *relabel) Config() []byte { return OpusHead(2) }

func (c *relabel) Convert(f *Frame) ([]*Frame, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("converter used after Close")
	}
	c.seen++
	if strings.HasPrefix(name(f), "bad") {
		return nil, errors.New("undecodable")
	}
	return []*Frame{{DTS: f.DTS, Payload: []byte("opus-" + name(f))}}, nil
}

func (c *relabel) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

// convEnv is an env whose hub converts AAC to Opus with relabel converters,
// recording each one it makes.
func convEnv(t *testing.T) (*env, *[]*relabel) {
	t.Helper()
	e := &env{adm: &fakeAdmission{}, hooks: newFakeHooks(), clk: &clock{}}
	var made []*relabel
	var mu sync.Mutex
	convert := func(from Codec, cfg []byte, to Codec) (AudioConverter, error) {
		if from != AAC || to != Opus {
			return nil, errors.New("only AAC to Opus here")
		}
		c := &relabel{}
		mu.Lock()
		made = append(made, c)
		mu.Unlock()
		return c, nil
	}
	h, err := NewHub(testLimits(), Options{Admission: e.adm, Hooks: e.hooks, Now: e.clk.now, Logger: slog.New(slog.DiscardHandler), Convert: convert})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	t.Cleanup(h.Shutdown)
	return e, &made
}

func (e *env) playTarget(t *testing.T, tg Target) *Reader {
	t.Helper()
	r, err := e.h.StartPlay(context.Background(), tg)
	if err != nil {
		t.Fatalf("StartPlay: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

func opusTarget() Target {
	tg := target(testPath, "", Protocol("webrtc"))
	tg.Audio = Opus
	return tg
}

func flvTarget() Target {
	tg := target(testPath, "", FLV)
	tg.Audio, tg.VideoCodecs = AAC, FLVVideoCodecs
	return tg
}

func TestConversionOnlyWhileAReaderNeedsIt(t *testing.T) {
	e, made := convEnv(t)
	p := e.startLive(t, "")
	p.write(aud("a1"), 10)
	flv := e.playTarget(t, flvTarget())
	wantNames(t, readNow(t, flv), "video-config audio-config K0 a1")
	p.write(aud("a2"), 20)
	if len(*made) != 0 {
		t.Fatalf("a converter started for an AAC player")
	}

	opus := e.playTarget(t, opusTarget())
	first := readNow(t, opus)
	// The Opus player starts with the video config and an Opus config,
	// then the cached GOP with its AAC frames (a1, a2) converted.
	wantNames(t, first, "video-config audio-config K0 opus-a1 opus-a2")
	if first[1].Codec != Opus {
		t.Fatalf("audio config codec %s, want opus", first[1].Codec)
	}
	if len(*made) != 1 {
		t.Fatalf("%d converters, want 1", len(*made))
	}

	p.write(aud("a3"), 30)
	p.write(inter("P1"), 40)
	wantNames(t, readNow(t, opus), "opus-a3 P1")
	// The AAC player never sees Opus.
	wantNames(t, mediaOnly(readNow(t, flv)), "a2 a3 P1")

	// A second Opus player shares the converter and gets converted audio
	// from the cache.
	opus2 := e.playTarget(t, opusTarget())
	wantNames(t, readNow(t, opus2), "video-config audio-config K0 opus-a1 opus-a2 opus-a3 P1")
	if len(*made) != 1 {
		t.Fatalf("%d converters, want 1 shared", len(*made))
	}

	opus.Close()
	p.write(aud("a4"), 50)
	if (*made)[0].closed {
		t.Fatal("converter closed while a player still needs it")
	}
	opus2.Close()
	if !(*made)[0].closed {
		t.Fatal("converter still running after the last Opus player left")
	}
	p.write(aud("a5"), 60)
	if (*made)[0].seen != 4 {
		t.Fatalf("converter saw %d frames, want 4 (a1 and a2 from the cache, a3, a4)", (*made)[0].seen)
	}
	wantNames(t, mediaOnly(readNow(t, flv)), "a4 a5")
}

func TestConversionFailureDropsOnlyConvertedAudio(t *testing.T) {
	e, _ := convEnv(t)
	p := e.startLive(t, "")
	opus := e.playTarget(t, opusTarget())
	flv := e.playTarget(t, flvTarget())
	readNow(t, opus)
	readNow(t, flv)
	p.write(aud("bad1"), 10)
	p.write(aud("a2"), 20)
	wantNames(t, readNow(t, opus), "opus-a2")
	wantNames(t, readNow(t, flv), "bad1 a2")
}

func TestNoConverterRefusesThePlayer(t *testing.T) {
	e := newEnv(t, testLimits())
	e.startLive(t, "")
	_, err := e.h.StartPlay(context.Background(), opusTarget())
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Reason != ReasonCodec {
		t.Fatalf("StartPlay = %v, want a %s refusal", err, ReasonCodec)
	}
	// The stream and its other players are unaffected.
	e.play(t, "", FLV)
}

func TestVideoCodecTheEgressCannotCarryIsRefused(t *testing.T) {
	e := newEnv(t, testLimits())
	e.startLive(t, "")
	tg := target(testPath, "", FLV)
	tg.VideoCodecs = []Codec{H265}
	_, err := e.h.StartPlay(context.Background(), tg)
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Reason != ReasonCodec {
		t.Fatalf("StartPlay = %v, want a %s refusal", err, ReasonCodec)
	}
}

func TestKeyframeRequestedForAPlayerWithoutCachedGOP(t *testing.T) {
	e := newEnv(t, testLimits())
	p := e.push(t, "")
	var asked int
	p.p.OnKeyframeRequest(func() { asked++ })
	p.write(vcfg(t, "h264_320x240.avcc"), 0)
	p.write(acfg(aac48Stereo), 0)
	p.write(key("K0"), 0)
	e.hooks.expectLive(t)
	e.play(t, "", FLV)
	if asked != 0 {
		t.Fatalf("keyframe asked %d times with a GOP cached", asked)
	}
	// A config change empties the cache: the next players need a keyframe,
	// and requests are spaced.
	p.write(vcfg(t, "h264_640x360.avcc"), 10)
	e.play(t, "", FLV)
	e.play(t, "", FLV)
	if asked != 1 {
		t.Fatalf("keyframe asked %d times, want 1 (spaced)", asked)
	}
	e.clk.add(keyframeRequestInterval)
	e.play(t, "", FLV)
	if asked != 2 {
		t.Fatalf("keyframe asked %d times, want 2", asked)
	}
}

func TestOpusHeadRoundTrip(t *testing.T) {
	for _, ch := range []int{1, 2} {
		got, err := ParseOpusHead(OpusHead(ch))
		if err != nil || got != ch {
			t.Fatalf("ParseOpusHead(OpusHead(%d)) = %d, %v", ch, got, err)
		}
		info, err := ParseAudioConfig(Opus, OpusHead(ch))
		if err != nil || info.SampleRate != 48000 || info.Channels != ch || info.Codec != Opus {
			t.Fatalf("ParseAudioConfig = %+v, %v", info, err)
		}
	}
	bad := OpusHead(2)
	bad[9] = 6
	if _, err := ParseOpusHead(bad); err == nil {
		t.Fatal("6 channels accepted")
	}
	if _, err := ParseOpusHead([]byte("OpusHea")); err == nil {
		t.Fatal("short head accepted")
	}
}

// slowConverter records a Close that lands while a Convert runs: with C
// memory behind it, that would be a use after free.
type slowConverter struct {
	inside    atomic.Int32
	violation atomic.Bool
}

func (c *slowConverter) Config() []byte { return OpusHead(1) }

func (c *slowConverter) Convert(f *Frame) ([]*Frame, error) {
	c.inside.Add(1)
	defer c.inside.Add(-1)
	time.Sleep(200 * time.Microsecond)
	return []*Frame{{DTS: f.DTS, Payload: []byte("x")}}, nil
}

func (c *slowConverter) Close() {
	if c.inside.Load() != 0 {
		c.violation.Store(true)
	}
}

func TestConverterNeverClosedDuringConvert(t *testing.T) {
	e := &env{adm: &fakeAdmission{}, hooks: newFakeHooks(), clk: &clock{}}
	var made []*slowConverter
	var mu sync.Mutex
	h, err := NewHub(testLimits(), Options{Admission: e.adm, Hooks: e.hooks, Now: e.clk.now, Logger: slog.New(slog.DiscardHandler),
		Convert: func(Codec, []byte, Codec) (AudioConverter, error) {
			c := &slowConverter{}
			mu.Lock()
			made = append(made, c)
			mu.Unlock()
			return c, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	t.Cleanup(h.Shutdown)
	p := e.startLive(t, "")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := uint32(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := p.p.WriteFrame(aud("a"), i); err != nil {
				return
			}
		}
	}()
	for range 200 {
		r, err := h.StartPlay(context.Background(), opusTarget())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Microsecond)
		r.Close()
	}
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(made) < 2 {
		t.Fatalf("only %d converters made", len(made))
	}
	for i, c := range made {
		if c.violation.Load() {
			t.Fatalf("converter %d was closed while converting", i)
		}
	}
}
