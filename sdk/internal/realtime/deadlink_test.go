package realtime

import (
	"context"
	"errors"
	"github.com/stretchr/testify/require"
	"sync"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/transport"
)

// deadLinkTransport hands out connections that authenticate and then go
// silent: no pong, no data. Closing the first one blocks until release is
// closed, as a close handshake over a dead link waits for a reply.
type deadLinkTransport struct {
	release chan struct{}
	dialed  chan int // receives the number of each dial
	mu      sync.Mutex
	dials   int
}

func (tr *deadLinkTransport) Do(context.Context, *transport.Request) (*transport.Response, error) {
	return nil, errors.New("deadLinkTransport: no HTTP here")
}

func (tr *deadLinkTransport) Dial(ctx context.Context, url string, opts *transport.DialOptions) (transport.Conn, error) {
	tr.mu.Lock()
	tr.dials++
	n := tr.dials
	tr.mu.Unlock()
	select {
	case tr.dialed <- n:
	default:
	}
	c := &deadConn{closed: make(chan struct{})}
	if n == 1 {
		c.release = tr.release
	}
	return c, nil
}

type deadConn struct {
	mu      sync.Mutex
	authed  bool
	release chan struct{} // nil: Close returns at once
	once    sync.Once
	closed  chan struct{}
}

func (c *deadConn) Read(ctx context.Context) (transport.MessageType, []byte, error) {
	c.mu.Lock()
	first := !c.authed
	c.authed = true
	c.mu.Unlock()
	if first {
		return transport.MessageText, []byte(`{"type":"auth_success","user_id":"u","role":"user"}`), nil
	}
	select {
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	case <-c.closed:
		return 0, nil, transport.ErrConnClosed
	}
}

func (c *deadConn) Write(context.Context, transport.MessageType, []byte) error { return nil }

func (c *deadConn) Ping(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func (c *deadConn) Close(transport.StatusCode, string) error {
	c.once.Do(func() { close(c.closed) })
	if c.release != nil {
		<-c.release
	}
	return nil
}

// A dead link is replaced at once, not after its close handshake gives up.
func TestDeadLinkReconnectsWithoutWaitingForClose(t *testing.T) {
	tr := &deadLinkTransport{release: make(chan struct{}), dialed: make(chan int, 16)}
	m := New(Config{Transport: tr, URL: "ws://kalam.test/v1/ws", HeaderAuth: true,
		Token:        func(context.Context, bool, bool) (string, error) { return "tok", nil },
		PingInterval: 5 * time.Millisecond, PongTimeout: 5 * time.Millisecond,
		ReconnectMin: time.Millisecond, ReconnectMax: time.Millisecond})
	defer m.Close()
	defer close(tr.release) // runs before m.Close
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Connect(ctx))
	for {
		select {
		case n := <-tr.dialed:
			if n >= 2 {
				return // redialled while the first Close is still blocked
			}
		case <-ctx.Done():
			t.Fatal("no new connection within 10 s: the reconnect waits for the dead link's close handshake")
		}
	}
}
