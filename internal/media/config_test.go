package media

import (
	"strings"
	"testing"
	"time"
)

func TestLimitsDefaults(t *testing.T) {
	d := Limits{}.WithDefaults()
	if d.UnpublishGrace != DefaultUnpublishGrace || d.ReaderQueueFrames != DefaultReaderQueueFrames || d.MaxReaders != DefaultMaxReaders ||
		d.ReadTimeout != DefaultReadTimeout || d.GOPCacheBytes != DefaultGOPCacheBytes {
		t.Fatalf("WithDefaults = %+v", d)
	}
	if err := (Limits{}).Validate(); err != nil {
		t.Fatalf("the defaults are invalid: %v", err)
	}
	set := Limits{UnpublishGrace: time.Second, MaxReaders: 7}.WithDefaults()
	if set.UnpublishGrace != time.Second || set.MaxReaders != 7 {
		t.Fatalf("WithDefaults overwrote set fields: %+v", set)
	}
	if err := testLimits().Validate(); err != nil {
		t.Fatalf("testLimits: %v", err)
	}
}

func TestLimitsValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		l       Limits
		errPart string // "" means valid
	}{
		{"negative grace", Limits{UnpublishGrace: -1}, "unpublish_grace"},
		{"negative live timeout", Limits{LiveTimeout: -time.Second}, "live_timeout"},
		{"negative stale", Limits{StaleAfter: -1}, "stale_after"},
		{"negative gop duration", Limits{GOPCacheDuration: -1}, "gop_cache_duration"},
		{"negative write timeout", Limits{WriteTimeout: -1}, "write_timeout"},
		{"negative read timeout", Limits{ReadTimeout: -1}, "read_timeout"},
		{"negative gop bytes", Limits{GOPCacheBytes: -1}, "gop_cache_bytes"},
		{"negative gop frames", Limits{GOPCacheFrames: -1}, "gop_cache_frames"},
		{"negative queue frames", Limits{ReaderQueueFrames: -5}, "reader_queue_frames"},
		{"negative queue bytes", Limits{ReaderQueueBytes: -5}, "reader_queue_bytes"},
		{"negative max frame", Limits{MaxFrameBytes: -1}, "max_frame_bytes"},
		{"negative max readers", Limits{MaxReaders: -1}, "max_readers"},
		{"queue frames below the gop cache", Limits{GOPCacheFrames: 100, ReaderQueueFrames: 100}, "reader_queue_frames"},
		{"queue frames just enough", Limits{GOPCacheFrames: 100, ReaderQueueFrames: 104}, ""},
		{"queue frames one short", Limits{GOPCacheFrames: 100, ReaderQueueFrames: 103}, "reader_queue_frames"},
		{"queue bytes below the gop cache", Limits{GOPCacheBytes: 10 << 20, ReaderQueueBytes: 10 << 20}, "reader_queue_bytes"},
		{"queue bytes just enough", Limits{GOPCacheBytes: 1000, MaxFrameBytes: 500, ReaderQueueBytes: 2000}, ""},
		{"queue bytes one short", Limits{GOPCacheBytes: 1000, MaxFrameBytes: 500, ReaderQueueBytes: 1999}, "reader_queue_bytes"},
		{"default queue, bigger gop cache", Limits{GOPCacheFrames: DefaultReaderQueueFrames}, "reader_queue_frames"},
		{"frame bigger than FLV can carry", Limits{MaxFrameBytes: 1 << 24, ReaderQueueBytes: 1 << 30}, "max_frame_bytes"},
		{"largest frame FLV can carry", Limits{MaxFrameBytes: 1<<24 - 9, ReaderQueueBytes: 1 << 30}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.l.Validate()
			switch {
			case tc.errPart == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.errPart != "" && err == nil:
				t.Fatalf("accepted, want an error about %s", tc.errPart)
			case tc.errPart != "" && !strings.Contains(err.Error(), "media."+tc.errPart):
				t.Fatalf("error %q does not name media.%s", err, tc.errPart)
			}
		})
	}
}
