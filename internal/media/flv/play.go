package flv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/minirtc/minirtc/internal/media"
)

// play streams an admitted reader to the client until the stream ends, the
// client goes away or a write stalls past the write timeout.
func (h *Handler) play(w http.ResponseWriter, r *http.Request, rd *media.Reader, path string) {
	defer rd.Close()
	began := time.Now()
	hd := w.Header()
	hd.Set("Content-Type", "video/x-flv")
	hd.Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	// The first read returns at once: a new reader starts with the codec
	// configs (and the cached GOP) queued. They tell what the stream
	// carries, which the FLV header and onMetaData must declare up front.
	frames, err := rd.Read(ctx, nil)
	if len(frames) == 0 {
		if err == io.EOF {
			h.refuse(w, r, path, media.Refuse(media.ReasonNotLive, "the stream ended"))
		}
		return // the client left while being admitted
	}
	audio, video, info := describe(frames)
	s := &session{rd: rd, frames: frames, timeout: h.writeTimeout}
	if s.timeout <= 0 {
		s.timeout = media.DefaultWriteTimeout
	}
	s.bufs = append(s.bufs, nil, Header(audio, video), Meta(info)) // [0]: the response head, if ours

	var reason string
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		reason = s.runConn(ctx, cancel, conn, hd)
	} else {
		// HTTP/2 (or a wrapped writer): no connection to take over. The
		// server writes the head; request context cancellation tells us the
		// client left.
		w.WriteHeader(http.StatusOK)
		reason = s.run(ctx, &responseSink{w: w, rc: http.NewResponseController(w)})
	}
	h.log.Info("flv: play ended", "reason", reason, "stream", path, "viewer", rd.Viewer(), "remote", r.RemoteAddr,
		"bytes", rd.BytesSent(), "duration", time.Since(began).Round(time.Millisecond), "dropped", rd.Dropped())
}

// describe reads what the stream carries from the configs at the front of
// a new reader's first batch.
func describe(frames []*media.Frame) (audio, video bool, info media.Info) {
	for _, f := range frames {
		switch f.Kind {
		case media.Audio:
			audio = true
			if info.Audio == nil {
				info.Audio = &media.AudioInfo{Codec: f.Codec}
			}
			if f.Config {
				if ai, err := media.ParseAudioConfig(f.Codec, f.Payload); err == nil {
					info.Audio = &ai
				}
			}
		case media.Video:
			video = true
			if info.Video == nil {
				info.Video = &media.VideoInfo{Codec: f.Codec}
			}
			if f.Config {
				if vi, err := media.ParseVideoConfig(f.Codec, f.Payload); err == nil {
					info.Video = &vi
				}
			}
		}
	}
	return audio, video, info
}

// session is one play's write loop; its buffers are reused for every batch.
type session struct {
	rd      *media.Reader
	frames  []*media.Frame
	bufs    net.Buffers
	timeout time.Duration
	dc      *media.DirectConn // nil: this connection is always written by run
	dbufs   net.Buffers       // TryWrite's, kept apart from run's
	direct  bool              // SetDirect was called
}

// TryWrite is the media.DirectWriter of a hijacked TCP connection: the
// stream's writer sends batches while the socket keeps up.
func (s *session) TryWrite(frames []*media.Frame) (int, bool) {
	for _, f := range frames {
		if t := Tag(f); t != nil {
			s.dbufs = append(s.dbufs, t)
		}
	}
	n, ok := s.dc.TryWrite(s.dbufs)
	clear(s.dbufs)
	s.dbufs = s.dbufs[:0]
	return n, ok
}

// sink writes one batch of tags under a deadline.
type sink interface {
	write(b net.Buffers, deadline time.Time) (int64, error)
}

// runConn takes over a hijacked HTTP/1.1 connection: the response head and
// every batch go out in one writev each, and a goroutine watches the read
// side, the only way to notice a client that left while the stream is idle.
func (s *session) runConn(ctx context.Context, cancel context.CancelFunc, conn net.Conn, hd http.Header) string {
	watched := make(chan struct{})
	defer func() {
		conn.Close()
		<-watched
	}()
	go func() {
		defer close(watched)
		defer cancel()
		// Players send nothing after the request. Drain a little (a
		// pipelined request, say); EOF, an error, or a client that keeps
		// sending ends the play.
		buf := make([]byte, 512)
		for total := 0; total < 64<<10; {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			total += n
		}
	}()
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	hd.Set("Connection", "close") // the body ends when the connection does
	_ = hd.Write(&head)
	head.WriteString("\r\n")
	s.bufs[0] = head.Bytes()
	out := newConnSink(conn, s.timeout)
	s.dc = out.dc
	return s.run(ctx, out)
}

// run writes the first batch (with whatever is already in bufs) and then
// every batch the reader returns, one write each.
func (s *session) run(ctx context.Context, out sink) string {
	for {
		for _, f := range s.frames {
			if t := Tag(f); t != nil {
				s.bufs = append(s.bufs, t)
			}
		}
		n, err := out.write(s.bufs, time.Now().Add(s.timeout))
		s.rd.Sent(int(n))
		clear(s.bufs)
		s.bufs = s.bufs[:0]
		switch {
		case ctx.Err() != nil:
			return "client_gone"
		case errors.Is(err, os.ErrDeadlineExceeded):
			return "write_timeout"
		case err != nil:
			return "write_failed"
		}
		if s.dc != nil && !s.direct {
			s.rd.SetDirect(s) // from now on, whenever the socket keeps up
			s.direct = true
		}
		s.frames, err = s.rd.Read(ctx, s.frames)
		switch {
		case err == io.EOF:
			return "stream_ended"
		case errors.Is(err, media.ErrClosed):
			return "closed_by_server"
		case err != nil:
			return "client_gone"
		}
	}
}

// connSink writes to a hijacked connection.
type connSink struct {
	dl *media.Deadline
	c  net.Conn
	dc *media.DirectConn // what the stream's writer could not send goes first
	wv net.Buffers       // scratch: WriteTo consumes its receiver
	bw *bufio.Writer     // for connections without writev (TLS)
}

func newConnSink(c net.Conn, timeout time.Duration) *connSink {
	s := &connSink{c: c, dl: media.NewDeadline(timeout), dc: media.NewDirectConn(c)}
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		// tls.Conn makes one record and one syscall per Write; gather the
		// small tags into records of up to 16 KiB instead.
		s.bw = bufio.NewWriterSize(c, 16<<10)
	}
	return s
}

func (s *connSink) write(b net.Buffers, _ time.Time) (int64, error) {
	if err := s.dl.Renew(s.c, time.Now()); err != nil {
		return 0, err
	}
	if s.dc != nil {
		rest, err := s.dc.Rest()
		if err != nil {
			return 0, err
		}
		if len(rest) > 0 {
			b = append(rest, b...)
		}
	}
	if s.bw == nil {
		s.wv = b
		n, err := s.wv.WriteTo(s.c)
		s.wv = nil
		return n, err
	}
	var n int64
	for _, p := range b {
		m, err := s.bw.Write(p)
		n += int64(m)
		if err != nil {
			return n - int64(s.bw.Buffered()), err
		}
	}
	err := s.bw.Flush()
	return n - int64(s.bw.Buffered()), err
}

// responseSink writes through the ResponseWriter, flushing each batch.
type responseSink struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s *responseSink) write(b net.Buffers, deadline time.Time) (int64, error) {
	if err := s.rc.SetWriteDeadline(deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	var n int64
	for _, p := range b {
		if len(p) == 0 {
			continue
		}
		m, err := s.w.Write(p)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, s.rc.Flush()
}
