package sdk

import (
	"context"

	"github.com/kalamstack/kalam-go/transport"
)

// probeServer is the realtime manager's liveness check for connections
// that cannot ping (browsers; see internal/realtime/quiet.go): one GET of
// the health endpoint, without retries. Any HTTP answer, even 403 (the real
// server answers health only to localhost), proves the server responsive.
func (c *Client) probeServer(ctx context.Context) error {
	resp, err := c.tr.Do(ctx, &transport.Request{Method: "GET", URL: c.eps.current() + "/v1/api/healthcheck",
		Header: map[string][]string{"Accept": {"application/json"}}})
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
