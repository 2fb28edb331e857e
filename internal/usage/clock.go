package usage

import "time"

// Clock is the accountant's time source. Tests use a fake one to script
// exact durations; the server uses the system clock.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker that delivers on C every d, dropping ticks
	// a slow reader misses (as time.Ticker does).
	NewTicker(d time.Duration) Ticker
}

// Ticker is the part of time.Ticker the accountant uses.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// NewTicker wraps time.NewTicker.
func (SystemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

type systemTicker struct{ t *time.Ticker }

func (s systemTicker) C() <-chan time.Time { return s.t.C }
func (s systemTicker) Stop()               { s.t.Stop() }
