package rtmp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/media"
)

// BenchmarkChunkBuild is the once-per-frame cost of the play side's bytes.
func BenchmarkChunkBuild(b *testing.B) {
	for _, c := range []struct {
		name string
		f    *media.Frame
	}{
		{"aac-300B", &media.Frame{Kind: media.Audio, Codec: media.AAC, DTS: 1000, Payload: make([]byte, 300)}},
		{"h264-5KB", &media.Frame{Kind: media.Video, Codec: media.H264, DTS: 1000, CTS: 40, Payload: nal(5 << 10)}},
		{"h264-key-150KB", &media.Frame{Kind: media.Video, Codec: media.H264, Key: true, DTS: 1000, Payload: nal(150 << 10)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.f.Payload)))
			b.ReportAllocs()
			for b.Loop() {
				buildChunks(c.f)
			}
		})
	}
}

// BenchmarkFanout: one op is one frame (a 1 Mbps-like mix: 5 KB video, 300
// B audio, a 50 KB keyframe every 50 frames) delivered to N players, each a
// real play loop writing to a loopback TCP socket drained by a reader.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("players=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func benchFanout(b *testing.B, players int) {
	lim := media.Limits{MaxReaders: players + 1}
	hub, err := media.NewHub(lim, media.Options{Admission: acceptAll{}, Hooks: noHooks{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer hub.Shutdown()
	srv := New(hub, Options{Logger: slog.New(slog.DiscardHandler)})
	defer srv.cancel()
	t := media.Target{Path: "/a/r/u_main", Protocol: media.RTMP}
	pub, err := hub.StartPush(context.Background(), t)
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	frames, _ := tinyFrames(b)
	for _, f := range frames { // the configs and the first keyframe
		if f.Config || f.Key {
			if err := pub.WriteFrame(f, 0); err != nil {
				b.Fatal(err)
			}
		}
		if f.Key {
			break
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	counts := make([]atomic.Int64, players)
	var wg sync.WaitGroup
	var conns []net.Conn
	for i := range players {
		cc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		sc, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, cc, sc)
		r, err := hub.StartPlay(context.Background(), t)
		if err != nil {
			b.Fatal(err)
		}
		sess := &session{srv: srv, conn: sc, cr: newChunkReader(sc, negotiationMaxBody)}
		wg.Add(2)
		go func() { defer wg.Done(); sess.playLoop(r) }()
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for {
				k, err := cc.Read(buf)
				counts[i].Add(int64(k))
				if err != nil {
					return
				}
			}
		}()
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	}()
	// Wait for the initial burst, then count from there.
	time.Sleep(50 * time.Millisecond)
	base := make([]int64, players)
	for i := range counts {
		base[i] = counts[i].Load()
	}

	video, audio, key := nal(5<<10), make([]byte, 300), nal(50<<10)
	var sent int64
	ts := uint32(1000)
	b.ResetTimer()
	for i := range b.N {
		f := &media.Frame{Kind: media.Audio, Codec: media.AAC, Payload: audio}
		switch {
		case i%50 == 0:
			f = &media.Frame{Kind: media.Video, Codec: media.H264, Key: true, Payload: key}
		case i%2 == 0:
			f = &media.Frame{Kind: media.Video, Codec: media.H264, Payload: video}
		}
		ts += 20
		if err := pub.WriteFrame(f, ts); err != nil {
			b.Fatal(err)
		}
		sent += int64(len(f.Wire(media.WireRTMP, buildChunks)))
		if i%32 == 31 || i == b.N-1 {
			for p := range counts {
				for counts[p].Load()-base[p] < sent {
					time.Sleep(20 * time.Microsecond)
				}
			}
		}
	}
	b.StopTimer()
	b.SetBytes(sent / int64(b.N) * int64(players))
}
