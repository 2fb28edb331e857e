package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// A participant is one simulated user of `bench signal`. Two kinds exist:
//
//   - raw: a bare WebSocket speaking protocol v1 directly. One goroutine per
//     participant (its reader); pings for everyone come from one shared
//     pinger, messages from one sender goroutine per room, and frames are
//     parsed by looking at the few fields the bench needs. This is the
//     default: it keeps the tool's own cost small next to the server's.
//   - sdk: pkg/client, as an application would use it (its own reader, ping
//     loop, supervisor and event dispatcher per client, plus a goroutine
//     draining Events). Useful to measure the SDK itself; costlier.
type participant interface {
	// send sends a room message with the given content without waiting
	// for the answer, which is reported to signalRun.onSendResult.
	send(content []byte)
	// leave asks the server to take the participant out of the room.
	leave(ctx context.Context)
	// close drops the connection now.
	close()
	// done is closed once the participant's connection has ended.
	done() <-chan struct{}
}

// peerInfo is who a participant is.
type peerInfo struct {
	index int
	user  ids.UserID
	room  *benchRoom
	token string
}

// joinFunc dials and joins; it returns the participant and the moment the
// join response arrived.
type joinFunc func(ctx context.Context, r *signalRun, info *peerInfo) (participant, time.Time, error)

// messageName is the name of the bench's room messages.
const messageName = "bench"

// ---------------------------------------------------------------- raw

type rawPeer struct {
	r       *signalRun
	room    *benchRoom
	ws      *websocket.Conn
	lastSeq atomic.Uint64 // seq of the last event read, acknowledged by pings
	leaving atomic.Bool
	fin     chan struct{}
	// sendBuf and sends belong to the room's sender goroutine.
	sendBuf []byte
	sends   uint64
}

// rawReadLimit bounds one server frame (a join snapshot of a big room is
// the largest).
const rawReadLimit = 16 << 20

