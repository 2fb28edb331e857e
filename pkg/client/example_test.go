package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// A participant joins a room, publishes its main stream, and follows the
// room's events until it is told to go.
func Example() {
	ctx := context.Background()
	token := "eyJ..." // minted by the app server (pkg/server) or `minirtc token`
	c, err := client.Join(ctx, "ws://localhost:7880/ws", token, "lobby", nil)
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Code == protocol.CodeTokenExpired {
			log.Fatal("get a fresh token")
		}
		log.Fatal(err)
	}
	defer c.Leave(context.Background())

	snap := c.Joined()
	fmt.Println("in room", snap.Room.ID, "with", len(snap.Participants), "others")

	if _, err := c.Publish(ctx, "main", protocol.MediaAudioVideo); err != nil {
		log.Fatal(err)
	}
	for ev := range c.Events() { // closed when the client stops
		switch ev.Name {
		case protocol.EvMessage:
			var m protocol.MessageEvent
			if ev.Decode(&m) == nil {
				fmt.Printf("%s says %s\n", m.From, m.Content)
			}
		case client.EvRejoined:
			// The session was lost: rebuild the view of the room.
			var jr protocol.JoinResponse
			_ = ev.Decode(&jr)
		case client.EvConnectionState:
			var sc client.StateChange
			_ = ev.Decode(&sc)
			fmt.Println("connection:", sc.State, sc.Error)
		}
	}
	fmt.Println("stopped:", c.Err())
}

// Operations the typed methods do not cover yet go through Do.
func ExampleClient_Do() {
	var c *client.Client // from client.Join
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var resp protocol.AttributesResponse
	err := c.Do(ctx, protocol.OpGetAttributes, protocol.GetAttributesRequest{Keys: []string{"topic"}}, &resp)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Attributes["topic"])
}

// State changes can be followed with a callback as well as through events.
func ExampleOptions_onState() {
	opts := &client.Options{
		DialTimeout: 5 * time.Second,
		OnState: func(s client.State, err error) {
			log.Printf("connection %s (%v)", s, err)
		},
	}
	c, err := client.Join(context.Background(), "ws://localhost:7880/ws", "eyJ...", "lobby", opts)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}
