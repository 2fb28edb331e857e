package media

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// 1.2 s of 25 fps video (1000-byte frames, a keyframe every 25) on the
// injected clock: the rates cover the last full second.
func TestStatsRates(t *testing.T) {
	e := newEnv(t, testLimits())
	p := e.push(t, "kinds=v")
	p.write(vcfg(t, "h264_320x240.avcc"), 0)
	var readers []*Reader
	for i := 0; i <= 30; i++ {
		p.write(media(Video, i%25 == 0, fmt.Sprintf("F%d", i), 1000), uint32(40*i))
		if i == 0 {
			e.hooks.expectLive(t)
			readers = []*Reader{e.play(t, "", RTMP), e.play(t, "", RTMP), e.play(t, "", FLV)}
		}
		readers[0].Sent(500)
		e.clk.add(40 * time.Millisecond)
	}
	st := e.h.Stats("app1", "room1")
	if len(st) != 1 {
		t.Fatalf("Stats = %+v", st)
	}
	s := st[0]
	if s.Key != testKey || !s.Pushing || s.Info.Video == nil || s.Info.Video.Width != 320 {
		t.Errorf("Stats = %+v", s)
	}
	if s.FPS != 25 {
		t.Errorf("FPS = %v, want 25", s.FPS)
	}
	if s.BitrateIn < 195_000 || s.BitrateIn > 201_000 {
		t.Errorf("BitrateIn = %d, want about 200000 (25 frames of 1000 bytes a second)", s.BitrateIn)
	}
	if s.BitrateOut < 95_000 || s.BitrateOut > 105_000 {
		t.Errorf("BitrateOut = %d, want about 100000", s.BitrateOut)
	}
	if s.GOPFrames != 25 || s.GOPMillis != 1000 {
		t.Errorf("GOP = %d frames, %d ms; want 25, 1000", s.GOPFrames, s.GOPMillis)
	}
	if s.Readers[RTMP] != 2 || s.Readers[FLV] != 1 {
		t.Errorf("Readers = %v", s.Readers)
	}
	if s.BytesIn != 40+31*1000 || s.BytesOut != 31*500 {
		t.Errorf("BytesIn %d, BytesOut %d", s.BytesIn, s.BytesOut)
	}
	if got := e.h.Stats("app1", "room1", "bob_main"); len(got) != 0 {
		t.Errorf("Stats(bob_main) = %+v", got)
	}
	if got := e.h.Stats("app1", "room1", "bob_main", "alice_main"); len(got) != 1 {
		t.Errorf("Stats(bob_main, alice_main) = %+v", got)
	}
	if got := e.h.Stats("app1", "room2"); len(got) != 0 {
		t.Errorf("another room's stats: %+v", got)
	}

	e.clk.add(4 * time.Second) // the pusher went silent
	s = e.h.Stats("app1", "room1")[0]
	if s.BitrateIn != 0 || s.BitrateOut != 0 || s.FPS != 0 || s.GOPFrames != 25 {
		t.Errorf("after 4 s of silence: %+v", s)
	}
}

// gather scrapes a Collector for h through a registry, as /metrics does.
func gather(t *testing.T, h *Hub) map[string][]*dto.Metric {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(NewCollector(h)); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*dto.Metric{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf.GetMetric()
	}
	return out
}

