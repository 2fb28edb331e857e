package ids

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, ok := range []string{"a", "A-z_09", strings.Repeat("x", MaxLen)} {
		if err := Validate("id", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a/b", "é", "a.b", strings.Repeat("x", MaxLen+1), "a\x00"} {
		err := Validate("room id", bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if !strings.Contains(err.Error(), "room id") {
			t.Errorf("error does not name the field: %v", err)
		}
	}
}

func TestStreamIDs(t *testing.T) {
	s := Stream("alice", DefaultTag)
	if s != "alice_main" {
		t.Fatal(s)
	}
	if tag, ok := s.Owns("alice"); !ok || tag != "main" {
		t.Fatal(tag, ok)
	}
	if _, ok := s.Owns("ali"); ok {
		t.Fatal("prefix without separator matched")
	}
	if _, ok := StreamID("alice_").Owns("alice"); ok {
		t.Fatal("empty tag matched")
	}
	long := Stream(UserID(strings.Repeat("u", MaxLen)), Tag(strings.Repeat("t", MaxLen)))
	if err := long.Validate(); err != nil {
		t.Fatalf("longest stream id refused: %v", err)
	}
	if err := StreamID("nounderscore").Validate(); err == nil {
		t.Fatal("stream id without '_' accepted")
	}
	if Tag("").OrDefault() != DefaultTag {
		t.Fatal("default tag")
	}
}
