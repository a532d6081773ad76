package realtime

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/kalamstack/kalam-go/transport"
)

// Dead-link detection where no Ping can be sent (browsers).
//
// A browser cannot send WebSocket pings nor see pongs, and the server never
// answers the application {"type":"ping"} (ws-protocol §4.5, §8). So a
// connection that cannot ping records when it last heard anything, and on
// each keepalive tick where it has heard nothing for half a ping interval
// the manager asks Config.Probe (an HTTP request with a PongTimeout
// deadline): a server that answers is only quiet; one that does not is
// frozen or gone, and the link is dropped as ErrDeadLink, which reconnects.
// With the defaults (5 s, 5 s) a frozen server is noticed in 7.5-12.5 s, as
// natively (ping, then 5 s for the pong). The cost on an idle page is one
// small HTTP request per ping interval while nothing arrives.

// quietConn records when the last message arrived.
type quietConn struct {
	transport.Conn
	last atomic.Int64 // time.Now().UnixNano() of the last message, or of the dial
}

// watchQuiet wraps a connection that cannot ping; others are returned as is.
func watchQuiet(c transport.Conn) transport.Conn {
	if _, ok := c.(pinger); ok {
		return c
	}
	q := &quietConn{Conn: c}
	q.last.Store(time.Now().UnixNano())
	return q
}

func (q *quietConn) Read(ctx context.Context) (transport.MessageType, []byte, error) {
	typ, p, err := q.Conn.Read(ctx)
	if err == nil {
		q.last.Store(time.Now().UnixNano())
	}
	return typ, p, err
}

// quiet reports how long nothing has arrived.
func (q *quietConn) quiet() time.Duration {
	return time.Duration(time.Now().UnixNano() - q.last.Load())
}

// probeQuietLink is called by the keepalive on each tick of a connection
// that cannot ping. It reports whether it ended the connection.
func (m *Manager) probeQuietLink(lc *liveConn) bool {
	q, ok := lc.conn.(*quietConn)
	if !ok || m.cfg.Probe == nil {
		return false
	}
	quiet := q.quiet()
	if quiet < m.cfg.PingInterval/2 {
		return false
	}
	ctx, cancel := context.WithTimeout(lc.ctx, m.cfg.PongTimeout)
	err := m.cfg.Probe(ctx)
	cancel()
	if err == nil || lc.ctx.Err() != nil {
		return false
	}
	if q.quiet() < quiet {
		return false // a message arrived meanwhile: the link lives
	}
	lc.cancel(fmt.Errorf("%w: nothing arrived for %v and an HTTP request to the server failed: %w", ErrDeadLink, quiet.Round(time.Millisecond), err))
	return true
}

// retryCannotFix reports whether a failed dial should end the connection
// attempt instead of backing off and retrying: an upgrade refused with a
// status that retrying cannot change (natively: 400, 403, 404, 405, 426 ...;
// 401 is handled as ErrAuth, which renews the token), and, on a transport
// that cannot see the status (a browser, where an origin refused by CORS
// and a server that is down look alike), any failure of a first connection
// that never succeeded. Once a connection has worked, a browser retries
// with backoff as everywhere else.
func (m *Manager) retryCannotFix(err error, hadConn bool) bool {
	if errors.Is(err, ErrAuth) {
		return false
	}
	var he *transport.HandshakeError
	if errors.As(err, &he) {
		switch he.StatusCode {
		case 400, 403, 404, 405, 426, 431, 501:
			return true
		}
		return false
	}
	return !hadConn && !reportsHandshakeStatus(m.cfg.Transport)
}

func reportsHandshakeStatus(t transport.Transport) bool {
	r, ok := t.(interface{ ReportsHandshakeStatus() bool })
	return !ok || r.ReportsHandshakeStatus()
}
