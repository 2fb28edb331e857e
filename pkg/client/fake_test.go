package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// fakeServer is a scripted server for behaviour the real one never shows
// (sequence gaps, garbage frames, silence): the test
// drives each accepted connection by hand.
type fakeServer struct {
	t     *testing.T
	srv   *httptest.Server
	conns chan *fakeWS
}

type fakeWS struct {
	t    *testing.T
	ws   *websocket.Conn
	ctx  context.Context
	done chan struct{}
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{t: t, conns: make(chan *fakeWS, 8)}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{protocol.Subprotocol}})
		if err != nil {
			return
		}
		fw := &fakeWS{t: t, ws: ws, ctx: r.Context(), done: make(chan struct{})}
		f.conns <- fw
		select {
		case <-fw.done:
		case <-r.Context().Done():
		}
		_ = ws.CloseNow()
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) url() string { return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws" }

func (f *fakeServer) accept() *fakeWS {
	f.t.Helper()
	select {
	case fw := <-f.conns:
		return fw
	case <-time.After(waitTimeout):
		f.t.Fatal("fake server: no connection")
		return nil
	}
}

// read returns the next request that is not a ping.
func (fw *fakeWS) read() protocol.Request {
	fw.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(fw.ctx, waitTimeout)
		_, b, err := fw.ws.Read(ctx)
		cancel()
		if err != nil {
			fw.t.Fatalf("fake server: read: %v", err)
		}
		req, perr := protocol.DecodeRequest(b)
		if perr != nil {
			fw.t.Fatalf("fake server: bad request %s: %v", b, perr)
		}
		if req.Op == protocol.OpPing {
			continue
		}
		return req
	}
}

func (fw *fakeWS) send(b []byte) {
	fw.t.Helper()
	if err := fw.ws.Write(fw.ctx, websocket.MessageText, b); err != nil {
		fw.t.Fatalf("fake server: write: %v", err)
	}
}

func (fw *fakeWS) respond(id string, code protocol.Code, data any) {
	fw.t.Helper()
	r := protocol.Response{ID: id, Code: code, Msg: code.String()}
	if data != nil {
		r.Data, _ = json.Marshal(data)
	}
	b, _ := json.Marshal(r)
	fw.send(b)
}

func (fw *fakeWS) event(seq uint64, name string) {
	fw.t.Helper()
	fw.send(protocol.AppendEvent(nil, seq, name, json.RawMessage(`{}`)))
}

func (fw *fakeWS) close() { close(fw.done) }

// expectJoin answers the join that opens a connection.
func (fw *fakeWS) expectJoin(session string, pingMs int64) {
	fw.t.Helper()
	req := fw.read()
	if req.Op != protocol.OpJoin {
		fw.t.Fatalf("fake server: first op %q, want join", req.Op)
	}
	fw.respond(req.ID, 0, protocol.JoinResponse{Protocol: 1, SessionID: ids.SessionID("s" + session), ResumeToken: "rt-" + session, PingIntervalMs: pingMs})
}

// expectResume answers a resume and checks the last seq the client has.
func (fw *fakeWS) expectResume(lastSeq uint64, pingMs int64) {
	fw.t.Helper()
	req := fw.read()
	var rr protocol.ResumeRequest
	if req.Op != protocol.OpResume || json.Unmarshal(req.Data, &rr) != nil || rr.LastSeq != lastSeq {
		fw.t.Fatalf("fake server: got %s %s, want resume from %d", req.Op, req.Data, lastSeq)
	}
	fw.respond(req.ID, 0, protocol.ResumeResponse{SessionID: "s1", PingIntervalMs: pingMs})
}

func fakeJoin(t *testing.T, f *fakeServer, pingMs int64) (*Client, *recorder, *fakeWS) {
	t.Helper()
	type res struct {
		c   *Client
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := Join(t.Context(), f.url(), "tok", "r1", nil)
		ch <- res{c, err}
	}()
	fw := f.accept()
	fw.expectJoin("1", pingMs)
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	rec := record(r.c)
	t.Cleanup(func() { _ = r.c.Close(); <-rec.done })
	return r.c, rec, fw
}

// A gap in the numbering breaks the connection; the resume asks from the
// last event delivered, and an overlapping replay is delivered once.
func TestFakeGapAndOverlap(t *testing.T) {
	checkLeaks(t)
	f := newFakeServer(t)
	_, rec, fw := fakeJoin(t, f, 10000)
	fw.event(1, "a")
	fw.event(2, "b")
	fw.event(4, "d") // 3 is missing
	fw2 := f.accept()
	fw.close()
	fw2.expectResume(2, 10000)
	fw2.event(2, "b") // overlap
	fw2.event(3, "c")
	fw2.event(4, "d")
	fw2.event(5, "e")
	rec.waitFor(t, 0, "e", nil)
	var got []string
	for _, ev := range rec.serverEvents() {
		got = append(got, ev.Name)
	}
	if strings.Join(got, "") != "abcde" {
		t.Fatalf("delivered %v", got)
	}
	checkSeqs(t, rec.serverEvents())
	fw2.close()
}

