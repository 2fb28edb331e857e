package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/minirtc/minirtc/internal/server"
)

// histogram is a lock-free log-linear histogram of durations, in
// microseconds: exact below 128 µs, then 64 buckets per power of two, so a
// quantile is off by at most 1/64 (1.6 %). Recording is one atomic add, cheap
// enough for every delivered message of a 5,000-client run. The maximum is
// kept exactly.
type histogram struct {
	buckets [histBuckets]atomic.Uint64
	count   atomic.Uint64
	max     atomic.Uint64 // µs
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits // buckets per power of two
	histMaxLog  = 40               // values up to 2^40 µs (12 days) are kept apart
	histBuckets = (histMaxLog - histSubBits + 1) * histSub
)

func histIndex(us uint64) int {
	if us < 2*histSub {
		return int(us)
	}
	shift := bits.Len64(us) - histSubBits - 1
	i := shift*histSub + int(us>>shift)
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// histUpper is the largest value that falls into bucket i.
func histUpper(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	m := uint64(i - shift*histSub)
	return (m+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.buckets[histIndex(us)].Add(1)
	h.count.Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// quantile returns the value below which a fraction q of the recorded values
// fall (the upper edge of the bucket holding that rank, capped by the max).
func (h *histogram) quantile(q float64) time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			return time.Duration(min(histUpper(i), h.max.Load())) * time.Microsecond
		}
	}
	return time.Duration(h.max.Load()) * time.Microsecond
}

// latencyJSON is a latency distribution in milliseconds.
type latencyJSON struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func (h *histogram) summary() latencyJSON {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return latencyJSON{
		Count: h.count.Load(),
		P50:   ms(h.quantile(0.50)),
		P90:   ms(h.quantile(0.90)),
		P99:   ms(h.quantile(0.99)),
		Max:   ms(time.Duration(h.max.Load()) * time.Microsecond),
	}
}

// counters counts occurrences by a short label (error codes and causes).
type counters struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counters) add(label string) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]int)
	}
	c.m[label]++
	c.mu.Unlock()
}

func (c *counters) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

func (c *counters) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.m {
		n += v
	}
	return n
}

// serverProbe reads what the server tells about itself over HTTP: /debug/heap
// (only with --debug-endpoints) and the process CPU counter of /metrics.
type serverProbe struct {
	base   string // http(s)://host:port
	client *http.Client
}

// httpBase turns the signalling URL into the base URL of the same HTTP port.
func httpBase(wsURL string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", fmt.Errorf("--url: %w", err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("--url %q: the scheme must be ws or wss", wsURL)
	}
	if u.Host == "" {
		return "", fmt.Errorf("--url %q has no host", wsURL)
	}
	return u.Scheme + "://" + u.Host, nil
}

var errNoDebug = errors.New("the server does not serve /debug/heap")

func (p *serverProbe) get(ctx context.Context, path string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

type cancelOnClose struct {
	body   io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Read(b []byte) (int, error) { return c.body.Read(b) }
func (c cancelOnClose) Close() error               { err := c.body.Close(); c.cancel(); return err }

// heap reads /debug/heap (the server runs a GC first).
func (p *serverProbe) heap(ctx context.Context) (server.HeapStats, error) {
	var h server.HeapStats
	resp, err := p.get(ctx, "/debug/heap")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return h, errNoDebug
	}
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("/debug/heap: HTTP %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return h, fmt.Errorf("/debug/heap: %w", err)
	}
	return h, nil
}

// cpuSeconds reads process_cpu_seconds_total from /metrics.
func (p *serverProbe) cpuSeconds(ctx context.Context) (float64, bool) {
	resp, err := p.get(ctx, "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// cpuMeter measures the CPU share of this process and of the server over a
// phase, as a percentage of one core.
type cpuMeter struct {
	probe      *serverProbe
	wall       time.Time
	self       time.Duration
	server     float64
	haveServer bool
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(ctx context.Context, probe *serverProbe) cpuMeter {
	m := cpuMeter{probe: probe}
	m.server, m.haveServer = probe.cpuSeconds(ctx)
	m.wall, m.self = time.Now(), selfCPU()
	return m
}

// phaseCPU is the CPU use of one phase, in percent of one core; Server is
// negative when the server's /metrics could not be read.
type phaseCPU struct {
	Seconds float64 `json:"seconds"`
	Bench   float64 `json:"bench_cpu_pct"`
	Server  float64 `json:"server_cpu_pct"`
}

func (m cpuMeter) stop(ctx context.Context) phaseCPU {
	wall := time.Since(m.wall)
	self := selfCPU() - m.self
	pc := phaseCPU{Seconds: round2(wall.Seconds()), Server: -1}
	if wall <= 0 {
		return pc
	}
	pc.Bench = round1(100 * float64(self) / float64(wall))
	if m.haveServer {
		if s, ok := m.probe.cpuSeconds(ctx); ok {
			pc.Server = round1(100 * (s - m.server) / wall.Seconds())
		}
	}
	return pc
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
func round2(f float64) float64 { return math.Round(f*100) / 100 }

// raiseNoFile lifts the soft limit of open files to the hard limit: every
// participant is a socket. It returns the limit in force.
func raiseNoFile() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return lim.Cur
}
