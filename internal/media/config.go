package media

import (
	"fmt"
	"time"
)

// Limits bound what the hub keeps per stream and per reader. Zero fields
// take the defaults below (WithDefaults).
type Limits struct {
	// UnpublishGrace is how long a stream whose push connection closed stays
	// published, so that live-pusher's automatic reconnect continues it.
	UnpublishGrace time.Duration `yaml:"unpublish_grace"`
	// LiveTimeout is how long after the first frame a stream is announced
	// even if a declared kind (audio or video) never arrived.
	LiveTimeout time.Duration `yaml:"live_timeout"`
	// StaleAfter: a second pusher on a stream is refused while the first one
	// delivered media within this time, and replaces it otherwise (a
	// half-open connection left behind by a network change).
	StaleAfter time.Duration `yaml:"stale_after"`
	// GOPCacheDuration, GOPCacheBytes and GOPCacheFrames bound the cache of
	// the last group of pictures; past any bound the cache is dropped until
	// the next keyframe and new players wait for it.
	GOPCacheDuration time.Duration `yaml:"gop_cache_duration"`
	GOPCacheBytes    int           `yaml:"gop_cache_bytes"`
	GOPCacheFrames   int           `yaml:"gop_cache_frames"`
	// ReaderQueueFrames and ReaderQueueBytes bound one player's backlog;
	// past either the player skips to the next keyframe.
	ReaderQueueFrames int `yaml:"reader_queue_frames"`
	ReaderQueueBytes  int `yaml:"reader_queue_bytes"`
	// MaxFrameBytes is the largest frame accepted from a publisher.
	MaxFrameBytes int `yaml:"max_frame_bytes"`
	// MaxReaders is the most players on the whole server.
	MaxReaders int `yaml:"max_readers"`
	// WriteTimeout disconnects a player whose socket accepted nothing for
	// this long; ReadTimeout disconnects a publisher that sent nothing.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	// CoalesceReaders is the number of players on one stream from which
	// its audio frames wait for the next video frame (at most
	// CoalesceDelay) so that both leave in one write per player: fewer
	// wake-ups and syscalls for a little audio latency. -1 turns it off.
	CoalesceReaders int           `yaml:"coalesce_readers"`
	CoalesceDelay   time.Duration `yaml:"coalesce_delay"`
}

// Defaults for Limits.
const (
	DefaultUnpublishGrace    = 5 * time.Second
	DefaultLiveTimeout       = 2 * time.Second
	DefaultStaleAfter        = 2 * time.Second
	DefaultGOPCacheDuration  = 10 * time.Second
	DefaultGOPCacheBytes     = 8 << 20
	DefaultGOPCacheFrames    = 1024
	DefaultReaderQueueFrames = 1200
	DefaultReaderQueueBytes  = 16 << 20
	DefaultMaxFrameBytes     = 4 << 20
	DefaultMaxReaders        = 20000
	DefaultWriteTimeout      = 10 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultCoalesceReaders   = 300
	DefaultCoalesceDelay     = 20 * time.Millisecond
)

// maxWireFrame is the largest payload whose FLV/RTMP body (up to 8 header
// bytes) fits a 24-bit length.
const maxWireFrame = 1<<24 - 1 - 8

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	seti := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	set(&l.UnpublishGrace, DefaultUnpublishGrace)
	set(&l.LiveTimeout, DefaultLiveTimeout)
	set(&l.StaleAfter, DefaultStaleAfter)
	set(&l.GOPCacheDuration, DefaultGOPCacheDuration)
	seti(&l.GOPCacheBytes, DefaultGOPCacheBytes)
	seti(&l.GOPCacheFrames, DefaultGOPCacheFrames)
	seti(&l.ReaderQueueFrames, DefaultReaderQueueFrames)
	seti(&l.ReaderQueueBytes, DefaultReaderQueueBytes)
	seti(&l.MaxFrameBytes, DefaultMaxFrameBytes)
	seti(&l.MaxReaders, DefaultMaxReaders)
	set(&l.WriteTimeout, DefaultWriteTimeout)
	set(&l.ReadTimeout, DefaultReadTimeout)
	seti(&l.CoalesceReaders, DefaultCoalesceReaders)
	set(&l.CoalesceDelay, DefaultCoalesceDelay)
	return l
}

// Validate refuses negative values and a reader queue smaller than the GOP
// cache (a new player would overflow on its first read).
func (l Limits) Validate() error {
	l = l.WithDefaults()
	for name, d := range map[string]time.Duration{
		"unpublish_grace": l.UnpublishGrace, "live_timeout": l.LiveTimeout, "stale_after": l.StaleAfter,
		"gop_cache_duration": l.GOPCacheDuration, "write_timeout": l.WriteTimeout, "read_timeout": l.ReadTimeout,
		"coalesce_delay": l.CoalesceDelay,
	} {
		if d < 0 {
			return fmt.Errorf("media.%s must not be negative, got %s", name, d)
		}
	}
	for name, n := range map[string]int{
		"gop_cache_bytes": l.GOPCacheBytes, "gop_cache_frames": l.GOPCacheFrames,
		"reader_queue_frames": l.ReaderQueueFrames, "reader_queue_bytes": l.ReaderQueueBytes,
		"max_frame_bytes": l.MaxFrameBytes, "max_readers": l.MaxReaders,
	} {
		if n < 0 {
			return fmt.Errorf("media.%s must not be negative, got %d", name, n)
		}
	}
	if l.CoalesceReaders < -1 {
		return fmt.Errorf("media.coalesce_readers must be -1 (off) or positive, got %d", l.CoalesceReaders)
	}
	// FLV tags and RTMP messages carry 24-bit lengths (minus the FLV video
	// header): bigger frames could not be sent to anyone.
	if l.MaxFrameBytes > maxWireFrame {
		return fmt.Errorf("media.max_frame_bytes (%d) must be at most %d, the largest frame FLV and RTMP can carry", l.MaxFrameBytes, maxWireFrame)
	}
	if l.ReaderQueueFrames < l.GOPCacheFrames+4 {
		return fmt.Errorf("media.reader_queue_frames (%d) must exceed media.gop_cache_frames (%d) by at least 4", l.ReaderQueueFrames, l.GOPCacheFrames)
	}
	if l.ReaderQueueBytes < l.GOPCacheBytes+2*l.MaxFrameBytes {
		return fmt.Errorf("media.reader_queue_bytes (%d) must be at least media.gop_cache_bytes + 2 × media.max_frame_bytes (%d)",
			l.ReaderQueueBytes, l.GOPCacheBytes+2*l.MaxFrameBytes)
	}
	return nil
}
