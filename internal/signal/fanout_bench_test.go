package signal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// BenchmarkMessageTo15Receivers is one room message through the real
// server, end to end: a send_message frame from one of 16 WebSocket clients
// in a room until each of the 15 others has read its message event. The
// clients are bare WebSockets, so the time is the server's plus the
// loopback's, with no client library in between.
func BenchmarkMessageTo15Receivers(b *testing.B) {
	env := servertest.Start(b, func(c *config.Config) {
		// The benchmark sends as fast as it can: lift the per-connection
		// rate limits that protect a real server.
		c.Signal.RequestRate, c.Signal.RequestBurst = 1e9, 1e9
		c.Signal.MessageRate, c.Signal.MessageBurst = 1e9, 1e9
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const members = 16
	conns := make([]*websocket.Conn, members)
	for i := range conns {
		conns[i] = benchJoin(b, ctx, env.URL, env.Token(b, servertest.UserID(i), "fanout"), "fanout")
		defer conns[i].CloseNow()
	}
	// Receivers count message events; the sender's reader drains its
	// responses and the user_joined events.
	got := make(chan struct{}, 1024)
	done := make(chan struct{}, members)
	for i, ws := range conns {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				_, b, err := ws.Read(ctx)
				if err != nil {
					return
				}
				var f protocol.Frame
				if i > 0 && json.Unmarshal(b, &f) == nil && f.Event == protocol.EvMessage {
					got <- struct{}{}
				}
			}
		}()
	}
	sender := conns[0]
	b.ReportAllocs()
	b.ResetTimer()
	for n := range b.N {
		frame := `{"id":"m` + strconv.Itoa(n) + `","op":"send_message","data":{"name":"bench","content":"hello"}}`
		if err := sender.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			b.Fatal(err)
		}
		for range members - 1 {
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				b.Fatalf("message %d: not every receiver got it", n)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*(members-1))/b.Elapsed().Seconds(), "deliveries/s")
	cancel()
	for range members {
		<-done
	}
}

func benchJoin(b *testing.B, ctx context.Context, url, token, room string) *websocket.Conn {
	b.Helper()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		b.Fatal(err)
	}
	req := fmt.Sprintf(`{"id":"j","op":"join","data":{"token":%q,"room":%q}}`, token, room)
	if err := ws.Write(ctx, websocket.MessageText, []byte(req)); err != nil {
		b.Fatal(err)
	}
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		f, err := protocol.DecodeFrame(msg)
		if err != nil {
			b.Fatal(err)
		}
		if f.ID == "j" {
			if f.Code != protocol.CodeOK {
				b.Fatalf("join: %d %s", f.Code, f.Msg)
			}
			return ws
		}
	}
}
