//go:build !js

package live

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// §2.2/§2.3: message-path auth answers auth_success with user, lowercase role, protocol.
func TestAuthMessagePath(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(dialOpts{})
	c.sendText(`{"type":"authenticate","method":"jwt","token":"root","protocol":{"serialization":"json","compression":"gzip"}}`)
	f, err := c.readFrame(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if f.typ != websocket.MessageText {
		t.Fatalf("auth_success frame type %v, want text", f.typ)
	}
	want := `{"type":"auth_success","user":"root","role":"system","protocol":{"serialization":"json","compression":"gzip"}}`
	if string(f.data) != want {
		t.Fatalf("auth_success = %s, want %s", f.data, want)
	}
	// §2.4: a second authenticate re-sends the existing identity, token unchecked.
	c.sendText(`{"type":"authenticate","method":"jwt","token":"bogus","protocol":{"serialization":"msgpack","compression":"none"}}`)
	if m := c.expect("auth_success"); m["user"] != "root" || m["protocol"].(map[string]any)["serialization"] != "json" {
		t.Fatalf("re-auth answer %v, want the original identity and protocol", m)
	}
}

// §2.4: a bad or expired token gets auth_error "Invalid credentials", then close 1008.
func TestAuthInvalidToken(t *testing.T) {
	e := newEnv(t, nil)
	for _, tok := range []string{"nope", "expired"} {
		c := e.dial(dialOpts{})
		c.sendText(`{"type":"authenticate","method":"jwt","token":"` + tok + `","protocol":{"serialization":"json","compression":"gzip"}}`)
		f, err := c.readFrame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if f.typ != websocket.MessageText || string(f.data) != `{"type":"auth_error","message":"Invalid credentials"}` {
			t.Fatalf("token %q: got %v %s", tok, f.typ, f.data)
		}
		if code, reason := c.expectClose(); code != websocket.StatusPolicyViolation || reason != "Authentication failed" {
			t.Fatalf("token %q: close %d %q, want 1008 Authentication failed", tok, code, reason)
		}
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
		if code != websocket.StatusInternalError || !strings.HasPrefix(reason, "Invalid message: ") {
			t.Fatalf("%s: close %d %q, want 1011 Invalid message: ...", msg, code, reason)
		}
	}
}

// §2.4/§8.3: no authenticate within the auth timeout → auth_error then 1008.
func TestAuthTimeout(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.AuthTimeout = 50 * time.Millisecond })
	c := e.dial(dialOpts{})
	m := c.expect("auth_error")
	if m["message"] != "Authentication timeout - no auth message received within 3 seconds" {
		t.Fatalf("auth_error message %q", m["message"])
	}
	if code, reason := c.expectClose(); code != websocket.StatusPolicyViolation || reason != "Authentication timeout" {
		t.Fatalf("close %d %q, want 1008 Authentication timeout", code, reason)
	}
}

// §2.1: header fast path: auth_success first, no authenticate message;
// serialization=msgpack honoured from the query; bad token is 401 before upgrade.
func TestHeaderAuth(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(dialOpts{header: http.Header{"Authorization": {"Bearer bob"}}, query: "serialization=MsgPack&compression=none"})
	f, err := c.readFrame(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if f.typ != websocket.MessageText {
		t.Fatalf("auth_success must stay JSON text in msgpack mode, got %v", f.typ)
	}
	if want := `{"type":"auth_success","user":"bob","role":"user","protocol":{"serialization":"msgpack","compression":"none"}}`; string(f.data) != want {
		t.Fatalf("got %s, want %s", f.data, want)
	}

	_, resp, err := e.dialRaw(dialOpts{header: http.Header{"Authorization": {"Bearer forged"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad bearer: err %v resp %v, want HTTP 401", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if strings.TrimSpace(string(body)) != "Invalid token" {
		t.Fatalf("401 body %q, want Invalid token", body)
	}

	// msgpack only on the header path: the message path's query flag is ignored.
	c2 := e.dial(dialOpts{query: "serialization=msgpack"})
	c2.sendText(`{"type":"authenticate","method":"jwt","token":"alice","protocol":{"serialization":"json","compression":"gzip"}}`)
	if m := c2.expect("auth_success"); m["protocol"].(map[string]any)["serialization"] != "json" {
		t.Fatalf("message path negotiated %v, want json", m["protocol"])
	}
}

// §1: the origin policy: listed origins only, 403 "Origin not allowed"; "*" or empty = all.
func TestOriginPolicy(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AllowedOrigins = []string{"https://app.example"} })
	_, resp, err := e.dialRaw(dialOpts{header: http.Header{"Origin": {"https://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err %v resp %v, want 403", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if strings.TrimSpace(string(body)) != "Origin not allowed" {
		t.Fatalf("403 body %q", body)
	}
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
	if code != websocket.StatusNormalClosure || reason != "Heartbeat timeout" {
		t.Fatalf("close %d %q, want 1000 Heartbeat timeout", code, reason)
	}
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
	if m := c.expect("auth_error"); m["message"] != "Too many authentication attempts. Please retry shortly." {
		t.Fatalf("third attempt: %v", m)
	}
	if code, reason := c.expectClose(); code != websocket.StatusPolicyViolation || reason != "Authentication failed" {
		t.Fatalf("close %d %q", code, reason)
	}
	// The header path is not limited.
	h := e.dial(dialOpts{header: http.Header{"Authorization": {"Bearer alice"}}})
	h.expect("auth_success")
}
