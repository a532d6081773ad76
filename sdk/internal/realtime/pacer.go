package realtime

import (
	"math/rand/v2"
	"sync"
	"time"
)

// bucket is a token bucket pacing what the client sends: the server drops
// client messages above its per-connection rate (50/s by default) and a
// dropped subscribe is never acknowledged, so the client stays below it.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

// take consumes one token and returns how long the caller must wait before
// sending (zero when a token was available).
func (b *bucket) take() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// slowDown halves the rate (not below one message per second) after the
// server reported that it dropped a message.
func (b *bucket) slowDown() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rate = max(1, b.rate/2)
	b.burst = max(1, b.burst/2)
	b.tokens = min(b.tokens, b.burst)
	return b.rate
}

// backoff returns the wait before reconnect attempt n (1-based): an
// exponential window min·2^(n-1) capped at max, of which a random half is
// waited ("equal jitter"), so clients cut off together do not return
// together (the official client has no jitter: sdk-features §4 C4).
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo << min(n-1, 30)
	if d <= 0 || d > hi {
		d = hi
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}
