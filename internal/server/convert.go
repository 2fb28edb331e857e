package server

import (
	"fmt"
	"log/slog"

	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/transcode"
)

func init() {
	// FFmpeg prints every undecodable frame to stderr; the hub logs
	// conversion failures itself, once per stream.
	transcode.SetFFmpegLogLevel(slog.LevelError + 1)
}

// convertAudio is the hub's media.ConvertFunc: AAC from RTMP to Opus for
// WebRTC subscribers, Opus from WebRTC to AAC for RTMP and FLV players,
// through internal/transcode (FFmpeg's libraries).
func convertAudio(from media.Codec, config []byte, to media.Codec) (media.AudioConverter, error) {
	switch {
	case from == media.AAC && to == media.Opus:
		t, err := transcode.NewAACToOpus(config)
		if err != nil {
			return nil, err
		}
		return &converter{write: t.Write, close: t.Close, config: media.OpusHead(t.Channels())}, nil
	case from == media.Opus && to == media.AAC:
		channels, err := media.ParseOpusHead(config)
		if err != nil {
			return nil, err
		}
		t, err := transcode.NewOpusToAAC(channels)
		if err != nil {
			return nil, err
		}
		return &converter{write: t.Write, close: t.Close, config: t.ASC()}, nil
	}
	return nil, fmt.Errorf("no conversion from %s to %s", from, to)
}

// converter adapts a transcoder to media.AudioConverter.
type converter struct {
	write  func(frame []byte, ptsMs int64) ([]transcode.Packet, error)
	close  func() error
	config []byte
}

func (c *converter) Config() []byte { return c.config }

func (c *converter) Convert(f *media.Frame) ([]*media.Frame, error) {
	pkts, err := c.write(f.Payload, f.DTS)
	if err != nil {
		return nil, err
	}
	out := make([]*media.Frame, len(pkts))
	for i, p := range pkts {
		out[i] = &media.Frame{DTS: p.PTSMs, Payload: p.Data}
	}
	return out, nil
}

func (c *converter) Close() { _ = c.close() }
