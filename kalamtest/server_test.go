package kalamtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/kalamstack/kalam-go/kalamtest/emulator"
)

// NewServer serves a root that can log in and run SQL over real HTTP.
func TestNewServer(t *testing.T) {
	srv := NewServer(t)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") || srv.RootUser != "root" || srv.RootPassword != DefaultRootPassword {
		t.Fatalf("server %+v", srv)
	}
	resp, err := http.Post(srv.URL+"/v1/api/auth/login", "application/json",
		strings.NewReader(`{"user":"root","password":"`+srv.RootPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var login struct {
		AccessToken string `json:"access_token"`
		User        struct {
			Role string `json:"role"`
		} `json:"user"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&login); err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	if login.User.Role != "system" || login.AccessToken == "" {
		t.Fatalf("login %+v", login)
	}
	if _, err := srv.Emulator.ExecAs("root", "CREATE NAMESPACE app"); err != nil {
		t.Fatal(err)
	}
}

// The server speaks h2c with prior knowledge, as the real one does.
func TestNewServerHTTP2Cleartext(t *testing.T) {
	srv := NewServer(t)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Post(srv.URL+"/v1/api/auth/login", "application/json",
		strings.NewReader(`{"user":"root","password":"`+srv.RootPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %d, want HTTP/2 200", resp.Proto, resp.StatusCode)
	}
}

// Options reach the emulator: no root password means setup is required.
func TestNewServerOptions(t *testing.T) {
	srv := NewServer(t, WithEmulatorOptions(func(o *emulator.Options) { o.RootPassword = "" }))
	resp, err := http.Post(srv.URL+"/v1/api/auth/login", "application/json", strings.NewReader(`{"user":"root","password":""}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPreconditionRequired {
		t.Fatalf("login status %d, want 428", resp.StatusCode)
	}
}

// BenchmarkNewServer is the start-up cost a test pays (target: median well
// under 20 ms); stopping is outside the timed part.
func BenchmarkNewServer(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, stop, err := startServer()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
