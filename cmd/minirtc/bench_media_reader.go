package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/minirtc/minirtc/internal/media/flv"
)

// Reader protocols and frame kinds: indexes of mediaRun's histograms.
const (
	protoFLV  = 0
	protoRTMP = 1
	kindVideo = 0
	kindAudio = 1
)

var protoNames = [2]string{"flv", "rtmp"}

// Reader states.
const (
	rdPending    int32 = iota // not started
	rdConnecting              // dialling, requesting
	rdPlaying                 // the server accepted the play
	rdFailed                  // never played
	rdLost                    // played, then the connection ended before the bench did
	rdStopped                 // ended by the bench
)

// mediaReader is one player: one goroutine, one connection, one reusable
// read buffer. Counters that the progress line sums are atomic; the rest
// belongs to the reader's goroutine.
type mediaReader struct {
	run   *mediaRun
	proto int
	url   string

	state       atomic.Int32
	videoFrames atomic.Int64
	audioFrames atomic.Int64
	bytes       atomic.Int64
	recvCalls   atomic.Int64 // recvmsg calls, when reading through tsConn
	videoGaps   atomic.Int64 // video frames the stamps say were skipped
	audioGaps   atomic.Int64

	startAt    int64 // unix ns: dial started
	playAt     int64 // unix ns: play requested; older frames came from the GOP cache
	gotFirst   bool
	lastSeq    int64 // last video stamp seq, -1 before any
	lastAudio  int64 // last audio seq, -1 before any
	offset     int64 // stream DTS minus publisher timestamp, from the stamps
	haveOffset bool
	lastErr    string  // how play ended (set when it returns)
	ts         *tsConn // nil: frames are timed at the reader only
}

// sockAt is when the last read's bytes reached the socket (0: unknown).
func (rd *mediaReader) sockAt() int64 {
	if rd.ts == nil {
		return 0
	}
	return rd.ts.at
}

// source is what the reader reads the connection through: with socket
// timestamps if the system has them, counting bytes either way.
func (rd *mediaReader) source(conn net.Conn) io.Reader {
	if rd.run.o.sockStamps {
		if rd.ts = newTSConn(conn, &rd.bytes, &rd.recvCalls); rd.ts != nil {
			return rd.ts
		}
	}
	return countingReader{conn, &rd.bytes}
}

