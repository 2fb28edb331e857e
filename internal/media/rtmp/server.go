// Package rtmp is the RTMP ingest and egress of the media hub: live-pusher,
// OBS or ffmpeg publish over RTMP (or RTMPS, on a TLS listener), players
// pull over the same protocol.
//
// gortmplib does the handshake and the connect/createStream/publish|play
// negotiation. Everything after that is ours: a bounded chunk reader for
// media coming in, and for media going out every frame is chunked once
// (cached on the frame) and the same bytes are written to every player,
// each player's pending frames in one writev.
package rtmp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/minirtc/minirtc/internal/media"
)

// Defaults for Options.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxConns         = 25000
)

// Options configure a Server. Zero fields take the defaults.
type Options struct {
	Logger *slog.Logger
	// HandshakeTimeout bounds the handshake and the commands up to publish
	// or play, admission included.
	HandshakeTimeout time.Duration
	// MaxConns is the most RTMP connections at once; past it new ones are
	// closed at once.
	MaxConns int
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("rtmp: server closed")

// Server accepts RTMP connections and attaches them to a hub.
type Server struct {
	hub    *media.Hub
	opts   Options
	log    *slog.Logger
	ctx    context.Context // cancelled by Shutdown
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	closed    bool
	wg        sync.WaitGroup
}

// New makes a server for hub.
func New(hub *media.Hub, opts Options) *Server {
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{hub: hub, opts: opts, log: log, ctx: ctx, cancel: cancel,
		listeners: map[net.Listener]struct{}{}, conns: map[net.Conn]struct{}{}}
}

// Serve accepts connections on ln until Shutdown (then it returns
// ErrServerClosed) or until ln fails. A tls.Listener makes it RTMPS.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait and retry, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("rtmp: accept failed; retrying", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-s.ctx.Done():
				return ErrServerClosed
			}
		}
		backoff = 0
		if !s.track(conn) {
			continue
		}
		go func() {
			defer s.wg.Done()
			defer s.untrack(conn)
			s.serveConn(conn)
		}()
	}
}

// track registers conn, or closes it when the server is closed or full.
func (s *Server) track(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		conn.Close()
		return false
	}
	if len(s.conns) >= s.opts.MaxConns {
		conn.Close()
		s.log.Warn("rtmp: connection refused", "reason", media.ReasonLimit, "remote", conn.RemoteAddr().String(),
			"err", "the server already has its maximum of connections", "max_conns", s.opts.MaxConns)
		return false
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(conn net.Conn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Conns is the number of open RTMP connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown closes the listeners and every connection (publishers are cut,
// players dropped), then waits for all connection goroutines, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) serveConn(conn net.Conn) {
	defer conn.Close()
	sess := &session{srv: s, conn: conn, remote: conn.RemoteAddr().String(), start: time.Now()}
	err := sess.run()
	sess.logEnd(err)
}
