//go:build js && wasm

package sdk

import (
	"github.com/kalamstack/kalam-go/transport"
	"github.com/kalamstack/kalam-go/transport/wasmjs"
)

// defaultTransport in the browser is fetch and WebSocket through
// syscall/js, which keeps net/http (about 7 MB of wasm) out of the build.
func defaultTransport() transport.Transport { return wasmjs.New(nil) }
