//go:build js

package live

import (
	"errors"
	"net/http"

	"github.com/coder/websocket"
)

// accept cannot upgrade under GOOS=js: coder/websocket has no server side
// there (a browser cannot accept sockets). The endpoint answers 501.
func accept(w http.ResponseWriter, _ *http.Request, _ func()) (*websocket.Conn, error) {
	http.Error(w, "WebSocket server not available on js/wasm", http.StatusNotImplemented)
	return nil, errors.New("websocket accept is not available on js/wasm")
}
