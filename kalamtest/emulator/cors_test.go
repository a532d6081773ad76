package emulator

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// http-api.md §1.1 and official-client-wire.md "CORS": with allowed origins
// "*" the origin is echoed on preflights and on every response, errors
// included.
func TestCORSAnyOrigin(t *testing.T) {
	e := rootEnv(t)
	const origin = "http://app.example:5173"
	r := e.do(http.MethodOptions, "/v1/api/sql", "", nil,
		"Origin", origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "Authorization, Content-Type")
	wantStatus(t, r, http.StatusOK)
	for name, want := range map[string]string{
		"Access-Control-Allow-Origin":  origin,
		"Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, PATCH, OPTIONS",
		"Access-Control-Allow-Headers": "authorization, content-type, accept, origin, x-requested-with",
		"Access-Control-Max-Age":       "3600",
	} {
		got := r.header.Get(name)
		assert.Equal(t, want, got, "%s: %q, want %q", name, got, want)
	}
	assert.Equal(t, "", r.header.Get("Access-Control-Allow-Credentials"), "credentials must not be allowed (allow_credentials false)")

	for _, req := range []struct{ method, path, body string }{
		{http.MethodPost, "/v1/api/sql", `{"sql":"SELECT 1"}`},                 // 401 shape B
		{http.MethodPost, "/v1/api/auth/login", `{"user":"x","password":"y"}`}, // 401 shape C
		{http.MethodGet, "/nowhere", ""},                                       // 404
		{http.MethodGet, "/health", ""},                                        // 200
	} {
		r := e.do(req.method, req.path, "application/json", []byte(req.body), "Origin", origin)
		assert.Equal(t, origin, r.header.Get("Access-Control-Allow-Origin"), "%s %s (%d): Access-Control-Allow-Origin %q", req.method, req.path, r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
	// A preflight asking for a header outside the list is refused.
	r = e.do(http.MethodOptions, "/v1/api/sql", "", nil, "Origin", origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-custom")
	wantPlainText(t, r, http.StatusBadRequest, "Requested header is not allowed")
	// Without Origin nothing is added.
	r = e.do(http.MethodGet, "/health", "", nil)
	assert.Equal(t, "", r.header.Get("Access-Control-Allow-Origin"), "CORS header without Origin")
}

// http-api.md §1.1: a configured list admits only its origins.
func TestCORSOriginList(t *testing.T) {
	e := newTestEnv(t, Options{RootPassword: testRootPassword, AllowedOrigins: []string{"http://localhost:5173"}})
	r := e.do(http.MethodOptions, "/v1/api/auth/login", "", nil, "Origin", "http://localhost:5173", "Access-Control-Request-Method", "POST")
	wantStatus(t, r, http.StatusOK)
	r = e.do(http.MethodOptions, "/v1/api/auth/login", "", nil, "Origin", "http://evil.example", "Access-Control-Request-Method", "POST")
	wantPlainText(t, r, http.StatusBadRequest, "Origin is not allowed to make this request")
	r = e.do(http.MethodGet, "/health", "", nil, "Origin", "http://evil.example")
	wantStatus(t, r, http.StatusBadRequest)
	wantStatus(t, e.do(http.MethodGet, "/health", "", nil, "Origin", "http://localhost:5173"), http.StatusOK)
}
