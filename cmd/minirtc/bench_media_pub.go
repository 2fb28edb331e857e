package main

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
)

// publisher pushes the bench stream over RTMP with gortmplib's client, in
// real time: every frame leaves at its timestamp, not in bursts.
type publisher struct {
	src       *mediaSource
	ring      *audioRing
	synthetic bool
	fps       float64
	gop       [][][]byte // synthetic: the NAL units of each GOP position, [0] left for the stamp
	noAudio   bool

	client *gortmplib.Client
	w      *gortmplib.Writer
	vt, at *gortmplib.Track
	sei    [stampNALSize]byte

	live       chan struct{} // closed once the first keyframe was written
	videoSent  atomic.Int64
	audioSent  atomic.Int64
	late       atomic.Int64 // frames sent more than publisherLate behind their time
	maxLag     atomic.Int64 // ns
	videoBytes atomic.Int64 // NAL unit bytes of the video frames sent
}

// publisherLate is how far behind its schedule a frame may leave before it
// counts as late: then the latency the readers see understates the delay.
const publisherLate = 5 * time.Millisecond

// newPublisher plans the stream. Synthetic (no --input): the fixture's
// first GOP, re-timed to --fps and --gop and padded with filler NAL units
// to --bitrate, keeping the keyframe-to-P-frame size ratio, so the server
// sees a realistic GOP: one big keyframe, then small frames.
func newPublisher(src *mediaSource, o mediaOpts, ring *audioRing) (*publisher, string) {
	p := &publisher{src: src, ring: ring, synthetic: o.input == "", fps: o.fps, noAudio: !o.audio || src.asc == nil, live: make(chan struct{})}
	if !p.synthetic {
		return p, ""
	}
	gopFrames := max(1, int(math.Round(o.gop.Seconds()*o.fps)))
	var ps []srcFrame
	for _, f := range src.video[1:] {
		if f.key {
			break
		}
		ps = append(ps, f)
	}
	pick := func(pos int) *srcFrame {
		if pos == 0 || len(ps) == 0 {
			return &src.video[0]
		}
		return &ps[(pos-1)%len(ps)]
	}
	natural := 0
	for pos := range gopFrames {
		natural += pick(pos).size() + 4 + stampNALSize
	}
	target := float64(o.bitrate) / 8 * float64(gopFrames) / o.fps
	scale := target / float64(natural)
	note := ""
	if scale < 1 {
		note = fmt.Sprintf("the fixture's video is %.0f kbit/s at these settings, more than --bitrate; sending it unpadded",
			float64(natural)*8*o.fps/float64(gopFrames)/1000)
		scale = 1
	}
	p.gop = make([][][]byte, gopFrames)
	for pos := range gopFrames {
		f := pick(pos)
		nalus := append([][]byte{nil}, f.nalus...)
		size := f.size() + 4 + stampNALSize
		if pad := int(float64(size)*scale) - size - 4; pad >= 2 {
			nalus = append(nalus, fillerNAL(pad))
		}
		p.gop[pos] = nalus
	}
	return p, note
}

// videoTS is video frame i's timestamp (ms).
func (p *publisher) videoTS(i int64) int64 {
	if p.synthetic {
		return int64(float64(i) * 1000 / p.fps)
	}
	n := int64(len(p.src.video))
	return p.src.video[i%n].dts + i/n*p.src.loopMs
}

// videoAt returns frame i's composition offset and NAL units (slot 0 is
// for the stamp).
func (p *publisher) videoAt(i int64) (cts int32, nalus [][]byte) {
	if p.synthetic {
		return 0, p.gop[i%int64(len(p.gop))]
	}
	f := &p.src.video[i%int64(len(p.src.video))]
	nalus = make([][]byte, 0, len(f.nalus)+1)
	return f.cts, append(append(nalus, nil), f.nalus...)
}

// audioAt returns audio frame j's timestamp (ms) and payload.
func (p *publisher) audioAt(j int64) (int64, []byte) {
	n := int64(len(p.src.audio))
	if p.synthetic {
		return j * 1024 * 1000 / int64(p.src.asc.SampleRate), p.src.audio[j%n].au
	}
	f := &p.src.audio[j%n]
	return f.dts + j/n*p.src.loopMs, f.au
}

// connect opens the push and announces the tracks.
func (p *publisher) connect(ctx context.Context, pushURL string, timeout time.Duration) error {
	u, err := url.Parse(gortmplibURL(pushURL))
	if err != nil {
		return err
	}
	p.client = &gortmplib.Client{URL: u, Publish: true}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := p.client.Initialize(ictx); err != nil {
		return fmt.Errorf("publish %s: %w", redactURL(pushURL), err)
	}
	p.vt = &gortmplib.Track{Codec: &codecs.H264{SPS: p.src.sps, PPS: p.src.pps}}
	tracks := []*gortmplib.Track{p.vt}
	if !p.noAudio {
		p.at = &gortmplib.Track{Codec: &codecs.MPEG4Audio{Config: p.src.asc}}
		tracks = append(tracks, p.at)
	}
	p.w = &gortmplib.Writer{Conn: p.client, Tracks: tracks}
	if err := p.w.Initialize(); err != nil {
		p.client.Close()
		return fmt.Errorf("publish: announcing tracks: %w", err)
	}
	return nil
}

// run sends frames at their times until ctx ends or a write fails.
func (p *publisher) run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, p.client.Close)
	defer stop()
	defer p.client.Close()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	t0 := time.Now()
	var i, j int64
	for {
		vts := p.videoTS(i)
		next, isVideo := vts, true
		if !p.noAudio {
			if ats, _ := p.audioAt(j); ats < vts {
				next, isVideo = ats, false
			}
		}
		due := t0.Add(time.Duration(next) * time.Millisecond)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		}
		if lag := time.Since(due); lag > publisherLate {
			p.late.Add(1)
			if int64(lag) > p.maxLag.Load() {
				p.maxLag.Store(int64(lag))
			}
		}
		var err error
		if isVideo {
			err = p.sendVideo(i)
			i++
		} else {
			err = p.sendAudio(j)
			j++
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("publish: %w", err)
		}
	}
}

func (p *publisher) sendVideo(i int64) error {
	ts := p.videoTS(i)
	cts, nalus := p.videoAt(i)
	putStamp(p.sei[:], stamp{sent: monoNow(), seq: uint32(i), ts: uint32(ts)})
	nalus[0] = p.sei[:]
	dts := time.Duration(ts) * time.Millisecond
	if err := p.w.WriteH264(p.vt, dts+time.Duration(cts)*time.Millisecond, dts, nalus); err != nil {
		return err
	}
	p.videoSent.Add(1)
	n := 0
	for _, u := range nalus {
		n += 4 + len(u)
	}
	p.videoBytes.Add(int64(n))
	if i == 0 {
		close(p.live)
	}
	return nil
}

func (p *publisher) sendAudio(j int64) error {
	ts, au := p.audioAt(j)
	p.ring.put(uint32(ts), uint32(j), monoNow())
	if err := p.w.WriteMPEG4Audio(p.at, time.Duration(ts)*time.Millisecond, au); err != nil {
		return err
	}
	p.audioSent.Add(1)
	return nil
}

// redactURL hides a signed URL's signature in messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	q := u.Query()
	if q.Has("sig") {
		q.Set("sig", "REDACTED")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
