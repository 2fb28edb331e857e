package signal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// opFunc runs one operation of a joined session.
type opFunc func(ctx context.Context, s *session, data json.RawMessage) (any, error)

// opSpec describes an operation: how to run it, whether it counts against
// the message rate limit, and whether it may simply run again when a client
// retries it (so its response need not be cached for resume).
type opSpec struct {
	run        opFunc
	message    bool
	repeatable bool
}

// ops are the operations available once joined (join and resume are
// handled before, since they create the session).
var ops = map[string]opSpec{
	protocol.OpPing:             {run: opPing, repeatable: true},
	protocol.OpLeave:            {run: opLeave},
	protocol.OpPublish:          {run: opPublish},
	protocol.OpUnpublish:        {run: opUnpublish},
	protocol.OpSubscribe:        {run: opSubscribe},
	protocol.OpUnsubscribe:      {run: opUnsubscribe},
	protocol.OpMute:             {run: opMute},
	protocol.OpSetAttributes:    {run: opSetAttributes, message: true},
	protocol.OpGetAttributes:    {run: opGetAttributes, repeatable: true},
	protocol.OpDeleteAttributes: {run: opDeleteAttributes, message: true},
	protocol.OpSendMessage:      {run: opSendMessage, message: true},
	protocol.OpReport:           {run: opReport},
	protocol.OpGetStreamStats:   {run: opGetStreamStats, repeatable: true},
	protocol.OpKick:             {run: opKick},
	protocol.OpCloseRoom:        {run: opCloseRoom},
	protocol.OpWebRTCAnswer:     {run: opWebRTCAnswer},
	protocol.OpWebRTCCandidate:  {run: opWebRTCCandidate, repeatable: true},
}

// dispatch runs one decoded request.
func (c *conn) dispatch(req protocol.Request) {
	spec, known := ops[req.Op]
	if known || req.Op == protocol.OpJoin || req.Op == protocol.OpResume {
		c.h.metrics.Requests.WithLabelValues(req.Op).Inc()
	} else {
		c.h.metrics.Requests.WithLabelValues("unknown").Inc()
	}
	switch req.Op {
	case protocol.OpJoin:
		c.handleJoin(req)
		return
	case protocol.OpResume:
		c.handleResume(req)
		return
	}
	if !known {
		c.reply(req.ID, nil, protocol.Errorf(protocol.CodeUnknownOp, "%q is not an operation of protocol %d", truncate(req.Op, 64), protocol.Version))
		return
	}
	s := c.currentSession()
	if s == nil {
		if req.Op == protocol.OpPing {
			c.reply(req.ID, &protocol.PingResponse{ServerTime: c.h.now().UnixMilli()}, nil)
			return
		}
		c.reply(req.ID, nil, protocol.Errorf(protocol.CodeNotJoined, "%s needs a session: send join (or resume) first", req.Op))
		return
	}
	if spec.repeatable {
		// Answered without touching the response cache: a session that
		// pings for hours must not fill it with ping answers.
		data, err := spec.run(c.ctx, s, req.Data)
		c.reply(req.ID, data, c.h.toProtocolError(err, req.Op))
		return
	}
	cached, skip := s.begin(req.ID)
	if cached != nil {
		c.enqueue(cached) // a retry after resume: answer without running again
		return
	}
	if skip {
		return // the first copy is still running; its response will come
	}
	// Checked after the cache, so that a retry of an answered message is
	// never refused; the refusal itself is not cached, so the same request
	// may be sent again later.
	if spec.message && !c.messages.take(c.h.now()) {
		s.abandon(req.ID)
		c.reply(req.ID, nil, protocol.Errorf(protocol.CodeRateLimited,
			"more than %g messages and attribute changes per second", c.h.cfg.MessageRate))
		return
	}
	data, err := spec.run(c.ctx, s, req.Data)
	perr := c.h.toProtocolError(err, req.Op)
	s.respond(req.ID, c.h.encodeResponse(req.ID, data, perr))
	if req.Op == protocol.OpLeave && perr == nil {
		c.logger().Info("left")
	}
}

