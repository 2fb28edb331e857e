package media

import (
	"testing"
	"time"
)

type deadlineRecorder struct{ set []time.Time }

func (r *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	r.set = append(r.set, t)
	return nil
}

func TestDeadlineRenewsLazily(t *testing.T) {
	d := NewDeadline(8 * time.Second)
	var c deadlineRecorder
	t0 := time.Unix(1000, 0)
	for _, at := range []time.Duration{0, time.Second, 2 * time.Second, 2*time.Second + time.Millisecond, 3 * time.Second, 20 * time.Second} {
		if err := d.Renew(&c, t0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	// Set at 0 (until 8 s); at 2 s only 3/4 of the timeout is left:
	// renewed (until 10 s); at 20 s it had expired: renewed.
	want := []time.Time{t0.Add(8 * time.Second), t0.Add(10 * time.Second), t0.Add(28 * time.Second)}
	if len(c.set) != len(want) {
		t.Fatalf("deadlines set %v, want %v", c.set, want)
	}
	for i := range want {
		if !c.set[i].Equal(want[i]) {
			t.Fatalf("deadline %d = %v, want %v", i, c.set[i], want[i])
		}
	}
}
