package rtpframe

import (
	"slices"
	"testing"
)

// releaseSeqs pushes packets (sequence number, timestamp) and returns the
// sequence numbers released, a negative one marking a gap before it.
func releaseSeqs(r *reorder, pkts [][2]int) []int {
	var out []int
	for _, p := range pkts {
		for _, rel := range r.push(pkt(uint16(p[0]), uint32(p[1]), false, 1), nil) {
			s := int(rel.p.SequenceNumber)
			if rel.lost {
				s = -s
			}
			out = append(out, s)
		}
	}
	return out
}

func TestReorder(t *testing.T) {
	const w = 90 * 50 // ReorderWindow at 90 kHz
	for _, tc := range []struct {
		name string
		in   [][2]int
		want []int
	}{
		{"in order", [][2]int{{10, 0}, {11, 0}, {12, 0}}, []int{-10, 11, 12}},
		{"swap", [][2]int{{10, 0}, {12, 0}, {11, 0}, {13, 0}}, []int{-10, 11, 12, 13}},
		{"duplicate", [][2]int{{10, 0}, {12, 0}, {12, 0}, {11, 0}, {11, 0}, {10, 0}}, []int{-10, 11, 12}},
		{"late after giving up", [][2]int{{10, 0}, {12, 0}, {13, w + 1}, {11, 0}, {14, w + 1}}, []int{-10, -12, 13, 14}},
		{"window", [][2]int{{10, 0}, {12, 100}, {13, 100 + w}, {14, 101 + w}}, []int{-10, -12, 13, 14}},
		{"sequence wrap", [][2]int{{65534, 0}, {0, 0}, {65535, 0}, {1, 0}}, []int{-65534, 65535, 0, 1}},
		{"timestamp wrap", [][2]int{{1, 1<<32 - 100}, {3, 10}, {2, 1<<32 - 50}}, []int{-1, 2, 3}},
		{"restart behind", [][2]int{{1000, 0}, {1002, 0}, {100, 0}, {101, 0}}, []int{-1000, -1002, -100, 101}},
		{"jump ahead", [][2]int{{1000, 0}, {9000, 0}, {9001, 0}}, []int{-1000, -9000, 9001}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReorder(VideoClockRate)
			if got := releaseSeqs(&r, tc.in); !slices.Equal(got, tc.want) {
				t.Fatalf("released %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReorderCountLimit(t *testing.T) {
	r := newReorder(VideoClockRate)
	in := [][2]int{{0, 0}}
	for i := range MaxReorderPackets {
		in = append(in, [2]int{2 + i, 0}) // 1 never comes
	}
	got := releaseSeqs(&r, in)
	want := []int{0, -2}
	for i := 3; i < 2+MaxReorderPackets; i++ {
		want = append(want, i)
	}
	want[0] = -0
	if !slices.Equal(got, want) {
		t.Fatalf("released %v, want %v", got, want)
	}
	if len(r.waiting) != 0 {
		t.Fatalf("%d still waiting", len(r.waiting))
	}
}

// TestReorderDoesNotRetain checks that a waiting packet is a copy: the
// caller may reuse its buffers.
func TestReorderDoesNotRetain(t *testing.T) {
	r := newReorder(VideoClockRate)
	r.push(pkt(1, 0, false, 1), nil)
	p := pkt(3, 0, false, 3)
	r.push(p, nil)
	p.Payload[0] = 99
	got := r.push(pkt(2, 0, false, 2), nil)
	if len(got) != 2 || got[1].p.Payload[0] != 3 {
		t.Fatalf("waiting packet changed with the caller's buffer")
	}
}
