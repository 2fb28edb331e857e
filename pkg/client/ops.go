package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Do sends request op with data req (any value that encodes as a JSON
// object, or nil) and decodes the response data into resp (nil to ignore
// it). It is what the typed methods use, and serves operations added to the
// protocol later.
//
// While the client reconnects, Do waits (bounded by ctx). A request that was
// in flight when the connection dropped is sent again, under the same id,
// after the resume; the server executes it at most once. The error is a
// *protocol.Error when the server refused the request (a request too large
// to send is refused locally the same way, with CodeFrameTooLarge),
// ErrSessionChanged when the session was replaced by a rejoin while the
// request was in flight, ErrClosed (or the final error: ErrKicked,
// ErrRoomClosed...) once the client has stopped, or ctx's error. When ctx
// ends first, the request may still be executed by the server.
//
// join, resume and leave are reserved (ErrReservedOp): the client manages
// them (Join, Leave).
func (c *Client) Do(ctx context.Context, op string, req, resp any) error {
	switch op {
	case protocol.OpJoin, protocol.OpResume, protocol.OpLeave:
		return ErrReservedOp
	}
	return c.do(ctx, op, req, resp)
}

func (c *Client) do(ctx context.Context, op string, req, resp any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	num := c.nextID.Add(1)
	frame, err := buildRequest(strconv.FormatUint(num, 10), op, req)
	if err != nil {
		return err
	}
	cl := newCall(num, op, frame)

	c.mu.Lock()
	if c.done {
		err := c.doneErr
		c.mu.Unlock()
		return err
	}
	c.pending[cl.id] = cl
	cn := c.conn
	if cn != nil {
		cl.sends++
	}
	// Otherwise the call waits: the connection that comes next sends it.
	c.mu.Unlock()

	if cn != nil {
		_ = cn.send(cl.frame) // a failure leaves it pending for the next connection
	}
	select {
	case <-cl.done:
		return cl.result(resp)
	case <-ctx.Done():
		c.mu.Lock()
		if c.pending[cl.id] == cl {
			delete(c.pending, cl.id)
			c.mu.Unlock()
			return ctx.Err()
		}
		c.mu.Unlock()
		// Completed meanwhile: report what happened rather than a
		// cancellation that did not take.
		<-cl.done
		return cl.result(resp)
	}
}

// Ping sends a ping (the client also does so on its own, at the interval
// the server asks for) and returns the server's clock.
func (c *Client) Ping(ctx context.Context) (time.Time, error) {
	c.mu.Lock()
	last := c.lastSeq
	c.mu.Unlock()
	var r protocol.PingResponse
	if err := c.do(ctx, protocol.OpPing, protocol.PingRequest{LastSeq: last}, &r); err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(r.ServerTime), nil
}

// Publish announces a stream with the given tag ("" means ids.DefaultTag)
// and media, and returns it as the room sees it. Media itself flows over
// RTMP or WebRTC, at URLs the app gets elsewhere.
func (c *Client) Publish(ctx context.Context, tag ids.Tag, media protocol.MediaType) (protocol.Stream, error) {
	var r protocol.PublishResponse
	err := c.do(ctx, protocol.OpPublish, protocol.PublishRequest{Tag: tag, Media: media}, &r)
	return r.Stream, err
}

// PublishURL publishes like Publish and returns the whole answer, including
// the signed RTMP push URL: the stream is announced when media arrives there.
func (c *Client) PublishURL(ctx context.Context, tag ids.Tag, media protocol.MediaType) (protocol.PublishResponse, error) {
	var r protocol.PublishResponse
	err := c.do(ctx, protocol.OpPublish, protocol.PublishRequest{Tag: tag, Media: media}, &r)
	return r, err
}

// SubscribeURLs subscribes like Subscribe and returns the whole answer,
// including signed RTMP and HTTP-FLV play URLs per stream.
func (c *Client) SubscribeURLs(ctx context.Context, streams ...ids.StreamID) (protocol.SubscribeResponse, error) {
	var r protocol.SubscribeResponse
	err := c.do(ctx, protocol.OpSubscribe, protocol.SubscribeRequest{Streams: streams}, &r)
	return r, err
}

// StreamStats returns the server's stats of the given live streams of the
// room (all of them when none are given).
func (c *Client) StreamStats(ctx context.Context, streams ...ids.StreamID) ([]protocol.StreamStats, error) {
	var r protocol.GetStreamStatsResponse
	err := c.do(ctx, protocol.OpGetStreamStats, protocol.GetStreamStatsRequest{Streams: streams}, &r)
	return r.Stats, err
}

// Unpublish withdraws the stream with the given tag ("" means the default).
func (c *Client) Unpublish(ctx context.Context, tag ids.Tag) error {
	return c.do(ctx, protocol.OpUnpublish, protocol.UnpublishRequest{Tag: tag}, nil)
}

// Subscribe adds streams to the client's subscriptions and returns all of
// them after the change.
func (c *Client) Subscribe(ctx context.Context, streams ...ids.StreamID) ([]ids.StreamID, error) {
	return c.subscription(ctx, protocol.OpSubscribe, streams)
}

// Unsubscribe removes streams from the client's subscriptions and returns
// the remaining ones.
func (c *Client) Unsubscribe(ctx context.Context, streams ...ids.StreamID) ([]ids.StreamID, error) {
	return c.subscription(ctx, protocol.OpUnsubscribe, streams)
}

func (c *Client) subscription(ctx context.Context, op string, streams []ids.StreamID) ([]ids.StreamID, error) {
	if streams == nil {
		streams = []ids.StreamID{} // "streams": [] rather than null
	}
	var r protocol.SubscribeResponse
	err := c.do(ctx, op, protocol.SubscribeRequest{Streams: streams}, &r)
	return r.Subscriptions, err
}

// Mute sets the owner's mute states of the stream with the given tag; a nil
// pointer leaves that state as it is. It returns the updated stream.
func (c *Client) Mute(ctx context.Context, tag ids.Tag, audioMuted, videoDisabled *bool) (protocol.Stream, error) {
	var r protocol.MuteResponse
	err := c.do(ctx, protocol.OpMute, protocol.MuteRequest{Tag: tag, AudioMuted: audioMuted, VideoDisabled: videoDisabled}, &r)
	return r.Stream, err
}

// SetAttributes sets room attributes, optionally broadcasting notify with
// the change, and returns the room's attributes after it.
func (c *Client) SetAttributes(ctx context.Context, attrs map[string]string, notify *protocol.Notification) (map[string]string, error) {
	if attrs == nil {
		attrs = map[string]string{}
	}
	var r protocol.AttributesResponse
	err := c.do(ctx, protocol.OpSetAttributes, protocol.SetAttributesRequest{Attributes: attrs, Notify: notify}, &r)
	return r.Attributes, err
}

// GetAttributes returns the room attributes with the given keys, or all of
// them when no key is given.
func (c *Client) GetAttributes(ctx context.Context, keys ...string) (map[string]string, error) {
	var r protocol.AttributesResponse
	err := c.do(ctx, protocol.OpGetAttributes, protocol.GetAttributesRequest{Keys: keys}, &r)
	return r.Attributes, err
}

// DeleteAttributes deletes room attributes, optionally broadcasting notify
// with the change, and returns the room's attributes after it.
func (c *Client) DeleteAttributes(ctx context.Context, keys []string, notify *protocol.Notification) (map[string]string, error) {
	if keys == nil {
		keys = []string{}
	}
	var r protocol.AttributesResponse
	err := c.do(ctx, protocol.OpDeleteAttributes, protocol.DeleteAttributesRequest{Keys: keys, Notify: notify}, &r)
	return r.Attributes, err
}

// SendMessage sends a message to the users in to, or to everyone else in
// the room when to is empty, and returns its id.
func (c *Client) SendMessage(ctx context.Context, name, content string, to ...ids.UserID) (string, error) {
	var r protocol.SendMessageResponse
	err := c.do(ctx, protocol.OpSendMessage, protocol.SendMessageRequest{Name: name, Content: content, To: to}, &r)
	return r.MessageID, err
}

// Report stores a quality or state report of the given kind (optionally
// about one stream) on the server; data is any JSON-encodable value (a
// json.RawMessage is sent as is). It returns the report's id.
func (c *Client) Report(ctx context.Context, kind string, stream ids.StreamID, data any) (int64, error) {
	raw, ok := data.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			return 0, fmt.Errorf("client: encoding report data: %w", err)
		}
	}
	var r protocol.ReportResponse
	err := c.do(ctx, protocol.OpReport, protocol.ReportRequest{Kind: kind, Stream: stream, Data: raw}, &r)
	return r.ReportID, err
}

// Kick removes user from the room (admin grant) and, with a positive ban,
// keeps them out for that long (rounded up to whole seconds).
func (c *Client) Kick(ctx context.Context, user ids.UserID, ban time.Duration, reason string) error {
	var secs int64
	if ban > 0 {
		secs = int64((ban + time.Second - 1) / time.Second)
	}
	return c.do(ctx, protocol.OpKick, protocol.KickRequest{User: user, BanSeconds: secs, Reason: reason}, nil)
}

// CloseRoom closes the room for everyone (admin grant). Everyone is
// disconnected, this client included: it stops with ErrRoomClosed.
func (c *Client) CloseRoom(ctx context.Context, reason string) error {
	return c.do(ctx, protocol.OpCloseRoom, protocol.CloseRoomRequest{Reason: reason}, nil)
}
