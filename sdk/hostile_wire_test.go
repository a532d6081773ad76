//go:build !js

package sdk_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/sdk"
)

// Issue 9 item 12, over the real wire: a reply declaring a 64 MiB
// Content-Length that sends 33 bytes and hangs up allocated 64 MiB.
func TestHostileDeclaredLengthOverTheWire(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 67108864\r\n\r\n")
		buf.WriteString(`{"status":"success","results":[]}`)
		buf.Flush()
	}))
	defer srv.Close()
	c, err := sdk.New(srv.URL, sdk.WithToken("t"), sdk.WithMaxRetries(0))
	require.NoError(t, err)
	defer c.Close()
	before := allocatedBytes()
	_, err = c.Query(context.Background(), "INSERT INTO app.t VALUES (1)")
	n := allocatedBytes() - before
	require.Error(t, err, "a body cut short of its declared length is an error")
	assert.Less(t, n, uint64(4<<20), "allocated %d bytes for a 33-byte body", n)
}
