package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/handshake"
)

// A lean RTMP player for the bench (--rtmp-client raw, the default):
// gortmplib's handshake, then the connect/createStream/play commands and
// the chunk stream handled here, with one 16 KiB read buffer and one
// reusable body buffer per chunk stream. After setup it allocates nothing
// per message, where gortmplib's client allocates each message's body and
// its decoded form (see --rtmp-client gortmplib).

// RTMP message types the player handles.
const (
	rtmpSetChunkSize  = 1
	rtmpAbort         = 2
	rtmpAck           = 3
	rtmpUserControl   = 4
	rtmpWindowAckSize = 5
	rtmpAudio         = 8
	rtmpVideo         = 9
	rtmpCommandAMF0   = 20
	rtmpExtendedTS    = 0xFFFFFF
	rtmpMaxMessage    = 32 << 20
)

// rtmpRefusal is a play the server answered with an error status.
type rtmpRefusal struct{ code, desc string }

func (e *rtmpRefusal) Error() string {
	if e.desc == "" {
		return "refused: " + e.code
	}
	return "refused: " + e.code + ": " + e.desc
}

type rtmpChunkStream struct {
	started bool
	ext     bool
	ts      uint32
	delta   uint32
	length  uint32
	typ     byte
	have    uint32 // bytes of the current message read; 0 between messages
	body    []byte
}

// rtmpPlayer is one play connection.
type rtmpPlayer struct {
	conn      net.Conn
	br        *bufio.Reader
	received  int64 // bytes read
	acked     int64
	window    int64 // the server's window acknowledgement size
	chunkSize uint32
	streams   [64]rtmpChunkStream // ids above 63 are not used by servers for one stream
	hdr       [16]byte
	out       []byte
}

// splitRTMPURL splits rtmp://host:port/{app}/{room}/{stream}?{query} as
// players do: the connect app is everything up to the last path segment,
// and the play name is that segment plus the query.
func splitRTMPURL(raw string) (host, tcURL, app, name string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", "", err
	}
	if u.Scheme != "rtmp" {
		return "", "", "", "", fmt.Errorf("%q: only rtmp:// is supported", raw)
	}
	i := strings.LastIndexByte(u.Path, '/')
	if i <= 0 {
		return "", "", "", "", fmt.Errorf("%q has no app/stream path", raw)
	}
	host = u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1935")
	}
	app, name = u.Path[1:i], u.Path[i+1:]
	if u.RawQuery != "" {
		name += "?" + u.RawQuery
	}
	return host, "rtmp://" + u.Host + "/" + app, app, name, nil
}

// playRTMP plays with the lean player.
func (rd *mediaReader) playRTMP(ctx context.Context) error {
	host, tcURL, app, name, err := splitRTMPURL(rd.url)
	if err != nil {
		return err
	}
	conn, done, err := rd.dial(ctx, host)
	if err != nil {
		return err
	}
	defer done()
	if _, _, err := handshake.DoClient(conn, false, false); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	p := &rtmpPlayer{conn: conn, chunkSize: 128}
	p.br = bufio.NewReaderSize(rd.source(conn), 16<<10)

	if err := p.command(3, 0, "connect", 1, amf0.Object{
		{Key: "app", Value: app},
		{Key: "flashVer", Value: "LNX 9,0,124,2"},
		{Key: "tcUrl", Value: tcURL},
		{Key: "fpad", Value: false},
		{Key: "capabilities", Value: float64(15)},
		{Key: "audioCodecs", Value: float64(0x0FFF)},
		{Key: "videoCodecs", Value: float64(0x00FF)},
		{Key: "videoFunction", Value: float64(1)},
		{Key: "objectEncoding", Value: float64(0)},
	}); err != nil {
		return err
	}
	if _, err := p.awaitResult(rd, 1); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := p.command(3, 0, "createStream", 2, nil); err != nil {
		return err
	}
	res, err := p.awaitResult(rd, 2)
	if err != nil {
		return fmt.Errorf("createStream: %w", err)
	}
	sid := uint32(1)
	if len(res) >= 4 {
		if f, ok := res[3].(float64); ok {
			sid = uint32(f)
		}
	}
	// SetBufferLength (user control 3): stream id, 100 ms.
	var ctl [10]byte
	binary.BigEndian.PutUint16(ctl[0:], 3)
	binary.BigEndian.PutUint32(ctl[2:], sid)
	binary.BigEndian.PutUint32(ctl[6:], 100)
	if err := p.write(2, 0, rtmpUserControl, ctl[:]); err != nil {
		return err
	}
	rd.playAt = monoNow()
	if err := p.command(8, sid, "play", 0, nil, name); err != nil {
		return err
	}
	for {
		typ, ts, body, err := p.next()
		if err != nil {
			return err
		}
		switch typ {
		case rtmpAudio, rtmpVideo:
			rd.body(typ, ts, body, monoNow())
		case rtmpCommandAMF0:
			st, err := p.onStatus(body)
			if err != nil {
				return err
			}
			if st == "NetStream.Play.Start" && rd.state.Load() != rdPlaying {
				_ = conn.SetDeadline(time.Time{})
				rd.playing()
			}
		case rtmpUserControl:
			if len(body) >= 2 && binary.BigEndian.Uint16(body) == 1 { // StreamEOF
				return io.EOF
			}
		}
	}
}

