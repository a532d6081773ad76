//go:build js

package mock

import (
	"context"
	"errors"

	"github.com/kalamstack/kalam-go/transport"
)

// ErrNoWebSocket is returned by Dial under GOOS=js: the handler side of
// coder/websocket (websocket.Accept) does not exist there, so no handler
// could accept the upgrade.
var ErrNoWebSocket = errors.New("mock: WebSocket is not available under GOOS=js (coder/websocket has no server side there)")

// Dial fails with ErrNoWebSocket under GOOS=js.
func (t *Transport) Dial(ctx context.Context, url string, opts *transport.DialOptions) (transport.Conn, error) {
	return nil, ErrNoWebSocket
}

// DropConnections has no connections to cut under GOOS=js.
func (t *Transport) DropConnections() int { return 0 }

// StallReads has no reads to stall under GOOS=js.
func (t *Transport) StallReads() (release func()) { return func() {} }

// wsConn is never created under GOOS=js.
type wsConn struct{}
