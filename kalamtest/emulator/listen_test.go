package emulator

import (
	"net/http"
	"strings"
	"testing"
)

// Listen serves a working emulator on a real port, and Close stops it.
func TestListen(t *testing.T) {
	l, err := Listen("127.0.0.1:0", Options{RootPassword: testRootPassword})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(l.URL+"/v1/api/auth/login", "application/json",
		strings.NewReader(`{"user":"root","password":"`+testRootPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login over Listen: HTTP %d", resp.StatusCode)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := http.Get(l.URL + "/v1/api/healthcheck"); err == nil {
		t.Fatal("the emulator still answers after Close")
	}
}