func rawJoin(ctx context.Context, r *signalRun, info *peerInfo) (participant, time.Time, error) {
	ws, _, err := websocket.Dial(ctx, r.opts.url, &websocket.DialOptions{
		HTTPClient:   r.httpClient,
		Subprotocols: []string{protocol.Subprotocol},
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(rawReadLimit)
	data, _ := json.Marshal(protocol.JoinRequest{Token: info.token, Room: info.room.id}) // strings only: cannot fail
	req, _ := json.Marshal(protocol.Request{ID: "j", Op: protocol.OpJoin, Data: data})
	if err := ws.Write(ctx, websocket.MessageText, req); err != nil {
		_ = ws.CloseNow()
		return nil, time.Time{}, fmt.Errorf("join: write: %w", err)
	}
	p := &rawPeer{r: r, room: info.room, ws: ws, fin: make(chan struct{})}
	var buf []byte
	for {
		b, err := readFrame(ctx, ws, buf)
		if err != nil {
			_ = ws.CloseNow()
			return nil, time.Time{}, fmt.Errorf("join: read: %w", err)
		}
		at := time.Now()
		buf = b
		var f protocol.Frame
		if err := json.Unmarshal(b, &f); err != nil {
			_ = ws.CloseNow()
			return nil, time.Time{}, fmt.Errorf("join: bad frame: %w", err)
		}
		if f.IsEvent() {
			p.lastSeq.Store(f.Seq) // the protocol sends none before the response; be lenient
			continue
		}
		if f.ID != "j" {
			continue
		}
		if f.Code != protocol.CodeOK {
			_ = ws.CloseNow()
			return nil, time.Time{}, &protocol.Error{Code: f.Code, Msg: f.Msg}
		}
		var jr protocol.JoinResponse
		if err := json.Unmarshal(f.Data, &jr); err != nil {
			_ = ws.CloseNow()
			return nil, time.Time{}, fmt.Errorf("join: bad response: %w", err)
		}
		r.notePingInterval(time.Duration(jr.PingIntervalMs) * time.Millisecond)
		go p.readLoop()
		return p, at, nil
	}
}

// readFrame reads one message into buf (reused), growing it as needed.
func readFrame(ctx context.Context, ws *websocket.Conn, buf []byte) ([]byte, error) {
	_, rd, err := ws.Reader(ctx)
	if err != nil {
		return buf, err
	}
	buf = buf[:0]
	if cap(buf) == 0 {
		buf = make([]byte, 0, 512)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (p *rawPeer) readLoop() {
	defer close(p.fin)
	buf := make([]byte, 0, 512)
	for {
		b, err := readFrame(context.Background(), p.ws, buf)
		if err != nil {
			if !p.leaving.Load() && !p.r.stopping.Load() {
				p.r.onDisconnect(disconnectCause(err))
			}
			return
		}
		now := p.r.since()
		f, ok := fastParse(b)
		if !ok {
			f, ok = slowParse(b)
		}
		if ok {
			p.handle(&f, now)
		} else {
			p.r.otherEvents.add("unparsable frame")
		}
		if cap(b) > 16<<10 {
			b = make([]byte, 0, 512) // a big join snapshot: do not keep it
		}
		buf = b[:0]
	}
}

func (p *rawPeer) handle(f *benchFrame, now time.Duration) {
	if f.event {
		if f.seq > p.lastSeq.Load() {
			p.lastSeq.Store(f.seq)
		}
		if string(f.name) == protocol.EvMessage {
			if f.hasSent {
				p.r.onMessage(p.room, now-time.Duration(f.sent))
			}
			return
		}
		switch string(f.name) {
		case protocol.EvUserJoined, protocol.EvUserLeft:
		default:
			p.r.otherEvents.add(string(f.name))
		}
		return
	}
	if len(f.id) == 0 {
		p.r.otherEvents.add(fmt.Sprintf("error response without id: %d", f.code))
		return
	}
	switch f.id[0] {
	case 'm':
		p.r.onSendResult(p.room, protocol.Code(f.code))
	case 'p':
		if f.code != 0 {
			p.r.pingErrors.add(codeLabel(protocol.Code(f.code)))
		}
	}
}

// ping sends a ping acknowledging the events read so far; id must be
// unique (the server answers a repeated id from its response cache).
func (p *rawPeer) ping(buf []byte, id uint64) []byte {
	buf = append(buf[:0], `{"id":"p`...)
	buf = strconv.AppendUint(buf, id, 10)
	buf = append(buf, `","op":"ping","data":{"last_seq":`...)
	buf = strconv.AppendUint(buf, p.lastSeq.Load(), 10)
	buf = append(buf, "}}"...)
	_ = p.ws.Write(context.Background(), websocket.MessageText, buf) // a failure shows in the reader
	return buf
}

func (p *rawPeer) send(content []byte) {
	p.sends++
	b := append(p.sendBuf[:0], `{"id":"m`...)
	b = strconv.AppendUint(b, p.sends, 10)
	b = append(b, `","op":"send_message","data":{"name":"`+messageName+`","content":"`...)
	b = append(b, content...) // digits and letters: no escaping needed
	b = append(b, `"}}`...)
	p.sendBuf = b
	if err := p.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		p.r.onSendResult(p.room, -1)
	}
}

func (p *rawPeer) leave(ctx context.Context) {
	p.leaving.Store(true)
	_ = p.ws.Write(ctx, websocket.MessageText, []byte(`{"id":"l","op":"leave"}`))
}

func (p *rawPeer) close()                { p.leaving.Store(true); _ = p.ws.CloseNow() }
func (p *rawPeer) done() <-chan struct{} { return p.fin }

// benchFrame is what the bench needs of a server frame.
type benchFrame struct {
	event   bool
	seq     uint64
	name    []byte
	id      []byte
	code    int
	sent    int64 // message events: the sender's timestamp from the content
	hasSent bool
}

var (
	evHead     = []byte(`{"seq":`)
	evName     = []byte(`,"event":"`)
	respHead   = []byte(`{"id":"`)
	codeKey    = []byte(`","code":`)
	contentKey = []byte(`"content":"`)
)

// fastParse reads the frame layouts the server writes (protocol.AppendEvent
// for events, encoding/json field order for responses) without decoding the
// JSON; anything else is left to slowParse.
func fastParse(b []byte) (benchFrame, bool) {
	var f benchFrame
	switch {
	case bytes.HasPrefix(b, evHead):
		seq, n := parseDigits(b[len(evHead):])
		rest := b[len(evHead)+n:]
		if n == 0 || !bytes.HasPrefix(rest, evName) {
			return f, false
		}
		rest = rest[len(evName):]
		q := bytes.IndexByte(rest, '"')
		if q < 0 {
			return f, false
		}
		f.event, f.seq, f.name = true, seq, rest[:q]
		if string(f.name) == protocol.EvMessage {
			i := bytes.Index(rest[q:], contentKey)
			if i < 0 {
				return f, false
			}
			v, n := parseDigits(rest[q+i+len(contentKey):])
			f.sent, f.hasSent = int64(v), n > 0
		}
		return f, true
	case bytes.HasPrefix(b, respHead):
		rest := b[len(respHead):]
		q := bytes.IndexByte(rest, '"')
		if q < 0 || bytes.IndexByte(rest[:q], '\\') >= 0 {
			return f, false
		}
		f.id, rest = rest[:q], rest[q:]
		if !bytes.HasPrefix(rest, codeKey) {
			return f, false
		}
		code, n := parseDigits(rest[len(codeKey):])
		if n == 0 {
			return f, false
		}
		f.code = int(code)
		return f, true
	}
	return f, false
}

// slowParse decodes the frame as JSON.
func slowParse(b []byte) (benchFrame, bool) {
	var f benchFrame
	pf, err := protocol.DecodeFrame(b)
	if err != nil && pf.Code == protocol.CodeOK {
		return f, false
	}
	if pf.IsEvent() {
		f.event, f.seq, f.name = true, pf.Seq, []byte(pf.Event)
		if pf.Event == protocol.EvMessage {
			var m protocol.MessageEvent
			if json.Unmarshal(pf.Data, &m) == nil {
				v, n := parseDigits([]byte(m.Content))
				f.sent, f.hasSent = int64(v), n > 0
			}
		}
		return f, true
	}
	f.id, f.code = []byte(pf.ID), int(pf.Code)
	return f, true
}

func parseDigits(b []byte) (uint64, int) {
	var v uint64
	i := 0
	for ; i < len(b) && i < 19 && b[i] >= '0' && b[i] <= '9'; i++ {
		v = v*10 + uint64(b[i]-'0')
	}
	return v, i
}

// disconnectCause names why a connection ended, for the summary.
func disconnectCause(err error) string {
	if code := websocket.CloseStatus(err); code != -1 {
		return fmt.Sprintf("closed by server (%d)", int(code))
	}
	return "connection lost"
}

// ---------------------------------------------------------------- sdk

type sdkPeer struct {
	r       *signalRun
	room    *benchRoom
	c       *client.Client
	leaving atomic.Bool
	fin     chan struct{}
	sends   sync.WaitGroup
}

func sdkJoin(ctx context.Context, r *signalRun, info *peerInfo) (participant, time.Time, error) {
	c, err := client.Join(ctx, r.opts.url, info.token, info.room.id, &client.Options{
		HTTPClient:       r.httpClient,
		DisableReconnect: true,
		DialTimeout:      r.opts.joinTimeout,
	})
	at := time.Now()
	if err != nil {
		return nil, at, err
	}
	p := &sdkPeer{r: r, room: info.room, c: c, fin: make(chan struct{})}
	go p.drain()
	return p, at, nil
}

// drain reads the client's events, as an application must.
func (p *sdkPeer) drain() {
	defer close(p.fin)
	for ev := range p.c.Events() {
		now := p.r.since()
		switch ev.Name {
		case protocol.EvMessage:
			var m protocol.MessageEvent
			if ev.Decode(&m) == nil {
				if v, n := parseDigits([]byte(m.Content)); n > 0 {
					p.r.onMessage(p.room, now-time.Duration(v))
				}
			}
		case protocol.EvUserJoined, protocol.EvUserLeft, client.EvConnectionState:
		default:
			p.r.otherEvents.add(ev.Name)
		}
	}
	if err := p.c.Err(); err != nil && !p.leaving.Load() && !p.r.stopping.Load() {
		p.r.onDisconnect(sdkCause(err))
	}
}

func sdkCause(err error) string {
	s := err.Error()
	if i := strings.Index(s, "(code "); i >= 0 {
		if j := strings.IndexByte(s[i:], ')'); j > 0 {
			return "closed by server " + s[i:i+j+1]
		}
	}
	return "connection lost"
}

func (p *sdkPeer) send(content []byte) {
	s := string(content)
	p.sends.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := p.c.SendMessage(ctx, messageName, s)
		p.r.onSendResult(p.room, errCode(err))
	})
}

// errCode is a request's outcome as a protocol code (-1: not a refusal
// from the server, e.g. the connection failed).
func errCode(err error) protocol.Code {
	if err == nil {
		return protocol.CodeOK
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return -1
}

func (p *sdkPeer) leave(ctx context.Context) {
	p.leaving.Store(true)
	_ = p.c.Leave(ctx)
	p.sends.Wait()
}

func (p *sdkPeer) close() {
	p.leaving.Store(true)
	_ = p.c.Close()
	p.sends.Wait()
}

func (p *sdkPeer) done() <-chan struct{} { return p.fin }
