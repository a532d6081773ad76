package realtime

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/transport"
)

// refusingTransport refuses every upgrade with status.
type refusingTransport struct {
	status   int
	noStatus bool // behave as a browser: no status visible
	dials    atomic.Int32
}

func (tr *refusingTransport) Do(context.Context, *transport.Request) (*transport.Response, error) {
	return nil, errors.New("refusingTransport: no HTTP here")
}

func (tr *refusingTransport) Dial(context.Context, string, *transport.DialOptions) (transport.Conn, error) {
	tr.dials.Add(1)
	if tr.noStatus {
		return nil, errors.New("websocket dial failed (no status)")
	}
	return nil, &transport.HandshakeError{StatusCode: tr.status}
}

func (tr *refusingTransport) ReportsHandshakeStatus() bool { return !tr.noStatus }

func refusedManager(tr transport.Transport) *Manager {
	return New(Config{Transport: tr, URL: "ws://kalam.test/v1/ws", HeaderAuth: true,
		Token:        func(context.Context, bool, bool) (string, error) { return "tok", nil },
		ReconnectMin: time.Millisecond, ReconnectMax: time.Millisecond})
}

// An upgrade refused with a status retrying cannot change ends the attempt
// with the typed error; a status that may pass is retried.
func TestRefusedHandshakeEndsAttempt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, status := range []int{400, 403, 404} {
		tr := &refusingTransport{status: status}
		m := refusedManager(tr)
		err := m.Connect(ctx)
		m.Close()
		require.ErrorIs(t, err, ErrGaveUp, "status %d", status)
		var he *transport.HandshakeError
		require.ErrorAs(t, err, &he)
		require.Equal(t, status, he.StatusCode)
		require.EqualValues(t, 1, tr.dials.Load(), "status %d was retried", status)
	}

	tr := &refusingTransport{status: 503}
	m := refusedManager(tr)
	defer m.Close()
	short, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	err := m.Connect(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Greater(t, tr.dials.Load(), int32(1), "503 was not retried")
}

// Where the status is invisible (browsers), a first connection that never
// succeeded ends with its error.
func TestFirstDialWithoutStatusEndsAttempt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr := &refusingTransport{noStatus: true}
	m := refusedManager(tr)
	defer m.Close()
	err := m.Connect(ctx)
	require.ErrorIs(t, err, ErrGaveUp)
	require.ErrorContains(t, err, "no status")
	require.EqualValues(t, 1, tr.dials.Load())
}

// quietConns are deadConns without Ping: what a browser connection is.
type quietTransport struct{ deadLinkTransport }

type noPingConn struct{ c *deadConn }

func (n noPingConn) Read(ctx context.Context) (transport.MessageType, []byte, error) {
	return n.c.Read(ctx)
}
func (n noPingConn) Write(ctx context.Context, typ transport.MessageType, p []byte) error {
	return n.c.Write(ctx, typ, p)
}
func (n noPingConn) Close(code transport.StatusCode, reason string) error {
	return n.c.Close(code, reason)
}

func (tr *quietTransport) Dial(ctx context.Context, url string, opts *transport.DialOptions) (transport.Conn, error) {
	c, err := tr.deadLinkTransport.Dial(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	return noPingConn{c.(*deadConn)}, nil
}

// Without pings, a quiet link whose server does not answer the probe is
// dropped as dead; one whose server answers is kept.
func TestQuietLinkProbe(t *testing.T) {
	for _, alive := range []bool{false, true} {
		tr := &quietTransport{deadLinkTransport{dialed: make(chan int, 16)}}
		probed := make(chan struct{}, 64)
		events := make(chan ConnEvent, 16)
		m := New(Config{Transport: tr, URL: "ws://kalam.test/v1/ws", HeaderAuth: true,
			Token:        func(context.Context, bool, bool) (string, error) { return "tok", nil },
			PingInterval: 5 * time.Millisecond, PongTimeout: 5 * time.Millisecond,
			ReconnectMin: time.Millisecond, ReconnectMax: time.Millisecond,
			OnEvent: func(ev ConnEvent) { events <- ev },
			Probe: func(ctx context.Context) error {
				select {
				case probed <- struct{}{}:
				default:
				}
				if alive {
					return nil
				}
				<-ctx.Done()
				return ctx.Err()
			}})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, m.Connect(ctx))
		if alive {
			for n := 0; n < 5; {
				select {
				case ev := <-events:
					require.NotEqual(t, EventDisconnected, ev.Kind, "a quiet live link was dropped: %v", ev.Err)
				case <-probed:
					n++
				case <-ctx.Done():
					t.Fatal("no probes within 10 s")
				}
			}
		} else {
		wait:
			for {
				select {
				case ev := <-events:
					if ev.Kind == EventDisconnected {
						require.ErrorIs(t, ev.Err, ErrDeadLink)
						break wait
					}
				case <-ctx.Done():
					t.Fatal("the dead quiet link was not dropped within 10 s")
				}
			}
		}
		cancel()
		m.Close()
	}
}
