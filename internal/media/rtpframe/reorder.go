package rtpframe

import (
	"github.com/pion/rtp"
)

// reorder puts packets back in sequence-number order. A packet that
// arrives early waits until the missing ones arrive, or until
// MaxReorderPackets packets wait or the waiting ones span more than
// ReorderWindow of media time; then the missing ones are declared lost.
// Media time stands in for the wall clock (senders pace packets by it), so
// the buffer needs no timer and tests need no sleeps; the span is measured
// from the first waiting packet, which is when waiting began. It adds no
// delay when packets arrive in order, and copies only packets that wait.
// The first packet fixes the order: packets older than it are late.
type reorder struct {
	window  uint32 // ReorderWindow in RTP clock ticks
	started bool
	next    uint16 // sequence number of the next packet to release
	lost    bool   // packets were lost before next
	waiting []*rtp.Packet
}

// released is a packet in order; lost says packets before it are missing.
type released struct {
	p    *rtp.Packet
	lost bool
}

// maxLate is how far behind a packet may be and still count as late (and
// be dropped); further back, the sender restarted its sequence numbers.
const maxLate = 4 * MaxReorderPackets

func newReorder(clockRate int) reorder {
	return reorder{window: uint32(int64(clockRate) * ReorderWindow.Milliseconds() / 1000)}
}

// push appends to out the packets that p releases, in order. p itself is
// not retained: a packet that must wait is cloned.
func (r *reorder) push(p *rtp.Packet, out []released) []released {
	if !r.started {
		r.started, r.next = true, p.SequenceNumber
		r.lost = true // what came before the first packet is unknown
	}
	d := int16(p.SequenceNumber - r.next)
	switch {
	case d == 0:
		out = r.release(p, out)
		return r.drain(out)
	case d < 0 && d >= -maxLate:
		return out // late or duplicate: its place has been given up
	case d < 0 || int(d) > 0x1000:
		// The sender restarted its sequence numbers or jumped far ahead:
		// release what waits, then start over from p.
		out = r.flush(out)
		r.next, r.lost = p.SequenceNumber, true
		out = r.release(p, out)
		return r.drain(out)
	}
	// Early: wait in sequence order.
	i := len(r.waiting)
	for i > 0 && int16(r.waiting[i-1].SequenceNumber-p.SequenceNumber) > 0 {
		i--
	}
	if i > 0 && r.waiting[i-1].SequenceNumber == p.SequenceNumber {
		return out // duplicate
	}
	r.waiting = append(r.waiting, nil)
	copy(r.waiting[i+1:], r.waiting[i:])
	r.waiting[i] = p.Clone()
	for len(r.waiting) > 0 && (len(r.waiting) >= MaxReorderPackets ||
		int32(r.waiting[len(r.waiting)-1].Timestamp-r.waiting[0].Timestamp) > int32(r.window)) {
		// Give up on the missing packets before the first waiting one.
		r.next, r.lost = r.waiting[0].SequenceNumber, true
		out = r.drain(out)
	}
	return out
}

// release hands out p, the packet with sequence number r.next.
func (r *reorder) release(p *rtp.Packet, out []released) []released {
	out = append(out, released{p: p, lost: r.lost})
	r.next, r.lost = p.SequenceNumber+1, false
	return out
}

// drain releases the waiting packets that follow on from r.next.
func (r *reorder) drain(out []released) []released {
	n := 0
	for n < len(r.waiting) && r.waiting[n].SequenceNumber == r.next {
		out = r.release(r.waiting[n], out)
		n++
	}
	r.shift(n)
	return out
}

// flush releases everything waiting, marking the gaps.
func (r *reorder) flush(out []released) []released {
	for _, p := range r.waiting {
		if p.SequenceNumber != r.next {
			r.lost = true
		}
		out = r.release(p, out)
	}
	r.shift(len(r.waiting))
	return out
}

func (r *reorder) shift(n int) {
	if n == 0 {
		return
	}
	k := copy(r.waiting, r.waiting[n:])
	clear(r.waiting[k:])
	r.waiting = r.waiting[:k]
}
