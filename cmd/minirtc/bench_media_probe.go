package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// What the bench reads about the server and the machine while it runs:
// /metrics, /proc (CPU, system calls, per-core use) and its own runtime.

// coreTicks reads /proc/stat's per-core lines: busy, softirq, steal and
// total ticks.
func coreTicks() map[string][4]uint64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	out := map[string][4]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		var v [8]uint64 // user nice system idle iowait irq softirq steal
		for i := range v {
			v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
		}
		total := v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]
		out[f[0]] = [4]uint64{total - v[3] - v[4], v[6], v[7], total}
	}
	return out
}

func coreUse(a, b map[string][4]uint64) []coreJSON {
	var out []coreJSON
	for i := 0; ; i++ {
		name := "cpu" + strconv.Itoa(i)
		x, ok1 := a[name]
		y, ok2 := b[name]
		if !ok1 || !ok2 {
			return out
		}
		total := float64(y[3] - x[3])
		if total <= 0 {
			continue
		}
		pct := func(k int) float64 { return round1(100 * float64(y[k]-x[k]) / total) }
		out = append(out, coreJSON{Core: name, BusyPct: pct(0), SoftirqPct: pct(1), StealPct: pct(2)})
	}
}

// serverSample is what one /metrics scrape tells.
type serverSample struct {
	cpu         float64
	haveCPU     bool
	heap        float64
	haveHeap    bool
	dropped     float64
	haveDropped bool
}

// scrape reads /metrics: the process CPU counter, the heap (without the GC
// that /debug/heap forces) and the stream's drop counter.
func (r *mediaRun) scrape(ctx context.Context) serverSample {
	var s serverSample
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	resp, err := r.probe.get(ctx, "/metrics")
	if err != nil {
		return s
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s
	}
	streamLabel := `stream="` + string(r.stream) + `"`
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	value := func(line string) (float64, bool) {
		i := strings.LastIndexByte(line, ' ')
		f, err := strconv.ParseFloat(line[i+1:], 64)
		return f, err == nil
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "process_cpu_seconds_total "):
			s.cpu, s.haveCPU = value(line)
		case strings.HasPrefix(line, "go_memstats_heap_alloc_bytes "):
			s.heap, s.haveHeap = value(line)
		case strings.HasPrefix(line, "minirtc_stream_dropped_frames_total{") && strings.Contains(line, streamLabel):
			s.dropped, s.haveDropped = value(line)
		}
	}
	return s
}

// procCPU reads a process's user + system CPU seconds from /proc/PID/stat.
func procCPU(pid int) (float64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may contain spaces
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const clkTck = 100 // USER_HZ, 100 on every Linux architecture Go runs on
	return float64(ut+st) / clkTck, true
}

// serverCPUSeconds reads the server's CPU counter: /proc with --server-pid,
// else /metrics (sample, if given, is a fresh scrape).
func (r *mediaRun) serverCPUSeconds(ctx context.Context, sample *serverSample) (float64, string, bool) {
	if r.o.serverPID > 0 {
		v, ok := procCPU(r.o.serverPID)
		return v, fmt.Sprintf("/proc/%d/stat", r.o.serverPID), ok
	}
	if sample == nil {
		s := r.scrape(ctx)
		sample = &s
	}
	return sample.cpu, "/metrics process_cpu_seconds_total", sample.haveCPU
}

type serverCPUMeter struct {
	r      *mediaRun
	wall   time.Time
	self   time.Duration
	server float64
	have   bool
	frames int64
	srvW   int64 // server write calls, -1 unknown
	selfR  int64 // our read calls, -1 unknown
	cores  map[string][4]uint64
	allocs uint64
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// procSyscalls reads the read and write system call counts of a process
// ("self" for this one) from /proc/PID/io; -1 when unreadable.
func procSyscalls(pid string) (reads, writes int64) {
	b, err := os.ReadFile("/proc/" + pid + "/io")
	reads, writes = -1, -1
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			reads, _ = strconv.ParseInt(v, 10, 64)
		} else if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			writes, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return reads, writes
}

