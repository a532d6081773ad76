package http_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kalamstack/kalam-go/conformance"
	"github.com/kalamstack/kalam-go/transport"
	kalamhttp "github.com/kalamstack/kalam-go/transport/http"
)

func TestConformance(t *testing.T) {
	conformance.Transport(t, func(t *testing.T, h http.Handler) (transport.Transport, string) {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		tr := kalamhttp.New(nil)
		t.Cleanup(tr.CloseIdleConnections)
		return tr, srv.URL
	})
}
