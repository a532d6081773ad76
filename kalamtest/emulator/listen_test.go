package emulator

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

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

// Issue 9 item 13: a client that stalls mid-body, or mid-headers, does not
// hold its connection: Listen closes it once the read timeout passes.
func TestListenClosesStalledRequests(t *testing.T) {
	l, err := Listen("127.0.0.1:0", Options{RootPassword: testRootPassword,
		ReadHeaderTimeout: 50 * time.Millisecond, ReadBodyTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	defer l.Close()
	host := strings.TrimPrefix(l.URL, "http://")
	for name, req := range map[string]string{
		"half a body":      "POST /v1/api/sql HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"sql\":\"SEL",
		"half the headers": "POST /v1/api/sql HTTP/1.1\r\nHost: " + host + "\r\nContent-Ty",
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", host)
			require.NoError(t, err)
			defer conn.Close()
			_, err = io.WriteString(conn, req)
			require.NoError(t, err)
			// The bound only keeps a broken server from hanging the test.
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
			_, err = io.ReadAll(conn) // whatever the server answers, it must then close
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept a stalled connection open")
			}
		})
	}

	// A request whose body arrives in time, and a later request on the
	// same connection, are unaffected (the deadline ends with the body).
	c := &http.Client{}
	for i := 0; i < 2; i++ {
		resp, err := c.Post(l.URL+"/v1/api/auth/login", "application/json",
			strings.NewReader(`{"user":"root","password":"`+testRootPassword+`"}`))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
}
