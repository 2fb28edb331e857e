package room

import (
	"fmt"
	"testing"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// nopSink takes events and does nothing: the room's own cost of a fan-out.
type nopSink struct{}

func (nopSink) Deliver(*Event) {}
func (nopSink) Removed()       {}

// frameSink does what the signalling session does per event besides the
// socket write: takes the shared encoding and frames it.
type frameSink struct {
	buf []byte
	seq uint64
}

func (s *frameSink) Deliver(ev *Event) {
	s.seq++
	s.buf = protocol.AppendEvent(s.buf[:0], s.seq, ev.Name, ev.Encoded())
}
func (s *frameSink) Removed() {}

// BenchmarkSendMessageFanout16 sends one room message to the 15 other
// members of a 16-user room.
func BenchmarkSendMessageFanout16(b *testing.B) {
	for _, tc := range []struct {
		name string
		sink func() Sink
	}{
		{"nop_sink", func() Sink { return nopSink{} }},
		{"frame_sink", func() Sink { return &frameSink{buf: make([]byte, 0, 512)} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m, err := NewManager(Config{}, Options{Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			var sender *Member
			for i := range 16 {
				id := Identity{App: app, User: ids.UserID(fmt.Sprintf("u%02d", i)), Grants: all}
				j, err := m.Join(b.Context(), id, "bench", tc.sink())
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					sender = j.Member
				}
			}
			content := "0001763712345678901 hello everyone in this room"
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sender.SendMessage("chat", content, nil); err != nil {
					b.Fatal(err)
				}
			}
			m.Shutdown()
		})
	}
}
