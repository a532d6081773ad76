//go:build !js

package live

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
)

// accept upgrades the request. The origin policy was applied already, so
// the library's own same-origin check is off (the real server accepts
// cross-origin upgrades when allowed origins is "*"). No subprotocol and
// no permessage-deflate, as on the real server (§1).
func accept(w http.ResponseWriter, r *http.Request, touch func()) (*websocket.Conn, error) {
	return websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
		OnPingReceived:     func(context.Context, []byte) bool { touch(); return true },
		OnPongReceived:     func(context.Context, []byte) { touch() },
	})
}
