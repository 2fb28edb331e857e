// Package client is the Go participant client of minirtc's signalling
// protocol v1 (package protocol; docs/protocol.md): it joins a room over the
// WebSocket at /ws, issues requests (publish, subscribe, attributes,
// messages, ...) and delivers the room's events.
//
// A Client keeps its session alive across network trouble. It pings the
// server at the interval the server asks for, notices a dead connection (a
// read or write error, or silence for about two ping intervals), reconnects
// with backoff and resumes the session, so that the server replays the events
// the client missed. Events reach the application through Events() exactly
// once and in order whatever happens underneath, and requests that were in
// flight when the connection dropped are sent again under the same request
// id after the resume (the server answers a repeated id from its cache, so a
// request is never executed twice). When a resume is impossible (the session
// expired, or the server restarted) the client joins again with its original
// token and reports a "rejoined" event with the new join snapshot, from
// which the application resynchronises its view of the room.
//
// The client stops for good — state StateDisconnected, Events() closed once
// drained — after Leave, Close, being kicked (or replaced by the same user
// joining elsewhere), the room being closed, or a rejoin refused for a token
// reason.
package client
