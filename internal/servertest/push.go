package servertest

import (
	"bytes"
	"context"
	_ "embed"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// idr is one 64x48 H.264 baseline IDR picture with its SPS and PPS, in
// Annex B, made by ffmpeg (x264).
//
//go:embed testdata/idr64x48.h264
var idr []byte

// GoLive makes a published stream live with Push and waits until the room
// announced it. Tests of room behaviour use it where a participant would
// run live-pusher.
func (e *Env) GoLive(t testing.TB, pushURL string, media protocol.MediaType) {
	t.Helper()
	Push(t, pushURL, media)
	pu, err := url.Parse(pushURL)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(strings.TrimPrefix(pu.Path, "/"), "/")
	if len(parts) != 3 {
		t.Fatalf("servertest: push URL path %q", pu.Path)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := e.Server.Rooms().Room(ids.AppID(parts[0]), ids.RoomID(parts[1]))
		for _, p := range st.Participants {
			for _, s := range p.Streams {
				if string(s.ID) == parts[2] {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("servertest: stream %s not live 10 s after pushing", parts[2])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Push opens a real, tiny RTMP push to pushURL: codec configs plus one
// keyframe (video) and one AAC frame (audio), as media says. The push
// connection stays open until the test ends, so the stream stays published.
func Push(t testing.TB, pushURL string, media protocol.MediaType) {
	t.Helper()
	u, err := url.Parse(gortmplibURL(pushURL))
	if err != nil {
		t.Fatalf("servertest: push URL %q: %v", pushURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &gortmplib.Client{URL: u, Publish: true}
	if err := c.Initialize(ctx); err != nil {
		t.Fatalf("servertest: RTMP connect: %v", err)
	}
	t.Cleanup(c.Close)
	nalus := splitAnnexB(idr)
	video := &gortmplib.Track{Codec: &codecs.H264{SPS: nalus[0], PPS: nalus[1]}}
	audio := &gortmplib.Track{Codec: &codecs.MPEG4Audio{Config: &mpeg4audio.AudioSpecificConfig{
		Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelConfig: 1}}}
	var tracks []*gortmplib.Track
	if media.HasVideo() {
		tracks = append(tracks, video)
	}
	if media.HasAudio() {
		tracks = append(tracks, audio)
	}
	w := &gortmplib.Writer{Conn: c, Tracks: tracks}
	if err := w.Initialize(); err != nil {
		t.Fatalf("servertest: RTMP tracks: %v", err)
	}
	if media.HasVideo() {
		if err := w.WriteH264(video, 0, 0, nalus); err != nil {
			t.Fatalf("servertest: RTMP video: %v", err)
		}
	}
	if media.HasAudio() {
		if err := w.WriteMPEG4Audio(audio, 0, make([]byte, 8)); err != nil {
			t.Fatalf("servertest: RTMP audio: %v", err)
		}
	}
}

// gortmplibURL moves the stream key (last path segment and query) of a
// conventional RTMP URL after '#', where gortmplib's client expects it.
func gortmplibURL(u string) string {
	q := ""
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u, q = u[:i], u[i:]
	}
	i := strings.LastIndexByte(u, '/')
	return u[:i] + "#" + u[i+1:] + q
}

// splitAnnexB splits an Annex B byte stream into NAL units.
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	for _, part := range bytes.Split(b, []byte{0, 0, 1}) {
		part = bytes.TrimRight(part, "\x00")
		if len(part) > 0 {
			out = append(out, part)
		}
	}
	return out
}

// H264Fixture returns the SPS, the PPS and the NAL units of one 64x48
// baseline IDR picture (made by x264), for tests that push their own frames.
func H264Fixture() (sps, pps []byte, picture [][]byte) {
	nalus := splitAnnexB(idr)
	return nalus[0], nalus[1], nalus[2:]
}

// GortmplibURL rewrites a conventional RTMP URL for gortmplib's client,
// which expects the stream key (last segment and query) after '#'.
func GortmplibURL(u string) string { return gortmplibURL(u) }
