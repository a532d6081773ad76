package emulator

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// http-api.md §2.1, §2.2 and the §1.1 is_localhost rules.
func TestHealth(t *testing.T) {
	e := rootEnv(t)
	for _, path := range []string{"/health", "/v1/api/healthcheck"} {
		r := e.do(http.MethodGet, path, "", nil)
		wantStatus(t, r, http.StatusOK)
		wantJSON(t, r.body, `{"status":"healthy","version":"`+Version+`","api_version":"v1","build_date":"emulator"}`)
	}
	r := e.do(http.MethodGet, "/v1/api/cluster/health", "", nil)
	wantStatus(t, r, http.StatusOK)
	m := r.json(t)
	wantKeys(t, m, "status", "version", "build_date", "is_cluster_mode", "cluster_id", "node_id", "is_leader",
		"total_groups", "groups_leading", "current_term", "last_applied", "millis_since_quorum_ack", "nodes")
	node := m["nodes"].([]any)[0].(map[string]any)
	require.EqualValues(t, "healthy", m["status"])
	require.EqualValues(t, false, m["is_cluster_mode"])
	require.EqualValues(t, "leader", node["role"])
	require.EqualValues(t, "active", node["status"])
	require.EqualValues(t, true, node["is_self"], "cluster health %v", m)

	remote := []struct{ peer, xff, realIP string }{
		{"203.0.113.5:1000", "", ""},
		{"127.0.0.2:1000", "", ""},             // other 127.x addresses are not localhost
		{"127.0.0.1:1000", "203.0.113.5", ""},  // a loopback proxy forwarding a remote client
		{"127.0.0.1:1000", "", "198.51.100.9"}, // X-Real-IP likewise
		{"203.0.113.5:1000", "127.0.0.1", ""},  // proxy headers from a remote peer are ignored
		{"[2001:db8::1]:1000", "", ""},
	}
	for _, tc := range remote {
		for path, msg := range map[string]string{
			"/health":                "Access denied. Health endpoint is localhost-only.",
			"/v1/api/cluster/health": "Access denied. Cluster health is localhost-only.",
		} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.realIP != "" {
				req.Header.Set("X-Real-IP", tc.realIP)
			}
			r := e.serveRemote(req, tc.peer)
			wantStatus(t, r, http.StatusForbidden)
			wantJSON(t, r.body, `{"error":"`+msg+`"}`)
		}
	}
	local := []struct{ peer, xff string }{
		{"[::1]:1000", ""},
		{"127.0.0.1:1000", "127.0.0.1, 203.0.113.5"}, // a localhost value in the header is ignored
		{"127.0.0.1:1000", "localhost"},
	}
	for _, tc := range local {
		req := httptest.NewRequest(http.MethodGet, "/health", nil)
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		wantStatus(t, e.serveRemote(req, tc.peer), http.StatusOK)
	}
}

// http-api.md §1.2: .route() resources answer 405 to a wrong method,
// macro-registered ones 404; unknown paths are 404 with an empty body.
func TestRouting(t *testing.T) {
	e := rootEnv(t)
	cases := []struct {
		method, path string
		status       int
	}{
		{http.MethodPost, "/health", 405},
		{http.MethodHead, "/v1/api/healthcheck", 405},
		{http.MethodDelete, "/v1/api/cluster/health", 405},
		{http.MethodGet, "/v1/api/auth/login", 405},
		{http.MethodGet, "/v1/api/auth/refresh", 405},
		{http.MethodPost, "/v1/api/auth/me", 405},
		{http.MethodGet, "/v1/api/auth/setup", 405},
		{http.MethodPost, "/v1/api/auth/status", 405},
		{http.MethodGet, "/v1/api/sql", 404},
		{http.MethodPut, "/v1/api/sql", 404},
		{http.MethodGet, "/v1/api/topics/ack", 404},
		{http.MethodGet, "/v1/api/sql/", 404},
		{http.MethodGet, "/api/v1/sql", 404},
		{http.MethodGet, "/", 404},
		{http.MethodGet, "/v1/ws", 404},
		{http.MethodGet, "/v1/files/a/b/c", 404},
	}
	for _, tc := range cases {
		r := e.do(tc.method, tc.path, "", nil)
		assert.False(t, r.status != tc.status || len(r.body) != 0, "%s %s: %d %q, want %d with an empty body", tc.method, tc.path, r.status, r.body, tc.status)
	}
}

// http-api.md §1.1: the connection guard limits non-loopback IPs (429 with
// Retry-After), bans after 10 violations, and exempts loopback.
func TestIPRateLimit(t *testing.T) {
	e := newTestEnv(t, Options{RootPassword: testRootPassword, IPRateLimit: 2})
	frozen := time.Now()
	e.s.ipGuard.limiter.now = func() time.Time { return frozen }
	get := func(peer string) response {
		return e.serveRemote(httptest.NewRequest(http.MethodGet, "/nowhere", nil), peer)
	}
	for i := 0; i < 2; i++ {
		wantStatus(t, get("203.0.113.1:1"), http.StatusNotFound)
	}
	r := get("203.0.113.1:1")
	wantStatus(t, r, http.StatusTooManyRequests)
	wantJSON(t, r.body, `{"error":"RATE_LIMIT_EXCEEDED","message":"Too many requests from your IP address","retry_after_seconds":1}`)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	require.Equal(t, "1", r.header.Get("X-RateLimit-Reset"), "headers %v", r.header)
	wantStatus(t, get("203.0.113.2:1"), http.StatusNotFound) // per IP
	for i := 0; i < 50; i++ {
		wantStatus(t, get("127.0.0.1:1"), http.StatusNotFound) // loopback exempt
	}
	for i := 0; i < 9; i++ { // violations 2..10: the 10th bans
		get("203.0.113.1:1")
	}
	frozen = frozen.Add(10 * time.Second) // the bucket refills, the ban holds
	r = get("203.0.113.1:1")
	wantStatus(t, r, http.StatusTooManyRequests)
	wantJSON(t, r.body, `{"error":"IP_BANNED","message":"Your IP has been temporarily banned due to excessive requests","retry_after_seconds":300}`)
	require.Equal(t, "300", r.header.Get("Retry-After"), "headers %v", r.header)
	frozen = frozen.Add(300 * time.Second)
	wantStatus(t, get("203.0.113.1:1"), http.StatusNotFound)
}