func (r *mediaRun) syscalls() (frames, serverWrites, selfReads int64) {
	t := r.totals()
	serverWrites = -1
	if r.o.serverPID > 0 {
		_, serverWrites = procSyscalls(strconv.Itoa(r.o.serverPID))
	}
	selfReads, _ = procSyscalls("self") // read(2) calls; recvmsg(2) is not counted there
	for _, rd := range r.readers {
		selfReads += rd.recvCalls.Load()
	}
	return t.video + t.audio, serverWrites, selfReads
}

func (r *mediaRun) startServerCPU(ctx context.Context) serverCPUMeter {
	m := serverCPUMeter{r: r}
	m.server, _, m.have = r.serverCPUSeconds(ctx, nil)
	m.frames, m.srvW, m.selfR = r.syscalls()
	m.wall, m.self, m.cores, m.allocs = time.Now(), selfCPU(), coreTicks(), mallocs()
	return m
}

func (m serverCPUMeter) stop(ctx context.Context) *cpuJSON {
	wall, self, allocs := time.Since(m.wall), selfCPU()-m.self, mallocs()-m.allocs
	frames, srvW, selfR := m.r.syscalls()
	c := &cpuJSON{Seconds: round2(wall.Seconds()), ServerPct: -1, BenchPct: round1(100 * float64(self) / float64(wall)),
		Cores: coreUse(m.cores, coreTicks())}
	if n := frames - m.frames; n > 0 {
		c.BenchAllocsPerFrame = round2(float64(allocs) / float64(n))
		if srvW >= 0 && m.srvW >= 0 {
			c.ServerWritesPerFrame = round2(float64(srvW-m.srvW) / float64(n))
		}
		if selfR >= 0 && m.selfR >= 0 {
			c.BenchReadsPerFrame = round2(float64(selfR-m.selfR) / float64(n))
		}
	}
	if v, src, ok := m.r.serverCPUSeconds(ctx, nil); ok && m.have {
		c.ServerPct, c.Source = round1(100*(v-m.server)/wall.Seconds()), src
	}
	return c
}

func resetHistogram(h *histogram) {
	for i := range h.buckets {
		h.buckets[i].Store(0)
	}
	h.count.Store(0)
	h.max.Store(0)
}

// progressLoop prints a line to stderr every second until stop is closed.

func (r *mediaRun) progressLoop(ctx context.Context, stop <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	prev, prevAt, prevSelf := r.totals(), time.Now(), selfCPU()
	prevCPU, _, haveCPU := r.serverCPUSeconds(ctx, nil)
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		now, t, self := time.Now(), r.totals(), selfCPU()
		secs := now.Sub(prevAt).Seconds()
		idx := r.winIdx.Load()
		r.winIdx.Store(1 - idx)
		w, ws := &r.win[idx], &r.winSock[idx]
		lat := "video latency -"
		if w.count.Load() > 0 {
			lat = fmt.Sprintf("video p50 %s p99 %s", ms(w.summary().P50), ms(w.summary().P99))
		}
		if ws.count.Load() > 0 {
			lat += fmt.Sprintf(" (at socket %s, %s)", ms(ws.summary().P50), ms(ws.summary().P99))
		}
		resetHistogram(w)
		resetHistogram(ws)
		srv, sample := "", r.scrape(ctx)
		if cpu, _, ok := r.serverCPUSeconds(ctx, &sample); ok && haveCPU {
			srv = fmt.Sprintf("  server cpu %.0f%%", 100*(cpu-prevCPU)/secs)
			prevCPU = cpu
		} else {
			prevCPU, haveCPU = cpu, ok
		}
		if sample.haveHeap {
			srv += fmt.Sprintf(" heap %.0f MiB", sample.heap/(1<<20))
		}
		fmt.Fprintf(r.errOut, "[%5.1fs] %-7s readers %d/%d playing (%d failed, %d lost)  %.0f frames/s  %.1f Mbit/s  %s  drops %d%s  bench cpu %.0f%%\n",
			time.Since(r.start).Seconds(), r.phase.Load(), t.playingAll(), len(r.readers), t.failed, t.lost,
			float64(t.video+t.audio-prev.video-prev.audio)/secs, float64(t.bytes-prev.bytes)*8/secs/1e6,
			lat, t.videoGaps+t.audioGaps, srv, 100*(self-prevSelf).Seconds()/secs)
		prev, prevAt, prevSelf = t, now, self
	}
}
