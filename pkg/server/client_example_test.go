package server_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/minirtc/minirtc/pkg/protocol"
	"github.com/minirtc/minirtc/pkg/server"
)

// An app server hands its users tokens and moderates through the REST API.
func ExampleNewClient() {
	c, err := server.NewClient("http://localhost:7880", server.WithApp("app2hgc8o9v5tm4t5ee", "the-app-secret"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// A token for a student: locally signed, no call to the server.
	tok, err := c.SignToken(server.Claims{User: "bob", Room: "lesson-42", Name: "Bob",
		Grants: []server.Grant{server.GrantPublish, server.GrantSubscribe, server.GrantData}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("give the client app:", tok)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = c.Kick(ctx, "lesson-42", "bob", server.KickRequest{BanSeconds: 600, Reason: "spam"})
	var ae *server.APIError
	switch {
	case errors.As(err, &ae) && ae.Code == protocol.CodeUserNotFound:
		fmt.Println("bob had left already")
	case err != nil:
		log.Fatal(err)
	}
}

// The operator manages apps and acts inside any of them with ForApp.
func ExampleClient_ForApp() {
	op, err := server.NewClient("http://localhost:7880", server.WithOperatorKey("the-operator-key"))
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	ctx := context.Background()
	app, err := op.CreateApp(ctx, server.CreateAppRequest{Name: "Classroom", Limits: &server.LimitsRequest{MaxParticipants: new(20)}})
	if err != nil {
		log.Fatal(err)
	}
	rooms, err := op.ForApp(app.ID).ListRooms(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(app.ID, app.Secret, len(rooms))
}
