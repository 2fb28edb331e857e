// Package server is the Go SDK for app servers of minirtc: the piece of a
// product that logs its users in and decides who may do what in which room.
// It does three things, with no dependency on the server's internals:
//
//   - SignToken makes the tokens users join rooms with (JWT, HS256, signed
//     with the app's secret; the claims of docs/protocol.md §6), locally,
//     without a call to the server.
//   - Client calls every route of the REST API (docs/api.md,
//     docs/openapi.yaml) with typed requests and answers: apps (operator
//     key), tokens, rooms, participants (update, kick, ban), streams (mute),
//     room attributes and messages, quality reports, ingest URLs, usage
//     figures, webhook settings and deliveries. Errors of the API come back
//     as *APIError with the HTTP status, the code, the message and the
//     field at fault.
//   - VerifyWebhook and WebhookHandler check the signature of webhook
//     deliveries and decode their events (docs/webhooks.md).
//
// A typical app server:
//
//	c, err := server.NewClient("http://localhost:7880", server.WithApp(appID, appSecret))
//	if err != nil { ... }
//	defer c.Close()
//
//	// On login: a token for the user's room, with the grants of its role.
//	tok, err := c.SignToken(server.Claims{User: "alice", Room: "lesson-42", Name: "Alice",
//		Grants: []server.Grant{server.GrantPublish, server.GrantSubscribe, server.GrantData}})
//
//	// Moderation: remove bob for ten minutes.
//	err = c.Kick(ctx, "lesson-42", "bob", server.KickRequest{BanSeconds: 600, Reason: "spam"})
//	var ae *server.APIError
//	if errors.As(err, &ae) && ae.Code == protocol.CodeUserNotFound { ... }
//
//	// Events: verified webhook deliveries.
//	http.Handle("/minirtc/webhook", server.WebhookHandler(webhookSecret, handle))
//
// An app-scoped client (WithApp) signs short-lived admin tokens for itself
// (10 minutes by default, renewed when a quarter is left) and can call
// every route of its app. An operator client (WithOperatorKey) manages apps
// and, through ForApp, calls any app's routes. Every call takes a context;
// one without a deadline gets the client's timeout (30 s by default). The
// client does not retry on its own: APIError.Temporary says when a retry
// may help, and only the caller knows whether its call is safe to repeat.
//
// examples/app-server is a complete small app server built on this package.
package server
