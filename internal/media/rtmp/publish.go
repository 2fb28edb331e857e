package rtmp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"

	"github.com/minirtc/minirtc/internal/media"
)

// User control events (spec §6.2).
const (
	ucStreamEOF    = 1
	ucPingRequest  = 6
	ucPingResponse = 7
)

// frameSink is what ingest writes to: a *media.Publisher.
type frameSink interface {
	WriteFrame(f *media.Frame, ts uint32) error
}

// publishLoop runs an admitted push until the connection ends, the client
// unpublishes or the hub cuts it.
func (sess *session) publishLoop(pub *media.Publisher) error {
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-pub.Done():
			// Kick, unpublish or a newer pusher: unblock the read loop.
			sess.cut.Store(true)
			sess.conn.Close()
		case <-stop:
		}
	}()
	defer func() {
		close(stop)
		<-watched
		pub.Close()
	}()
	sess.conn.SetDeadline(time.Time{})
	err := sess.ingest(pub)
	if sess.cut.Load() {
		err = errCutByServer // rather than "use of closed network connection"
	}
	var rf *media.Refusal
	if errors.As(err, &rf) && rf.Reason == media.ReasonCodec {
		sess.srv.hub.CountRefusal(err) // for /metrics; the hub counted bad media itself
	}
	return err
}

// ingest reads messages and hands audio and video to sink. Every message
// read renews the read deadline: a pusher that sends nothing for
// ReadTimeout is gone.
func (sess *session) ingest(sink frameSink) error {
	lim := sess.srv.hub.Limits()
	sess.cr.setLimit(uint32(lim.MaxFrameBytes) + maxBodyHeader)
	for {
		sess.conn.SetReadDeadline(time.Now().Add(lim.ReadTimeout))
		m, err := sess.cr.next()
		if err != nil {
			return err
		}
		if err := sess.acknowledge(); err != nil {
			return err
		}
		switch m.typ {
		case typeAudio, typeVideo:
			f, err := frameFromMessage(m.typ, m.body)
			if err != nil {
				return err
			}
			if f == nil {
				continue
			}
			if err := sink.WriteFrame(f, m.ts); err != nil {
				return err
			}
			sess.frames++
		case typeWindowAckSize:
			if len(m.body) >= 4 {
				sess.ackWindow = binary.BigEndian.Uint32(m.body)
			}
		case typeUserControl:
			if len(m.body) >= 6 && binary.BigEndian.Uint16(m.body) == ucPingRequest {
				if err := sess.writeControl(typeUserControl, userControl(ucPingResponse, binary.BigEndian.Uint32(m.body[2:]))); err != nil {
					return err
				}
			}
		case typeCommandAMF0:
			name := commandName(m.body)
			sess.srv.log.Debug("rtmp: command while publishing", sess.attrs("command", name)...)
			switch name {
			case "deleteStream", "FCUnpublish", "closeStream":
				return errUnpublished
			}
		}
		// Metadata (@setDataFrame), acks, peer bandwidth and other commands
		// need nothing from us.
	}
}

// acknowledge sends an Acknowledgement when the client asked for them
// (SetWindowAckSize) and a window's worth of bytes came in.
func (sess *session) acknowledge() error {
	if sess.ackWindow == 0 {
		return nil
	}
	got := sess.cr.received()
	if got-sess.lastAck < uint64(sess.ackWindow) {
		return nil
	}
	sess.lastAck = got
	return sess.writeControl(typeAck, binary.BigEndian.AppendUint32(nil, uint32(got)))
}

// writeControl sends a protocol control message on chunk stream 2.
func (sess *session) writeControl(typ byte, body []byte) error {
	b := appendMessage(nil, 2, 0, typ, 0, body, 65536)
	sess.conn.SetWriteDeadline(time.Now().Add(sess.srv.hub.Limits().WriteTimeout))
	_, err := sess.conn.Write(b)
	if err != nil {
		return fmt.Errorf("rtmp: writing a control message: %w", err)
	}
	return nil
}

func userControl(event uint16, v uint32) []byte {
	b := binary.BigEndian.AppendUint16(nil, event)
	return binary.BigEndian.AppendUint32(b, v)
}

// commandName is the name of an AMF0 command, "" when it has none.
func commandName(body []byte) string {
	d, err := amf0.Unmarshal(body)
	if err != nil || len(d) == 0 {
		return ""
	}
	s, _ := d[0].(string)
	return s
}
