package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"runtime"
	"syscall"
	"time"
)

// health is the body of /healthz.
type health struct {
	Status       string `json:"status"` // "ok" or "unhealthy"
	Version      string `json:"version"`
	Host         string `json:"host"`
	UptimeS      int64  `json:"uptime_s"`
	Rooms        int    `json:"rooms"`
	Participants int    `json:"participants"`
	Streams      int    `json:"streams"`
	Store        string `json:"store"` // "ok" or the error
}

// pinger is implemented by stores that can check their connection.
type pinger interface {
	Ping(ctx context.Context) error
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	c := s.rooms.Counts()
	h := health{
		Status:       "ok",
		Version:      Version,
		Host:         hostname(),
		UptimeS:      int64(time.Since(s.started).Seconds()),
		Rooms:        c.Rooms,
		Participants: c.Participants,
		Streams:      c.Streams,
		Store:        "ok",
	}
	code := http.StatusOK
	if p, ok := s.store.(pinger); ok {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			h.Status, h.Store, code = "unhealthy", err.Error(), http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(h)
}

// HeapStats is the body of /debug/heap, read by `minirtc bench` to measure
// memory per connection.
type HeapStats struct {
	HeapAllocBytes uint64 `json:"heap_alloc_bytes"`
	HeapInuseBytes uint64 `json:"heap_inuse_bytes"`
	StackInuse     uint64 `json:"stack_inuse_bytes"`
	SysBytes       uint64 `json:"sys_bytes"`
	Goroutines     int    `json:"goroutines"`
}

func mountDebug(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/heap", func(w http.ResponseWriter, r *http.Request) {
		// A collection first, so the numbers are live memory rather than
		// whatever garbage the last cycle left.
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(HeapStats{
			HeapAllocBytes: ms.HeapAlloc,
			HeapInuseBytes: ms.HeapInuse,
			StackInuse:     ms.StackInuse,
			SysBytes:       ms.Sys,
			Goroutines:     runtime.NumGoroutine(),
		})
	})
}

// raiseFileLimit lifts the soft open-files limit to the hard one: every
// client is a socket, and the usual soft limit of 1024 is far too low.
func raiseFileLimit(log *slog.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur >= lim.Max {
		return
	}
	old := lim.Cur
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("cannot raise the open files limit", "soft", old, "hard", lim.Max, "err", err)
		return
	}
	log.Debug("raised open files limit", "from", old, "to", lim.Max)
}
