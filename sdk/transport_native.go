//go:build !js

package sdk

import (
	"github.com/kalamstack/kalam-go/transport"
	kalamhttp "github.com/kalamstack/kalam-go/transport/http"
)

// defaultTransport is net/http (through transport/http) on every platform
// but the browser.
func defaultTransport() transport.Transport { return kalamhttp.New(nil) }