// A frame that is not JSON does not crash the client: it reconnects.
func TestFakeGarbageFrame(t *testing.T) {
	checkLeaks(t)
	f := newFakeServer(t)
	c, rec, fw := fakeJoin(t, f, 10000)
	fw.event(1, "a")
	fw.send([]byte(`{"seq": "x"`))
	fw2 := f.accept()
	fw.close()
	fw2.expectResume(1, 10000)
	fw2.send([]byte(`[]`)) // neither event nor response
	fw3 := f.accept()
	fw2.close()
	fw3.expectResume(1, 10000)
	fw3.event(2, "b")
	rec.waitFor(t, 0, "b", nil)
	if c.State() != StateConnected {
		t.Fatalf("state %s", c.State())
	}
	fw3.close()
}

// A server that goes silent is given up on after about two ping intervals.
func TestFakeSilentServer(t *testing.T) {
	checkLeaks(t)
	f := newFakeServer(t)
	_, rec, fw := fakeJoin(t, f, 50)
	start := time.Now()
	// Never answer the pings.
	fw2 := f.accept()
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("reconnected after %v", d)
	}
	fw.close()
	sc, _ := rec.waitState(t, 0, StateReconnecting)
	if !strings.Contains(sc.Error, errPingTimeout.Error()) {
		t.Fatalf("reason %q", sc.Error)
	}
	fw2.expectResume(0, 10000)
	rec.waitState(t, 0, StateConnected)
	fw2.close()
}

// Going away: the client waits retry_after_ms before reconnecting; when the
// restarted server does not know the session, it joins again.
func TestFakeGoingAway(t *testing.T) {
	checkLeaks(t)
	f := newFakeServer(t)
	_, rec, fw := fakeJoin(t, f, 10000)
	fw.send(protocol.AppendEvent(nil, 1, protocol.EvGoingAway, json.RawMessage(`{"reason":"restart","retry_after_ms":300}`)))
	rec.waitFor(t, 0, protocol.EvGoingAway, nil)
	start := time.Now()
	_ = fw.ws.Close(websocket.StatusGoingAway, "bye")
	fw.close()
	fw2 := f.accept()
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("reconnected after %v, before retry_after", d)
	}
	req := fw2.read()
	if req.Op != protocol.OpResume {
		t.Fatalf("op %s", req.Op)
	}
	fw2.respond(req.ID, protocol.CodeResumeFailed, nil)
	fw2.expectJoin("2", 10000) // on the same connection
	fw2.event(1, "fresh")
	ev, _ := rec.waitFor(t, 0, EvRejoined, nil)
	var jr protocol.JoinResponse
	if err := ev.Decode(&jr); err != nil || jr.SessionID != "s2" {
		t.Fatalf("%+v %v", jr, err)
	}
	rec.waitFor(t, 0, "fresh", nil)
	fw2.close()
}

// Close codes that end the session stop the client even when the event
// saying so got lost.
func TestFakeTerminalCloseCode(t *testing.T) {
	checkLeaks(t)
	f := newFakeServer(t)
	c, rec, fw := fakeJoin(t, f, 10000)
	_ = fw.ws.Close(closeRoomClosed, "room closed")
	fw.close()
	<-rec.done
	if !errors.Is(c.Err(), ErrRoomClosed) {
		t.Fatalf("err %v", c.Err())
	}
}

// With DisableReconnect, the first failure is final.
func TestFakeDisableReconnect(t *testing.T) {
	checkLeaks(t)
	f := newFakeServer(t)
	ch := make(chan *Client, 1)
	go func() {
		c, _ := Join(t.Context(), f.url(), "tok", "r1", &Options{DisableReconnect: true})
		ch <- c
	}()
	fw := f.accept()
	fw.expectJoin("1", 10000)
	c := <-ch
	defer c.Close()
	rec := record(c)
	fw.close()
	<-rec.done
	if c.State() != StateDisconnected || c.Err() == nil {
		t.Fatalf("%s %v", c.State(), c.Err())
	}
}

// Close from inside OnState neither deadlocks nor leaves goroutines.
func TestFakeCloseFromOnState(t *testing.T) {
	checkLeaks(t)
	f := newFakeServer(t)
	closed := make(chan struct{})
	var c *Client
	ready := make(chan struct{})
	ch := make(chan *Client, 1)
	go func() {
		cl, _ := Join(t.Context(), f.url(), "tok", "r1", &Options{OnState: func(s State, _ error) {
			if s == StateReconnecting {
				<-ready
				_ = c.Close()
				close(closed)
			}
		}})
		ch <- cl
	}()
	fw := f.accept()
	fw.expectJoin("1", 10000)
	c = <-ch
	close(ready)
	fw.close()
	select {
	case <-closed:
	case <-time.After(waitTimeout):
		t.Fatal("Close from OnState did not return")
	}
	_ = c.Close() // from outside: waits for the callback goroutine
	if c.State() != StateDisconnected {
		t.Fatalf("state %s", c.State())
	}
}
