package kalamtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/stretchr/testify/require"
)

// NewServer serves a root that can log in and run SQL over real HTTP.
func TestNewServer(t *testing.T) {
	srv := NewServer(t)
	require.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"))
	require.Equal(t, "root", srv.RootUser)
	require.Equal(t, DefaultRootPassword, srv.RootPassword, "server %+v", srv)
	resp, err := http.Post(srv.URL+"/v1/api/auth/login", "application/json",
		strings.NewReader(`{"user":"root","password":"`+srv.RootPassword+`"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	var login struct {
		AccessToken string `json:"access_token"`
		User        struct {
			Role string `json:"role"`
		} `json:"user"`
	}
	err = json.NewDecoder(resp.Body).Decode(&login)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, "login: %d %v", resp.StatusCode, err)
	require.Equal(t, "system", login.User.Role)
	require.NotEqual(t, "", login.AccessToken, "login %+v", login)
	_, err = srv.Emulator.ExecAs("root", "CREATE NAMESPACE app")
	require.NoError(t, err)
}

// The server speaks h2c with prior knowledge, as the real one does.
func TestNewServerHTTP2Cleartext(t *testing.T) {
	srv := NewServer(t)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Post(srv.URL+"/v1/api/auth/login", "application/json",
		strings.NewReader(`{"user":"root","password":"`+srv.RootPassword+`"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 2, resp.ProtoMajor)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s %d, want HTTP/2 200", resp.Proto, resp.StatusCode)
}

// Options reach the emulator: no root password means setup is required.
func TestNewServerOptions(t *testing.T) {
	srv := NewServer(t, WithEmulatorOptions(func(o *emulator.Options) { o.RootPassword = "" }))
	resp, err := http.Post(srv.URL+"/v1/api/auth/login", "application/json", strings.NewReader(`{"user":"root","password":""}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusPreconditionRequired, resp.StatusCode, "login status %d, want 428", resp.StatusCode)
}

// BenchmarkNewServer is the start-up cost a test pays (target: median well
// under 20 ms); stopping is outside the timed part.
func BenchmarkNewServer(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, stop, err := startServer()
		require.NoError(b, err)
		b.StopTimer()
		require.NoError(b, stop())
		b.StartTimer()
	}
}
