package client

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/minirtc/minirtc/pkg/protocol"
)

func TestQueueOrderAndFinish(t *testing.T) {
	q := newQueue[int]()
	const n = 10000
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if !q.push(i) {
				t.Errorf("push %d refused", i)
			}
		}
		q.finish()
	})
	for i := range n {
		v, ok := q.next(nil)
		if !ok || v != i {
			t.Fatalf("next = %d, %v; want %d, true", v, ok, i)
		}
	}
	if v, ok := q.next(nil); ok {
		t.Fatalf("next after finish = %d, true", v)
	}
	wg.Wait()
	if q.push(1) {
		t.Fatal("push after finish accepted")
	}
}

func TestQueueNeverBlocksProducer(t *testing.T) {
	q := newQueue[int]()
	done := make(chan struct{})
	go func() {
		for i := range 100000 { // nobody consumes
			q.push(i)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("push blocked without a consumer")
	}
	if q.len() != 100000 {
		t.Fatalf("len = %d", q.len())
	}
}

func TestQueueStop(t *testing.T) {
	q := newQueue[int]()
	stop := make(chan struct{})
	got := make(chan bool)
	go func() {
		_, ok := q.next(stop)
		got <- ok
	}()
	time.Sleep(10 * time.Millisecond)
	close(stop)
	if <-got {
		t.Fatal("next returned an item after stop")
	}
	// Queued items are still returned before a finish ends the queue.
	q.push(7)
	q.finish()
	if v, ok := q.next(nil); !ok || v != 7 {
		t.Fatalf("next = %d, %v", v, ok)
	}
}

func TestJudgeSeq(t *testing.T) {
	cases := []struct {
		last, seq uint64
		want      seqVerdict
	}{
		{0, 1, seqDeliver},
		{5, 6, seqDeliver},
		{5, 5, seqDuplicate},
		{5, 1, seqDuplicate},
		{5, 7, seqGap},
		{0, 2, seqGap},
		{5, 0, seqUnnumbered},
	}
	for _, c := range cases {
		if got := judgeSeq(c.last, c.seq); got != c.want {
			t.Errorf("judgeSeq(%d, %d) = %d, want %d", c.last, c.seq, got, c.want)
		}
	}
}

// A replay that overlaps what was delivered, then a gap: each event comes
// out once, in order, and the gap breaks the connection.
func TestHandleEventDedupeAndGap(t *testing.T) {
	c := newClient("ws://unused", "t", "r", nil)
	c.mu.Lock()
	c.state = StateConnected
	c.mu.Unlock()
	cn := fakeConn(t)
	for _, seq := range []uint64{1, 2, 3, 2, 3, 4, 1, 5} {
		if !c.handleEvent(cn, protocol.Frame{Seq: seq, Event: protocol.EvUserJoined, Data: json.RawMessage(`{}`)}) {
			t.Fatalf("seq %d: connection failed", seq)
		}
	}
	if c.handleEvent(cn, protocol.Frame{Seq: 7, Event: protocol.EvUserJoined}) {
		t.Fatal("gap accepted")
	}
	if _, err := cn.cause(); !errors.Is(err, errGap) {
		t.Fatalf("cause = %v, want errGap", err)
	}
	var seqs []uint64
	for c.evq.len() > 0 {
		ev, _ := c.evq.next(nil)
		if ev.Seq != 0 {
			seqs = append(seqs, ev.Seq)
		}
	}
	if want := []uint64{1, 2, 3, 4, 5}; !equalSeqs(seqs, want) {
		t.Fatalf("delivered %v, want %v", seqs, want)
	}
	if c.lastSeq != 5 {
		t.Fatalf("lastSeq = %d", c.lastSeq)
	}
}

func TestHandleEventFinalAndGoingAway(t *testing.T) {
	c := newClient("ws://unused", "t", "r", nil)
	cn := fakeConn(t)
	c.handleEvent(cn, protocol.Frame{Seq: 1, Event: protocol.EvGoingAway, Data: json.RawMessage(`{"reason":"x","retry_after_ms":1500}`)})
	if !c.goingAwaySet || c.goingAway != 1500*time.Millisecond {
		t.Fatalf("going away = %v %v", c.goingAwaySet, c.goingAway)
	}
	// Garbage data must not panic and still means kicked.
	c.handleEvent(cn, protocol.Frame{Seq: 2, Event: protocol.EvKickedOff, Data: json.RawMessage(`[1,2`)})
	if !c.finalSet || !errors.Is(c.final, ErrKicked) {
		t.Fatalf("final = %v %v", c.finalSet, c.final)
	}
	c.handleEvent(cn, protocol.Frame{Seq: 3, Event: protocol.EvRoomClosed, Data: json.RawMessage(`{}`)})
	if !errors.Is(c.final, ErrKicked) {
		t.Fatalf("first final reason must win, got %v", c.final)
	}
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// fakeConn is a conn on a real WebSocket to a server that only reads, for
// the paths that never write but may close.
func fakeConn(t *testing.T) *conn {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for {
			if _, _, err := ws.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	ws, _, err := websocket.Dial(t.Context(), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	cn := newConn(ws, time.Second)
	t.Cleanup(func() { cn.fail(ErrClosed) })
	return cn
}

func TestBackoff(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		b := &backoff{rand: func() float64 { return r }}
		prevHi := time.Duration(0)
		for i := range 40 {
			d := b.next()
			hi := min(backoffMin<<min(i, 16), backoffMax)
			if d < hi/2 || d > hi {
				t.Fatalf("r=%v attempt %d: %v not in [%v, %v]", r, i, d, hi/2, hi)
			}
			if hi < prevHi {
				t.Fatalf("ceiling went down")
			}
			prevHi = hi
		}
	}
	b := newBackoff()
	for range 100 {
		if d := b.next(); d <= 0 || d > backoffMax {
			t.Fatalf("delay %v out of range", d)
		}
	}
}

func TestClampRetryAfter(t *testing.T) {
	if d := clampRetryAfter(-5); d != 0 {
		t.Fatal(d)
	}
	if d := clampRetryAfter(250); d != 250*time.Millisecond {
		t.Fatal(d)
	}
	if d := clampRetryAfter(1 << 50); d != maxRetryAfter {
		t.Fatal(d)
	}
}

func TestPingInterval(t *testing.T) {
	if pingInterval(0) != defaultPingInterval || pingInterval(-1) != defaultPingInterval {
		t.Fatal("default")
	}
	if pingInterval(1) != minPingInterval {
		t.Fatal("min")
	}
	if pingInterval(5000) != 5*time.Second {
		t.Fatal("5s")
	}
}

func TestBuildRequest(t *testing.T) {
	b, err := buildRequest("7", protocol.OpPublish, protocol.PublishRequest{Tag: "main", Media: protocol.MediaAudio})
	if err != nil {
		t.Fatal(err)
	}
	// The server's own decoder must accept what we build.
	req, perr := protocol.DecodeRequest(b)
	if perr != nil {
		t.Fatal(perr)
	}
	if req.ID != "7" || req.Op != protocol.OpPublish {
		t.Fatalf("%+v", req)
	}
	var pr protocol.PublishRequest
	if err := protocol.DecodeData(req.Data, &pr); err != nil || pr.Tag != "main" || pr.Media != protocol.MediaAudio {
		t.Fatalf("%+v %v", pr, err)
	}

	b, err = buildRequest("8", protocol.OpPing, nil)
	if err != nil || strings.Contains(string(b), "data") {
		t.Fatalf("nil data: %s %v", b, err)
	}
	if _, err := buildRequest("9", "x", []int{1}); err == nil {
		t.Fatal("non-object data accepted")
	}
	if _, err := buildRequest("9", "x", map[string]any{"f": func() {}}); err == nil {
		t.Fatal("unencodable data accepted")
	}
	if _, err := buildRequest(strings.Repeat("1", protocol.MaxRequestIDLen+1), "x", nil); err == nil {
		t.Fatal("long id accepted")
	}
}

func TestBuildRequestTooLarge(t *testing.T) {
	big := protocol.SendMessageRequest{Name: "n", Content: strings.Repeat("x", protocol.MaxFrameBytes)}
	_, err := buildRequest("1", protocol.OpSendMessage, big)
	if !errors.Is(err, protocol.NewError(protocol.CodeFrameTooLarge)) {
		t.Fatalf("err = %v, want CodeFrameTooLarge", err)
	}
	// Just under the limit passes: the check is on the whole frame.
	frame, _ := buildRequest("1", protocol.OpSendMessage, protocol.SendMessageRequest{Name: "n"})
	fit := protocol.SendMessageRequest{Name: "n", Content: strings.Repeat("x", protocol.MaxFrameBytes-len(frame))}
	if b, err := buildRequest("1", protocol.OpSendMessage, fit); err != nil || len(b) != protocol.MaxFrameBytes {
		t.Fatalf("len %d err %v", len(b), err)
	}
}

func TestCallResult(t *testing.T) {
	cl := newCall(1, protocol.OpPublish, nil)
	cl.complete(protocol.Frame{ID: "1", Code: protocol.CodeStreamExists, Msg: "stream already published: main"}, nil)
	err := cl.result(nil)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeStreamExists || pe.Msg != "stream already published: main" {
		t.Fatalf("err = %#v", err)
	}

	cl = newCall(2, protocol.OpPublish, nil)
	cl.complete(protocol.Frame{ID: "2", Data: json.RawMessage(`{"stream":{"id":"u_main","tag":"main"}}`)}, nil)
	var r protocol.PublishResponse
	if err := cl.result(&r); err != nil || r.Stream.ID != "u_main" {
		t.Fatalf("%+v %v", r, err)
	}

	cl = newCall(3, protocol.OpPublish, nil)
	cl.complete(protocol.Frame{ID: "3", Data: json.RawMessage(`{"stream":7}`)}, nil)
	if err := cl.result(&r); err == nil {
		t.Fatal("bad response data accepted")
	}

	cl = newCall(4, protocol.OpPublish, nil)
	cl.complete(protocol.Frame{}, ErrSessionChanged)
	if err := cl.result(&r); !errors.Is(err, ErrSessionChanged) {
		t.Fatal(err)
	}
}

func TestFatalJoinError(t *testing.T) {
	for _, c := range []protocol.Code{2001, 2002, 2003, 2004, 2005, 2007} {
		if !fatalJoinError(protocol.NewError(c)) {
			t.Errorf("%d not fatal", c)
		}
	}
	for _, c := range []protocol.Code{protocol.CodeRoomFull, protocol.CodeInternal, protocol.CodeResumeFailed, protocol.CodeRateLimited} {
		if fatalJoinError(protocol.NewError(c)) {
			t.Errorf("%d fatal", c)
		}
	}
	if fatalJoinError(errors.New("dial failed")) {
		t.Error("network error fatal")
	}
}

func TestTerminalCloseError(t *testing.T) {
	for code, want := range map[websocket.StatusCode]error{
		4001: ErrKicked, 4002: ErrKicked, 4003: ErrKicked, 4004: ErrRoomClosed,
	} {
		if err := terminalCloseError(code); !errors.Is(err, want) {
			t.Errorf("%d: %v", code, err)
		}
	}
	for _, code := range []websocket.StatusCode{-1, 1000, 1001, 1008, 1009, 4005} {
		if err := terminalCloseError(code); err != nil {
			t.Errorf("%d: %v", code, err)
		}
	}
}

func TestEventDecode(t *testing.T) {
	ev := Event{Name: protocol.EvMessage, Data: json.RawMessage(`{"from":"bob","content":"hi"}`)}
	var m protocol.MessageEvent
	if err := ev.Decode(&m); err != nil || m.From != "bob" || m.Content != "hi" {
		t.Fatalf("%+v %v", m, err)
	}
	if err := (Event{Name: "x", Data: json.RawMessage(`nope`)}).Decode(&m); err == nil {
		t.Fatal("bad data decoded")
	}
	if err := (Event{Name: "x"}).Decode(&m); err != nil {
		t.Fatal(err)
	}
}

func TestGoroutineID(t *testing.T) {
	here := goroutineID()
	if here == 0 {
		t.Fatal("no id")
	}
	ch := make(chan uint64)
	go func() { ch <- goroutineID() }()
	if there := <-ch; there == 0 || there == here {
		t.Fatalf("ids %d and %d", here, there)
	}
	if goroutineID() != here {
		t.Fatal("id not stable")
	}
}
