package emulator

import (
	"sync"
	"time"
)

// clock is the emulator's settable time: token expiry, STREAM TTL, topic
// claims and login lockouts all read it.
type clock struct {
	mu     sync.Mutex
	base   func() time.Time
	frozen bool
	at     time.Time     // the frozen instant
	offset time.Duration // added to base when not frozen
}

func newClock(base func() time.Time) *clock {
	if base == nil {
		base = time.Now
	}
	return &clock{base: base}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return c.at
	}
	return c.base().Add(c.offset)
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.frozen, c.at = true, t
	c.mu.Unlock()
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	if c.frozen {
		c.at = c.at.Add(d)
	} else {
		c.offset += d
	}
	c.mu.Unlock()
}
