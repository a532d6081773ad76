package emulator

import (
	"sync"
	"time"
)

// rateLimiter is the real server's token bucket (limiter/token_bucket.rs):
// capacity = rate, refilled at rate tokens per second, refill skipped when
// less than 10 ms passed and counted in whole tokens. One bucket per key
// (user id for SQL, client IP for auth). It reads wall time, not the
// emulator clock, so a test that freezes the clock is not throttled forever.
type rateLimiter struct {
	mu      sync.Mutex
	rate    int // <= 0: off
	buckets map[string]*bucket
	now     func() time.Time // wall clock; tests substitute a fake
}

type bucket struct {
	tokens     int
	lastRefill time.Time
}

func newRateLimiter(rate int) *rateLimiter {
	return &rateLimiter{rate: rate, buckets: map[string]*bucket{}, now: time.Now}
}

// limitOrDefault maps an Options value to a rate: 0 is the real default,
// negative turns the limit off.
func limitOrDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// allow takes one token for key.
func (l *rateLimiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate <= 0 {
		return true
	}
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.rate, lastRefill: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.lastRefill); elapsed >= 10*time.Millisecond {
		if add := int(float64(l.rate) * elapsed.Seconds()); add > 0 {
			b.tokens = min(l.rate, b.tokens+add)
			b.lastRefill = now
		}
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// setRate changes the limit and forgets every bucket.
func (l *rateLimiter) setRate(rate int) {
	l.mu.Lock()
	l.rate = rate
	l.buckets = map[string]*bucket{}
	l.mu.Unlock()
}

// ipGuard is the connection protection's per-IP request limit
// (connection_guard.rs, http-api.md §1.1): loopback peers are exempt; each
// refusal is a violation, and from the 10th on the IP is banned for
// 300 s × min(violations/10, 6).
type ipGuard struct {
	limiter *rateLimiter
	mu      sync.Mutex
	state   map[string]*ipState
}

type ipState struct {
	violations  int
	bannedUntil time.Time
}

const banBase = 300 * time.Second

func newIPGuard(rate int) *ipGuard {
	return &ipGuard{limiter: newRateLimiter(rate), state: map[string]*ipState{}}
}

// verdict is what the guard decided for one request.
type verdict int

const (
	allowed verdict = iota
	rateLimited
	banned
)

func (g *ipGuard) check(ip string) verdict {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.limiter.now()
	st := g.state[ip]
	if st != nil && st.bannedUntil.After(now) {
		return banned
	}
	if g.limiter.allow(ip) {
		return allowed
	}
	if st == nil {
		st = &ipState{}
		g.state[ip] = st
	}
	st.violations++
	if st.violations >= 10 {
		st.bannedUntil = now.Add(banBase * time.Duration(min(st.violations/10, 6)))
	}
	return rateLimited
}
