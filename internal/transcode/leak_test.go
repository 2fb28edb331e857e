package transcode

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssBytes is this process's resident memory, which counts FFmpeg's C
// allocations (the Go heap alone would not).
func rssBytes(t *testing.T) int64 {
	// Collect (which also runs the cleanups of transcoders dropped
	// without Close) and return the Go heap's free memory: its own growth
	// is not what we look for.
	debug.FreeOSMemory()
	time.Sleep(10 * time.Millisecond) // cleanups run on their own goroutine
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm:", err)
	}
	pages, err := strconv.ParseInt(strings.Fields(string(b))[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// TestNoCMemoryLeak opens, uses (with good and bad frames) and closes
// transcoders in a loop, then drops them without Close: every FFmpeg object
// must be freed, by Close or by the cleanup that the garbage collector
// runs, or resident memory grows with every round.
func TestNoCMemoryLeak(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("slow, and meaningless under the race detector")
	}
	aac := readADTS(t, "sine1k_48k_mono.aac")
	opus := readOgg(t, "sine1k_mono_20ms.opus")
	round := func(closeThem bool) {
		a, err := NewAACToOpus(aac.asc)
		if err != nil {
			t.Fatal(err)
		}
		o, err := NewOpusToAAC(2)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 12 {
			a.Write(aac.frames[i], aac.pts(0, i))
			o.Write(opus[i], int64(i)*20)
		}
		a.Write([]byte{0xa0, 0x30, 0, 0, 0, 0, 0xe0}, 300) // restarts the decoder
		a.Write([]byte("garbage"), 320)
		o.Write([]byte{0x0b, 0x3f}, 300)
		if closeThem {
			a.Close()
			o.Close()
			a.Close()
		} else {
			// The garbage collector does not see C memory (1.4 MB for
			// an OpusToAAC): collect by hand, as it would eventually.
			runtime.GC()
		}
	}
	for _, phase := range []struct {
		name      string
		closeThem bool
		rounds    int
		limit     int64
	}{
		// Allocator fragmentation alone grows it by 1 to 9 MB; a
		// forgotten filter graph adds 230 KB a round, an AAC encoder
		// 1.4 MB. Small objects (an AVPacket) would hide in the noise:
		// those are for review.
		{"closed", true, 300, 16 << 20},
		// Without the cleanups, 1.4 MB a round.
		{"dropped", false, 100, 16 << 20},
	} {
		for range 30 { // let the allocators reach their working set
			round(phase.closeThem)
		}
		before := rssBytes(t)
		for range phase.rounds {
			round(phase.closeThem)
		}
		grown := rssBytes(t) - before
		t.Logf("%s: resident memory grew %d KB over %d rounds", phase.name, grown>>10, phase.rounds)
		if grown > phase.limit {
			t.Errorf("%s: resident memory grew %d KB over %d rounds: %d bytes a round leak",
				phase.name, grown>>10, phase.rounds, grown/int64(phase.rounds))
		}
	}
}
