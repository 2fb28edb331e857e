// Package transcode converts audio between AAC, what RTMP publishers
// (WeChat's live-pusher, OBS, ffmpeg) send and RTMP/FLV players expect, and
// Opus, what WebRTC peers send and expect. It uses FFmpeg's libraries (5.1,
// through cgo and github.com/asticode/go-astiav v0.16.0): FFmpeg's native
// AAC and Opus decoders, libopus to encode Opus, FFmpeg's native AAC-LC
// encoder, and an FFmpeg filter graph (aresample, asetnsamples) to resample
// and to regroup samples into the encoder's frame size.
//
// # Transcoding AAC and Opus
//
// The media hub runs a transcoder only while someone needs it: an RTMP
// stream with a WebRTC subscriber gets an AACToOpus, a WebRTC stream with an
// RTMP/FLV player an OpusToAAC. Both take the hub's frames as they are (one
// raw AAC access unit without ADTS header, or one Opus packet, with its PTS
// in milliseconds) and return Packets of the other codec with PTS on the
// same timeline:
//
//	t, err := transcode.NewAACToOpus(asc) // asc: the stream's AudioSpecificConfig
//	defer t.Close()
//	packets, err := t.Write(frame.Payload, frame.DTS)
//
//	t, err := transcode.NewOpusToAAC(channels)
//	configFrame := t.ASC() // AAC-LC, 48 kHz: send before the first frame
//	packets, err := t.Write(opusPacket, ptsMs)
//
// AACToOpus takes AAC-LC at 8 to 48 kHz, mono or stereo, and makes 20 ms
// Opus packets at 48 kHz with as many channels (32 kbit/s mono, 64 kbit/s
// stereo, libopus complexity 5; see WithBitrate and WithComplexity).
// OpusToAAC takes 48 kHz Opus packets of any duration and makes 1024-sample
// AAC-LC frames at 48 kHz (64 kbit/s per channel) and their
// AudioSpecificConfig. A transcoder is not safe for concurrent use: one
// goroutine writes to it and closes it.
//
// # Timestamps and delay
//
// Output PTS are derived from the input's: the first input frame anchors the
// output timeline, and from there each output packet's PTS follows from the
// number of samples before it, so PTS are evenly spaced (20 ms for Opus,
// 21.33 ms for AAC) however input and output frames line up. Whenever an
// input PTS differs by more than half a frame (at least 3 ms) from where the
// samples so far put it — a gap (lost or skipped frames), a jump, or clock
// drift between the publisher's timestamps and its sample rate — the
// timeline re-anchors at that frame, so audio stays in sync with the video
// that carries the same timestamps instead of drifting away. Nothing fills
// gaps with silence: the output PTS jump as the input's did.
//
// The transcoders add delay in two ways:
//
//   - Holding samples: the output leaves up to one output frame later than
//     the input that completed it, because samples wait until a whole frame
//     is there: up to 20 ms for AACToOpus; for OpusToAAC up to 21.3 ms plus
//     21.3 ms that FFmpeg's AAC encoder holds back (one frame of lookahead),
//     so up to about 43 ms. The decoders and libopus return at once.
//   - Priming: encoders start with priming samples (Opus's 6.5 ms pre-skip,
//     AAC's 1024 samples = 21.3 ms) that WebRTC and FLV players do not skip.
//     Packets are stamped with the time of the first input sample they
//     encode, so a listener hears the audio that much after its PTS: 6.5 ms
//     late for AACToOpus, 21.3 ms late for OpusToAAC. PTS thus never precede
//     the input's (FLV cannot carry negative timestamps) and audio is never
//     early against video; both lags are well inside lip-sync tolerance.
//     The resampler adds under 1 ms.
//
// Close drops what is still held (at most the delays above).
//
// # Bad input
//
// A frame that is empty, larger than 64 KiB, or refused by the decoder
// makes Write return an error wrapping ErrBadFrame; the frame is dropped
// and the next good frame transcodes normally (output PTS re-anchor across
// the hole). Opus has little redundancy, so a damaged Opus packet often
// decodes without error into wrong-sounding audio, as it would for any
// receiver. A damaged AAC frame can decode "fine" yet leave FFmpeg's AAC
// decoder misconfigured (a program config element switching it to 5.1 or
// to no channels); when the decoder then refuses a frame or decodes it to
// something other than mono or stereo, the transcoder restarts the decoder
// from the AudioSpecificConfig and retries that frame once. Configurations
// other than AAC-LC 8-48 kHz mono/stereo (HE-AAC, 5.1, 96 kHz) are refused
// by NewAACToOpus with ErrBadConfig. Write after Close returns ErrClosed;
// Close is idempotent.
//
// FFmpeg prints its own complaints about bad frames to stderr; a server
// should call SetFFmpegLogLevel(slog.LevelError+1) at startup to silence
// them (the errors are returned anyway).
//
// # Cost
//
// Transcoding one 48 kHz mono stream of speech takes about 0.55% of a core
// for AAC to Opus and 1.5 to 2% for Opus to AAC (CPU time, medians of 5 on
// a shared 2-core Xeon VM), almost all of it in the encoders: libopus at
// complexity 5, FFmpeg's AAC encoder with its default twoloop coder. See
// BenchmarkAACToOpus, BenchmarkOpusToAAC and docs/benchmarks.md.
//
// # Building
//
// The package needs cgo and FFmpeg 5.1's development files: go-astiav
// links libavcodec, libavformat, libavfilter, libavdevice, libswscale and
// libavutil (whose pkg-config files also ask for libswresample and
// libpostproc, which the -dev packages bring). On Debian 12: apt-get
// install gcc pkg-config
// libavcodec-dev libavformat-dev libavfilter-dev libavdevice-dev
// libswscale-dev libswresample-dev libavutil-dev libopus-dev (scripts/deps.sh
// does this for make run and make test). go-astiav v0.16.0 is the last
// version for FFmpeg 5.1, Debian 12's.
package transcode
