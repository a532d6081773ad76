//go:build js && wasm

package conformance_test

import (
	"os"
	"testing"

	"github.com/kalamstack/kalam-go/conformance"
)

// The client suite in a browser (wasm/chromeexec with
// KALAM_BROWSER_FIXTURES=1): the whole SDK over fetch and the browser's
// WebSocket, against an emulator on another origin whose CORS allows the
// test page's.
func TestClientBrowser(t *testing.T) {
	url := os.Getenv("KALAM_EMULATOR_URL")
	if url == "" {
		t.Skip("KALAM_EMULATOR_URL is not set: run under wasm/chromeexec with KALAM_BROWSER_FIXTURES=1")
	}
	conformance.Client(t, func(t *testing.T) conformance.Target {
		return conformance.Target{URL: url, User: "root", Password: os.Getenv("KALAM_EMULATOR_PASSWORD")}
	})
}
