// Package rtpframe converts between the hub's frames (media.Frame) and RTP
// packets, for the WebRTC ingest and egress. It knows the two codecs that
// cross between WebRTC and the rest of minirtc without transcoding: H.264
// (RFC 6184, packetization-mode 1) and Opus (RFC 7587).
//
// Egress: H264Packetizer and OpusPacketizer turn one frame into the RTP
// packets of one access unit. H.264 is never re-encoded: the AVCC NAL units
// are carried as they are, with SPS and PPS from the configuration record
// put in front of every IDR so that a browser joining mid-stream (or after
// a PLI) can decode at once. Access unit delimiters are dropped: they carry
// nothing in RTP, where the marker bit and timestamp delimit access units.
//
// Ingest: H264Depacketizer and OpusDepacketizer turn RTP packets back into
// frames. Both put packets through a small reorder buffer (MaxReorderPackets
// packets or ReorderWindow of media time, whichever fills first), so the
// caller can feed them straight from the track without pion's jitter buffer.
// The H.264 depacketizer drops access units damaged by loss, and every
// frame after them until the next IDR, raising NeedKeyframe so the caller
// can send a PLI; it moves in-band SPS/PPS into configuration frames.
//
// Timelines: depacketized frames get DTS in milliseconds from 0 at the first
// frame of each track, following the track's RTP clock (wrap-safe). Audio
// and video tracks start independently; a caller that needs lip sync across
// tracks aligns them with RTCP sender reports, using BaseTimestamp.
//
// Everything here is fed from the network: malformed input returns errors,
// never panics, and memory is bounded by the limits below.
package rtpframe

import (
	"errors"
	"time"
)

// Limits on what the depacketizers assemble. An access unit past either
// H.264 limit is dropped (as if damaged by loss) and ErrTooLarge returned.
const (
	// MaxAccessUnitSize is the largest H.264 access unit assembled, in
	// bytes of AVCC payload. It matches media.DefaultMaxFrameBytes: the hub
	// would refuse anything larger anyway.
	MaxAccessUnitSize = 4 << 20
	// MaxNALUsPerAccessUnit is the most NAL units in one access unit.
	// Browsers send one slice per picture; hardware encoders cut a picture
	// into at most a few dozen slices.
	MaxNALUsPerAccessUnit = 256
	// MaxParameterSetSize bounds one SPS or PPS (they are tens of bytes).
	MaxParameterSetSize = 4096
	// MaxReorderPackets is the most packets the reorder buffer holds while
	// it waits for a missing one.
	MaxReorderPackets = 16
	// ReorderWindow is the most media time (by RTP timestamp) the reorder
	// buffer waits for a missing packet before declaring it lost.
	ReorderWindow = 50 * time.Millisecond
)

// Clock rates of the RTP payload formats.
const (
	VideoClockRate = 90000
	OpusClockRate  = 48000
)

// DefaultMTU is the packet size used when a packetizer is given mtu <= 0:
// pion's and libwebrtc's choice, which leaves room for SRTP, header
// extensions and tunnelling inside a 1500-byte path MTU.
const DefaultMTU = 1200

// MinMTU is the smallest packet size a packetizer accepts; smaller values
// are raised to it.
const MinMTU = 64

// rtpHeaderSize is the fixed RTP header without CSRCs or extensions.
const rtpHeaderSize = 12

var (
	// ErrMalformed wraps every error about bytes that break the format.
	ErrMalformed = errors.New("malformed")
	// ErrTooLarge is returned for an access unit past MaxAccessUnitSize or
	// MaxNALUsPerAccessUnit.
	ErrTooLarge = errors.New("access unit too large")
	// ErrUnsupported is returned for valid RTP payloads that
	// packetization-mode 1 does not allow (STAP-B, MTAP, FU-B).
	ErrUnsupported = errors.New("unsupported")
)
