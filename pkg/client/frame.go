package client

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/minirtc/minirtc/pkg/protocol"
)

// buildRequest encodes one request frame. A nil data sends no "data". The
// size limit is checked here so that an oversized request fails at once with
// the same error the server would give, without a round trip.
func buildRequest(id, op string, data any) ([]byte, error) {
	if len(id) == 0 || len(id) > protocol.MaxRequestIDLen {
		return nil, fmt.Errorf("client: request id must be 1 to %d bytes", protocol.MaxRequestIDLen)
	}
	req := protocol.Request{ID: id, Op: op}
	if data != nil {
		raw, err := json.Marshal(data)
		if err != nil {
			return nil, fmt.Errorf("client: encoding %s request: %w", op, err)
		}
		if string(raw) != "null" {
			if len(raw) == 0 || raw[0] != '{' {
				return nil, fmt.Errorf("client: %s request data must encode as a JSON object, got %.20s", op, raw)
			}
			req.Data = raw
		}
	}
	frame, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("client: encoding %s request: %w", op, err)
	}
	if len(frame) > protocol.MaxFrameBytes {
		return nil, protocol.Errorf(protocol.CodeFrameTooLarge, "%s request is %d bytes, the limit is %d",
			op, len(frame), protocol.MaxFrameBytes)
	}
	return frame, nil
}

// call is a request waiting for its response.
type call struct {
	id    string
	op    string
	num   uint64 // id as a number, to re-send in issue order
	frame []byte
	// sends counts the connections the frame was handed to; guarded by
	// Client.mu. Above zero, the server may have executed the request.
	sends int
	done  chan struct{}
	// Set before done is closed.
	resp protocol.Frame
	err  error
}

func newCall(num uint64, op string, frame []byte) *call {
	return &call{id: strconv.FormatUint(num, 10), op: op, num: num, frame: frame, done: make(chan struct{})}
}

// complete ends the call with a response or an error. It must be called
// once, by whoever removed the call from Client.pending.
func (cl *call) complete(resp protocol.Frame, err error) {
	cl.resp, cl.err = resp, err
	close(cl.done)
}

// result turns the outcome into the caller's error and, on success,
// decodes the response data into out (when out is non-nil).
func (cl *call) result(out any) error {
	if cl.err != nil {
		return cl.err
	}
	if cl.resp.Code != protocol.CodeOK {
		msg := cl.resp.Msg
		if msg == "" {
			msg = cl.resp.Code.String()
		}
		return &protocol.Error{Code: cl.resp.Code, Msg: msg}
	}
	if out == nil || len(cl.resp.Data) == 0 {
		return nil
	}
	if err := json.Unmarshal(cl.resp.Data, out); err != nil {
		return fmt.Errorf("client: decoding %s response: %w", cl.op, err)
	}
	return nil
}
