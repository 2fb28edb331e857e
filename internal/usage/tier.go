package usage

import (
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Tier bounds, in pixels per picture. A tier is named after the 16:9 frame
// it covers; orientation does not matter (360x640 is 360p) and other shapes
// fall in the smallest tier whose pixel count they do not exceed (640x480,
// 307,200 pixels, is 540p).
const (
	MaxPixels360p  = 640 * 360   // 230,400
	MaxPixels540p  = 960 * 540   // 518,400
	MaxPixels720p  = 1280 * 720  // 921,600
	MaxPixels1080p = 1920 * 1080 // 2,073,600
)

// TierOf classifies what a subscriber receives by the sum of the pixels of
// the video pictures of all its subscribed streams: 0 is audio only.
func TierOf(pixels int64) store.Tier {
	switch {
	case pixels <= 0:
		return store.TierAudio
	case pixels <= MaxPixels360p:
		return store.Tier360p
	case pixels <= MaxPixels540p:
		return store.Tier540p
	case pixels <= MaxPixels720p:
		return store.Tier720p
	case pixels <= MaxPixels1080p:
		return store.Tier1080p
	}
	return store.TierAbove1080p
}

// maxStreamPixels caps one stream's contribution, so that absurd sizes
// from a broken encoder cannot overflow a sum (16384x16384).
const maxStreamPixels = 1 << 28

// streamPixels is the picture size a subscriber of st receives: zero when
// the stream has no video, its owner disabled the video, or no video has
// arrived yet (the size is known once the stream is live).
func streamPixels(st protocol.Stream) int64 {
	if !st.Media.HasVideo() || st.VideoDisabled || st.Video == nil || st.Video.Width <= 0 || st.Video.Height <= 0 {
		return 0
	}
	return min(int64(st.Video.Width)*int64(st.Video.Height), maxStreamPixels)
}
