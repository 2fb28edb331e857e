package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/server"
	"github.com/minirtc/minirtc/internal/servertest"
)

// mediaBenchOpts are quick settings against an in-process server.
func mediaBenchOpts(env *servertest.Env, readers int, protocol string) mediaOpts {
	rtmpBase, _ := env.Server.MediaURLBases()
	return mediaOpts{
		rtmpURL: rtmpBase, httpURL: env.HTTP, room: "bench", readers: readers, protocol: protocol, rtmpClient: "raw",
		bitrate: 500_000, fps: 25, gop: time.Second, audio: true, duration: 3 * time.Second, ramp: 200,
		settle: 500 * time.Millisecond, connectTimeout: 5 * time.Second, sockStamps: true, asJSON: true,
	}
}

func runMediaBench(t *testing.T, env *servertest.Env, o mediaOpts) (*mediaRun, mediaSummary, string) {
	t.Helper()
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	r, err := newMediaRun(o, env.App.ID, env.App.Secret, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.execute(ctx); err != nil {
		t.Fatalf("bench media: %v\nstderr:\n%s", err, errOut.String())
	}
	var s mediaSummary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("--json printed %q: %v", out.String(), err)
	}
	return r, s, errOut.String()
}

// TestBenchMedia pushes a stream into a real server and plays it with 20
// HTTP-FLV and 20 RTMP readers: every reader must get frames on time and in
// sequence, and the summary must add up.
func TestBenchMedia(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) { c.Debug.Endpoints = true })
	r, s, errOut := runMediaBench(t, env, mediaBenchOpts(env, 40, "both"))

	if s.Readers["flv"] != 20 || s.Readers["rtmp"] != 20 || s.Failed != 0 || s.Lost != 0 || s.Interrupted ||
		len(s.ConnectErrors)+len(s.Disconnects) != 0 || s.PublisherError != "" {
		t.Errorf("readers: %+v\nstderr:\n%s", s, errOut)
	}
	for i, rd := range r.readers {
		v, a := rd.videoFrames.Load(), rd.audioFrames.Load()
		// 3.5 s at 25 + 46.9 frames/s, and a GOP from the cache.
		if v < 75 || a < 140 || rd.videoGaps.Load() != 0 || rd.audioGaps.Load() != 0 || rd.bytes.Load() < 150_000 {
			t.Errorf("reader %d (%s): %d video, %d audio frames, %d + %d skipped, %d bytes",
				i, protoNames[rd.proto], v, a, rd.videoGaps.Load(), rd.audioGaps.Load(), rd.bytes.Load())
		}
	}
	w := s.Window
	if w == nil {
		t.Fatal("no measured window")
	}
	if w.Playing["flv"] != 20 || w.Playing["rtmp"] != 20 {
		t.Errorf("playing in the window: %v", w.Playing)
	}
	for _, k := range []struct {
		name string
		m    map[string]latencyJSON
		min  uint64 // frames per protocol in 3 s
	}{{"video", w.Video, 20 * 70}, {"audio", w.Audio, 20 * 130}} {
		for _, p := range []string{"flv", "rtmp"} {
			l := k.m[p]
			// Loopback, a 500 kbit/s stream, 40 readers: about a
			// millisecond. -race (server, publisher and readers share it)
			// makes the p99 hundreds; over a second means a timing bug,
			// such as GOP-cache frames counted as live.
			t.Logf("%s %s: %s", k.name, p, latencyLine(l))
			if l.Count < k.min || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max || l.P50 > 50 || l.P99 > 1000 {
				t.Errorf("%s latency over %s implausible: %+v", k.name, p, l)
			}
		}
		if all := k.m["all"]; all.Count != k.m["flv"].Count+k.m["rtmp"].Count {
			t.Errorf("%s: all %d != flv + rtmp", k.name, all.Count)
		}
	}
	if runtime.GOOS == "linux" {
		for _, p := range []string{"flv", "rtmp", "all"} {
			at, sock := w.Video[p], w.VideoSocket[p]
			if sock.Count != at.Count || sock.P50 > at.P50 || sock.Max > at.Max || w.AudioSocket[p].Count != w.Audio[p].Count {
				t.Errorf("%s: at the socket %+v, at the reader %+v", p, sock, at)
			}
		}
	}
	if d := w.Drops; d.VideoFrames != 0 || d.AudioFrames != 0 || d.Readers != 0 || d.Server != 0 {
		t.Errorf("drops in the window: %+v", d)
	}
	if d := s.DropsTotal; d.VideoFrames+d.AudioFrames != 0 {
		t.Errorf("drops over the run: %+v", d)
	}
	if s.Unstamped+s.Unmatched+s.Reordered != 0 {
		t.Errorf("unstamped %d, unmatched %d, reordered %d", s.Unstamped, s.Unmatched, s.Reordered)
	}
	if w.SentKbps < 400 || w.SentKbps > 650 || w.MbitPerSec < 40*0.45 {
		t.Errorf("bitrates: sent %.0f kbit/s of video, received %.1f Mbit/s", w.SentKbps, w.MbitPerSec)
	}
	if s.CPU == nil || s.CPU.ServerPct < 0 || s.CPU.BenchPct <= 0 {
		t.Errorf("cpu: %+v", s.CPU)
	}
	if m := s.Memory; m == nil || m.Readers != 40 || m.HeapPerReaderKiB <= 0 || m.GoroutinesPerReader < 1 {
		t.Errorf("memory: %+v (note %q)", m, s.MemoryNote)
	}
	if s.FirstFrame.Count != 40 || s.Cached == 0 || s.Publisher.VideoFrames < 100 || s.Publisher.AudioFrames < 180 {
		t.Errorf("first frames %+v, cached %d, publisher %+v", s.FirstFrame, s.Cached, s.Publisher)
	}
	if !strings.Contains(errOut, "measure  readers 40/40 playing") && !strings.Contains(errOut, "measure readers 40/40 playing") {
		t.Errorf("no progress line of the measured window:\n%s", errOut)
	}
}