func decode[T any](data json.RawMessage) (*T, error) {
	v := new(T)
	if err := protocol.DecodeData(data, v); err != nil {
		return nil, err
	}
	return v, nil
}

func opPing(_ context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.PingRequest](data)
	if err != nil {
		return nil, err
	}
	s.ack(req.LastSeq)
	return &protocol.PingResponse{ServerTime: s.h.now().UnixMilli()}, nil
}

func opLeave(_ context.Context, s *session, _ json.RawMessage) (any, error) {
	s.member.Leave(protocol.ReasonLeft)
	return nil, nil
}

func opPublish(ctx context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.PublishRequest](data)
	if err != nil {
		return nil, err
	}
	if err := checkTransport(req.Transport, "publish", protocol.TransportRTMP, protocol.TransportWebRTC); err != nil {
		return nil, err
	}
	if req.Transport == protocol.TransportWebRTC {
		return publishWebRTC(ctx, s, req)
	}
	if req.Offer != "" {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "offer goes with transport %q", protocol.TransportWebRTC)
	}
	st, perr := s.member.Publish(req.Tag, req.Media)
	if perr != nil {
		return nil, perr
	}
	resp := &protocol.PublishResponse{Stream: st}
	if s.h.media != nil {
		u, exp, err := s.h.media.PushURL(ctx, s.member.App(), s.member.RoomID(), st.ID, s.member.User())
		if err != nil {
			_ = s.member.Unpublish(st.Tag) // no URL, no stream
			return nil, fmt.Errorf("signing the push URL: %w", err)
		}
		resp.PushURL, resp.PushURLExpiresAt = u, exp.UnixMilli()
	}
	return resp, nil
}

func opUnpublish(_ context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.UnpublishRequest](data)
	if err != nil {
		return nil, err
	}
	return nil, s.member.Unpublish(req.Tag)
}

func opSubscribe(ctx context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.SubscribeRequest](data)
	if err != nil {
		return nil, err
	}
	if err := checkTransport(req.Transport, "subscribe", protocol.TransportURL, protocol.TransportWebRTC); err != nil {
		return nil, err
	}
	if req.Transport == protocol.TransportWebRTC {
		return subscribeWebRTC(ctx, s, req)
	}
	if s.h.media != nil {
		if err := s.h.media.CheckPlayURLs(s.member.App(), s.member.RoomID(), req.Streams); err != nil {
			return nil, err
		}
	}
	subs, serr := s.member.Subscribe(req.Streams)
	if serr != nil {
		return nil, serr
	}
	resp := &protocol.SubscribeResponse{Subscriptions: subs}
	if s.h.media != nil {
		resp.URLs = make(map[ids.StreamID]protocol.PlayURLs, len(req.Streams))
		for _, sid := range req.Streams {
			u, err := s.h.media.PlayURLs(ctx, s.member.App(), s.member.RoomID(), sid, s.member.User())
			if err != nil {
				return nil, fmt.Errorf("signing play URLs: %w", err)
			}
			resp.URLs[sid] = u
		}
	}
	return resp, nil
}

func opGetStreamStats(_ context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.GetStreamStatsRequest](data)
	if err != nil {
		return nil, err
	}
	if len(req.Streams) > s.h.rooms.Config().MaxSubscriptions {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "streams lists %d streams, the limit is %d", len(req.Streams), s.h.rooms.Config().MaxSubscriptions)
	}
	if !s.member.Present() {
		return nil, protocol.Errorf(protocol.CodeNotJoined, "you are no longer in room %s", s.member.RoomID())
	}
	resp := &protocol.GetStreamStatsResponse{Stats: []protocol.StreamStats{}}
	if s.h.media != nil {
		resp.Stats = append(resp.Stats, s.h.media.StreamStats(s.member.App(), s.member.RoomID(), req.Streams)...)
	}
	return resp, nil
}

