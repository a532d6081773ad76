//go:build js && wasm

package wasmjs_test

import (
	"os"
	"testing"

	"github.com/kalamstack/kalam-go/conformance"
	"github.com/kalamstack/kalam-go/transport/wasmjs"
)

// TestConformance runs in a browser, against conformance.TransportHandler
// served natively by the browser runner at KALAM_TRANSPORT_URL, from the
// same origin as the test page (the handler sends no CORS headers).
func TestConformance(t *testing.T) {
	base := os.Getenv("KALAM_TRANSPORT_URL")
	if base == "" {
		t.Skip("KALAM_TRANSPORT_URL is not set: the browser runner sets it to the native server of conformance.TransportHandler")
	}
	conformance.TransportAgainst(t, wasmjs.New(nil), base)
}
