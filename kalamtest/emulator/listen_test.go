package emulator

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Listen serves a working emulator on a real port, and Close stops it.
func TestListen(t *testing.T) {
	l, err := Listen("127.0.0.1:0", Options{RootPassword: testRootPassword})
	require.NoError(t, err)
	resp, err := http.Post(l.URL+"/v1/api/auth/login", "application/json",
		strings.NewReader(`{"user":"root","password":"`+testRootPassword+`"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "login over Listen: HTTP %d", resp.StatusCode)
	require.NoError(t, l.Close(), "Close")
	_, err = http.Get(l.URL + "/v1/api/healthcheck")
	require.Error(t, err, "the emulator still answers after Close")
}
