package media

import "time"

// Deadline renews a connection's write deadline lazily. Setting it before
// every write costs a runtime timer update per write — 6% of a core at 2,000
// players in `minirtc bench media` — so it is renewed only once the deadline
// in force has less than 3/4 of the timeout left. A player whose socket
// accepts nothing is still cut between 3/4 and 1 timeout after its last
// progress.
type Deadline struct {
	timeout time.Duration
	until   time.Time
}

// NewDeadline makes a Deadline for the given write timeout.
func NewDeadline(timeout time.Duration) *Deadline { return &Deadline{timeout: timeout} }

// Renew sets c's write deadline to now+timeout when the one in force is
// getting close.
func (d *Deadline) Renew(c interface{ SetWriteDeadline(time.Time) error }, now time.Time) error {
	if d.until.Sub(now) > d.timeout*3/4 {
		return nil
	}
	d.until = now.Add(d.timeout)
	return c.SetWriteDeadline(d.until)
}