// command writes an AMF0 command.
func (p *rtmpPlayer) command(csid byte, msid uint32, name string, id float64, args ...any) error {
	body, err := append(amf0.Data{name, id}, args...).Marshal()
	if err != nil {
		return err
	}
	return p.write(csid, msid, rtmpCommandAMF0, body)
}

// awaitResult reads until the _result of transaction id; media and other
// messages before it are handled as usual.
func (p *rtmpPlayer) awaitResult(rd *mediaReader, id float64) (amf0.Data, error) {
	for {
		typ, ts, body, err := p.next()
		if err != nil {
			return nil, err
		}
		switch typ {
		case rtmpAudio, rtmpVideo:
			rd.body(typ, ts, body, monoNow())
			continue
		case rtmpCommandAMF0:
		default:
			continue
		}
		d, err := amf0.Unmarshal(body)
		if err != nil || len(d) < 2 {
			continue
		}
		name, _ := d[0].(string)
		if tid, _ := d[1].(float64); tid != id {
			if name == "onStatus" {
				if _, err := p.onStatus(body); err != nil {
					return nil, err
				}
			}
			continue
		}
		if name == "_error" {
			return nil, statusRefusal(d, "_error")
		}
		return d, nil
	}
}

// onStatus returns the code of an onStatus command, or the refusal an
// error status is.
func (p *rtmpPlayer) onStatus(body []byte) (string, error) {
	d, err := amf0.Unmarshal(body)
	if err != nil || len(d) < 1 {
		return "", nil
	}
	if name, _ := d[0].(string); name != "onStatus" {
		return "", nil
	}
	for _, a := range d {
		if o, ok := a.(amf0.Object); ok {
			level, _ := o.GetString("level")
			code, _ := o.GetString("code")
			if level == "error" {
				return code, statusRefusal(d, code)
			}
			return code, nil
		}
	}
	return "", nil
}

func statusRefusal(d amf0.Data, code string) error {
	r := &rtmpRefusal{code: code}
	for _, a := range d {
		if o, ok := a.(amf0.Object); ok {
			if c, ok := o.GetString("code"); ok {
				r.code = c
			}
			r.desc, _ = o.GetString("description")
		}
	}
	return r
}

// write sends one message in chunks of the default size (128): commands
// are few and small, so the player never changes its chunk size.
func (p *rtmpPlayer) write(csid byte, msid uint32, typ byte, body []byte) error {
	b := append(p.out[:0], csid, 0, 0, 0, byte(len(body)>>16), byte(len(body)>>8), byte(len(body)), typ)
	b = binary.LittleEndian.AppendUint32(b, msid)
	for i := 0; i < len(body); i += 128 {
		if i > 0 {
			b = append(b, 0xC0|csid)
		}
		b = append(b, body[i:min(i+128, len(body))]...)
	}
	p.out = b
	_, err := p.conn.Write(b)
	return err
}

