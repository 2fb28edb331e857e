package transcode

import (
	"errors"
	"log/slog"
	"time"

	"github.com/asticode/go-astiav"
)

// OutputRate is the sample rate of everything this package produces: Opus
// always runs at 48 kHz, and AAC is produced at 48 kHz too so that one
// timeline (48 kHz samples) serves both directions.
const OutputRate = 48000

// maxFrameBytes bounds one input frame. An AAC access unit is at most 6144
// bits per channel (768 bytes; 1536 for stereo) and an Opus packet at most
// 1275 bytes per frame times 48 frames; anything larger is not a frame, and
// refusing it early keeps a hostile publisher from making us copy megabytes
// into C memory.
const maxFrameBytes = 64 << 10

// Errors a transcoder returns; match them with errors.Is. The wrapped
// message says what exactly was wrong.
var (
	// ErrClosed is returned by Write after Close.
	ErrClosed = errors.New("transcode: transcoder is closed")
	// ErrBadFrame means one input frame could not be used (empty, too
	// large, or refused by the decoder). The frame is dropped and the
	// transcoder stays usable: the next good frame decodes normally.
	ErrBadFrame = errors.New("transcode: bad input frame")
	// ErrBadConfig means the codec configuration given to a constructor is
	// not one this package handles.
	ErrBadConfig = errors.New("transcode: unsupported codec configuration")
)

// Packet is one encoded output frame: an Opus packet (AACToOpus) or one raw
// AAC access unit without ADTS header (OpusToAAC).
type Packet struct {
	// Data is owned by the caller; the transcoder keeps no reference.
	Data []byte
	// PTSMs is the presentation time in milliseconds on the input's
	// timeline (see the package documentation for how it is derived).
	PTSMs int64
	// Samples is the packet's duration in 48 kHz samples (960 for a 20 ms
	// Opus packet, 1024 for an AAC frame).
	Samples int
}

// Duration is the packet's duration.
func (p Packet) Duration() time.Duration {
	return time.Duration(p.Samples) * time.Second / OutputRate
}

// Option changes an encoder setting.
type Option func(*settings)

type settings struct {
	bitrate    int // bits per second; 0 picks a default per codec and channels
	complexity int // Opus only: 0 (cheapest) .. 10 (best)
}

// WithBitrate sets the encoder's target bitrate in bits per second.
// Defaults: Opus 32 kbit/s mono, 64 kbit/s stereo; AAC 64 kbit/s per channel.
func WithBitrate(bps int) Option { return func(s *settings) { s.bitrate = bps } }

// WithComplexity sets the Opus encoder's complexity, 0 to 10. Higher is
// better sound for more CPU; the default, 5, keeps a stream well under 1% of
// a core (see BenchmarkAACToOpus). It has no effect on the AAC encoder.
func WithComplexity(c int) Option { return func(s *settings) { s.complexity = c } }

func applyOptions(opts []Option) settings {
	s := settings{complexity: 5}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// SetFFmpegLogLevel sets how much FFmpeg itself prints to stderr, for the
// whole process. FFmpeg's default (info) prints a line for every broken
// frame a publisher sends; this package already returns those as errors, so
// a server will usually pass slog.LevelError or higher (above
// slog.LevelError silences FFmpeg entirely).
//
// FFmpeg's lines are not routed through slog on purpose: go-astiav v0.16.0's
// log callback formats them with vsprintf into a fixed 1 KiB buffer.
func SetFFmpegLogLevel(l slog.Level) {
	switch {
	case l <= slog.LevelDebug:
		astiav.SetLogLevel(astiav.LogLevelDebug)
	case l <= slog.LevelInfo:
		astiav.SetLogLevel(astiav.LogLevelInfo)
	case l <= slog.LevelWarn:
		astiav.SetLogLevel(astiav.LogLevelWarning)
	case l <= slog.LevelError:
		astiav.SetLogLevel(astiav.LogLevelError)
	default:
		astiav.SetLogLevel(astiav.LogLevelQuiet)
	}
}
