package webhook

import (
	"fmt"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/pkg/ids"
)

// BenchmarkObserveToOutbox measures how long an event spends between the
// room and the committed outbox (the crash-loss window), for bursts of
// b.N events over 50 rooms on a real SQLite file. Deliveries go to a
// receiver that answers at once.
func BenchmarkObserveToOutbox(b *testing.B) {
	cfg := fastConfig()
	cfg.QueueSize = max(b.N, 1)
	e := newEnv(b, cfg)
	rcv := newReceiver(b, nil)
	app, _ := e.app(b, rcv.URL())
	e.d.Start()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		observe(e.d, app, ids.RoomID(fmt.Sprint("r", i%50)), room.EvRoomCreated, nil)
	}
	for e.metric(e.d.m.stored) < float64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/event")
}
