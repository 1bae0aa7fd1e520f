package scheduler

import "time"

// Clock gives the scheduler and the governor the time. Wall time from Now
// goes into the ledger; durations between two Now readings use Go's
// monotonic clock, so pacing is immune to wall-clock jumps.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the Clock of the time package.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// wall strips the monotonic reading so a time compares and stores as wall
// time only.
func wall(t time.Time) time.Time { return t.Round(0) }
