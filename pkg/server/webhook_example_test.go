package server_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/minirtc/minirtc/pkg/protocol"
	"github.com/minirtc/minirtc/pkg/server"
)

// An app server checks each delivery before trusting it.
func ExampleVerifyWebhook() {
	secret := "whsec-example-0123456789" // minirtc app webhook show --app ID
	body := []byte(`{"id":"ev0a1b","type":"user_left","app":"app1","room":"lesson-42","user":"alice","seq":3,` +
		`"at":1740830400123,"data":{"user_id":"alice","reason":"timeout"}}`)
	sent := time.Unix(1740830400, 0)
	header := http.Header{}
	header.Set(server.WebhookSignatureHeader, server.SignWebhook(secret, sent, body)) // what minirtc sends

	ev, err := server.VerifyWebhook(secret, header, body, sent.Add(2*time.Second), 0)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	var left protocol.UserLeftEvent
	if err := ev.DecodeData(&left); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Type, ev.Room, ev.User, ev.Seq, left.Reason)

	// Ten minutes later the same request is a replay.
	_, err = server.VerifyWebhook(secret, header, body, sent.Add(10*time.Minute), 0)
	fmt.Println(errors.Is(err, server.ErrStaleTimestamp))
	// Output:
	// user_left lesson-42 alice 3 timeout
	// true
}

// WebhookHandler does the reading and checking; the function sees only
// verified events.
func ExampleWebhookHandler() {
	seen := map[string]bool{} // use your database in a real server
	http.Handle("/minirtc/webhook", server.WebhookHandler("whsec-example-0123456789", func(_ *http.Request, ev server.Event) error {
		if seen[ev.ID] {
			return nil // at-least-once: a repeat is acknowledged and ignored
		}
		seen[ev.ID] = true
		log.Printf("%s in room %s (seq %d) user %q", ev.Type, ev.Room, ev.Seq, ev.User)
		return nil
	}))
	// http.ListenAndServe(":8080", nil)
}
