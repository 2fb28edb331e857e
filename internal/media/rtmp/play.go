package rtmp

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"

	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/media/flv"
)

// Chunk streams and sizes of the play side. outChunkSize must equal what
// gortmplib's AcceptConn announced with SetChunkSize (65536): the frames'
// chunked bytes are built once for every player with it.
const (
	outChunkSize = 65536
	csidData     = 5
	csidAudio    = 4
	csidVideo    = 6
	playStreamID = 1 // createStream's _result in gortmplib
)

// buildChunks serialises f as one RTMP message: a type-0 chunk header with
// the absolute timestamp, then type-3 continuation headers. Only absolute
// headers make the bytes independent of what a player was sent before, so
// every player gets the same bytes (cached on the frame with Frame.Wire).
func buildChunks(f *media.Frame) []byte {
	csid := byte(csidVideo)
	if f.Kind == media.Audio {
		csid = csidAudio
	}
	ts := uint32(f.DTS)
	n := flv.BodySize(f)
	buf := make([]byte, 0, chunkedSize(n, outChunkSize, ts >= extendedTimestamp))
	buf = appendHeader(buf, csid, ts, flv.TagType(f), playStreamID, n)
	hdr := len(buf)
	buf = flv.AppendBody(buf, f)
	return splitChunks(buf, hdr, outChunkSize, csid, ts)
}

// playLoop sends the reader's frames until the stream ends, the player goes
// away or a write makes no progress for WriteTimeout.
func (sess *session) playLoop(r *media.Reader) error {
	defer r.Close()
	defer func() { sess.bytesOut = r.BytesSent() }() // the stream's writers' bytes too
	ctx, cancel := context.WithCancel(sess.srv.ctx)
	defer cancel()

	// After play, a player only sends acks, pings and maybe pause or
	// deleteStream, none of which we act on. Reading them with gortmplib
	// would interleave its ping answers with our writes; discarding them
	// here also tells us at once when the player leaves.
	sess.conn.SetDeadline(time.Time{})
	left := make(chan struct{})
	go func() {
		defer close(left)
		io.Copy(io.Discard, sess.cr.r)
		cancel()
	}()
	defer func() {
		sess.conn.Close()
		<-left
	}()

	w := newBatchWriter(sess.conn, sess.srv.hub.Limits().WriteTimeout)
	var frames []*media.Frame
	first := true
	for {
		var err error
		frames, err = r.Read(ctx, frames)
		switch {
		case err == io.EOF:
			// Stream EOF, so players end cleanly rather than on a reset.
			eof := appendMessage(nil, 2, 0, typeUserControl, 0, userControl(ucStreamEOF, playStreamID), outChunkSize)
			n, werr := w.write([][]byte{eof})
			r.Sent(n)
			return errors.Join(errStreamEnded, werr)
		case err != nil:
			select {
			case <-left:
				return errPlayerLeft
			default:
				return err
			}
		}
		if first {
			first = false
			if md := metadata(frames); md != nil {
				w.add(md)
			}
		}
		for _, f := range frames {
			w.add(f.Wire(media.WireRTMP, buildChunks))
		}
		n, err := w.flush()
		r.Sent(n)
		if err != nil {
			return err
		}
		if w.dc != nil && !w.direct {
			r.SetDirect(w) // from now on, whenever the socket keeps up
			w.direct = true
		}
	}
}

