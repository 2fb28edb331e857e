package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/servertest"
)

// TestBenchWebRTC runs both modes briefly against an in-process server with
// a few receivers: every receiver plays, video and audio are timed, nothing
// is lost, and the latencies are plausible for loopback.
func TestBenchWebRTC(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) { c.Debug.Endpoints = true })
	rtmpBase, _ := env.Server.MediaURLBases()
	for _, mode := range []string{modeRTMPToWebRTC, modeWebRTCToFLV} {
		t.Run(mode, func(t *testing.T) {
			o := webrtcOpts{mode: mode, rtmpURL: rtmpBase, httpURL: env.HTTP, room: "bench", streams: 1, subscribers: 3,
				bitrate: 500_000, fps: 25, gop: time.Second, audio: true, duration: 3 * time.Second,
				settle: time.Second, ramp: 50, connectTimeout: 10 * time.Second, asJSON: true}
			if err := o.validate(); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			r, err := newWebRTCRun(o, env.App.ID, env.App.Secret, &out, &errOut)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := r.execute(ctx); err != nil {
				t.Fatalf("bench webrtc: %v\nstderr:\n%s", err, errOut.String())
			}
			var s webrtcSummary
			if err := json.Unmarshal(out.Bytes(), &s); err != nil {
				t.Fatalf("--json printed %q: %v", out.String(), err)
			}
			// 3 s × 25 fps × 3 receivers = 225 video frames; audio 50/s (Opus) or 46.9/s (AAC).
			if s.Playing != 3 || s.Failed+s.Lost != 0 || s.VideoFrames < 150 || s.AudioFrames < 250 ||
				s.Video.Count == 0 || s.Audio.Count < 250 || s.SkippedFrames != 0 || s.Unstamped != 0 {
				t.Errorf("summary: %s\nstderr:\n%s", out.String(), errOut.String())
			}
			// Loopback under -race: generous bounds, but a wrong audio
			// match would be off by whole frames or be negative.
			if s.Video.P50 <= 0 || s.Video.P50 > 100 || s.AudioAfterInput.P50 < 0 || s.AudioAfterInput.P50 > 100 ||
				s.Audio.P50 < s.AudioAfterInput.P50 || s.Audio.P50 > 200 {
				t.Errorf("latencies: video %+v, audio %+v, after input %+v", s.Video, s.Audio, s.AudioAfterInput)
			}
			if s.CPU == nil || s.CPU.BenchPct <= 0 {
				t.Errorf("cpu: %+v", s.CPU)
			}
		})
	}
}

func TestRTPStamp(t *testing.T) {
	var sei [stampNALSize]byte
	putStamp(sei[:], stamp{sent: 123456789, seq: 42, ts: 1680})
	stap := append([]byte{24, 0, 2, 0x67, 0x42}, byte(stampNALSize>>8), byte(stampNALSize))
	stap = append(append(stap, sei[:]...), 0, 1, 0x65)
	for name, payload := range map[string][]byte{"single": sei[:], "stap-a": stap} {
		s, ok := rtpStamp(payload)
		if !ok || s.sent != 123456789 || s.seq != 42 || s.ts != 1680 {
			t.Errorf("%s: %+v %v", name, s, ok)
		}
	}
	if _, ok := rtpStamp([]byte{28, 0x86, 1, 2}); ok {
		t.Error("a FU-A fragment parsed as a stamp")
	}
	if p := seiPadding(600); len(p) != 600 || p[0] != 6 || p[len(p)-1] != 0x80 {
		t.Errorf("seiPadding(600): %d bytes", len(p))
	}
}
