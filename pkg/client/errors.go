package client

import (
	"errors"
	"fmt"

	"github.com/coder/websocket"
	"github.com/minirtc/minirtc/pkg/protocol"
)

var (
	// ErrClosed is returned by requests made after Close or Leave, and
	// by requests still pending when the client was closed.
	ErrClosed = errors.New("client: closed")
	// ErrSessionChanged fails a request that had been sent on a session
	// the client then lost and replaced by joining again (see the
	// "rejoined" event). The server may or may not have executed it; the
	// new join snapshot says where things stand.
	ErrSessionChanged = errors.New("client: session lost and replaced by a new join; the request's outcome is unknown")
	// ErrKicked is the (wrapped) final error after the server removed the
	// session: kicked by an admin, replaced by the same user joining
	// elsewhere, or timed out. The kicked_off event carries the details.
	ErrKicked = errors.New("client: removed from the room")
	// ErrRoomClosed is the (wrapped) final error after the room was closed.
	ErrRoomClosed = errors.New("client: room closed")
	// ErrReservedOp is returned by Do for the operations that only the
	// client itself may send (join, resume, leave): use Join and Leave.
	ErrReservedOp = errors.New("client: operation is managed by the client; use Join or Leave")
)

// errGap means the server skipped an event sequence number. The protocol
// forbids it, so it is treated as a broken connection: the resume that
// follows asks for everything after the last event delivered.
var errGap = errors.New("client: gap in event sequence")

// errPingTimeout means nothing arrived for about two ping intervals.
var errPingTimeout = errors.New("client: no frame from the server for two ping intervals")

// fatalJoinError reports whether a refused (re)join should stop the client
// rather than be retried: the token or the user's standing is the problem,
// and asking again cannot change the answer.
func fatalJoinError(err error) bool {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case protocol.CodeTokenInvalid, protocol.CodeTokenSignature, protocol.CodeTokenExpired,
		protocol.CodeUnknownApp, protocol.CodeRoomNotAllowed, protocol.CodeBanned,
		protocol.CodeBadVersion:
		return true
	}
	return false
}

// Close codes the server uses (docs/protocol.md). Those that end a session
// for good stop the client even if the matching event got lost.
const (
	closeKicked     websocket.StatusCode = 4001
	closeReplaced   websocket.StatusCode = 4002
	closeTimeout    websocket.StatusCode = 4003
	closeRoomClosed websocket.StatusCode = 4004
)

// terminalCloseError maps a close code that ends the session to the error
// the client stops with, or nil when the client should reconnect.
func terminalCloseError(code websocket.StatusCode) error {
	switch code {
	case closeKicked:
		return fmt.Errorf("%w: kicked (close code %d)", ErrKicked, code)
	case closeReplaced:
		return fmt.Errorf("%w: replaced (close code %d)", ErrKicked, code)
	case closeTimeout:
		return fmt.Errorf("%w: timeout (close code %d)", ErrKicked, code)
	case closeRoomClosed:
		return fmt.Errorf("%w (close code %d)", ErrRoomClosed, code)
	}
	return nil
}
