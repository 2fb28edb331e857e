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
//
// The app server may change a participant through the REST API
// (docs/api.md); the events arrive like any other, to be decoded by the
// application: participant_updated (protocol.ParticipantUpdatedEvent) and,
// for the owner of a stream, force_mute (protocol.ForceMuteEvent), which
// must be obeyed. A WebRTCPublication obeys by itself: while the app server
// keeps its audio muted WriteAudio sends Opus silence instead, while it
// keeps its video off WriteVideo sends nothing, then resumes at a keyframe
// (WebRTCPublication.Locked tells which). A stream pushed over RTMP to the
// URL of PublishURL comes from the caller's own encoder: the caller must
// mute it on force_mute, or the app server will kick the participant.
package client
