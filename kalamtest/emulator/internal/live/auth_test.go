//go:build !js

package live

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// §2.2/§2.3: message-path auth answers auth_success with user, lowercase role, protocol.
func TestAuthMessagePath(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(dialOpts{})
	c.sendText(`{"type":"authenticate","method":"jwt","token":"root","protocol":{"serialization":"json","compression":"gzip"}}`)
	f, err := c.readFrame(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, websocket.MessageText, f.typ, "auth_success frame type %v, want text", f.typ)
	want := `{"type":"auth_success","user":"root","role":"system","protocol":{"serialization":"json","compression":"gzip"}}`
	require.Equal(t, want, string(f.data), "auth_success = %s, want %s", f.data, want)
	// §2.4: a second authenticate re-sends the existing identity, token unchecked.
	c.sendText(`{"type":"authenticate","method":"jwt","token":"bogus","protocol":{"serialization":"msgpack","compression":"none"}}`)
	m := c.expect("auth_success")
	require.EqualValues(t, "root", m["user"])
	require.EqualValues(t, "json", m["protocol"].(map[string]any)["serialization"], "re-auth answer %v, want the original identity and protocol", m)
}

// §2.4: a bad or expired token gets auth_error "Invalid credentials", then close 1008.
func TestAuthInvalidToken(t *testing.T) {
	e := newEnv(t, nil)
	for _, tok := range []string{"nope", "expired"} {
		c := e.dial(dialOpts{})
		c.sendText(`{"type":"authenticate","method":"jwt","token":"` + tok + `","protocol":{"serialization":"json","compression":"gzip"}}`)
		f, err := c.readFrame(5 * time.Second)
		require.NoError(t, err)
		require.Equal(t, websocket.MessageText, f.typ)
		require.Equal(t, `{"type":"auth_error","message":"Invalid credentials"}`, string(f.data), "token %q: got %v %s", tok, f.typ, f.data)
		code, reason := c.expectClose()
		require.Equal(t, websocket.StatusPolicyViolation, code)
		require.Equal(t, "Authentication failed", reason, "token %q: close %d %q, want 1008 Authentication failed", tok, code, reason)
	}
}

// §2.2/§4: protocol is required; a message that does not deserialize closes with 1011.
func TestInvalidMessageCloses1011(t *testing.T) {
	e := newEnv(t, nil)
	for _, msg := range []string{
		`{"type":"authenticate","method":"jwt","token":"alice"}`,
		`{"type":"bogus"}`,
		`not json`,
	} {
		c := e.dial(dialOpts{})
		c.sendText(msg)
		code, reason := c.expectClose()
		require.Equal(t, websocket.StatusInternalError, code)
		require.True(t, strings.HasPrefix(reason, "Invalid message: "), "%s: close %d %q, want 1011 Invalid message: ...", msg, code, reason)
	}
}

// §2.4/§8.3: no authenticate within the auth timeout → auth_error then 1008.
func TestAuthTimeout(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.AuthTimeout = 50 * time.Millisecond })
	c := e.dial(dialOpts{})
	m := c.expect("auth_error")
	require.EqualValues(t, "Authentication timeout - no auth message received within 3 seconds", m["message"], "auth_error message %q", m["message"])
	code, reason := c.expectClose()
	require.Equal(t, websocket.StatusPolicyViolation, code)
	require.Equal(t, "Authentication timeout", reason, "close %d %q, want 1008 Authentication timeout", code, reason)
}

