//go:build !js

package mock_test

import (
	"net/http"
	"testing"

	"github.com/kalamstack/kalam-go/conformance"
	"github.com/kalamstack/kalam-go/transport"
	"github.com/kalamstack/kalam-go/transport/mock"
)

func TestConformance(t *testing.T) {
	conformance.Transport(t, func(t *testing.T, h http.Handler) (transport.Transport, string) {
		return mock.New(h), "http://kalamdb.mock"
	})
}