// next returns the next media or command message; the body is valid until
// the next call. Chunk and flow control are handled here: chunk size,
// abort, window acknowledgements and ping requests.
func (p *rtmpPlayer) next() (typ byte, ts uint32, body []byte, err error) {
	for {
		cs, err := p.readChunk()
		if err != nil {
			return 0, 0, nil, err
		}
		if p.window > 0 && p.received-p.acked >= p.window {
			p.acked = p.received
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], uint32(p.received))
			if err := p.write(2, 0, rtmpAck, b[:]); err != nil {
				return 0, 0, nil, err
			}
		}
		if cs == nil {
			continue
		}
		body := cs.body[:cs.length]
		switch cs.typ {
		case rtmpSetChunkSize:
			if len(body) >= 4 {
				if v := binary.BigEndian.Uint32(body) & 0x7FFFFFFF; v > 0 {
					p.chunkSize = v
				}
			}
		case rtmpAbort:
			if len(body) >= 4 {
				if id := binary.BigEndian.Uint32(body); id < uint32(len(p.streams)) {
					p.streams[id].have = 0
				}
			}
		case rtmpWindowAckSize:
			if len(body) >= 4 {
				p.window = int64(binary.BigEndian.Uint32(body))
			}
		case rtmpUserControl:
			if len(body) >= 6 && binary.BigEndian.Uint16(body) == 6 { // PingRequest
				var b [6]byte
				binary.BigEndian.PutUint16(b[:], 7)
				copy(b[2:], body[2:6])
				if err := p.write(2, 0, rtmpUserControl, b[:]); err != nil {
					return 0, 0, nil, err
				}
				continue
			}
			return cs.typ, cs.ts, body, nil
		case rtmpAudio, rtmpVideo, rtmpCommandAMF0:
			return cs.typ, cs.ts, body, nil
		}
	}
}

// readChunk reads one chunk and returns its chunk stream when the chunk
// completed a message.
func (p *rtmpPlayer) readChunk() (*rtmpChunkStream, error) {
	b0, err := p.br.ReadByte()
	if err != nil {
		return nil, err
	}
	p.received++
	f, id := b0>>6, b0&0x3F
	if id < 2 {
		return nil, fmt.Errorf("rtmp: chunk stream id of %d bytes", id+2)
	}
	cs := &p.streams[id]
	h := p.hdr[:[4]int{11, 7, 3, 0}[f]]
	if err := p.readFull(h); err != nil {
		return nil, err
	}
	if f != 0 && !cs.started {
		return nil, fmt.Errorf("rtmp: a type-%d chunk on chunk stream %d before any type-0 chunk", f, id)
	}
	var tsField uint32
	if f < 3 {
		tsField = uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])
		cs.ext = tsField == rtmpExtendedTS
	}
	if cs.ext {
		var x [4]byte
		if err := p.readFull(x[:]); err != nil {
			return nil, err
		}
		if f < 3 {
			tsField = binary.BigEndian.Uint32(x[:])
		}
	}
	if f <= 1 {
		cs.length, cs.typ = uint32(h[3])<<16|uint32(h[4])<<8|uint32(h[5]), h[6]
		if cs.length > rtmpMaxMessage {
			return nil, fmt.Errorf("rtmp: a message of %d bytes", cs.length)
		}
	}
	switch f {
	case 0:
		cs.started = true
		cs.ts, cs.delta = tsField, tsField
	case 1, 2:
		cs.ts += tsField
		cs.delta = tsField
	case 3:
		if cs.have == 0 {
			cs.ts += cs.delta
		}
	}
	if f < 3 && cs.have != 0 {
		return nil, fmt.Errorf("rtmp: a type-%d chunk on chunk stream %d inside a message", f, id)
	}
	if uint32(cap(cs.body)) < cs.length {
		nb := make([]byte, cs.length+cs.length/4)
		copy(nb, cs.body[:cs.have])
		cs.body = nb
	}
	n := min(cs.length-cs.have, p.chunkSize)
	if err := p.readFull(cs.body[cs.have : cs.have+n]); err != nil {
		return nil, err
	}
	cs.have += n
	if cs.have < cs.length {
		return nil, nil
	}
	cs.have = 0
	return cs, nil
}

func (p *rtmpPlayer) readFull(b []byte) error {
	n, err := io.ReadFull(p.br, b)
	p.received += int64(n)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}
