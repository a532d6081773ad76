package realtime

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kalamstack/kalam-go/transport"
)

// liveConn is one authenticated connection: its outgoing queue, drained by
// one paced writer, and the serialization the server chose.
type liveConn struct {
	conn   transport.Conn
	proto  string
	node   string // the cluster node it is connected to ("" with one URL)
	pacer  *bucket
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	out     [][]byte
	wake    chan struct{}
	idle    chan struct{} // closed when out is empty and nothing is being written
	writing bool
	forgot  map[string]bool // stale wire ids already unsubscribed

	repeatPending bool           // a repeat of unanswered requests is scheduled
	aux           sync.WaitGroup // goroutines serve must wait for
}

func newLiveConn(c transport.Conn, proto string, cfg Config) *liveConn {
	idle := make(chan struct{})
	close(idle)
	return &liveConn{conn: watchQuiet(c), proto: proto, pacer: newBucket(cfg.SendRate, cfg.SendBurst),
		wake: make(chan struct{}, 1), idle: idle, forgot: map[string]bool{}}
}

// send queues a message. The queue is unbounded so that no subscribe is
// ever dropped; the pacer decides when it goes out. urgent messages
// (keepalive) jump the queue.
func (lc *liveConn) send(p []byte, urgent bool) {
	lc.mu.Lock()
	if len(lc.out) == 0 && !lc.writing {
		lc.idle = make(chan struct{})
	}
	if urgent {
		lc.out = append([][]byte{p}, lc.out...)
	} else {
		lc.out = append(lc.out, p)
	}
	lc.mu.Unlock()
	select {
	case lc.wake <- struct{}{}:
	default:
	}
}

// unsubscribe sends an unsubscribe for id once per connection; late
// messages for an id already given up do not repeat it.
func (lc *liveConn) unsubscribe(id string) {
	lc.mu.Lock()
	first := !lc.forgot[id]
	lc.forgot[id] = true
	lc.mu.Unlock()
	if first {
		lc.send(EncodeUnsubscribe(id), false)
	}
}

// maxStaleUnsubscribes bounds the unsubscribes sent for ids the client
// no longer knows: a server (or a hostile one) naming endless unknown ids
// must not grow the send queue and the forgotten set without end.
const maxStaleUnsubscribes = 1024

// unsubscribeStale is unsubscribe for a message naming an id the client
// does not know; past maxStaleUnsubscribes such ids it only reports false.
func (lc *liveConn) unsubscribeStale(id string) bool {
	lc.mu.Lock()
	full := len(lc.forgot) >= maxStaleUnsubscribes && !lc.forgot[id]
	lc.mu.Unlock()
	if full {
		return false
	}
	lc.unsubscribe(id)
	return true
}

func (lc *liveConn) writeLoop() {
	for {
		lc.mu.Lock()
		var p []byte
		if len(lc.out) > 0 {
			p = lc.out[0]
			lc.out[0] = nil
			lc.out = lc.out[1:]
			lc.writing = true
		}
		lc.mu.Unlock()
		if p == nil {
			select {
			case <-lc.ctx.Done():
				lc.markIdle()
				return
			case <-lc.wake:
				continue
			}
		}
		if d := lc.pacer.take(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-lc.ctx.Done():
				t.Stop()
				lc.markIdle()
				return
			case <-t.C:
			}
		}
		if err := lc.conn.Write(lc.ctx, transport.MessageText, p); err != nil {
			lc.cancel(fmt.Errorf("realtime: writing to the WebSocket: %w", err))
			lc.markIdle()
			return
		}
		lc.mu.Lock()
		lc.writing = false
		if len(lc.out) == 0 {
			close(lc.idle)
		}
		lc.mu.Unlock()
	}
}

func (lc *liveConn) markIdle() {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.writing = false
	select {
	case <-lc.idle:
	default:
		close(lc.idle)
	}
}

// waitIdle waits until the queue has drained or the connection ended.
func (lc *liveConn) waitIdle() {
	lc.mu.Lock()
	idle := lc.idle
	lc.mu.Unlock()
	select {
	case <-idle:
	case <-lc.ctx.Done():
	}
}

// flush waits up to d for the queue to drain (used on Close so that
// unsubscribes reach the server).
func (lc *liveConn) flush(d time.Duration) {
	lc.mu.Lock()
	idle := lc.idle
	lc.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}