// value returns the value of the metric with the given label values
// ("name=value" pairs), -1 when there is none.
func value(ms []*dto.Metric, labels ...string) float64 {
next:
	for _, m := range ms {
		for _, l := range labels {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName()+"="+lp.GetValue() == l {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		}
	}
	return -1
}

func TestRefusalsAndMetrics(t *testing.T) {
	lim := testLimits()
	lim.MaxReaders = 2
	e := newEnv(t, lim)
	ctx := context.Background()
	play := func(path, q string) error {
		r, err := e.h.StartPlay(ctx, target(path, q, FLV))
		if err == nil {
			t.Cleanup(r.Close)
		}
		return err
	}
	want := func(err error, reason Reason) {
		t.Helper()
		if AsRefusal(err).Reason != reason {
			t.Fatalf("got %v, want %s", err, reason)
		}
	}
	want(play("/app1/room1/nobody_main", ""), ReasonNotLive) // unknown stream
	p := e.push(t, "")
	p.write(vcfg(t, "h264_320x240.avcc"), 0)
	want(play(testPath, ""), ReasonNotLive) // published, not live yet
	p.write(acfg(aac48Stereo), 0)
	p.write(key("K0"), 0)
	e.hooks.expectLive(t)
	if err := play(testPath, ""); err != nil {
		t.Fatal(err)
	}
	r2, err := e.h.StartPlay(ctx, target(testPath, "", RTMP))
	if err != nil {
		t.Fatal(err)
	}
	want(play(testPath, ""), ReasonLimit)
	r2.Close()
	if err := play(testPath, ""); err != nil {
		t.Fatalf("a slot freed by Close: %v", err)
	}
	_, err = e.h.StartPush(ctx, target(testPath, "", RTMP))
	want(err, ReasonBusy)

	e.adm.mu.Lock()
	e.adm.play = func(Target) (PlayTicket, error) { return PlayTicket{}, Refuse(ReasonBadSignature, "forged") }
	e.adm.push = func(Target) (PushTicket, error) { return PushTicket{}, errors.New("store down") }
	e.adm.mu.Unlock()
	want(play(testPath, ""), ReasonBadSignature)
	_, err = e.h.StartPush(ctx, target(testPath, "", RTMP))
	if err == nil || err.Error() != "store down" {
		t.Fatalf("admission error not returned as is: %v", err)
	}

	m := gather(t, e.h)
	for reason, n := range map[Reason]float64{ReasonNotLive: 2, ReasonLimit: 1, ReasonBusy: 1, ReasonBadSignature: 1, ReasonUnavailable: 1} {
		if got := value(m["minirtc_media_refused_total"], "reason="+string(reason)); got != n {
			t.Errorf("refused{reason=%s} = %v, want %v", reason, got, n)
		}
	}
	if got := value(m["minirtc_media_players"]); got != 2 {
		t.Errorf("media_players = %v, want 2", got)
	}
	stream := []string{"app=app1", "room=room1", "stream=alice_main"}
	if got := value(m["minirtc_stream_players"], append(stream, "protocol=flv")...); got != 2 {
		t.Errorf("stream_players{flv} = %v, want 2", got)
	}
	if got := value(m["minirtc_stream_players"], append(stream, "protocol=rtmp")...); got != 0 {
		t.Errorf("stream_players{rtmp} = %v, want 0", got)
	}
	if got := value(m["minirtc_stream_received_bytes_total"], stream...); got != float64(40+2+len("K0")) {
		t.Errorf("stream_received_bytes_total = %v", got)
	}

	e.h.Close(testKey)
	m = gather(t, e.h)
	if len(m["minirtc_stream_players"]) != 0 || value(m["minirtc_media_players"]) != 0 {
		t.Errorf("after Close: stream metrics %v, players %v", m["minirtc_stream_players"], value(m["minirtc_media_players"]))
	}
}

func TestReasonStatus(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons {
		if seen[r] {
			t.Errorf("%s listed twice", r)
		}
		seen[r] = true
		if s := r.Status(); s < 400 || s > 599 {
			t.Errorf("%s: status %d", r, s)
		}
	}
	if ReasonUnavailable.Status() != 503 || ReasonNotLive.Status() != 404 || ReasonBusy.Status() != 409 || ReasonLimit.Status() != 429 {
		t.Error("unexpected statuses")
	}
	err := fmt.Errorf("wrapped: %w", Refuse(ReasonExpired, "late"))
	if r := AsRefusal(err); r.Reason != ReasonExpired || r.Error() != "expired: late" {
		t.Errorf("AsRefusal(wrapped) = %v", r)
	}
}
