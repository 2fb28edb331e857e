// Command join is a tiny minirtc participant: it joins a room, prints every
// event as one line of JSON, optionally publishes its main stream and sends
// a message, and leaves on Ctrl-C.
//
//	go run ./examples/join --url ws://localhost:7880/ws --token "$TOKEN" --room demo --publish --message hello
//
// The first line is the join snapshot ("joined"); then come "published" and
// "message_sent" when asked for, and the room's events as they happen
// ({"seq":3,"event":"user_joined","data":{...}}), including the client's
// own "connection_state" and "rejoined".
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

type config struct {
	url, token string
	room       ids.RoomID
	publish    bool
	message    string
	verbose    bool
}

func main() {
	var cfg config
	var room string
	flag.StringVar(&cfg.url, "url", "ws://localhost:7880/ws", "signalling WebSocket URL")
	flag.StringVar(&cfg.token, "token", "", "join token (minirtc token ...)")
	flag.StringVar(&room, "room", "", "room id")
	flag.BoolVar(&cfg.publish, "publish", false, "publish the main stream (audio_video)")
	flag.StringVar(&cfg.message, "message", "", "send this message to the room after joining")
	flag.BoolVar(&cfg.verbose, "v", false, "log the client's diagnostics to stderr")
	flag.Parse()
	cfg.room = ids.RoomID(room)
	if cfg.token == "" || cfg.room == "" {
		fmt.Fprintln(os.Stderr, "usage: join --url ws://host:7880/ws --token T --room R [--publish] [--message TEXT] [-v]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "join:", err)
		os.Exit(1)
	}
}

// run joins and prints until ctx ends (then leaves) or the client stops by
// itself (kicked, room closed...).
func run(ctx context.Context, cfg config, w io.Writer) error {
	opts := &client.Options{}
	if cfg.verbose {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	c, err := client.Join(ctx, cfg.url, cfg.token, cfg.room, opts)
	if err != nil {
		return err
	}
	out := json.NewEncoder(w)
	out.SetEscapeHTML(false) // URLs stay copy-pasteable: "&", not "\u0026"
	// The join snapshot first, as a pseudo-event, so that the output alone
	// shows the whole state of the room.
	_ = out.Encode(line{Event: "joined", Data: c.Joined()})

	if err := setup(ctx, c, cfg, out); err != nil {
		_ = c.Leave(context.Background())
		return err
	}
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok { // stopped by itself: kicked, room closed...
				return c.Err()
			}
			l := line{Seq: ev.Seq, Event: ev.Name}
			if len(ev.Data) > 0 {
				l.Data = ev.Data
			}
			_ = out.Encode(l)
		case <-ctx.Done():
			lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return c.Leave(lctx)
		}
	}
}

// setup publishes and sends the message, as asked.
func setup(ctx context.Context, c *client.Client, cfg config, out *json.Encoder) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if cfg.publish {
		// The answer carries push_url: push media there (ffmpeg, OBS,
		// live-pusher) and the room announces the stream when it flows.
		pub, err := c.PublishURL(ctx, ids.DefaultTag, protocol.MediaAudioVideo)
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		_ = out.Encode(line{Event: "published", Data: pub})
	}
	if cfg.message != "" {
		mid, err := c.SendMessage(ctx, "chat", cfg.message)
		if err != nil {
			return fmt.Errorf("send message: %w", err)
		}
		_ = out.Encode(line{Event: "message_sent", Data: map[string]string{"message_id": mid}})
	}
	return nil
}

// line is one line of output.
type line struct {
	Seq   uint64 `json:"seq,omitempty"`
	Event string `json:"event"`
	Data  any    `json:"data,omitempty"`
}
