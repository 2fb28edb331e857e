package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// signalSummary is the result of `bench signal` (printed as is by --json).
type signalSummary struct {
	URL         string              `json:"url"`
	Client      string              `json:"client"`
	Clients     int                 `json:"clients"`
	RoomSize    int                 `json:"room_size"`
	Rooms       int                 `json:"rooms"`
	Interrupted bool                `json:"interrupted,omitempty"`
	Joins       joinsJSON           `json:"joins"`
	Memory      *memoryJSON         `json:"memory,omitempty"`
	MemoryNote  string              `json:"memory_note,omitempty"`
	Messages    *messagesJSON       `json:"messages,omitempty"`
	CPU         map[string]phaseCPU `json:"cpu"` // by phase: join, idle, messages
	Disconnects map[string]int      `json:"disconnects"`
	PingErrors  map[string]int      `json:"ping_errors,omitempty"`
	OtherEvents map[string]int      `json:"other_events,omitempty"`
	Left        int                 `json:"left"`
	Forced      int                 `json:"forced_close"`
}

type joinsJSON struct {
	Target     int            `json:"target"`
	Attempted  int            `json:"attempted"`
	OK         int            `json:"ok"`
	Failed     int            `json:"failed"`
	Errors     map[string]int `json:"errors"`
	TargetRate float64        `json:"target_rate"`
	Rate       float64        `json:"rate"`
	Seconds    float64        `json:"seconds"`
	Latency    latencyJSON    `json:"latency"` // dial start → join response
}

type memoryJSON struct {
	Conns             int     `json:"conns"`
	IdleSeconds       float64 `json:"idle_seconds"`
	HeapBeforeBytes   uint64  `json:"heap_before_bytes"`
	HeapAfterBytes    uint64  `json:"heap_after_bytes"`
	HeapPerConnKiB    float64 `json:"heap_per_conn_kib"`
	StackPerConnKiB   float64 `json:"stack_per_conn_kib"`
	GoroutinesBefore  int     `json:"goroutines_before"`
	GoroutinesAfter   int     `json:"goroutines_after"`
	GoroutinesPerConn float64 `json:"goroutines_per_conn"`
}

type messagesJSON struct {
	RatePerRoom float64        `json:"rate_per_room"`
	Rooms       int            `json:"rooms"`
	Seconds     float64        `json:"seconds"`
	Sent        int64          `json:"sent"`
	Acked       int64          `json:"acked"`
	SendErrors  map[string]int `json:"send_errors"`
	Expected    int64          `json:"expected_deliveries"`
	Delivered   int64          `json:"delivered"`
	Lost        int64          `json:"lost"`
	Latency     latencyJSON    `json:"latency"` // send → receipt, per receiver
}

func (s *signalSummary) print(w io.Writer) {
	fmt.Fprintf(w, "\nminirtc bench signal: %d %s clients, rooms of %d (%d rooms), %s\n", s.Clients, s.Client, s.RoomSize, s.Rooms, s.URL)
	if s.Interrupted {
		fmt.Fprintln(w, "INTERRUPTED: the numbers below are partial")
	}
	j := s.Joins
	fmt.Fprintf(w, "\njoins     %d of %d joined, %d failed, in %.2f s: %.1f joins/s (target %g/s)\n",
		j.OK, j.Target, j.Failed, j.Seconds, j.Rate, j.TargetRate)
	fmt.Fprintf(w, "  latency %s  (dial start to join response)\n", latencyLine(j.Latency))
	if len(j.Errors) > 0 {
		fmt.Fprintf(w, "  errors  %s\n", countsLine(j.Errors))
	}

	if m := s.Memory; m != nil {
		fmt.Fprintf(w, "\nmemory    server heap %+.1f MiB for %d idle connections (after %.1f s idle):\n",
			float64(int64(m.HeapAfterBytes)-int64(m.HeapBeforeBytes))/(1<<20), m.Conns, m.IdleSeconds)
		fmt.Fprintf(w, "          %.2f KiB heap/conn, %.2f KiB goroutine stack/conn, %.2f goroutines/conn\n",
			m.HeapPerConnKiB, m.StackPerConnKiB, m.GoroutinesPerConn)
	} else if s.MemoryNote != "" {
		fmt.Fprintf(w, "\nmemory    %s\n", s.MemoryNote)
	}

	if m := s.Messages; m != nil {
		fmt.Fprintf(w, "\nmessages  %g/s per room in %d rooms for %.2f s: %d sent, %d accepted\n",
			m.RatePerRoom, m.Rooms, m.Seconds, m.Sent, m.Acked)
		fmt.Fprintf(w, "          %d of %d deliveries, %d lost\n", m.Delivered, m.Expected, m.Lost)
		fmt.Fprintf(w, "  latency %s  (send to receipt, each receiver)\n", latencyLine(m.Latency))
		if len(m.SendErrors) > 0 {
			fmt.Fprintf(w, "  errors  %s\n", countsLine(m.SendErrors))
		}
	}

	if len(s.CPU) > 0 {
		fmt.Fprintf(w, "\ncpu       %% of one core   ")
		phases := []string{"join", "idle", "messages"}
		for _, p := range phases {
			if _, ok := s.CPU[p]; ok {
				fmt.Fprintf(w, "%10s", p)
			}
		}
		fmt.Fprintln(w)
		for _, who := range []string{"server", "bench"} {
			fmt.Fprintf(w, "          %-16s", who)
			for _, p := range phases {
				c, ok := s.CPU[p]
				if !ok {
					continue
				}
				v := c.Bench
				if who == "server" {
					v = c.Server
				}
				if v < 0 {
					fmt.Fprintf(w, "%10s", "?")
				} else {
					fmt.Fprintf(w, "%10.1f", v)
				}
			}
			fmt.Fprintln(w)
		}
	}

	fmt.Fprintf(w, "\nend       %d left cleanly", s.Left)
	if s.Forced > 0 {
		fmt.Fprintf(w, ", %d closed without an answer", s.Forced)
	}
	fmt.Fprintln(w)
	if len(s.Disconnects) > 0 {
		fmt.Fprintf(w, "  lost connections during the run: %s\n", countsLine(s.Disconnects))
	}
	if len(s.PingErrors) > 0 {
		fmt.Fprintf(w, "  ping errors: %s\n", countsLine(s.PingErrors))
	}
	if len(s.OtherEvents) > 0 {
		fmt.Fprintf(w, "  other events: %s\n", countsLine(s.OtherEvents))
	}
}

func latencyLine(l latencyJSON) string {
	if l.Count == 0 {
		return "none measured"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  (n=%d)", ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max), l.Count)
}

func ms(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// countsLine prints label counts, most frequent first.
func countsLine(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
