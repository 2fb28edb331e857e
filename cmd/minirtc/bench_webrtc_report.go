package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"time"
)

// Audio crosses a transcoder, which has no room for a stamp and emits
// frames of another size (AAC 21.33 ms <-> Opus 20 ms) on a timeline whose
// origin the receiver cannot see (WebRTC timestamps start at random, and
// the transcoder anchors at the first input frame it got). So each
// receiver's audio is matched to the publisher's input frames by
// causality: an output frame whose first sample is at input time τ can
// leave only after the input frame holding τ + lookahead was sent (the
// transcoder's own buffering, documented in internal/transcode), and in
// most output frames it leaves just after. The largest offset between the
// receiver's timeline and the input's that keeps every output frame at or
// after that input frame's send time is therefore the true one, to within
// the spread of the residues (about 1.3 ms here). Then:
//
//   - audio: arrival - send of the input frame holding the output frame's
//     first sample: what a listener hears late, buffering included;
//   - audio after last input: arrival - send of the last input frame it
//     needed: the bridge's processing and queueing alone.

// audioObs is one audio frame a receiver got: its time on the receiver's
// timeline (ms, any origin) and when it arrived (monoNow's clock).
type audioObs struct {
	rel float64
	at  int64
}

// audioInput is what the publisher sent: frames of dur ms, frame j
// starting at j × dur on the input timeline.
type audioInput struct {
	dur       float64
	lookahead float64 // ms of input after an output frame's first sample that must be in before it leaves
	outDur    float64 // the output frames' duration when their timestamps are rounded to ms, else 0
	count     func() int64
	sent      func(j int64) (int64, bool)
}

// monoAt converts a time.Time of this process into monoNow's clock.
func monoAt(t time.Time) int64 { return benchEpochUnix + int64(t.Sub(benchEpoch)) }

// matchAudio records the latency of one receiver's audio frames.
func (r *webrtcRun) matchAudio(in audioInput, obs []audioObs) {
	hi := in.count()
	lo := max(0, hi-int64(50_000/in.dur)) // the RTMP publisher's ring holds 65 s
	// lastSent is the last input frame sent at or before at.
	lastSent := func(at int64) (int64, bool) {
		j := lo + int64(sort.Search(int(hi-lo), func(k int) bool {
			s, ok := in.sent(lo + int64(k))
			return ok && s > at
		})) - 1
		return j, j >= lo
	}
	// FLV timestamps are whole ms; the transcoder's output frames are
	// evenly spaced (outDur): put them back on their exact grid.
	if in.outDur > 0 {
		for i := range obs {
			obs[i].rel = obs[0].rel + math.Round((obs[i].rel-obs[0].rel)/in.outDur)*in.outDur
		}
	}
	c := math.Inf(1)
	for _, o := range obs {
		if j, ok := lastSent(o.at); ok {
			c = min(c, float64(j+1)*in.dur-o.rel)
		}
	}
	c -= in.lookahead
	for _, o := range obs {
		tau := o.rel + c
		first := int64(math.Floor(tau/in.dur + 1e-6))
		last := int64(math.Floor((tau+in.lookahead)/in.dur - 1e-6))
		s1, ok1 := in.sent(first)
		s2, ok2 := in.sent(last)
		if !ok1 || !ok2 || math.IsInf(c, 0) {
			r.audioUnmatched.Add(1)
			continue
		}
		r.audio.record(time.Duration(o.at - s1))
		r.audioIn.record(time.Duration(o.at - s2))
	}
}

// wrWindow measures CPU over the window: the server's (/proc/PID/stat),
// this tool's, and every core's (/proc/stat).
type wrWindow struct {
	pid        int
	wall       time.Time
	self       time.Duration
	server     float64
	haveServer bool
	cores      map[string][4]uint64
}

func startWindow(pid int) wrWindow {
	w := wrWindow{pid: pid, wall: time.Now(), self: selfCPU(), cores: coreTicks()}
	if pid > 0 {
		w.server, w.haveServer = procCPU(pid)
	}
	return w
}

// wrCPU is the window's CPU use in percent of one core. Others is the
// busy time of all cores (softirq excluded) not charged to the server or
// this tool: other processes, which make a run noisy.
type wrCPU struct {
	Seconds   float64    `json:"seconds"`
	ServerPct float64    `json:"server_pct"` // -1: unknown (no --server-pid)
	BenchPct  float64    `json:"bench_pct"`
	OthersPct float64    `json:"others_pct"`
	Cores     []coreJSON `json:"cores"`
}

func (w wrWindow) stop() *wrCPU {
	wall := time.Since(w.wall)
	c := &wrCPU{Seconds: round2(wall.Seconds()), ServerPct: -1, BenchPct: round1(100 * float64(selfCPU()-w.self) / float64(wall))}
	c.Cores = coreUse(w.cores, coreTicks())
	if s, ok := procCPU(w.pid); ok && w.haveServer {
		c.ServerPct = round1(100 * (s - w.server) / wall.Seconds())
	}
	others := -c.BenchPct - max(c.ServerPct, 0)
	for _, k := range c.Cores {
		others += k.BusyPct - k.SoftirqPct
	}
	c.OthersPct = round1(others)
	return c
}