// metadata is an onMetaData message describing the stream from the configs
// at the head of a player's first batch, so that players know the size and
// codecs before the first picture.
func metadata(frames []*media.Frame) []byte {
	var arr amf0.ECMAArray
	for _, f := range frames {
		if !f.Config {
			continue
		}
		switch f.Kind {
		case media.Video:
			vi, err := media.ParseVideoConfig(f.Codec, f.Payload)
			if err != nil {
				continue
			}
			id := float64(7)
			if f.Codec == media.H265 {
				id = float64(uint32('h')<<24 | uint32('v')<<16 | uint32('c')<<8 | '1') // E-RTMP: the FourCC
			}
			arr = append(arr, amf0.ObjectEntry{Key: "width", Value: float64(vi.Width)},
				amf0.ObjectEntry{Key: "height", Value: float64(vi.Height)},
				amf0.ObjectEntry{Key: "videocodecid", Value: id})
			if vi.FPS > 0 {
				arr = append(arr, amf0.ObjectEntry{Key: "framerate", Value: vi.FPS})
			}
		case media.Audio:
			ai, err := media.ParseAudioConfig(f.Codec, f.Payload)
			if err != nil {
				continue
			}
			arr = append(arr, amf0.ObjectEntry{Key: "audiocodecid", Value: float64(10)},
				amf0.ObjectEntry{Key: "audiosamplerate", Value: float64(ai.SampleRate)},
				amf0.ObjectEntry{Key: "stereo", Value: ai.Channels > 1})
		}
	}
	if arr == nil {
		return nil
	}
	body, err := amf0.Data{"onMetaData", arr}.Marshal()
	if err != nil {
		return nil
	}
	return appendMessage(nil, csidData, 0, typeDataAMF0, playStreamID, body, outChunkSize)
}

// batchWriter writes a player's pending messages with as few syscalls as
// possible: one writev on TCP; on other connections (TLS), copied into
// large writes, since a writev there would be one TLS record per frame.
type batchWriter struct {
	conn    net.Conn
	dl      *media.Deadline
	vecs    [][]byte
	tcp     bool
	scratch []byte

	dc     *media.DirectConn // nil: always written by the play loop
	dvecs  [][]byte          // TryWrite's, kept apart from the loop's
	direct bool              // SetDirect was called
}

func newBatchWriter(c net.Conn, timeout time.Duration) *batchWriter {
	_, tcp := c.(*net.TCPConn)
	return &batchWriter{conn: c, dl: media.NewDeadline(timeout), tcp: tcp, dc: media.NewDirectConn(c)}
}

// TryWrite is the media.DirectWriter of a TCP player: the stream's writer
// sends batches while the socket keeps up.
func (w *batchWriter) TryWrite(frames []*media.Frame) (int, bool) {
	for _, f := range frames {
		w.dvecs = append(w.dvecs, f.Wire(media.WireRTMP, buildChunks))
	}
	n, ok := w.dc.TryWrite(w.dvecs)
	clear(w.dvecs)
	w.dvecs = w.dvecs[:0]
	return n, ok
}

func (w *batchWriter) add(b []byte) { w.vecs = append(w.vecs, b) }

func (w *batchWriter) flush() (int, error) {
	n, err := w.write(w.vecs)
	clear(w.vecs) // do not keep frames alive until the next batch
	w.vecs = w.vecs[:0]
	return n, err
}

// write sends vecs. The deadline is renewed (lazily, see media.Deadline)
// while bytes keep moving: a player is dropped when its socket accepts
// nothing for the timeout, not when a big batch to a slow link takes longer
// than that.
func (w *batchWriter) write(vecs [][]byte) (int, error) {
	if w.dc != nil {
		rest, err := w.dc.Rest()
		if err != nil {
			return 0, err
		}
		if len(rest) > 0 {
			vecs = append(rest, vecs...)
		}
	}
	if !w.tcp {
		return w.writeCopied(vecs)
	}
	bufs := net.Buffers(vecs)
	total := 0
	for len(bufs) > 0 {
		w.dl.Renew(w.conn, time.Now())
		n, err := bufs.WriteTo(w.conn)
		total += int(n)
		if err != nil {
			if n > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return total, err
		}
	}
	return total, nil
}

const copiedWrite = 64 << 10

func (w *batchWriter) writeCopied(vecs [][]byte) (int, error) {
	total := 0
	send := func() error {
		w.dl.Renew(w.conn, time.Now())
		n, err := w.conn.Write(w.scratch)
		total += n
		w.scratch = w.scratch[:0]
		return err
	}
	for _, v := range vecs {
		for len(v) > 0 {
			k := min(len(v), copiedWrite-len(w.scratch))
			w.scratch = append(w.scratch, v[:k]...)
			v = v[k:]
			if len(w.scratch) == copiedWrite {
				if err := send(); err != nil {
					return total, err
				}
			}
		}
	}
	if len(w.scratch) > 0 {
		return total, send()
	}
	return total, nil
}