func opUnsubscribe(_ context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.SubscribeRequest](data)
	if err != nil {
		return nil, err
	}
	subs, serr := s.member.Unsubscribe(req.Streams)
	if serr != nil {
		return nil, serr
	}
	if s.h.webrtc != nil && len(req.Streams) > 0 {
		s.h.webrtc.Unsubscribe(s.party(), req.Streams)
	}
	return &protocol.SubscribeResponse{Subscriptions: subs}, nil
}

func opMute(_ context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.MuteRequest](data)
	if err != nil {
		return nil, err
	}
	st, merr := s.member.Mute(req.Tag, req.AudioMuted, req.VideoDisabled)
	if merr != nil {
		return nil, merr
	}
	return &protocol.MuteResponse{Stream: st}, nil
}

func opSetAttributes(_ context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.SetAttributesRequest](data)
	if err != nil {
		return nil, err
	}
	attrs, aerr := s.member.SetAttributes(req.Attributes, req.Notify)
	if aerr != nil {
		return nil, aerr
	}
	return &protocol.AttributesResponse{Attributes: attrs}, nil
}

func opGetAttributes(_ context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.GetAttributesRequest](data)
	if err != nil {
		return nil, err
	}
	attrs, aerr := s.member.GetAttributes(req.Keys)
	if aerr != nil {
		return nil, aerr
	}
	return &protocol.AttributesResponse{Attributes: attrs}, nil
}

func opDeleteAttributes(_ context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.DeleteAttributesRequest](data)
	if err != nil {
		return nil, err
	}
	attrs, aerr := s.member.DeleteAttributes(req.Keys, req.Notify)
	if aerr != nil {
		return nil, aerr
	}
	return &protocol.AttributesResponse{Attributes: attrs}, nil
}

func opSendMessage(_ context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.SendMessageRequest](data)
	if err != nil {
		return nil, err
	}
	id, merr := s.member.SendMessage(req.Name, req.Content, req.To)
	if merr != nil {
		return nil, merr
	}
	s.h.metrics.Messages.Inc()
	return &protocol.SendMessageResponse{MessageID: id}, nil
}

// Report limits: a report is a small JSON object of client state.
const (
	maxReportKindLen   = 32
	maxReportDataBytes = 8 << 10
)

func opReport(ctx context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.ReportRequest](data)
	if err != nil {
		return nil, err
	}
	if err := ids.Validate("kind", req.Kind); err != nil || len(req.Kind) > maxReportKindLen {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "kind must be 1 to %d letters, digits, '_' or '-' (e.g. \"pusher\", \"player\")", maxReportKindLen)
	}
	if req.Stream != "" {
		if err := req.Stream.Validate(); err != nil {
			return nil, protocol.Errorf(protocol.CodeInvalidField, "%v", err)
		}
	}
	body := bytes.TrimSpace(req.Data)
	if len(body) == 0 || body[0] != '{' {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "data must be a JSON object")
	}
	if len(body) > maxReportDataBytes {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "data is %d bytes, the limit is %d", len(body), maxReportDataBytes)
	}
	id, serr := s.h.reports.AddReport(ctx, store.Report{
		App:     s.identity.App,
		Room:    s.roomID,
		User:    s.identity.User,
		Session: s.id,
		Kind:    req.Kind,
		Stream:  req.Stream,
		Data:    json.RawMessage(body),
		At:      s.h.now(),
	})
	if serr != nil {
		return nil, serr
	}
	return &protocol.ReportResponse{ReportID: id}, nil
}

func opKick(ctx context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.KickRequest](data)
	if err != nil {
		return nil, err
	}
	if req.BanSeconds < 0 {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "ban_seconds must not be negative")
	}
	return nil, s.member.Kick(ctx, req.User, time.Duration(req.BanSeconds)*time.Second, req.Reason)
}

func opCloseRoom(_ context.Context, s *session, data json.RawMessage) (any, error) {
	req, err := decode[protocol.CloseRoomRequest](data)
	if err != nil {
		return nil, err
	}
	return nil, s.member.CloseRoom(req.Reason)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
