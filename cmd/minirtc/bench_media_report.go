package main

import (
	"fmt"
	"io"
	"math"

	"github.com/minirtc/minirtc/internal/server"
)

// latencyNote says what "added latency" is, in every summary.
const latencyNote = "added latency = arrival at the reader - send by the publisher (same process, same clock); " +
	"it includes the publisher-to-server hop, under 1 ms on loopback"

// mediaSummary is the result of `bench media` (printed as is by --json).
type mediaSummary struct {
	RTMPURL        string           `json:"rtmp_url"`
	HTTPURL        string           `json:"http_url"`
	Stream         string           `json:"stream"`
	Protocol       string           `json:"protocol"`
	RTMPClient     string           `json:"rtmp_client,omitempty"`
	Source         string           `json:"source"`
	Readers        map[string]int   `json:"readers"` // planned, per protocol
	Interrupted    bool             `json:"interrupted,omitempty"`
	Ramp           rampJSON         `json:"ramp"`
	Window         *windowJSON      `json:"window,omitempty"`
	CPU            *cpuJSON         `json:"cpu,omitempty"`
	Memory         *mediaMemoryJSON `json:"memory,omitempty"`
	MemoryNote     string           `json:"memory_note,omitempty"`
	FirstFrame     latencyJSON      `json:"first_frame"` // dial start → first stamped video frame
	Failed         int              `json:"failed"`      // never played
	Lost           int              `json:"lost"`        // played, then the connection ended
	ConnectErrors  map[string]int   `json:"connect_errors,omitempty"`
	Disconnects    map[string]int   `json:"disconnects,omitempty"`
	DropsTotal     dropsJSON        `json:"drops_total"` // the whole run, ramp included
	Publisher      publisherJSON    `json:"publisher"`
	PublisherError string           `json:"publisher_error,omitempty"`
	Cached         int64            `json:"gop_cache_frames"` // frames sent before their reader's play: not timed
	Unstamped      int64            `json:"unstamped_video_frames,omitempty"`
	Unmatched      int64            `json:"unmatched_audio_frames,omitempty"`
	Reordered      int64            `json:"reordered_frames,omitempty"`
	LatencyNote    string           `json:"latency_note"`
}

type rampJSON struct {
	Rate    float64 `json:"rate"`
	Seconds float64 `json:"seconds"`
}

// windowJSON is the measured window.
type windowJSON struct {
	Seconds float64                `json:"seconds"`
	Playing map[string]int         `json:"playing"` // at the end of the window
	Video   map[string]latencyJSON `json:"video"`   // flv, rtmp, all
	Audio   map[string]latencyJSON `json:"audio,omitempty"`
	// The same frames timed when their bytes reached the reader's socket
	// (SO_TIMESTAMPNS): without this tool's own queueing.
	VideoSocket  map[string]latencyJSON `json:"video_at_socket,omitempty"`
	AudioSocket  map[string]latencyJSON `json:"audio_at_socket,omitempty"`
	Frames       int64                  `json:"frames"`
	FramesPerSec float64                `json:"frames_per_sec"`
	MbitPerSec   float64                `json:"mbit_per_sec"` // received by all readers
	SentKbps     float64                `json:"sent_video_kbps"`
	Drops        dropsJSON              `json:"drops"`
}

type dropsJSON struct {
	VideoFrames int64 `json:"video_frames"`
	AudioFrames int64 `json:"audio_frames"`
	Readers     int   `json:"readers"`        // readers that skipped any
	Server      int64 `json:"server_counter"` // minirtc_stream_dropped_frames_total growth; -1 unknown
}

type cpuJSON struct {
	Seconds   float64 `json:"seconds"`
	ServerPct float64 `json:"server_pct"` // of one core; -1 unknown
	Source    string  `json:"server_source,omitempty"`
	BenchPct  float64 `json:"bench_pct"`
	// Write system calls (write, writev, sendmsg...) of the server and read
	// calls of this tool per frame received, from /proc/PID/io (needs
	// --server-pid; 0 unknown).
	ServerWritesPerFrame float64 `json:"server_writes_per_frame,omitempty"`
	BenchReadsPerFrame   float64 `json:"bench_reads_per_frame,omitempty"`
	BenchAllocsPerFrame  float64 `json:"bench_allocs_per_frame"` // heap allocations of this tool
	// Cores is every core's use over the window (/proc/stat): with the
	// server and this tool pinned to one core each, it shows whether a core
	// was full, and how much of it went to the kernel's softirq work
	// (loopback TCP delivery), which neither process is charged for.
	Cores []coreJSON `json:"cores,omitempty"`
}

