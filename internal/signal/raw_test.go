package signal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/minirtc/minirtc/pkg/protocol"
)

// raw is a deliberately dumb protocol client for testing the server with
// exactly the frames a test wants, including wrong ones.
type raw struct {
	t      *testing.T
	ws     *websocket.Conn
	next   int
	events []protocol.Frame // events read while waiting for a response
	closed error
}

func dialRaw(t *testing.T, url string) *raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(4 << 20)
	r := &raw{t: t, ws: ws}
	t.Cleanup(func() { ws.CloseNow() })
	return r
}

func (r *raw) sendFrame(b []byte) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.ws.Write(ctx, websocket.MessageText, b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// send writes a request and returns its id.
func (r *raw) send(op string, data any) string {
	r.t.Helper()
	r.next++
	id := fmt.Sprint(r.next)
	r.sendWithID(id, op, data)
	return id
}

func (r *raw) sendWithID(id, op string, data any) {
	r.t.Helper()
	req := map[string]any{"id": id, "op": op}
	if data != nil {
		req["data"] = data
	}
	b, err := json.Marshal(req)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sendFrame(b)
}

// read returns the next frame, failing the test after 5 s.
func (r *raw) read() protocol.Frame {
	r.t.Helper()
	f, err := r.tryRead(5 * time.Second)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return f
}

func (r *raw) tryRead(timeout time.Duration) (protocol.Frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, b, err := r.ws.Read(ctx)
	if err != nil {
		r.closed = err
		return protocol.Frame{}, err
	}
	return protocol.DecodeFrame(b)
}

// response reads until the response to id, keeping events for later.
func (r *raw) response(id string) protocol.Frame {
	r.t.Helper()
	for {
		f := r.read()
		if f.IsEvent() {
			r.events = append(r.events, f)
			continue
		}
		if f.ID != id {
			r.t.Fatalf("got response to %q while waiting for %q: %+v", f.ID, id, f)
		}
		return f
	}
}

// call sends a request and waits for its response.
func (r *raw) call(op string, data any) protocol.Frame {
	r.t.Helper()
	return r.response(r.send(op, data))
}

// ok calls and requires success, decoding the data into out (if not nil).
func (r *raw) ok(op string, data any, out any) {
	r.t.Helper()
	f := r.call(op, data)
	if f.Code != 0 {
		r.t.Fatalf("%s: code %d: %s", op, f.Code, f.Msg)
	}
	if out != nil {
		if err := json.Unmarshal(f.Data, out); err != nil {
			r.t.Fatalf("%s: decoding %s: %v", op, f.Data, err)
		}
	}
}

// wantCode calls and requires the given error code.
func (r *raw) wantCode(op string, data any, code protocol.Code) protocol.Frame {
	r.t.Helper()
	f := r.call(op, data)
	if f.Code != code {
		r.t.Fatalf("%s: want code %d, got %d (%s)", op, code, f.Code, f.Msg)
	}
	return f
}

// event returns the next event (buffered first), failing on a response.
func (r *raw) event() protocol.Frame {
	r.t.Helper()
	if len(r.events) > 0 {
		f := r.events[0]
		r.events = r.events[1:]
		return f
	}
	f := r.read()
	if !f.IsEvent() {
		r.t.Fatalf("want an event, got response %+v", f)
	}
	return f
}

// eventNamed skips events until one with the given name.
func (r *raw) eventNamed(name string) protocol.Frame {
	r.t.Helper()
	for {
		if f := r.event(); f.Event == name {
			return f
		}
	}
}

// join joins and returns the join response.
func (r *raw) join(token, room string) protocol.JoinResponse {
	r.t.Helper()
	var jr protocol.JoinResponse
	r.ok(protocol.OpJoin, protocol.JoinRequest{Token: token, Room: roomID(room)}, &jr)
	return jr
}

// closedWith waits for the server to close the connection and returns the
// close status.
func (r *raw) closedWith() websocket.StatusCode {
	r.t.Helper()
	for {
		_, err := r.tryRead(5 * time.Second)
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
}