// TestBenchMediaGortmplibReaders plays with gortmplib's client instead of
// the lean RTMP player: the same stamps arrive.
func TestBenchMediaGortmplibReaders(t *testing.T) {
	env := servertest.Start(t, nil)
	o := mediaBenchOpts(env, 4, "rtmp")
	o.rtmpClient, o.duration, o.audio = "gortmplib", time.Second, false
	_, s, errOut := runMediaBench(t, env, o)
	w := s.Window
	if w == nil || w.Playing["rtmp"] != 4 || w.Video["rtmp"].Count < 4*20 || w.Audio != nil || w.Drops.VideoFrames != 0 || s.Lost != 0 {
		t.Fatalf("summary: %+v, window %+v\nstderr:\n%s", s, w, errOut)
	}
}

// TestBenchMediaRefusals: a badly signed play fails with the server's
// reason on both protocols, and a badly signed push fails the run.
func TestBenchMediaRefusals(t *testing.T) {
	env := servertest.Start(t, nil)
	rtmpBase, flvBase := env.Server.MediaURLBases()
	g := auth.MediaGrant{Action: auth.ActionView, App: env.App.ID, Room: "bench", Stream: "nobody_main", Expires: time.Now().Add(time.Hour)}
	urls := server.PlayURLsFor(rtmpBase, flvBase, "not-the-secret", g)
	o := mediaBenchOpts(env, 1, "flv")
	run := &mediaRun{o: o, ring: new(audioRing)}
	for proto, u := range map[int]string{protoFLV: urls.FLV, protoRTMP: urls.RTMP} {
		rd := newMediaReader(run, proto, u)
		rd.play(context.Background())
		if rd.state.Load() != rdFailed || !strings.Contains(rd.lastErr, "signature") {
			t.Errorf("%s: state %d, %q", protoNames[proto], rd.state.Load(), rd.lastErr)
		}
	}
	if got := run.connectErrors.total(); got != 2 {
		t.Errorf("%d connect errors counted, want 2", got)
	}

	r, err := newMediaRun(o, env.App.ID, "not-the-secret", &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.execute(context.Background()); err == nil || !strings.Contains(err.Error(), "publish") {
		t.Errorf("push with a bad signature: %v", err)
	}
}

func TestStampRoundTrip(t *testing.T) {
	sei := make([]byte, stampNALSize)
	want := stamp{sent: time.Now().UnixNano(), seq: 123456, ts: 0xFFFFFFF0}
	putStamp(sei, want)
	if bytes.Contains(sei, []byte{0, 0}) {
		t.Errorf("the SEI has a 00 00 sequence (it would need emulation prevention): % x", sei)
	}
	slice := []byte{0x41, 0x9a, 0x00, 0x01}
	var avcc []byte
	for _, nal := range [][]byte{sei, slice} {
		avcc = append(avcc, byte(len(nal)>>24), byte(len(nal)>>16), byte(len(nal)>>8), byte(len(nal)))
		avcc = append(avcc, nal...)
	}
	if got, ok := findStamp(avcc); !ok || got != want {
		t.Errorf("findStamp = %+v, %v; want %+v", got, ok, want)
	}
	if _, ok := findStamp(avcc[len(sei)+4:]); ok {
		t.Error("found a stamp in a frame without one")
	}
	if _, ok := findStamp(avcc[:20]); ok {
		t.Error("found a stamp in a truncated frame")
	}
	if n := testing.AllocsPerRun(100, func() { findStamp(avcc) }); n != 0 {
		t.Errorf("findStamp allocates %.0f times", n)
	}
}

// TestRTMPPlayerReadsGortmplibChunks feeds the lean player what gortmplib's
// writer produces: a changed chunk size, compressed headers (types 1-3) on
// one chunk stream, messages longer than a chunk and extended timestamps.
func TestRTMPPlayerReadsGortmplibChunks(t *testing.T) {
	var buf bytes.Buffer
	w := message.NewWriter(&buf, bytecounter.NewWriter(&buf), false)
	if err := w.Write(&message.SetChunkSize{Value: 300}); err != nil {
		t.Fatal(err)
	}
	type msg struct {
		ts   time.Duration
		size int
	}
	var sent []msg
	for i, ts := range []uint32{0, 40, 80, 120, 0xFFFFF0, 0x1000010, 0x1000050, 0x1000090} {
		m := msg{ts: time.Duration(ts) * time.Millisecond, size: 50 + i*400}
		au := bytes.Repeat([]byte{byte(i)}, m.size)
		if err := w.Write(&message.Video{ChunkStreamID: message.VideoChunkStreamID, MessageStreamID: 1,
			Codec: message.CodecH264, Type: message.VideoTypeAU, AU: au, DTS: m.ts}); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, m)
	}
	p := &rtmpPlayer{chunkSize: 128, br: bufio.NewReader(&buf)}
	for i, m := range sent {
		typ, ts, body, err := p.next()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if typ != rtmpVideo || time.Duration(ts)*time.Millisecond != m.ts || len(body) != 5+m.size || body[5] != byte(i) || body[len(body)-1] != byte(i) {
			t.Errorf("message %d: type %d ts %d, %d bytes; want ts %v, %d bytes", i, typ, ts, len(body), m.ts, 5+m.size)
		}
	}
}