type coreJSON struct {
	Core       string  `json:"core"`
	BusyPct    float64 `json:"busy_pct"`
	SoftirqPct float64 `json:"softirq_pct"`
	StealPct   float64 `json:"steal_pct"`
}

type mediaMemoryJSON struct {
	Readers             int     `json:"readers"`
	HeapBeforeBytes     uint64  `json:"heap_before_bytes"`
	HeapAfterBytes      uint64  `json:"heap_after_bytes"`
	HeapPerReaderKiB    float64 `json:"heap_per_reader_kib"`
	StackPerReaderKiB   float64 `json:"stack_per_reader_kib"`
	GoroutinesPerReader float64 `json:"goroutines_per_reader"`
}

type publisherJSON struct {
	VideoFrames int64   `json:"video_frames"`
	AudioFrames int64   `json:"audio_frames"`
	Late        int64   `json:"late_frames"` // sent more than 5 ms behind schedule
	MaxLagMs    float64 `json:"max_lag_ms"`
}

// mediaTotals sums the readers' counters.
type mediaTotals struct {
	pending, connecting, failed, lost int
	playing                           [2]int
	video, audio, bytes               int64
	videoGaps, audioGaps              int64
	withDrops                         int
	sentVideoBytes                    int64
}

func (t mediaTotals) playingAll() int { return t.playing[protoFLV] + t.playing[protoRTMP] }

func (r *mediaRun) totals() mediaTotals {
	var t mediaTotals
	for _, rd := range r.readers {
		switch rd.state.Load() {
		case rdPending:
			t.pending++
		case rdConnecting:
			t.connecting++
		case rdPlaying:
			t.playing[rd.proto]++
		case rdFailed:
			t.failed++
		case rdLost:
			t.lost++
		}
		t.video += rd.videoFrames.Load()
		t.audio += rd.audioFrames.Load()
		t.bytes += rd.bytes.Load()
		vg, ag := rd.videoGaps.Load(), rd.audioGaps.Load()
		t.videoGaps += vg
		t.audioGaps += ag
		if vg+ag > 0 {
			t.withDrops++
		}
	}
	t.sentVideoBytes = r.pub.videoBytes.Load()
	return t
}

// gapMarks are the readers' skipped frames so far, to tell which readers
// skip frames in the measured window.
func (r *mediaRun) gapMarks() []int64 {
	m := make([]int64, len(r.readers))
	for i, rd := range r.readers {
		m[i] = rd.videoGaps.Load() + rd.audioGaps.Load()
	}
	return m
}

func (r *mediaRun) describeSource() string {
	if r.o.input != "" {
		return fmt.Sprintf("input %s (a %.1f s loop)", r.o.input, float64(r.src.loopMs)/1000)
	}
	s := fmt.Sprintf("synthetic H.264 %.4g Mbit/s %g fps GOP %s", float64(r.o.bitrate)/1e6, r.o.fps, r.o.gop)
	if r.o.audio {
		s += fmt.Sprintf(" + AAC %g kHz %d ch", float64(r.src.asc.SampleRate)/1000, r.src.asc.ChannelConfig)
	}
	return s
}

func (r *mediaRun) newSummary() *mediaSummary {
	s := &mediaSummary{RTMPURL: r.o.rtmpURL, HTTPURL: r.o.httpURL, Stream: r.o.room + "/" + string(r.stream),
		Protocol: r.o.protocol, Source: r.describeSource(), LatencyNote: latencyNote, Readers: map[string]int{}}
	if r.perProto[protoRTMP] > 0 {
		s.RTMPClient = r.o.rtmpClient
	}
	for p, n := range r.perProto {
		if n > 0 {
			s.Readers[protoNames[p]] = n
		}
	}
	return s
}

