package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/server"
	"github.com/minirtc/minirtc/pkg/ids"
)

// mediaOpts are the flags of `bench media`.
type mediaOpts struct {
	rtmpURL, httpURL     string
	dataDir, app, secret string
	room                 string
	readers              int
	protocol             string
	rtmpClient           string
	bitrate              int64
	fps                  float64
	gop                  time.Duration
	audio                bool
	duration             time.Duration
	ramp                 float64
	settle               time.Duration
	connectTimeout       time.Duration
	input                string
	serverPID            int
	cpuProfile           string
	sockStamps           bool
	asJSON               bool
}

func newBenchMediaCmd(dataDir *string) *cobra.Command {
	o := mediaOpts{bitrate: 1_000_000}
	cmd := &cobra.Command{
		Use:   "media [--readers N] [--protocol flv|rtmp|both] [--bitrate 1M] [--duration 30s] ...",
		Short: "Push one stream and play it with many readers; measure added latency, drops, CPU and memory",
		Long: `Push one H.264 + AAC stream to a running server over RTMP (as an ingest
pseudo-participant of --room) and play it with --readers players over
HTTP-FLV and/or RTMP, connected at --ramp per second. No signalling: the
tool signs the ingest URL and the view URLs itself with the app's secret
(--data, and --app or the first app; or --app and --secret).

The stream is synthetic unless --input names an FLV file (then its frames
are pushed in a loop): a real H.264 GOP re-timed to --fps and --gop and
padded with filler NAL units to --bitrate, plus AAC 48 kHz mono (--audio).
Every video frame carries an SEI NAL unit with its send time and sequence
number; audio send times are looked up by timestamp. Added latency =
arrival at the reader - send by the publisher, on this process's clock; it
includes the publisher-to-server hop, which on loopback is well under 1 ms.
Frames are also timed when their bytes reached the reader's socket (kernel
timestamps, --socket-timestamps): the difference is this tool's own
queueing, which grows when its core is nearly full.

Phases: the push goes live, the server heap is read; readers connect;
after the last one, --settle for the initial GOP bursts to drain; then
--duration of measurement (the summary's latency, drops and CPU are from
this window); the heap is read again with every reader connected.
/debug/heap needs the server's --debug-endpoints; --server-pid gives the
server's CPU from /proc (else from /metrics). A progress line goes to
stderr every second, the summary to stdout (--json). Pin the server and
the tool to different cores (taskset); see docs/benchmarks.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.dataDir = *dataDir
			if err := o.validate(); err != nil {
				return err
			}
			app, secret, err := benchSecret(cmd, &signalOpts{dataDir: o.dataDir, app: o.app, secret: o.secret})
			if err != nil {
				return err
			}
			r, err := newMediaRun(o, app, secret, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return r.execute(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.rtmpURL, "rtmp-url", "rtmp://127.0.0.1:1935", "the server's RTMP base URL")
	f.StringVar(&o.httpURL, "http-url", "http://127.0.0.1:7880", "the server's HTTP base URL (HTTP-FLV, /metrics, /debug/heap)")
	f.StringVar(&o.app, "app", "", "app id (default: the first app in --data)")
	f.StringVar(&o.secret, "secret", "", "app secret, instead of reading it from --data (needs --app)")
	f.StringVar(&o.room, "room", "bench", "room the stream is pushed into")
	f.IntVar(&o.readers, "readers", 100, "number of players (split evenly with --protocol both)")
	f.StringVar(&o.protocol, "protocol", "flv", "players' protocol: flv, rtmp or both")
	f.StringVar(&o.rtmpClient, "rtmp-client", "raw", "RTMP player: raw (lean, default) or gortmplib (its client)")
	f.Var(bitrateFlag{&o.bitrate}, "bitrate", "video bitrate of the synthetic stream (e.g. 500k, 1M, 2.5M)")
	f.Float64Var(&o.fps, "fps", 25, "video frames per second of the synthetic stream")
	f.DurationVar(&o.gop, "gop", 2*time.Second, "keyframe interval of the synthetic stream")
	f.BoolVar(&o.audio, "audio", true, "push audio (AAC 48 kHz mono, ~64 kbit/s) too")
	f.DurationVar(&o.duration, "duration", 30*time.Second, "length of the measured window, after every player connected")
	f.Float64Var(&o.ramp, "ramp", 200, "players connected per second")
	f.DurationVar(&o.settle, "settle", 2*time.Second, "wait between the last connection and the measured window")
	f.DurationVar(&o.connectTimeout, "connect-timeout", 10*time.Second, "longest wait for one connection to start playing")
	f.StringVar(&o.input, "input", "", "push this FLV file's frames (H.264 + AAC), looping, instead of the synthetic stream")
	f.IntVar(&o.serverPID, "server-pid", 0, "the server's process id (same machine): its CPU use from /proc/PID/stat")
	f.BoolVar(&o.sockStamps, "socket-timestamps", true, "also time frames when they reach the readers' sockets (SO_TIMESTAMPNS; Linux)")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this tool over the measured window to this file")
	f.BoolVar(&o.asJSON, "json", false, "print the summary as JSON")
	return cmd
}

func (o *mediaOpts) validate() error {
	switch {
	case o.readers < 1:
		return fmt.Errorf("--readers must be at least 1, got %d", o.readers)
	case o.protocol != "flv" && o.protocol != "rtmp" && o.protocol != "both":
		return fmt.Errorf("--protocol must be flv, rtmp or both, got %q", o.protocol)
	case o.rtmpClient != "raw" && o.rtmpClient != "gortmplib":
		return fmt.Errorf("--rtmp-client must be raw or gortmplib, got %q", o.rtmpClient)
	case o.bitrate < 10_000 || o.bitrate > 100_000_000:
		return fmt.Errorf("--bitrate must be between 10k and 100M, got %d", o.bitrate)
	case !(o.fps >= 1 && o.fps <= 120):
		return fmt.Errorf("--fps must be between 1 and 120, got %g", o.fps)
	case o.gop < 40*time.Millisecond || o.gop > 10*time.Second:
		return fmt.Errorf("--gop must be between 40ms and 10s, got %s", o.gop)
	case o.duration <= 0:
		return fmt.Errorf("--duration must be positive, got %s", o.duration)
	case !(o.ramp > 0):
		return fmt.Errorf("--ramp must be positive, got %g", o.ramp)
	case o.settle < 0:
		return fmt.Errorf("--settle must not be negative, got %s", o.settle)
	case o.connectTimeout <= 0:
		return fmt.Errorf("--connect-timeout must be positive, got %s", o.connectTimeout)
	case o.serverPID < 0:
		return fmt.Errorf("--server-pid must be a process id, got %d", o.serverPID)
	case o.secret != "" && o.app == "":
		return errors.New("--secret needs --app: the URLs are signed for an app")
	}
	if err := ids.RoomID(o.room).Validate(); err != nil {
		return fmt.Errorf("--room: %w", err)
	}
	for flag, v := range map[string]string{"--rtmp-url": o.rtmpURL, "--http-url": o.httpURL} {
		u, err := url.Parse(v)
		want := map[string]string{"--rtmp-url": "rtmp", "--http-url": "http"}[flag]
		if err != nil || u.Scheme != want || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return fmt.Errorf("%s %q: want %s://host:port", flag, v, want)
		}
	}
	o.rtmpURL, o.httpURL = strings.TrimRight(o.rtmpURL, "/"), strings.TrimRight(o.httpURL, "/")
	return nil
}

// bitrateFlag parses bits per second with an optional k, M or G suffix.
type bitrateFlag struct{ v *int64 }

func (b bitrateFlag) String() string {
	if b.v == nil {
		return ""
	}
	return formatBitrate(*b.v)
}

func (b bitrateFlag) Type() string { return "bitrate" }

func (b bitrateFlag) Set(s string) error {
	mult := 1.0
	t := strings.TrimSuffix(strings.TrimSuffix(s, "bps"), "bit/s")
	switch {
	case strings.HasSuffix(t, "k"), strings.HasSuffix(t, "K"):
		mult, t = 1e3, t[:len(t)-1]
	case strings.HasSuffix(t, "M"), strings.HasSuffix(t, "m"):
		mult, t = 1e6, t[:len(t)-1]
	case strings.HasSuffix(t, "G"), strings.HasSuffix(t, "g"):
		mult, t = 1e9, t[:len(t)-1]
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f*mult > 1e12 {
		return fmt.Errorf("%q is not a bitrate (e.g. 800k, 1M, 2.5M)", s)
	}
	*b.v = int64(f * mult)
	return nil
}

func formatBitrate(v int64) string {
	switch {
	case v >= 1e6 && v%1e4 == 0:
		return strconv.FormatFloat(float64(v)/1e6, 'f', -1, 64) + "M"
	case v >= 1e3 && v%10 == 0:
		return strconv.FormatFloat(float64(v)/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatInt(v, 10)
}

// mediaRun is one execution of `bench media`.
type mediaRun struct {
	o        mediaOpts
	out      io.Writer
	errOut   io.Writer
	probe    *serverProbe
	stream   ids.StreamID
	pushURL  string
	readers  []*mediaReader
	perProto [2]int
	src      *mediaSource
	ring     *audioRing
	pub      *publisher
	srcNote  string
	start    time.Time

	phase      atomic.Value // string, for progress lines
	measuring  atomic.Bool
	lat        [3][2]histogram // [flv, rtmp, all][video, audio], measured window, at the reader
	sock       [3][2]histogram // the same, when the bytes reached the reader's socket
	firstFrame histogram       // dial start → first stamped video frame
	win        [2]histogram    // video latency of the current second (double-buffered)
	winSock    [2]histogram    // ... at the socket
	winIdx     atomic.Int32

	cached    atomic.Int64 // frames sent before their reader's play began: the GOP cache
	unstamped atomic.Int64 // video frames without a stamp
	unmatched atomic.Int64 // audio frames whose send time was not found
	reordered atomic.Int64

	connectErrors counters
	disconnects   counters
}

func newMediaRun(o mediaOpts, app ids.AppID, secret string, out, errOut io.Writer) (*mediaRun, error) {
	data, name := benchMediaFLV, "the built-in fixture"
	if o.input != "" {
		b, err := os.ReadFile(o.input)
		if err != nil {
			return nil, fmt.Errorf("--input: %w", err)
		}
		data, name = b, o.input
	}
	src, err := loadFLVSource(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if o.audio && src.asc == nil {
		o.audio = false
		fmt.Fprintf(errOut, "note: %s has no AAC audio; pushing video only\n", name)
	}
	r := &mediaRun{
		o: o, out: out, errOut: errOut, src: src, ring: new(audioRing),
		probe: &serverProbe{base: o.httpURL, client: &http.Client{Transport: &http.Transport{}}},
	}
	r.phase.Store("start")
	run := newRunID()
	user := ids.UserID("benchpub-" + run)
	r.stream = ids.StreamID(string(user) + "_" + string(ids.DefaultTag))
	ramp := time.Duration(float64(o.readers) / o.ramp * float64(time.Second))
	exp := time.Now().Add(min(ramp+o.settle+o.duration+time.Hour, auth.MaxTTL))
	g := auth.MediaGrant{Action: auth.ActionIngest, App: app, Room: ids.RoomID(o.room), Stream: r.stream, User: user, Expires: exp}
	r.pushURL = server.PushURLFor(o.rtmpURL, secret, g)
	r.readers = make([]*mediaReader, o.readers)
	for i := range r.readers {
		proto := protoFLV
		if o.protocol == "rtmp" || o.protocol == "both" && i%2 == 1 {
			proto = protoRTMP
		}
		g.Action, g.User = auth.ActionView, ids.UserID(fmt.Sprintf("benchview-%s-%05d", run, i))
		urls := server.PlayURLsFor(o.rtmpURL, o.httpURL, secret, g)
		u := urls.FLV
		if proto == protoRTMP {
			u = urls.RTMP
		}
		r.readers[i] = newMediaReader(r, proto, u)
		r.perProto[proto]++
	}
	r.pub, r.srcNote = newPublisher(src, o, r.ring)
	return r, nil
}

// latency records one frame's added latency. Frames sent before the
// reader asked to play came out of the GOP cache: their age says nothing
// about the server's speed.
//
// Frames are timed when the reader handled them (now) and, if the system
// tells, when their bytes reached the reader's socket (sockAt, else 0):
// the difference is this tool's own queueing.
func (r *mediaRun) latency(proto, kind int, sent, now, sockAt, playAt int64) {
	if sent < playAt {
		r.cached.Add(1)
		return
	}
	d, ds := time.Duration(now-sent), time.Duration(max(sockAt-sent, 0))
	if kind == kindVideo {
		w := r.winIdx.Load()
		r.win[w].record(d)
		if sockAt > 0 {
			r.winSock[w].record(ds)
		}
	}
	if r.measuring.Load() {
		r.lat[proto][kind].record(d)
		r.lat[2][kind].record(d)
		if sockAt > 0 {
			r.sock[proto][kind].record(ds)
			r.sock[2][kind].record(ds)
		}
	}
}

// execute runs the phases and prints the summary. Ctrl-C (ctx) ends the
// current phase; readers and publisher are closed and a partial summary
// is printed.
func (r *mediaRun) execute(ctx context.Context) error {
	o := r.o
	if limit := raiseNoFile(); limit > 0 && limit < uint64(o.readers)+64 {
		fmt.Fprintf(r.errOut, "warning: the open files limit is %d, too low for %d readers; raise the hard limit (ulimit -Hn)\n", limit, o.readers)
	}
	fmt.Fprintf(r.errOut, "bench media: %d readers (flv %d, rtmp %d) at %g/s, %s, stream %s/%s\n",
		o.readers, r.perProto[protoFLV], r.perProto[protoRTMP], o.ramp, r.describeSource(), o.room, r.stream)
	if r.srcNote != "" {
		fmt.Fprintf(r.errOut, "note: %s\n", r.srcNote)
	}
	sum := r.newSummary()
	defer r.probe.client.CloseIdleConnections()

	// 1. The push goes live.
	r.start = time.Now()
	if err := r.pub.connect(ctx, r.pushURL, o.connectTimeout); err != nil {
		return err
	}
	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan struct{})
	var pubErr error
	go func() { pubErr = r.pub.run(pubCtx); close(pubDone) }()
	defer func() { stopPub(); <-pubDone }()
	if err := r.waitLive(ctx, pubDone, &pubErr); err != nil {
		return err
	}
	before, heapErr := r.probe.heap(ctx)
	if heapErr != nil {
		sum.MemoryNote = memoryNote(heapErr)
		fmt.Fprintf(r.errOut, "note: %s\n", sum.MemoryNote)
	}

	// 2. Readers connect at the ramp rate (open loop).
	stopBG := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() { r.progressLoop(ctx, stopBG) })
	defer func() { close(stopBG); bg.Wait() }()
	readCtx, stopReaders := context.WithCancel(context.Background())
	var readersWG sync.WaitGroup
	defer func() { stopReaders(); readersWG.Wait() }()
	r.phase.Store("ramp")
	rampStart := time.Now()
	interval := time.Duration(float64(time.Second) / o.ramp)
	for i, rd := range r.readers {
		if !waitCtx(ctx, time.Until(rampStart.Add(time.Duration(i)*interval))) {
			break
		}
		readersWG.Go(func() { rd.play(readCtx) })
	}
	for deadline := time.Now().Add(o.connectTimeout + time.Second); ctx.Err() == nil && time.Now().Before(deadline); {
		if t := r.totals(); t.pending+t.connecting == 0 {
			break
		}
		waitCtx(ctx, 50*time.Millisecond)
	}
	sum.Ramp = rampJSON{Rate: o.ramp, Seconds: round2(time.Since(rampStart).Seconds())}
	r.phase.Store("settle")
	waitCtx(ctx, o.settle)

	// 3. The measured window.
	if ctx.Err() == nil {
		r.phase.Store("measure")
		a, marks, scA := r.totals(), r.gapMarks(), r.scrape(ctx)
		cpu := r.startServerCPU(ctx)
		stopProfile := r.startProfile()
		r.measuring.Store(true)
		waitCtx(ctx, o.duration)
		r.measuring.Store(false)
		stopProfile()
		sum.CPU = cpu.stop(ctx)
		r.fillWindow(sum, a, r.totals(), marks, scA, r.scrape(ctx))
	}

	// 4. Memory with every reader still connected (the server runs a GC).
	if heapErr == nil {
		r.phase.Store("memory")
		if after, err := r.probe.heap(context.WithoutCancel(ctx)); err == nil {
			sum.Memory = memoryPerReader(before, after, r.totals().playingAll())
		} else {
			sum.MemoryNote = memoryNote(err)
		}
	}
	r.phase.Store("stop")
	stopReaders()
	readersWG.Wait()
	stopPub()
	<-pubDone
	if pubErr != nil {
		sum.PublisherError = pubErr.Error()
	}
	r.finish(sum, ctx.Err() != nil)
	if o.asJSON {
		return writeIndentedJSON(r.out, sum)
	}
	sum.print(r.out)
	return nil
}

// waitLive waits for the first keyframe to be sent, then plays the stream
// with one probe reader until a stamped video frame arrives (the server
// announced the stream live, and the URLs work), then lets one GOP pass
// so that the server's GOP cache is full before the heap is read.
func (r *mediaRun) waitLive(ctx context.Context, pubDone <-chan struct{}, pubErr *error) error {
	r.phase.Store("live?")
	select {
	case <-r.pub.live:
	case <-pubDone:
		return fmt.Errorf("the push ended before its first frame: %v", *pubErr)
	case <-ctx.Done():
		return ctx.Err()
	}
	limit := r.o.connectTimeout + 5*time.Second
	deadline := time.Now().Add(limit)
	var last string
	for ctx.Err() == nil && time.Now().Before(deadline) {
		probe := newMediaReader(&mediaRun{o: r.o, ring: r.ring}, r.readers[0].proto, r.readers[0].url)
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); probe.play(pctx) }()
	wait:
		for probe.videoFrames.Load() == 0 && time.Now().Before(deadline) {
			select {
			case <-done:
				break wait
			case <-time.After(20 * time.Millisecond):
			}
		}
		cancel()
		<-done
		if probe.videoFrames.Load() > 0 {
			gop := r.o.gop
			if r.o.input != "" {
				gop = time.Duration(r.src.loopMs) * time.Millisecond
			}
			waitCtx(ctx, min(max(gop, time.Second), 10*time.Second))
			return ctx.Err()
		}
		last = probe.lastErr
		waitCtx(ctx, 200*time.Millisecond)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("the stream did not play within %s: %s", limit, last)
}

// startProfile starts --cpuprofile; the returned function stops it.
func (r *mediaRun) startProfile() func() {
	if r.o.cpuProfile == "" {
		return func() {}
	}
	f, err := os.Create(r.o.cpuProfile)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(r.errOut, "warning: --cpuprofile: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// waitCtx sleeps for d unless ctx ends first; it reports whether ctx is
// still alive.
func waitCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