func TestSplitRTMPURL(t *testing.T) {
	host, tc, app, name, err := splitRTMPURL("rtmp://127.0.0.1:1935/app1/room-1/u_main?act=view&exp=1&sig=abc")
	if err != nil || host != "127.0.0.1:1935" || tc != "rtmp://127.0.0.1:1935/app1/room-1" || app != "app1/room-1" || name != "u_main?act=view&exp=1&sig=abc" {
		t.Errorf("got %q %q %q %q %v", host, tc, app, name, err)
	}
	if got := gortmplibURL("rtmp://h:1/a/r/s?q=1"); got != "rtmp://h:1/a/r#s?q=1" {
		t.Errorf("gortmplibURL = %q", got)
	}
}

func TestBitrateFlag(t *testing.T) {
	var v int64
	f := bitrateFlag{&v}
	for in, want := range map[string]int64{"1M": 1_000_000, "2.5M": 2_500_000, "800k": 800_000, "64000": 64_000, "1Mbps": 1_000_000} {
		if err := f.Set(in); err != nil || v != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, v, err, want)
		}
	}
	for _, in := range []string{"", "fast", "-1M", "1T"} {
		if err := f.Set(in); err == nil {
			t.Errorf("Set(%q) accepted", in)
		}
	}
	v = 1_500_000
	if f.String() != "1.5M" {
		t.Errorf("String() = %q", f.String())
	}
}

func TestSyntheticSourcePadding(t *testing.T) {
	src, err := loadFLVSource(benchMediaFLV)
	if err != nil {
		t.Fatal(err)
	}
	if src.asc == nil || src.asc.SampleRate != 48000 || !src.video[0].key || len(src.video) < 50 || len(src.audio) < 90 {
		t.Fatalf("fixture: asc %+v, %d video, %d audio frames", src.asc, len(src.video), len(src.audio))
	}
	for _, c := range []struct {
		bitrate int64
		fps     float64
		gop     time.Duration
	}{{1_000_000, 25, 2 * time.Second}, {3_000_000, 30, time.Second}, {500_000, 15, 4 * time.Second}} {
		p, note := newPublisher(src, mediaOpts{bitrate: c.bitrate, fps: c.fps, gop: c.gop, audio: true}, new(audioRing))
		total := 0
		for _, nalus := range p.gop {
			total += 4 + stampNALSize
			for _, u := range nalus[1:] {
				total += 4 + len(u)
			}
		}
		got := float64(total) * 8 / c.gop.Seconds()
		if note != "" || len(p.gop) != int(c.fps*c.gop.Seconds()) || got < 0.99*float64(c.bitrate) || got > 1.01*float64(c.bitrate) {
			t.Errorf("%+v: %d frames per GOP, %.0f bit/s, note %q", c, len(p.gop), got, note)
		}
	}
}
