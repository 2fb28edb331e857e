package rtmp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/media"
)

// session is one RTMP connection.
type session struct {
	srv    *Server
	conn   net.Conn
	remote string
	start  time.Time
	cr     *chunkReader

	stage   string // handshake, admission, publish, play
	publish bool
	path    string
	query   url.Values
	key     string

	cut       atomic.Bool // the hub cut the push (Publisher.Done)
	frames    int64
	bytesOut  int64
	ackWindow uint32
	lastAck   uint64
}

// Session outcomes that are not failures.
var (
	errUnpublished = errors.New("the publisher unpublished")
	errStreamEnded = errors.New("the stream ended")
	errPlayerLeft  = errors.New("the player disconnected")
	errCutByServer = errors.New("the server closed the push (unpublish, kick, or a newer pusher)")
)

// refused wraps the refusal a client was sent.
type refused struct{ r *media.Refusal }

func (e refused) Error() string { return e.r.Error() }

func (sess *session) run() error {
	s := sess.srv
	sess.stage = "handshake"
	deadline := time.Now().Add(s.opts.HandshakeTimeout)
	sess.conn.SetDeadline(deadline)
	sess.cr = newChunkReader(sess.conn, negotiationMaxBody)
	sc := &gortmplib.ServerConn{RW: newNegotiator(sess.conn, sess.cr)}
	if err := sc.Initialize(); err != nil {
		return err
	}
	if err := sc.AcceptConn(); err != nil {
		return err
	}
	sess.stage, sess.publish, sess.path = "admission", sc.Publish, sc.URL.Path
	q, err := auth.ParseMediaQuery(sc.URL.RawQuery)
	if err != nil {
		return sess.refuse(sc, media.Refuse(media.ReasonMalformed, err.Error()))
	}
	sess.query = q
	t := media.Target{Path: sc.URL.Path, Query: q, Protocol: media.RTMP, Remote: sess.remote,
		Audio: media.AAC, VideoCodecs: media.FLVVideoCodecs}
	ctx, cancel := context.WithDeadline(s.ctx, deadline)
	defer cancel()
	if sc.Publish {
		pub, err := s.hub.StartPush(ctx, t)
		if err != nil {
			return sess.refuse(sc, err)
		}
		sess.key = pub.Key().String()
		if err := sc.AcceptAction(); err != nil {
			pub.Close()
			return err
		}
		sess.stage = "publish"
		s.log.Info("rtmp: publishing", sess.attrs()...)
		return sess.publishLoop(pub)
	}
	r, err := s.hub.StartPlay(ctx, t)
	if err != nil {
		return sess.refuse(sc, err)
	}
	sess.key = r.Key().String()
	if err := sc.AcceptAction(); err != nil {
		r.Close()
		return err
	}
	sess.stage = "play"
	s.log.Debug("rtmp: playing", sess.attrs()...)
	return sess.playLoop(r)
}

// refuse tells the client why (an onStatus error whose description carries
// the reason, rather than gortmplib's RejectAction, which always says
// "authentication failed"), then closes after the client had a moment to
// read it.
func (sess *session) refuse(sc *gortmplib.ServerConn, err error) error {
	ref := media.AsRefusal(err)
	code := "NetStream.Play.Failed"
	switch {
	case sess.publish && ref.Reason == media.ReasonBusy:
		code = "NetStream.Publish.BadName"
	case sess.publish:
		code = "NetStream.Publish.Unauthorized"
	case ref.Reason == media.ReasonNotLive || ref.Reason == media.ReasonNotPublished:
		code = "NetStream.Play.StreamNotFound"
	}
	werr := sc.Write(&message.CommandAMF0{
		ChunkStreamID: 5, MessageStreamID: 0x1000000, Name: "onStatus",
		Arguments: []any{nil, amf0.Object{
			{Key: "level", Value: "error"},
			{Key: "code", Value: code},
			{Key: "description", Value: ref.Error()},
		}},
	})
	if werr == nil {
		lingerClose(sess.conn)
	}
	return refused{ref}
}

// lingerClose half-closes and drains briefly, so that the refusal is read
// before the connection goes: closing with unread input would send a reset,
// which can destroy the client's unread data.
func lingerClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	c.Close()
}

func (sess *session) attrs(extra ...any) []any {
	a := []any{"remote", sess.remote}
	if sess.path != "" {
		a = append(a, "path", sess.path)
	}
	if sess.query != nil {
		a = append(a, "query", redacted(sess.query))
	}
	return append(a, extra...)
}

// redacted is the query for logs, without the signature's value.
func redacted(q url.Values) string {
	if _, ok := q["sig"]; !ok {
		return q.Encode()
	}
	c := make(url.Values, len(q))
	for k, v := range q {
		c[k] = v
	}
	c["sig"] = []string{"REDACTED"}
	return c.Encode()
}

// logEnd writes the one line that says how the connection ended.
func (sess *session) logEnd(err error) {
	log := sess.srv.log
	kind := "play"
	if sess.publish {
		kind = "push"
	}
	dur := time.Since(sess.start).Round(time.Millisecond)
	var ref refused
	switch {
	case errors.As(err, &ref):
		log.Info("rtmp: "+kind+" refused", sess.attrs("reason", ref.r.Reason, "err", ref.r.Message)...)
	case sess.stage == "handshake":
		if errors.Is(err, net.ErrClosed) && sess.srv.isClosed() {
			return
		}
		log.Info("rtmp: handshake failed", sess.attrs("reason", cause(err), "err", err, "duration", dur)...)
	case sess.stage == "publish":
		reason, level := sess.outcome(err)
		log.Log(context.Background(), level, "rtmp: push ended", sess.attrs("stream", sess.key, "reason", reason,
			"err", err, "frames", sess.frames, "bytes_in", sess.cr.received(), "duration", dur)...)
	case sess.stage == "play":
		reason, level := sess.outcome(err)
		if level == slog.LevelInfo {
			level = slog.LevelDebug // players come and go by the thousand
		}
		log.Log(context.Background(), level, "rtmp: play ended", sess.attrs("stream", sess.key, "reason", reason,
			"err", err, "bytes_out", sess.bytesOut, "duration", dur)...)
	default:
		log.Warn("rtmp: "+kind+" failed", sess.attrs("stage", sess.stage, "reason", cause(err), "err", err)...)
	}
}

// outcome classifies how an admitted session ended.
func (sess *session) outcome(err error) (string, slog.Level) {
	var ref *media.Refusal
	switch {
	case sess.cut.Load() || media.ErrCut(err):
		return "cut_by_server", slog.LevelInfo
	case errors.Is(err, errUnpublished), errors.Is(err, errStreamEnded), errors.Is(err, errPlayerLeft),
		errors.Is(err, io.EOF):
		return "ended", slog.LevelInfo
	case sess.srv.isClosed():
		return "shutdown", slog.LevelInfo
	case errors.As(err, &ref):
		return string(ref.Reason), slog.LevelWarn
	}
	return cause(err), slog.LevelWarn
}

// cause is a short machine-readable cause for a transport/protocol error.
func cause(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed_by_peer"
	case errors.As(err, &ne), errors.Is(err, net.ErrClosed):
		return "network"
	}
	return "protocol"
}
