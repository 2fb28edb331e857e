// Package protocol defines minirtc's signalling protocol, version 1: the JSON
// messages exchanged over the WebSocket at /ws. docs/protocol.md describes the
// same protocol for people; this package is its machine-readable twin, shared
// by the server (internal/signal) and the Go client (pkg/client).
//
// Three kinds of frame travel on the socket, each a JSON object in one text
// message:
//
//	client → server  request   {"id":"7","op":"publish","data":{...}}
//	server → client  response  {"id":"7","code":0,"msg":"ok","data":{...}}
//	server → client  event     {"seq":42,"event":"user_joined","data":{...}}
//
// A response is told from an event by the presence of "event".
package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Version is the protocol version this package speaks. A client may send it
// in join; a server answers with the version it speaks.
const Version = 1

// Subprotocol is the WebSocket subprotocol name of version 1. Clients may
// offer it; the server accepts connections that offer nothing as well.
const Subprotocol = "minirtc.v1"

// Limits of the envelope. They are part of the protocol (docs/protocol.md).
const (
	// MaxFrameBytes is the largest request the server processes. A larger
	// one (up to HardFrameBytes) is answered with CodeFrameTooLarge and the
	// connection stays open.
	MaxFrameBytes = 64 << 10
	// HardFrameBytes is where the server stops reading and closes the
	// connection (WebSocket close code 1009).
	HardFrameBytes = 1 << 20
	// MaxRequestIDLen bounds the client-chosen request id.
	MaxRequestIDLen = 64
)

// Request is a client → server frame.
type Request struct {
	ID   string          `json:"id"`
	Op   string          `json:"op"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Response answers exactly one request, carrying its id.
type Response struct {
	ID   string          `json:"id"`
	Code Code            `json:"code"`
	Msg  string          `json:"msg"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Event is a server → client notification. Seq counts events of one session
// from 1 without gaps; it survives a resume, so a client detects duplicates
// and gaps by it.
type Event struct {
	Seq   uint64          `json:"seq"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// DecodeRequest parses one client frame. It is strict where strictness
// protects the server (the envelope must be a JSON object with a string id
// and op, of bounded size) and lenient where leniency helps clients evolve
// (unknown envelope fields are ignored). On error the returned request still
// carries the id when it could be read, so the error response can name it.
func DecodeRequest(frame []byte) (Request, *Error) {
	var req Request
	if len(frame) > MaxFrameBytes {
		req.ID = peekID(frame)
		return req, Errorf(CodeFrameTooLarge, "frame is %d bytes, the limit is %d", len(frame), MaxFrameBytes)
	}
	trimmed := bytes.TrimLeft(frame, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return req, Errorf(CodeMalformed, "frame is not a JSON object")
	}
	var raw struct {
		ID   json.RawMessage `json:"id"`
		Op   json.RawMessage `json:"op"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(frame, &raw); err != nil {
		return req, Errorf(CodeMalformed, "invalid JSON: %v", err)
	}
	if len(raw.ID) == 0 {
		return req, Errorf(CodeInvalidField, "missing field \"id\"")
	}
	if err := json.Unmarshal(raw.ID, &req.ID); err != nil {
		return req, Errorf(CodeInvalidField, "field \"id\" must be a string")
	}
	if req.ID == "" || len(req.ID) > MaxRequestIDLen {
		id := req.ID
		req.ID = ""
		return req, Errorf(CodeInvalidField, "field \"id\" must be 1 to %d bytes, got %d", MaxRequestIDLen, len(id))
	}
	if len(raw.Op) == 0 {
		return req, Errorf(CodeInvalidField, "missing field \"op\"")
	}
	if err := json.Unmarshal(raw.Op, &req.Op); err != nil {
		return req, Errorf(CodeInvalidField, "field \"op\" must be a string")
	}
	if bytes.Equal(raw.Data, []byte("null")) {
		raw.Data = nil
	}
	if len(raw.Data) > 0 && raw.Data[0] != '{' {
		return req, Errorf(CodeInvalidField, "field \"data\" must be an object")
	}
	req.Data = raw.Data
	return req, nil
}

// peekID finds the top-level "id" of an over-long frame without decoding
// the rest into memory, so the error response can name the request. It
// gives up ("") on anything unusual.
func peekID(frame []byte) string {
	dec := json.NewDecoder(bytes.NewReader(frame))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return ""
		}
		if key == "id" {
			var id string
			if dec.Decode(&id) != nil || len(id) > MaxRequestIDLen {
				return ""
			}
			return id
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}

// DecodeData unmarshals a request's data into v. Unknown fields are ignored
// so that newer clients work with older servers; wrong types are errors that
// name the field.
func DecodeData(data json.RawMessage, v any) *Error {
	if len(data) == 0 {
		data = []byte("{}")
	}
	if err := json.Unmarshal(data, v); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field != "" {
			return Errorf(CodeInvalidField, "field %q must be %s, got %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return Errorf(CodeInvalidField, "invalid data: %v", err)
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	}
	return "of type " + goKind
}

// Frame is what a client reads: either a response (Event == "") or an event.
type Frame struct {
	ID    string          `json:"id,omitempty"`
	Code  Code            `json:"code"`
	Msg   string          `json:"msg,omitempty"`
	Seq   uint64          `json:"seq,omitempty"`
	Event string          `json:"event,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// IsEvent reports whether the frame is an event rather than a response.
func (f Frame) IsEvent() bool { return f.Event != "" }

// DecodeFrame parses one server frame (used by clients).
func DecodeFrame(b []byte) (Frame, error) {
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("invalid frame from server: %w", err)
	}
	// A response without an id answers a frame whose id could not be read
	// (malformed JSON, say); it is always an error.
	if f.Event == "" && f.ID == "" && f.Code == CodeOK {
		return f, fmt.Errorf("frame from server has neither event nor id")
	}
	return f, nil
}

// AppendEvent writes an event frame for the given sequence number, name and
// already-encoded data to dst. Building event frames this way lets the server
// encode an event's data once and frame it for many sessions.
func AppendEvent(dst []byte, seq uint64, name string, data json.RawMessage) []byte {
	dst = append(dst, `{"seq":`...)
	dst = appendUint(dst, seq)
	dst = append(dst, `,"event":"`...)
	dst = append(dst, name...) // event names are constants of this package: no escaping needed
	dst = append(dst, '"')
	if len(data) > 0 {
		dst = append(dst, `,"data":`...)
		dst = append(dst, data...)
	}
	return append(dst, '}')
}

func appendUint(dst []byte, v uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}
