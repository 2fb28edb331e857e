package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecodeRequest(t *testing.T) {
	req, err := DecodeRequest([]byte(` {"id":"7","op":"publish","data":{"tag":"main"},"extra":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.ID != "7" || req.Op != "publish" || string(req.Data) != `{"tag":"main"}` {
		t.Fatalf("%+v", req)
	}
	req, err = DecodeRequest([]byte(`{"id":"8","op":"ping","data":null}`))
	if err != nil || req.Data != nil {
		t.Fatalf("null data: %+v %v", req, err)
	}
	// The id is kept when something else is wrong, so the error can name it.
	req, err = DecodeRequest([]byte(`{"id":"9","op":3}`))
	if err == nil || err.Code != CodeInvalidField || req.ID != "9" {
		t.Fatalf("%+v %v", req, err)
	}
}

func TestDecodeDataNamesTheField(t *testing.T) {
	var v struct {
		Media string `json:"media"`
	}
	err := DecodeData(json.RawMessage(`{"media":5}`), &v)
	if err == nil || err.Code != CodeInvalidField || !strings.Contains(err.Msg, `"media"`) || !strings.Contains(err.Msg, "a string") {
		t.Fatalf("%v", err)
	}
	if err := DecodeData(nil, &v); err != nil {
		t.Fatal("empty data must decode as {}:", err)
	}
}

func TestAppendEventAndDecodeFrame(t *testing.T) {
	b := AppendEvent(nil, 18446744073709551615, EvMessage, json.RawMessage(`{"x":1}`))
	f, err := DecodeFrame(b)
	if err != nil || !f.IsEvent() || f.Seq != 18446744073709551615 || string(f.Data) != `{"x":1}` {
		t.Fatalf("%s → %+v %v", b, f, err)
	}
	if b := AppendEvent(nil, 0, EvGoingAway, nil); string(b) != `{"seq":0,"event":"server_going_away"}` {
		t.Fatalf("%s", b)
	}
	if _, err := DecodeFrame([]byte(`{"code":0}`)); err == nil {
		t.Fatal("frame with neither id nor event accepted")
	}
	if f, err := DecodeFrame([]byte(`{"id":"","code":1001,"msg":"m"}`)); err != nil || f.IsEvent() {
		t.Fatalf("id-less error response: %+v %v", f, err)
	}
}

func TestErrorIs(t *testing.T) {
	err := error(Errorf(CodeRoomFull, "room %s", "r"))
	if !errors.Is(err, NewError(CodeRoomFull)) || errors.Is(err, NewError(CodeBanned)) {
		t.Fatal("Is by code broken")
	}
	if !strings.HasPrefix(err.Error(), "room full: room r") {
		t.Fatal(err.Error())
	}
}

// FuzzDecodeRequest feeds arbitrary frames to the envelope decoder: it must
// never panic, and whatever it accepts must satisfy the envelope's rules and
// survive a re-encode unchanged.
func FuzzDecodeRequest(f *testing.F) {
	// Seeds live in testdata/fuzz/FuzzDecodeRequest.
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, err := DecodeRequest(frame)
		if err != nil {
			if err.Code == CodeOK || err.Msg == "" {
				t.Fatalf("error without code or message: %+v", err)
			}
			if len(req.ID) > MaxRequestIDLen {
				t.Fatalf("returned an over-long id with an error")
			}
			return
		}
		if req.ID == "" || len(req.ID) > MaxRequestIDLen {
			t.Fatalf("accepted id %q", req.ID)
		}
		if len(req.Data) > 0 && req.Data[0] != '{' {
			t.Fatalf("accepted non-object data %s", req.Data)
		}
		again, merr := json.Marshal(req)
		if merr != nil {
			t.Fatalf("accepted request does not re-encode: %v", merr)
		}
		req2, err2 := DecodeRequest(again)
		if err2 != nil || req2.ID != req.ID || req2.Op != req.Op {
			t.Fatalf("re-decode: %+v %v (was %+v)", req2, err2, req)
		}
	})
}
