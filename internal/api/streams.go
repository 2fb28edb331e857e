package api

import (
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Streams, server-side mute, room attributes and messages.

func (a *API) listStreams(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	id, st, err := a.roomState(c)
	if err != nil {
		return 0, nil, err
	}
	stats := map[ids.StreamID]protocol.StreamStats{}
	for _, s := range a.d.Media.StreamStats(c.app, id, nil) {
		stats[s.Stream] = s
	}
	out := streamsJSON{Streams: []streamJSON{}}
	for _, p := range st.Participants {
		for _, s := range p.Streams {
			j := streamJSON{Stream: s}
			if m, ok := stats[s.ID]; ok {
				readers := m.Readers
				if readers == nil {
					readers = map[string]int{}
				}
				j.Stats = &statsJSON{BitrateIn: m.BitrateIn, BitrateOut: m.BitrateOut, FPS: m.FPS, GOPFrames: m.GOPFrames,
					GOPMs: m.GOPMs, Readers: readers, Dropped: m.Dropped, Pushing: m.Pushing}
			}
			out.Streams = append(out.Streams, j)
		}
	}
	return http.StatusOK, out, nil
}

type muteRequest struct {
	AudioMuted    *bool `json:"audio_muted"`
	VideoDisabled *bool `json:"video_disabled"`
}

func (a *API) muteStream(c *call) (int, any, *Error) {
	id, err := c.roomID()
	if err != nil {
		return 0, nil, err
	}
	sid := ids.StreamID(c.r.PathValue("stream"))
	if err := sid.Validate(); err != nil {
		return 0, nil, fieldErr("stream", "%v", err)
	}
	var req muteRequest
	if err := c.body(&req, false); err != nil {
		return 0, nil, err
	}
	if req.AudioMuted == nil && req.VideoDisabled == nil {
		return 0, nil, fieldErr("audio_muted", "give audio_muted, video_disabled or both")
	}
	st, rerr := a.d.Rooms.MuteStream(c.app, id, sid, req.AudioMuted, req.VideoDisabled)
	if rerr != nil {
		field := "audio_muted"
		if req.AudioMuted == nil {
			field = "video_disabled"
		}
		return 0, nil, fromRoom(rerr, field)
	}
	return http.StatusOK, streamOneJSON{Stream: st}, nil
}

func (a *API) getAttributes(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	id, err := c.roomID()
	if err != nil {
		return 0, nil, err
	}
	attrs, rerr := a.d.Rooms.Attributes(c.app, id)
	if rerr != nil {
		return 0, nil, fromRoom(rerr, "")
	}
	return http.StatusOK, attributesJSON{Attributes: attrs}, nil
}

type notifyRequest struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

type setAttributesRequest struct {
	Attributes map[string]string `json:"attributes"`
	Notify     *notifyRequest    `json:"notify"`
}

type deleteAttributesRequest struct {
	Keys   []string       `json:"keys"`
	Notify *notifyRequest `json:"notify"`
}

// fieldCode is a 400 about one field with a code other than 1003.
func fieldCode(code protocol.Code, field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// checkLabel checks a short label (attribute key, message name): 1 to limit
// bytes (else tooLong), no control characters.
func checkLabel(field, s string, limit int, tooLong protocol.Code) *Error {
	if s == "" {
		return fieldErr(field, "%s is empty", field)
	}
	if len(s) > limit {
		return fieldCode(tooLong, field, "%s is %d bytes, the limit is %d", field, len(s), limit)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fieldErr(field, "%s contains control character %U", field, r)
		}
	}
	return nil
}

func (a *API) checkNotify(n *notifyRequest) (*protocol.Notification, *Error) {
	if n == nil {
		return nil, nil
	}
	cfg := a.d.Rooms.Config()
	if err := checkLabel("notify.name", n.Name, cfg.MaxMessageNameBytes, protocol.CodeMessageTooLarge); err != nil {
		return nil, err
	}
	if len(n.Content) > cfg.MaxMessageContentBytes {
		return nil, fieldCode(protocol.CodeMessageTooLarge, "notify.content", "notify.content is %d bytes, the limit is %d", len(n.Content), cfg.MaxMessageContentBytes)
	}
	return &protocol.Notification{Name: n.Name, Content: n.Content}, nil
}

func (a *API) setAttributes(c *call) (int, any, *Error) {
	id, err := c.roomID()
	if err != nil {
		return 0, nil, err
	}
	var req setAttributesRequest
	if err := c.body(&req, false); err != nil {
		return 0, nil, err
	}
	cfg := a.d.Rooms.Config()
	if len(req.Attributes) == 0 {
		return 0, nil, fieldErr("attributes", "attributes is empty; give at least one key")
	}
	if len(req.Attributes) > cfg.MaxAttributes {
		return 0, nil, fieldCode(protocol.CodeAttributeLimit, "attributes", "%d attributes in one request, a room holds at most %d", len(req.Attributes), cfg.MaxAttributes)
	}
	for k, v := range req.Attributes {
		if err := checkLabel("attributes", k, cfg.MaxAttributeKeyBytes, protocol.CodeAttributeLimit); err != nil {
			err.Message = fmt.Sprintf("key %q: %s", truncate(k, 40), err.Message)
			return 0, nil, err
		}
		if len(v) > cfg.MaxAttributeValueBytes {
			return 0, nil, fieldCode(protocol.CodeAttributeLimit, "attributes", "value of %q is %d bytes, the limit is %d", truncate(k, 40), len(v), cfg.MaxAttributeValueBytes)
		}
	}
	notify, nerr := a.checkNotify(req.Notify)
	if nerr != nil {
		return 0, nil, nerr
	}
	attrs, rerr := a.d.Rooms.SetAttributes(c.app, id, req.Attributes, notify)
	if rerr != nil {
		return 0, nil, fromRoom(rerr, "attributes")
	}
	return http.StatusOK, attributesJSON{Attributes: attrs}, nil
}

func (a *API) deleteAttributes(c *call) (int, any, *Error) {
	id, err := c.roomID()
	if err != nil {
		return 0, nil, err
	}
	var req deleteAttributesRequest
	if err := c.body(&req, false); err != nil {
		return 0, nil, err
	}
	cfg := a.d.Rooms.Config()
	if len(req.Keys) == 0 {
		return 0, nil, fieldErr("keys", "keys is empty; give at least one key")
	}
	if len(req.Keys) > cfg.MaxAttributes {
		return 0, nil, fieldCode(protocol.CodeAttributeLimit, "keys", "%d keys in one request, a room holds at most %d", len(req.Keys), cfg.MaxAttributes)
	}
	notify, nerr := a.checkNotify(req.Notify)
	if nerr != nil {
		return 0, nil, nerr
	}
	attrs, rerr := a.d.Rooms.DeleteAttributes(c.app, id, req.Keys, notify)
	if rerr != nil {
		return 0, nil, fromRoom(rerr, "keys")
	}
	return http.StatusOK, attributesJSON{Attributes: attrs}, nil
}

type messageRequest struct {
	Name    string       `json:"name"`
	Content string       `json:"content"`
	To      []ids.UserID `json:"to"`
}

func (a *API) sendMessage(c *call) (int, any, *Error) {
	id, err := c.roomID()
	if err != nil {
		return 0, nil, err
	}
	var req messageRequest
	if err := c.body(&req, false); err != nil {
		return 0, nil, err
	}
	cfg := a.d.Rooms.Config()
	if err := checkLabel("name", req.Name, cfg.MaxMessageNameBytes, protocol.CodeMessageTooLarge); err != nil {
		return 0, nil, err
	}
	if len(req.Content) > cfg.MaxMessageContentBytes {
		return 0, nil, fieldCode(protocol.CodeMessageTooLarge, "content", "content is %d bytes, the limit is %d", len(req.Content), cfg.MaxMessageContentBytes)
	}
	if !utf8.ValidString(req.Content) {
		return 0, nil, fieldErr("content", "content is not valid UTF-8")
	}
	if len(req.To) > cfg.MaxParticipants {
		return 0, nil, fieldErr("to", "to lists %d users, more than a room holds (%d)", len(req.To), cfg.MaxParticipants)
	}
	for i, u := range req.To {
		if err := u.Validate(); err != nil {
			return 0, nil, fieldErr(fmt.Sprintf("to[%d]", i), "%v", err)
		}
	}
	mid, rerr := a.d.Rooms.SendMessage(c.app, id, req.Name, req.Content, req.To)
	if rerr != nil {
		return 0, nil, fromRoom(rerr, "to")
	}
	return http.StatusOK, messageSentJSON{MessageID: mid}, nil
}
