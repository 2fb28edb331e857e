package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/minirtc/minirtc/pkg/ids"
)

// webrtcOpts are the flags of `bench webrtc`.
type webrtcOpts struct {
	mode                 string // modeRTMPToWebRTC or modeWebRTCToFLV
	rtmpURL, httpURL     string
	dataDir, app, secret string
	room                 string
	streams, subscribers int
	bitrate              int64
	fps                  float64
	gop                  time.Duration
	audio                bool
	duration, settle     time.Duration
	ramp                 float64
	connectTimeout       time.Duration
	serverPID            int
	asJSON               bool
}

const (
	modeRTMPToWebRTC = "rtmp-to-webrtc"
	modeWebRTCToFLV  = "webrtc-to-flv"
)

func newBenchWebRTCCmd(dataDir *string) *cobra.Command {
	o := webrtcOpts{bitrate: 1_500_000}
	cmd := &cobra.Command{
		Use:   "webrtc [--mode rtmp-to-webrtc|webrtc-to-flv] [--subscribers N] [--streams N] ...",
		Short: "Measure the RTMP/FLV <-> WebRTC bridge: added latency, frames lost, CPU",
		Long: `Publish --streams streams and receive each with --subscribers receivers,
across the bridge between RTMP/FLV and WebRTC:

  rtmp-to-webrtc  push over RTMP (as bench media does); receivers are WebRTC
                  participants (one signalling session and one downlink each)
  webrtc-to-flv   publish over WebRTC (a Go participant); receivers are
                  HTTP-FLV players

Every video frame carries bench media's SEI stamp (send time, sequence
number), which survives repacketization. WebRTC receivers do not
reassemble frames: they read each RTP packet, take the stamp from the
packet that carries the SEI NAL unit and time the frame at its last packet
(marker bit). Audio crosses a transcoder (AAC<->Opus) and is matched to
the input frame holding its first sample (see docs/benchmarks.md §12).
Added latency = arrival - send, on this process's clock. The measured
window (--duration) starts after every receiver connected and --settle.
With --server-pid the server's CPU is read from /proc. Pin the server and
this tool to different cores (taskset).`,
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
			r, err := newWebRTCRun(o, app, secret, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return r.execute(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.mode, "mode", modeRTMPToWebRTC, "rtmp-to-webrtc or webrtc-to-flv")
	f.StringVar(&o.rtmpURL, "rtmp-url", "rtmp://127.0.0.1:1935", "the server's RTMP base URL")
	f.StringVar(&o.httpURL, "http-url", "http://127.0.0.1:7880", "the server's HTTP base URL (signalling at /ws, HTTP-FLV)")
	f.StringVar(&o.app, "app", "", "app id (default: the first app in --data)")
	f.StringVar(&o.secret, "secret", "", "app secret, instead of reading it from --data (needs --app)")
	f.StringVar(&o.room, "room", "bench", "room the streams are published in")
	f.IntVar(&o.streams, "streams", 1, "number of streams published")
	f.IntVar(&o.subscribers, "subscribers", 10, "receivers per stream")
	f.Var(bitrateFlag{&o.bitrate}, "bitrate", "video bitrate of the synthetic stream (e.g. 500k, 1.5M)")
	f.Float64Var(&o.fps, "fps", 25, "video frames per second")
	f.DurationVar(&o.gop, "gop", 2*time.Second, "keyframe interval")
	f.BoolVar(&o.audio, "audio", true, "publish audio too (then the server transcodes it)")
	f.DurationVar(&o.duration, "duration", 20*time.Second, "length of the measured window")
	f.DurationVar(&o.settle, "settle", 3*time.Second, "wait between the last connection and the measured window")
	f.Float64Var(&o.ramp, "ramp", 20, "receivers connected per second")
	f.DurationVar(&o.connectTimeout, "connect-timeout", 15*time.Second, "longest wait for one connection")
	f.IntVar(&o.serverPID, "server-pid", 0, "the server's process id (same machine): its CPU use from /proc/PID/stat")
	f.BoolVar(&o.asJSON, "json", false, "print the summary as JSON")
	return cmd
}

func (o *webrtcOpts) validate() error {
	switch {
	case o.mode != modeRTMPToWebRTC && o.mode != modeWebRTCToFLV:
		return fmt.Errorf("--mode must be %s or %s, got %q", modeRTMPToWebRTC, modeWebRTCToFLV, o.mode)
	case o.streams < 1 || o.subscribers < 1:
		return errors.New("--streams and --subscribers must be at least 1")
	case o.bitrate < 10_000 || o.bitrate > 100_000_000:
		return fmt.Errorf("--bitrate must be between 10k and 100M, got %d", o.bitrate)
	case !(o.fps >= 1 && o.fps <= 120):
		return fmt.Errorf("--fps must be between 1 and 120, got %g", o.fps)
	case o.gop < 40*time.Millisecond || o.gop > 10*time.Second:
		return fmt.Errorf("--gop must be between 40ms and 10s, got %s", o.gop)
	case o.duration <= 0 || o.settle < 0 || o.connectTimeout <= 0 || !(o.ramp > 0):
		return errors.New("--duration, --ramp and --connect-timeout must be positive, --settle not negative")
	case o.secret != "" && o.app == "":
		return errors.New("--secret needs --app: the URLs are signed for an app")
	}
	if err := ids.RoomID(o.room).Validate(); err != nil {
		return fmt.Errorf("--room: %w", err)
	}
	for flag, v := range map[string]string{"--rtmp-url": o.rtmpURL, "--http-url": o.httpURL} {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return fmt.Errorf("%s %q: want scheme://host:port", flag, v)
		}
	}
	o.rtmpURL, o.httpURL = strings.TrimRight(o.rtmpURL, "/"), strings.TrimRight(o.httpURL, "/")
	return nil
}

// mediaOpts gives bench media's publisher the stream settings.
func (o *webrtcOpts) mediaOpts() mediaOpts {
	return mediaOpts{bitrate: o.bitrate, fps: o.fps, gop: o.gop, audio: o.audio}
}

// webrtcRun is one execution of `bench webrtc`.
type webrtcRun struct {
	o           webrtcOpts
	app         ids.AppID
	secret      string
	runID       string
	out, errOut io.Writer
	src         *mediaSource
	streams     []*wrStream
	recvs       []*wrReceiver
	start       time.Time

	measuring  atomic.Bool
	video      histogram // measured window, every receiver
	videoKey   histogram // ... keyframes only
	videoDelta histogram // ... the other frames
	gopFrames  int
	audio      histogram // audio: arrival - send of the input frame with its first sample
	audioIn    histogram // audio: arrival - send of the last input frame it needed

	videoFrames, audioFrames, packets atomic.Int64 // in the window
	lostPackets, skipped, unstamped   atomic.Int64 // in the window
	audioUnmatched                    atomic.Int64
	connectErrors, disconnects        counters
}

func newWebRTCRun(o webrtcOpts, app ids.AppID, secret string, out, errOut io.Writer) (*webrtcRun, error) {
	src, err := loadFLVSource(benchMediaFLV)
	if err != nil {
		return nil, err
	}
	r := &webrtcRun{o: o, app: app, secret: secret, runID: newRunID(), out: out, errOut: errOut, src: src,
		gopFrames: max(1, int(math.Round(o.gop.Seconds()*o.fps)))}
	for i := range o.streams {
		st, err := r.newStream(i)
		if err != nil {
			return nil, err
		}
		r.streams = append(r.streams, st)
		for range o.subscribers {
			r.recvs = append(r.recvs, &wrReceiver{run: r, st: st, index: len(r.recvs)})
		}
	}
	return r, nil
}

// execute publishes, connects the receivers at the ramp rate, measures the
// window and prints the summary.
func (r *webrtcRun) execute(ctx context.Context) error {
	o := r.o
	raiseNoFile()
	fmt.Fprintf(r.errOut, "bench webrtc: %s, %d stream(s) x %d receivers at %g/s, %s video, audio %v\n",
		o.mode, o.streams, o.subscribers, o.ramp, formatBitrate(o.bitrate), o.audio)
	r.start = time.Now()
	pubCtx, stopPubs := context.WithCancel(ctx)
	var pubs sync.WaitGroup
	defer func() { stopPubs(); pubs.Wait() }()
	for _, st := range r.streams {
		if err := st.publish(pubCtx, &pubs); err != nil {
			return err
		}
	}
	// Let the servers announce the streams and fill their GOP caches.
	waitCtx(ctx, max(o.gop, time.Second))

	recvCtx, stopRecvs := context.WithCancel(context.Background())
	var recvs sync.WaitGroup
	defer func() { stopRecvs(); recvs.Wait() }()
	stopProgress := r.progress(ctx)
	defer stopProgress()
	rampStart, interval := time.Now(), time.Duration(float64(time.Second)/o.ramp)
	for i, rc := range r.recvs {
		if !waitCtx(ctx, time.Until(rampStart.Add(time.Duration(i)*interval))) {
			break
		}
		recvs.Go(func() { rc.play(recvCtx) })
	}
	for deadline := time.Now().Add(o.connectTimeout + time.Second); ctx.Err() == nil && time.Now().Before(deadline); {
		if r.pending() == 0 {
			break
		}
		waitCtx(ctx, 50*time.Millisecond)
	}
	sum := r.newSummary(time.Since(rampStart))
	waitCtx(ctx, o.settle)

	if ctx.Err() == nil {
		m := startWindow(o.serverPID)
		r.measuring.Store(true)
		waitCtx(ctx, o.duration)
		r.measuring.Store(false)
		sum.CPU = m.stop()
	}
	stopRecvs()
	recvs.Wait()
	stopPubs()
	pubs.Wait()
	r.finish(sum)
	if o.asJSON {
		return writeIndentedJSON(r.out, sum)
	}
	sum.print(r.out)
	return nil
}

// pending is the number of receivers still connecting (or not started).
func (r *webrtcRun) pending() int {
	n := 0
	for _, rc := range r.recvs {
		if s := rc.state.Load(); s == rdPending || s == rdConnecting {
			n++
		}
	}
	return n
}

// progress prints a line to stderr every second; the returned function
// stops it.
func (r *webrtcRun) progress(ctx context.Context) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		prevAt, prevSelf := time.Now(), selfCPU()
		prevSrv, _ := procCPU(r.o.serverPID)
		var prevFrames int64
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			now, self := time.Now(), selfCPU()
			srv, _ := procCPU(r.o.serverPID)
			secs := now.Sub(prevAt).Seconds()
			playing, frames := 0, int64(0)
			for _, rc := range r.recvs {
				if rc.state.Load() == rdPlaying {
					playing++
				}
				frames += rc.frames.Load()
			}
			fmt.Fprintf(r.errOut, "[%5.1fs] receivers %d/%d playing  %.0f video frames/s  server cpu %.0f%%  bench cpu %.0f%%\n",
				time.Since(r.start).Seconds(), playing, len(r.recvs), float64(frames-prevFrames)/secs,
				100*(srv-prevSrv)/secs, 100*(self-prevSelf).Seconds()/secs)
			prevAt, prevSelf, prevSrv, prevFrames = now, self, srv, frames
		}
	}()
	return func() { close(stop); <-done }
}