// §2.1: header fast path: auth_success first, no authenticate message;
// serialization=msgpack honoured from the query; bad token is 401 before upgrade.
func TestHeaderAuth(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(dialOpts{header: http.Header{"Authorization": {"Bearer bob"}}, query: "serialization=MsgPack&compression=none"})
	f, err := c.readFrame(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, websocket.MessageText, f.typ, "auth_success must stay JSON text in msgpack mode, got %v", f.typ)
	want := `{"type":"auth_success","user":"bob","role":"user","protocol":{"serialization":"msgpack","compression":"none"}}`
	require.Equal(t, want, string(f.data), "got %s, want %s", f.data, want)

	_, resp, err := e.dialRaw(dialOpts{header: http.Header{"Authorization": {"Bearer forged"}}})
	require.Error(t, err)
	require.NotNil(t, resp)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "bad bearer: err %v resp %v, want HTTP 401", err, resp)
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, "Invalid token", strings.TrimSpace(string(body)), "401 body %q, want Invalid token", body)

	// msgpack only on the header path: the message path's query flag is ignored.
	c2 := e.dial(dialOpts{query: "serialization=msgpack"})
	c2.sendText(`{"type":"authenticate","method":"jwt","token":"alice","protocol":{"serialization":"json","compression":"gzip"}}`)
	m := c2.expect("auth_success")
	require.EqualValues(t, "json", m["protocol"].(map[string]any)["serialization"], "message path negotiated %v, want json", m["protocol"])
}

// §1: the origin policy: listed origins only, 403 "Origin not allowed"; "*" or empty = all.
func TestOriginPolicy(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AllowedOrigins = []string{"https://app.example"} })
	_, resp, err := e.dialRaw(dialOpts{header: http.Header{"Origin": {"https://evil.example"}}})
	require.Error(t, err)
	require.NotNil(t, resp)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "foreign origin: err %v resp %v, want 403", err, resp)
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, "Origin not allowed", strings.TrimSpace(string(body)), "403 body %q", body)
	ok := e.dial(dialOpts{header: http.Header{"Origin": {"https://app.example"}}})
	ok.sendText(`{"type":"ping"}`)

	star := newEnv(t, func(o *Options) { o.AllowedOrigins = []string{"*"} })
	c := star.dial(dialOpts{header: http.Header{"Origin": {"https://elsewhere.example"}, "Authorization": {"Bearer alice"}}})
	c.expect("auth_success")
}

// §8.1/§8.3: a client that sends nothing is closed 1000 "Heartbeat timeout";
// pings (app-level and WS control) keep it alive and get no reply.
func TestHeartbeatTimeout(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Limits.ClientTimeout = 200 * time.Millisecond
		o.Limits.MaxMessagesPerSecond = -1
		o.Limits.AuthTimeout = 50 * time.Millisecond // must not fire once authenticated
	})
	c := e.login("alice")
	// Active for several timeouts: each ping gets no reply (the next frame
	// is the marker's error) and the connection stays open.
	for start := time.Now(); time.Since(start) < time.Second; {
		c.sendText(`{"type":"ping"}`)
		c.quiet("marker")
	}
	code, reason := c.expectClose()
	require.Equal(t, websocket.StatusNormalClosure, code)
	require.Equal(t, "Heartbeat timeout", reason, "close %d %q, want 1000 Heartbeat timeout", code, reason)
}

// §2.4: message-path authentication is rate limited per client IP.
func TestAuthRateLimitPerIP(t *testing.T) {
	pinned := time.Now()
	wallClock = func() time.Time { return pinned } // one window for the whole test
	t.Cleanup(func() { wallClock = time.Now })
	e := newEnv(t, func(o *Options) { o.Limits.MaxAuthRequestsPerIPPerSecond = 2 })
	e.login("alice")
	e.login("bob")
	c := e.dial(dialOpts{})
	c.sendText(`{"type":"authenticate","method":"jwt","token":"alice","protocol":{"serialization":"json","compression":"gzip"}}`)
	m := c.expect("auth_error")
	require.EqualValues(t, "Too many authentication attempts. Please retry shortly.", m["message"], "third attempt: %v", m)
	code, reason := c.expectClose()
	require.Equal(t, websocket.StatusPolicyViolation, code)
	require.Equal(t, "Authentication failed", reason, "close %d %q", code, reason)
	// The header path is not limited.
	h := e.dial(dialOpts{header: http.Header{"Authorization": {"Bearer alice"}}})
	h.expect("auth_success")
}
