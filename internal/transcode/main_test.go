package transcode

import (
	"log/slog"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The bad-input tests would otherwise fill the output with FFmpeg's own
	// complaints; set TRANSCODE_FFMPEG_LOG=1 to see them.
	if os.Getenv("TRANSCODE_FFMPEG_LOG") == "" {
		SetFFmpegLogLevel(slog.LevelError + 1)
	}
	goleak.VerifyTestMain(m)
}
