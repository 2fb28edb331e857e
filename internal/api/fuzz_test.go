package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"
)

// requestTypes makes a fresh value of every request body the API decodes.
var requestTypes = []func() any{
	func() any { return new(createAppRequest) },
	func() any { return new(updateAppRequest) },
	func() any { return new(rotateRequest) },
	func() any { return new(mintRequest) },
	func() any { return new(reasonRequest) },
	func() any { return new(participantPatch) },
	func() any { return new(kickRequest) },
	func() any { return new(muteRequest) },
	func() any { return new(setAttributesRequest) },
	func() any { return new(deleteAttributesRequest) },
	func() any { return new(messageRequest) },
	func() any { return new(ingestRequest) },
	func() any { return new(putWebhookRequest) },
}

// FuzzDecodeJSON feeds arbitrary bodies to the decoder of every request
// type (seed corpus: testdata/fuzz/FuzzDecodeJSON). It must never panic;
// a refusal must be a documented 400 (1001 or 1003, with the field for
// 1003); an accepted body must be one JSON object with only known fields,
// and what was decoded must survive a round trip unchanged.
func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"name":"x","limits":{"max_rooms":1}}`))
	codes := Codes()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, mk := range requestTypes {
			v := mk()
			err := decodeJSON(body, "application/json", v, false)
			if err != nil {
				if err.Status != http.StatusBadRequest || !slices.Contains(codes, err.Code) || err.Message == "" {
					t.Fatalf("%T: refusal %+v is not a documented 400", v, err)
				}
				if err.Code == 1003 && err.Field == "" {
					t.Fatalf("%T: invalid field without its name: %+v", v, err)
				}
				if err.Code != 1001 && err.Code != 1003 {
					t.Fatalf("%T: refusal code %d, want 1001 or 1003", v, err.Code)
				}
				continue
			}
			var probe map[string]json.RawMessage
			if json.Unmarshal(body, &probe) != nil {
				t.Fatalf("%T: accepted %q, which is not one JSON object", v, body)
			}
			if p := unknownFieldPath(body, reflect.TypeOf(v)); p != "" {
				t.Fatalf("%T: accepted %q with the unknown field %s", v, body, p)
			}
			again, merr := json.Marshal(v)
			if merr != nil {
				t.Fatalf("%T: re-encoding: %v", v, merr)
			}
			w := mk()
			if err := decodeJSON(again, "application/json", w, false); err != nil {
				t.Fatalf("%T: re-encoded %s refused: %v", v, again, err)
			}
			if !reflect.DeepEqual(v, w) {
				t.Fatalf("%T: round trip changed %#v into %#v", v, v, w)
			}
		}
	})
}

// TestDecodeJSONErrors pins what the decoder answers for each kind of bad
// body, including the path of a nested unknown field.
func TestDecodeJSONErrors(t *testing.T) {
	for _, c := range []struct {
		body, ct string
		optional bool
		v        any
		status   int
		code     int
		field    string
	}{
		{`{"name":"x"}`, "application/json", false, new(createAppRequest), 0, 0, ""},
		{``, "", true, new(rotateRequest), 0, 0, ""},
		{`  `, "", false, new(createAppRequest), 400, 1001, ""},
		{`{"name":"x"}`, "text/json", false, new(createAppRequest), 415, 4015, ""},
		{`{"name":"x"}`, "", false, new(createAppRequest), 415, 4015, ""},
		{`{"name":`, "application/json", false, new(createAppRequest), 400, 1001, ""},
		{`[]`, "application/json", false, new(createAppRequest), 400, 1001, ""},
		{`{} 1`, "application/json", false, new(createAppRequest), 400, 1001, ""},
		{`{"name":1}`, "application/json", false, new(createAppRequest), 400, 1003, "name"},
		{`{"limits":{"max_rooms":"2"}}`, "application/json", false, new(updateAppRequest), 400, 1003, "limits.max_rooms"},
		{`{"limits":{"max_rooms":2,"zzz":1}}`, "application/json", false, new(updateAppRequest), 400, 1003, "limits.zzz"},
		{`{"to":["a",{"x":1}]}`, "application/json", false, new(messageRequest), 400, 1003, "to"},
		{`{"notify":{"name":"n","x":1},"keys":["a"]}`, "application/json", false, new(deleteAttributesRequest), 400, 1003, "notify.x"},
		{`{"ban_seconds":1e40}`, "application/json", false, new(kickRequest), 400, 1003, "ban_seconds"},
	} {
		err := decodeJSON([]byte(c.body), c.ct, c.v, c.optional)
		if c.status == 0 {
			if err != nil {
				t.Errorf("%q: %v, want it accepted", c.body, err)
			}
			continue
		}
		if err == nil || err.Status != c.status || int(err.Code) != c.code || err.Field != c.field {
			t.Errorf("%q (%s): got %+v; want status %d code %d field %q", c.body, c.ct, err, c.status, c.code, c.field)
		}
	}
}