// webrtcSummary is what `bench webrtc` prints.
type webrtcSummary struct {
	Mode                 string         `json:"mode"`
	Streams              int            `json:"streams"`
	SubscribersPerStream int            `json:"subscribers_per_stream"`
	Bitrate              string         `json:"bitrate"`
	HasAudio             bool           `json:"audio"`
	Playing              int            `json:"playing"`
	Failed               int            `json:"failed"`
	Lost                 int            `json:"lost"`
	ConnectErrors        map[string]int `json:"connect_errors,omitempty"`
	Disconnects          map[string]int `json:"disconnects,omitempty"`
	RampSeconds          float64        `json:"ramp_seconds"`
	Video                latencyJSON    `json:"video_ms"`
	VideoKey             latencyJSON    `json:"video_keyframes_ms"`
	VideoDelta           latencyJSON    `json:"video_other_frames_ms"`
	Audio                latencyJSON    `json:"audio_ms"`
	AudioAfterInput      latencyJSON    `json:"audio_after_last_input_ms"`
	VideoFrames          int64          `json:"video_frames"`
	AudioFrames          int64          `json:"audio_frames"`
	RTPPackets           int64          `json:"rtp_packets,omitempty"`
	LostPackets          int64          `json:"lost_packets"`
	SkippedFrames        int64          `json:"skipped_frames"`
	Unstamped            int64          `json:"unstamped_frames"`
	AudioUnmatched       int64          `json:"audio_unmatched"`
	PublisherLate        int64          `json:"publisher_late_frames"`
	CPU                  *wrCPU         `json:"cpu,omitempty"`
}

func (r *webrtcRun) newSummary(ramp time.Duration) *webrtcSummary {
	o := r.o
	return &webrtcSummary{Mode: o.mode, Streams: o.streams, SubscribersPerStream: o.subscribers,
		Bitrate: formatBitrate(o.bitrate), HasAudio: o.audio, RampSeconds: round2(ramp.Seconds())}
}

// finish matches the audio and fills in the counts.
func (r *webrtcRun) finish(s *webrtcSummary) {
	for _, rc := range r.recvs {
		switch rc.state.Load() {
		case rdPlaying, rdStopped:
			s.Playing++
		case rdFailed:
			s.Failed++
		case rdLost:
			s.Lost++
		}
		rc.obsMu.Lock()
		if len(rc.obs) > 0 {
			r.matchAudio(rc.st.in, rc.obs)
		}
		rc.obsMu.Unlock()
	}
	for _, st := range r.streams {
		if st.rtmp != nil {
			s.PublisherLate += st.rtmp.late.Load()
		} else {
			s.PublisherLate += st.wpub.late.Load()
		}
	}
	s.ConnectErrors, s.Disconnects = r.connectErrors.snapshot(), r.disconnects.snapshot()
	s.Video, s.Audio, s.AudioAfterInput = r.video.summary(), r.audio.summary(), r.audioIn.summary()
	s.VideoKey, s.VideoDelta = r.videoKey.summary(), r.videoDelta.summary()
	s.VideoFrames, s.AudioFrames, s.RTPPackets = r.videoFrames.Load(), r.audioFrames.Load(), r.packets.Load()
	s.LostPackets, s.SkippedFrames, s.Unstamped = r.lostPackets.Load(), r.skipped.Load(), r.unstamped.Load()
	s.AudioUnmatched = r.audioUnmatched.Load()
}

func (s *webrtcSummary) print(w io.Writer) {
	fmt.Fprintf(w, "bench webrtc %s: %d stream(s) x %d receivers, %s video, audio %v\n", s.Mode, s.Streams, s.SubscribersPerStream, s.Bitrate, s.HasAudio)
	fmt.Fprintf(w, "receivers: %d playing, %d failed, %d lost; ramp %.1fs\n", s.Playing, s.Failed, s.Lost, s.RampSeconds)
	for _, l := range []struct {
		name string
		v    latencyJSON
	}{{"video", s.Video}, {"video keyframes", s.VideoKey}, {"video other frames", s.VideoDelta}, {"audio", s.Audio}, {"audio after last input", s.AudioAfterInput}} {
		fmt.Fprintf(w, "%-23s n=%d p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", l.name, l.v.Count, l.v.P50, l.v.P90, l.v.P99, l.v.Max)
	}
	fmt.Fprintf(w, "frames: %d video, %d audio; %d RTP packets, %d lost; %d video frames skipped, %d unstamped, %d audio unmatched; publisher late %d\n",
		s.VideoFrames, s.AudioFrames, s.RTPPackets, s.LostPackets, s.SkippedFrames, s.Unstamped, s.AudioUnmatched, s.PublisherLate)
	if s.CPU != nil {
		fmt.Fprintf(w, "cpu over %.1fs: server %.1f%%, bench %.1f%%, others %.1f%%\n", s.CPU.Seconds, s.CPU.ServerPct, s.CPU.BenchPct, s.CPU.OthersPct)
	}
	if len(s.ConnectErrors)+len(s.Disconnects) > 0 {
		fmt.Fprintf(w, "connect errors %v, disconnects %v\n", s.ConnectErrors, s.Disconnects)
	}
}