// fillWindow fills in the measured window from the totals and scrapes
// taken at its start (a) and end (b).
func (r *mediaRun) fillWindow(s *mediaSummary, a, b mediaTotals, marks []int64, sa, sb serverSample) {
	secs := s.CPU.Seconds
	w := &windowJSON{Seconds: secs, Playing: map[string]int{}, Video: map[string]latencyJSON{}}
	names := [3]string{"flv", "rtmp", "all"}
	for p := range 3 {
		if p < 2 && r.perProto[p] == 0 {
			continue
		}
		if p < 2 {
			w.Playing[names[p]] = b.playing[p]
		}
		w.Video[names[p]] = r.lat[p][kindVideo].summary()
		if r.o.audio {
			w.Audio = setLatency(w.Audio, names[p], &r.lat[p][kindAudio])
		}
		if r.sock[p][kindVideo].count.Load() > 0 {
			w.VideoSocket = setLatency(w.VideoSocket, names[p], &r.sock[p][kindVideo])
			if r.o.audio {
				w.AudioSocket = setLatency(w.AudioSocket, names[p], &r.sock[p][kindAudio])
			}
		}
	}
	w.Frames = b.video + b.audio - a.video - a.audio
	if secs > 0 {
		w.FramesPerSec = round1(float64(w.Frames) / secs)
		w.MbitPerSec = round2(float64(b.bytes-a.bytes) * 8 / secs / 1e6)
		w.SentKbps = round1(float64(b.sentVideoBytes-a.sentVideoBytes) * 8 / secs / 1e3)
	}
	w.Drops = dropsJSON{VideoFrames: b.videoGaps - a.videoGaps, AudioFrames: b.audioGaps - a.audioGaps, Server: -1}
	for i, rd := range r.readers {
		if rd.videoGaps.Load()+rd.audioGaps.Load() > marks[i] {
			w.Drops.Readers++
		}
	}
	if sa.haveDropped && sb.haveDropped {
		w.Drops.Server = int64(sb.dropped - sa.dropped)
	}
	s.Window = w
}

func setLatency(m map[string]latencyJSON, k string, h *histogram) map[string]latencyJSON {
	if m == nil {
		m = map[string]latencyJSON{}
	}
	m[k] = h.summary()
	return m
}

func memoryPerReader(before, after server.HeapStats, readers int) *mediaMemoryJSON {
	m := &mediaMemoryJSON{Readers: readers, HeapBeforeBytes: before.HeapAllocBytes, HeapAfterBytes: after.HeapAllocBytes}
	if readers > 0 {
		n := float64(readers)
		m.HeapPerReaderKiB = round2((float64(after.HeapAllocBytes) - float64(before.HeapAllocBytes)) / n / 1024)
		m.StackPerReaderKiB = round2((float64(after.StackInuse) - float64(before.StackInuse)) / n / 1024)
		m.GoroutinesPerReader = round2(float64(after.Goroutines-before.Goroutines) / n)
	}
	return m
}

// finish fills in what the whole run tells.
func (r *mediaRun) finish(s *mediaSummary, interrupted bool) {
	t := r.totals()
	s.Interrupted = interrupted
	s.Failed, s.Lost = t.failed, t.lost
	s.ConnectErrors, s.Disconnects = r.connectErrors.snapshot(), r.disconnects.snapshot()
	s.DropsTotal = dropsJSON{VideoFrames: t.videoGaps, AudioFrames: t.audioGaps, Readers: t.withDrops, Server: -1}
	s.FirstFrame = r.firstFrame.summary()
	p := r.pub
	s.Publisher = publisherJSON{VideoFrames: p.videoSent.Load(), AudioFrames: p.audioSent.Load(), Late: p.late.Load(),
		MaxLagMs: math.Round(float64(p.maxLag.Load())/1e3) / 1e3}
	s.Cached, s.Unstamped, s.Unmatched, s.Reordered = r.cached.Load(), r.unstamped.Load(), r.unmatched.Load(), r.reordered.Load()
}

