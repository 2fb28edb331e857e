package protocol_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/minirtc/minirtc/pkg/protocol"
)

// Hot paths of the signalling server: every client frame goes through
// DecodeRequest, every event frame through AppendEvent. Results are in
// docs/benchmarks.md.

func BenchmarkDecodeRequest(b *testing.B) {
	for _, tc := range []struct {
		name  string
		frame string
	}{
		{"ping", `{"id":"p123","op":"ping","data":{"last_seq":4567}}`},
		{"send_message", `{"id":"m42","op":"send_message","data":{"name":"chat","content":"0001763712345678901 hello everyone in this room"}}`},
		{"join", `{"id":"j","op":"join","data":{"token":"` + strings.Repeat("x", 320) + `","room":"bench-r00042"}}`},
	} {
		frame := []byte(tc.frame)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if _, err := protocol.DecodeRequest(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	data, err := json.Marshal(&protocol.MessageEvent{
		ID: "mabcdefghijklmnop", From: "bench-abcdefg-00042", Name: "chat",
		Content: "0001763712345678901 hello everyone in this room", SentAt: 1763712345678,
	})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	seq := uint64(1000)
	for b.Loop() {
		seq++
		buf = protocol.AppendEvent(buf[:0], seq, protocol.EvMessage, data)
	}
}

// BenchmarkDecodeFrame is the client side (pkg/client) of every frame.
func BenchmarkDecodeFrame(b *testing.B) {
	frame := []byte(`{"seq":1042,"event":"message","data":{"id":"mabcdefghijklmnop","from":"bench-abcdefg-00042","name":"chat","content":"0001763712345678901 hello everyone in this room","sent_at":1763712345678}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := protocol.DecodeFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}