func newMediaReader(run *mediaRun, proto int, u string) *mediaReader {
	return &mediaReader{run: run, proto: proto, url: u, lastSeq: -1, lastAudio: -1}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// play runs the reader until ctx ends or the connection does.
func (rd *mediaReader) play(ctx context.Context) {
	rd.startAt = monoNow()
	rd.state.Store(rdConnecting)
	var err error
	switch {
	case rd.proto == protoFLV:
		err = rd.playFLV(ctx)
	case rd.run.o.rtmpClient == "gortmplib":
		err = rd.playGortmplib(ctx)
	default:
		err = rd.playRTMP(ctx)
	}
	rd.lastErr = protoNames[rd.proto] + ": " + mediaErrLabel(err)
	switch {
	case ctx.Err() != nil:
		rd.state.Store(rdStopped)
	case rd.state.Load() == rdPlaying:
		rd.run.disconnects.add(rd.lastErr)
		rd.state.Store(rdLost)
	default:
		rd.run.connectErrors.add(rd.lastErr)
		rd.state.Store(rdFailed)
	}
}

// playing marks the play accepted: frames sent from now on are live.
func (rd *mediaReader) playing() { rd.state.Store(rdPlaying) }

// video handles one video frame (AVCC payload) that arrived at now.
func (rd *mediaReader) video(dts uint32, avcc []byte, now int64) {
	rd.videoFrames.Add(1)
	s, ok := findStamp(avcc)
	if !ok {
		rd.run.unstamped.Add(1)
		return
	}
	if !rd.gotFirst {
		rd.gotFirst = true
		rd.run.firstFrame.record(time.Duration(now - rd.startAt))
	}
	rd.offset, rd.haveOffset = int64(dts)-int64(s.ts), true
	if rd.lastSeq >= 0 {
		if d := int64(s.seq) - rd.lastSeq; d > 1 {
			rd.videoGaps.Add(d - 1)
		} else if d < 1 {
			rd.run.reordered.Add(1)
		}
	}
	rd.lastSeq = int64(s.seq)
	rd.run.latency(rd.proto, kindVideo, s.sent, now, rd.sockAt(), rd.playAt)
}

// audio handles one AAC frame: its send time comes from the publisher's
// ring, by the publisher's timestamp (the stream DTS minus the offset the
// video stamps revealed).
func (rd *mediaReader) audio(dts uint32, now int64) {
	rd.audioFrames.Add(1)
	if !rd.haveOffset {
		return
	}
	seq, sent, ok := rd.run.ring.get(uint32(int64(dts) - rd.offset))
	if !ok {
		rd.run.unmatched.Add(1)
		return
	}
	if rd.lastAudio >= 0 {
		if d := int64(seq) - rd.lastAudio; d > 1 {
			rd.audioGaps.Add(d - 1)
		} else if d < 1 {
			rd.run.reordered.Add(1)
		}
	}
	rd.lastAudio = int64(seq)
	rd.run.latency(rd.proto, kindAudio, sent, now, rd.sockAt(), rd.playAt)
}

// body handles an FLV tag body / RTMP audio or video message body.
func (rd *mediaReader) body(typ byte, dts uint32, b []byte, now int64) {
	switch typ {
	case flv.TagVideo:
		// Legacy AVC: frame type/codec, packet type (1: NAL units), CTS.
		if len(b) > 5 && b[0]&0x0f == 7 && b[1] == 1 {
			rd.video(dts, b[5:], now)
		}
	case flv.TagAudio:
		if len(b) > 2 && b[0]>>4 == 10 && b[1] == 1 {
			rd.audio(dts, now)
		}
	}
}

// dial connects to host:port with the connect timeout, and arranges for the
// connection to close when ctx ends.
func (rd *mediaReader) dial(ctx context.Context, addr string) (net.Conn, func(), error) {
	d := net.Dialer{Timeout: rd.run.o.connectTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(rd.run.o.connectTimeout))
	return conn, func() { stop(); conn.Close() }, nil
}

// httpRefusal is a non-200 answer to an FLV request.
type httpRefusal struct {
	status int
	reason string
}

func (e *httpRefusal) Error() string {
	if e.reason == "" {
		return fmt.Sprintf("HTTP %d", e.status)
	}
	return fmt.Sprintf("HTTP %d %s", e.status, e.reason)
}

// playFLV plays over HTTP-FLV without net/http (whose transport would add
// two goroutines and a buffer per connection): one request written by
// hand, the response head parsed from the first read, then the FLV
// demuxer's own buffer for everything else.
func (rd *mediaReader) playFLV(ctx context.Context) error {
	u, err := url.Parse(rd.url)
	if err != nil {
		return err
	}
	conn, done, err := rd.dial(ctx, u.Host)
	if err != nil {
		return err
	}
	defer done()
	rd.playAt = monoNow()
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: minirtc-bench\r\nAccept: */*\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return err
	}
	src := rd.source(conn)
	head := make([]byte, 0, 4<<10)
	end := -1
	for end < 0 {
		if len(head) == cap(head) {
			return errors.New("response head over 4 KiB")
		}
		n, err := src.Read(head[len(head):cap(head)])
		head = head[:len(head)+n]
		if err != nil {
			return err
		}
		end = bytes.Index(head, []byte("\r\n\r\n"))
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head[:end+4])), nil)
	if err != nil {
		return err
	}
	rest := head[end+4:]
	if resp.StatusCode != http.StatusOK {
		body := io.MultiReader(bytes.NewReader(rest), src)
		return flvRefusal(resp.StatusCode, io.LimitReader(body, 4<<10))
	}
	_ = conn.SetDeadline(time.Time{})
	rd.playing()
	r := src
	if len(rest) > 0 {
		r = io.MultiReader(bytes.NewReader(rest), src)
	}
	if resp.TransferEncoding != nil {
		r = httputil.NewChunkedReader(bufio.NewReaderSize(r, 16<<10))
	}
	dm := flv.NewDemuxer(r, 0)
	for {
		tag, err := dm.Next()
		if err != nil {
			return err
		}
		rd.body(tag.Type, tag.Timestamp, tag.Body, monoNow())
	}
}

func flvRefusal(status int, body io.Reader) error {
	var b struct {
		Error struct {
			Reason string `json:"reason"`
		} `json:"error"`
	}
	_ = json.NewDecoder(body).Decode(&b)
	return &httpRefusal{status: status, reason: b.Error.Reason}
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

// playGortmplib plays with gortmplib's client (--rtmp-client gortmplib):
// what an application would use, at the price of an allocation or more
// per message.
func (rd *mediaReader) playGortmplib(ctx context.Context) error {
	u, err := url.Parse(gortmplibURL(rd.url))
	if err != nil {
		return err
	}
	var conn net.Conn
	c := &gortmplib.Client{URL: u, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: rd.run.o.connectTimeout}
		nc, err := d.DialContext(ctx, network, addr)
		conn = nc
		return countedConn{nc, &rd.bytes}, err
	}}
	ictx, cancel := context.WithTimeout(ctx, rd.run.o.connectTimeout)
	rd.playAt = monoNow()
	err = c.Initialize(ictx)
	cancel()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, c.Close)
	defer func() { stop(); c.Close() }()
	_ = conn.SetDeadline(time.Time{})
	rd.playing()
	for {
		msg, err := c.Read()
		if err != nil {
			return err
		}
		now := monoNow()
		switch m := msg.(type) {
		case *message.Video:
			if m.Type == message.VideoTypeAU {
				rd.video(uint32(m.DTS/time.Millisecond), m.AU, now)
			}
		case *message.Audio:
			if m.AACType == message.AudioAACTypeAU {
				rd.audio(uint32(m.DTS/time.Millisecond), now)
			}
		case *message.UserControlStreamEOF:
			return io.EOF
		}
	}
}

// countedConn counts the bytes read from a connection.
type countedConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// mediaErrLabel groups connection outcomes for the summary.
func mediaErrLabel(err error) string {
	var hr *httpRefusal
	var rr *rtmpRefusal
	var ne net.Error
	switch {
	case err == nil:
		return "ended"
	case errors.As(err, &hr):
		return hr.Error()
	case errors.As(err, &rr):
		return rr.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, flv.ErrTruncated):
		return "closed by server"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "cannot assign requested address"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}