func (s *mediaSummary) print(w io.Writer) {
	fmt.Fprintf(w, "\nminirtc bench media: %s, stream %s\n", countsLine(s.Readers), s.Stream)
	fmt.Fprintf(w, "  source  %s\n", s.Source)
	if s.RTMPClient != "" {
		fmt.Fprintf(w, "  rtmp    %s player\n", s.RTMPClient)
	}
	if s.Interrupted {
		fmt.Fprintln(w, "INTERRUPTED: the numbers below are partial")
	}
	fmt.Fprintf(w, "\nramp      %.2f s at %g/s; %d never played, %d lost later; first frame %s\n",
		s.Ramp.Seconds, s.Ramp.Rate, s.Failed, s.Lost, latencyLine(s.FirstFrame))
	if len(s.ConnectErrors) > 0 {
		fmt.Fprintf(w, "  errors  %s\n", countsLine(s.ConnectErrors))
	}
	if wd := s.Window; wd != nil {
		fmt.Fprintf(w, "\nwindow    %.2f s, %s playing: %.0f frames/s, %.1f Mbit/s received; publisher sent %.0f kbit/s of video\n",
			wd.Seconds, countsLine(wd.Playing), wd.FramesPerSec, wd.MbitPerSec, wd.SentKbps)
		fmt.Fprintf(w, "latency   %s\n", s.LatencyNote)
		if wd.VideoSocket != nil {
			fmt.Fprintln(w, "          \"at socket\": when the bytes reached the reader's socket (kernel timestamp), without this tool's own queueing")
		}
		for _, k := range []struct {
			name string
			m    map[string]latencyJSON
		}{{"video", wd.Video}, {"audio", wd.Audio}, {"video at socket", wd.VideoSocket}, {"audio at socket", wd.AudioSocket}} {
			for i, p := range []string{"flv", "rtmp", "all"} {
				l, ok := k.m[p]
				if !ok || p == "all" && len(k.m) == 2 {
					continue
				}
				label := ""
				if i == 0 || len(k.m) == 2 {
					label = k.name
				}
				fmt.Fprintf(w, "  %-15s  %-4s  %s\n", label, p, latencyLine(l))
			}
		}
		d := wd.Drops
		srv := "?"
		if d.Server >= 0 {
			srv = fmt.Sprintf("%+d", d.Server)
		}
		fmt.Fprintf(w, "drops     %d video + %d audio frames skipped (%d readers); server drop counter %s\n",
			d.VideoFrames, d.AudioFrames, d.Readers, srv)
	}
	if c := s.CPU; c != nil {
		srv := "? (no /metrics; give --server-pid)"
		if c.ServerPct >= 0 {
			srv = fmt.Sprintf("%.1f%% of one core (%s)", c.ServerPct, c.Source)
		}
		fmt.Fprintf(w, "cpu       server %s, bench %.1f%%\n", srv, c.BenchPct)
		if c.ServerWritesPerFrame > 0 || c.BenchReadsPerFrame > 0 {
			fmt.Fprintf(w, "syscalls  per frame received: server %.2f writes, bench %.2f reads (and %.2f allocations)\n",
				c.ServerWritesPerFrame, c.BenchReadsPerFrame, c.BenchAllocsPerFrame)
		}
		if len(c.Cores) > 0 {
			fmt.Fprintf(w, "cores    ")
			for _, k := range c.Cores {
				fmt.Fprintf(w, " %s %.0f%% busy (softirq %.0f%%)", k.Core, k.BusyPct, k.SoftirqPct)
			}
			fmt.Fprintln(w)
		}
	}
	if m := s.Memory; m != nil {
		fmt.Fprintf(w, "memory    server heap %+.1f MiB for %d readers: %.2f KiB heap/reader, %.2f KiB stack/reader, %.2f goroutines/reader\n",
			(float64(m.HeapAfterBytes)-float64(m.HeapBeforeBytes))/(1<<20), m.Readers, m.HeapPerReaderKiB, m.StackPerReaderKiB, m.GoroutinesPerReader)
	} else if s.MemoryNote != "" {
		fmt.Fprintf(w, "memory    %s\n", s.MemoryNote)
	}
	p := s.Publisher
	fmt.Fprintf(w, "publisher %d video + %d audio frames; %d sent over 5 ms late (max %.1f ms)\n", p.VideoFrames, p.AudioFrames, p.Late, p.MaxLagMs)
	if s.PublisherError != "" {
		fmt.Fprintf(w, "  error   %s\n", s.PublisherError)
	}
	dt := s.DropsTotal
	fmt.Fprintf(w, "run       drops incl. ramp: %d video + %d audio (%d readers); %d GOP-cache frames not timed\n",
		dt.VideoFrames, dt.AudioFrames, dt.Readers, s.Cached)
	if len(s.Disconnects) > 0 {
		fmt.Fprintf(w, "  lost    %s\n", countsLine(s.Disconnects))
	}
	if s.Unstamped+s.Unmatched+s.Reordered > 0 {
		fmt.Fprintf(w, "  odd     %d video frames without stamp, %d audio frames not matched, %d out of order\n", s.Unstamped, s.Unmatched, s.Reordered)
	}
}
