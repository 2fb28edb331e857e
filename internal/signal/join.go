package signal

import (
	"errors"
	"strings"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// handleJoin verifies the token, joins the room and answers with the room
// as it was at that moment; events that happen after are held back until the
// response is queued, so the client applies them on top of it.
func (c *conn) handleJoin(req protocol.Request) {
	if c.currentSession() != nil {
		c.reply(req.ID, nil, protocol.Errorf(protocol.CodeAlreadyJoined, "this connection already has a session; open another connection to join another room"))
		return
	}
	var jr protocol.JoinRequest
	if err := protocol.DecodeData(req.Data, &jr); err != nil {
		c.reply(req.ID, nil, err)
		return
	}
	identity, err := c.h.checkJoin(c, jr)
	if err != nil {
		c.reply(req.ID, nil, err)
		return
	}
	s := newSession(c.h, identity, jr.Room, c)
	c.setSession(s)
	joined, jerr := c.h.rooms.Join(c.ctx, identity, jr.Room, s)
	if jerr != nil {
		c.setSession(nil)
		c.reply(req.ID, nil, c.h.protocolError(jerr, "join"))
		return
	}
	s.setMember(joined.Member)
	c.h.register(s)
	c.log.Store(c.logger().With("session", s.id, "app", identity.App, "room", jr.Room, "user", identity.User))
	c.logger().Info("joined")
	others := joined.Others
	if others == nil {
		others = []protocol.Participant{}
	}
	c.reply(req.ID, &protocol.JoinResponse{
		Protocol:         protocol.Version,
		SessionID:        s.id,
		ResumeToken:      s.resumeToken(),
		Room:             joined.Room,
		Self:             joined.Self,
		Participants:     others,
		PingIntervalMs:   c.h.cfg.PingInterval.Milliseconds(),
		SessionTimeoutMs: c.h.cfg.SessionTimeout.Milliseconds(),
		ServerTime:       c.h.now().UnixMilli(),
		WebRTC:           c.h.webrtcInfo(),
	}, nil)
	s.release()
}

// checkJoin validates a join request and its token, returning who joins.
func (h *Handler) checkJoin(c *conn, jr protocol.JoinRequest) (room.Identity, *protocol.Error) {
	if jr.Protocol != 0 && jr.Protocol != protocol.Version {
		return room.Identity{}, protocol.Errorf(protocol.CodeBadVersion, "this server speaks protocol %d, the client asked for %d", protocol.Version, jr.Protocol)
	}
	if jr.Token == "" {
		return room.Identity{}, protocol.Errorf(protocol.CodeInvalidField, "token is empty")
	}
	if err := jr.Room.Validate(); err != nil {
		return room.Identity{}, protocol.Errorf(protocol.CodeInvalidField, "%v", err)
	}
	claims, err := h.tokens.Verify(c.ctx, jr.Token)
	if err != nil {
		return room.Identity{}, h.tokenError(err)
	}
	if claims.Room != "" && claims.Room != jr.Room {
		return room.Identity{}, protocol.Errorf(protocol.CodeRoomNotAllowed, "the token is for room %s, not %s", claims.Room, jr.Room)
	}
	names := make([]string, len(claims.Grants))
	for i, g := range claims.Grants {
		names[i] = string(g)
	}
	grants, unknown := room.GrantsFromNames(names)
	if len(unknown) > 0 {
		return room.Identity{}, protocol.Errorf(protocol.CodeTokenInvalid, "unknown grants %s", strings.Join(unknown, ", "))
	}
	return room.Identity{App: claims.App, User: claims.User, Name: claims.Name, Metadata: claims.Metadata, Grants: grants}, nil
}

// tokenError maps a verification failure to its protocol code.
func (h *Handler) tokenError(err error) *protocol.Error {
	var code protocol.Code
	switch {
	case errors.Is(err, auth.ErrMalformed):
		code = protocol.CodeTokenInvalid
	case errors.Is(err, auth.ErrBadSignature):
		code = protocol.CodeTokenSignature
	case errors.Is(err, auth.ErrExpired), errors.Is(err, auth.ErrNotYetValid):
		code = protocol.CodeTokenExpired
	case errors.Is(err, auth.ErrUnknownApp):
		code = protocol.CodeUnknownApp
	default:
		h.log.Error("token verification failed", "err", err)
		return protocol.Errorf(protocol.CodeInternal, "could not verify the token; try again")
	}
	return &protocol.Error{Code: code, Msg: err.Error()}
}

// handleResume attaches an existing session to this connection and replays
// the events the client missed.
func (c *conn) handleResume(req protocol.Request) {
	if c.currentSession() != nil {
		c.reply(req.ID, nil, protocol.Errorf(protocol.CodeAlreadyJoined, "this connection already has a session"))
		return
	}
	var rr protocol.ResumeRequest
	if err := protocol.DecodeData(req.Data, &rr); err != nil {
		c.reply(req.ID, nil, err)
		return
	}
	s := c.h.lookup(rr.ResumeToken)
	if s == nil {
		c.h.metrics.Resumes.WithLabelValues("failed").Inc()
		c.reply(req.ID, nil, protocol.Errorf(protocol.CodeResumeFailed, "unknown or expired resume token; join again"))
		return
	}
	old, replayed, err := s.attach(c, rr.LastSeq)
	if err != nil {
		c.h.metrics.Resumes.WithLabelValues("failed").Inc()
		c.reply(req.ID, nil, err)
		return
	}
	c.setSession(s)
	s.touch(c.h.now())
	if old != nil && old != c {
		old.closeAfterFlush(closeResumed, "session resumed on another connection")
	}
	c.h.metrics.Resumes.WithLabelValues("ok").Inc()
	c.log.Store(c.logger().With("session", s.id, "app", s.identity.App, "room", s.roomID, "user", s.identity.User))
	c.logger().Info("resumed", "last_seq", rr.LastSeq, "replayed", replayed)
	c.reply(req.ID, &protocol.ResumeResponse{
		SessionID:        s.id,
		Replayed:         replayed,
		PingIntervalMs:   c.h.cfg.PingInterval.Milliseconds(),
		SessionTimeoutMs: c.h.cfg.SessionTimeout.Milliseconds(),
		ServerTime:       c.h.now().UnixMilli(),
	}, nil)
	s.release()
}

// toProtocolError is protocolError that passes nil through.
func (h *Handler) toProtocolError(err error, op string) *protocol.Error {
	if err == nil {
		return nil
	}
	return h.protocolError(err, op)
}

// protocolError turns an error from the room or the store into the
// protocol's form; unexpected errors are logged and reported as internal.
func (h *Handler) protocolError(err error, op string) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	h.log.Error("operation failed", "op", op, "err", err)
	return protocol.Errorf(protocol.CodeInternal, "%s failed on the server; try again", op)
}

var _ room.Sink = (*session)(nil)
