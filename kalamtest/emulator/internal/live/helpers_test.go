//go:build !js

package live

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	rootID  = engine.Identity{UserID: "root", Role: engine.RoleSystem}
	aliceID = engine.Identity{UserID: "alice", Role: engine.RoleUser}
	bobID   = engine.Identity{UserID: "bob", Role: engine.RoleUser}
	adminID = engine.Identity{UserID: "admin", Role: engine.RoleDBA}
)

// fakeAuth maps a token to a user: "alice", "bob", "root"; "expired" is an
// expired token; anything else is invalid.
func fakeAuth(token string) (engine.Identity, error) {
	switch token {
	case "alice":
		return aliceID, nil
	case "bob":
		return bobID, nil
	case "root":
		return rootID, nil
	case "admin":
		return adminID, nil
	case "expired":
		return engine.Identity{}, ErrTokenExpired
	}
	return engine.Identity{}, errors.New("invalid signature")
}

type env struct {
	t   testing.TB
	eng *engine.Engine
	srv *Server
	hs  *httptest.Server
	url string
}

// newEnv starts an engine with namespace app, users alice and bob, and a
// live server on a loopback httptest server. Cleanup closes everything and
// checks that no goroutine was left behind.
func newEnv(t testing.TB, mutate func(*Options)) *env {
	t.Helper()
	base := runtime.NumGoroutine()
	eng, err := engine.New(engine.Options{RootPassword: "RootPass1!"})
	require.NoError(t, err, "engine.New")
	e := &env{t: t, eng: eng}
	e.exec(rootID, `CREATE NAMESPACE app;
		CREATE USER alice WITH PASSWORD 'pw' ROLE user;
		CREATE USER bob WITH PASSWORD 'pw' ROLE user;
		CREATE USER admin WITH PASSWORD 'pw' ROLE dba`)
	opts := Options{Engine: eng, Authenticate: fakeAuth}
	if mutate != nil {
		mutate(&opts)
	}
	e.srv = New(opts)
	e.hs = httptest.NewServer(e.srv)
	e.url = "ws" + strings.TrimPrefix(e.hs.URL, "http") + "/v1/ws"
	t.Cleanup(func() {
		assert.NoError(t, e.srv.Close(), "Server.Close")
		e.hs.Close()
		assert.NoError(t, eng.Close(), "engine Close")
		st := e.srv.Stats()
		assert.False(t, st.Connections != 0 || st.Subscriptions != 0, "after Close: %+v, want no connections or subscriptions", st)
		waitGoroutines(t, base)
	})
	return e
}

// waitGoroutines polls until the goroutine count is back to base.
func waitGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			assert.Fail(t, fmt.Sprintf("goroutines: %d, want <= %d (leak)\n%s", n, base, buf))
			return
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

func (e *env) exec(id engine.Identity, sql string) []engine.Result {
	e.t.Helper()
	res, err := e.eng.Execute(engine.Request{Identity: id, SQL: sql})
	require.Nil(e.t, err, "Execute(%q) as %s: %v", sql, id.UserID, err)
	return res
}

type client struct {
	t  testing.TB
	ws *websocket.Conn
}

type dialOpts struct {
	header http.Header
	query  string
}

func (e *env) dialRaw(o dialOpts) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := e.url
	if o.query != "" {
		u += "?" + o.query
	}
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: o.header})
	if ws != nil {
		ws.SetReadLimit(64 << 20)
	}
	return ws, resp, err
}

func (e *env) dial(o dialOpts) *client {
	e.t.Helper()
	ws, _, err := e.dialRaw(o)
	require.NoError(e.t, err, "dial")
	c := &client{t: e.t, ws: ws}
	e.t.Cleanup(func() { _ = ws.CloseNow() })
	return c
}

// login dials with message-path auth as user and checks auth_success.
func (e *env) login(user string) *client {
	e.t.Helper()
	c := e.dial(dialOpts{})
	c.sendJSON(map[string]any{"type": "authenticate", "method": "jwt", "token": user,
		"protocol": map[string]any{"serialization": "json", "compression": "gzip"}})
	m := c.expect("auth_success")
	require.EqualValues(e.t, user, m["user"], "auth_success user = %v, want %s", m["user"], user)
	return c
}

func (c *client) sendJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(c.t, err, "marshal")
	c.sendText(string(b))
}

func (c *client) sendText(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(c.t, c.ws.Write(ctx, websocket.MessageText, []byte(s)), "write")
}

// rawFrame is one server frame as received.
type rawFrame struct {
	typ  websocket.MessageType
	data []byte
}

func (c *client) readFrame(timeout time.Duration) (rawFrame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	typ, data, err := c.ws.Read(ctx)
	return rawFrame{typ, data}, err
}

// decodeFrame gunzips binary gzip frames and decodes JSON or msgpack.
func decodeFrame(t testing.TB, f rawFrame) map[string]any {
	t.Helper()
	data := f.data
	if f.typ == websocket.MessageBinary && len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		require.NoError(t, err, "gzip")
		if data, err = io.ReadAll(zr); err != nil {
			require.FailNow(t, fmt.Sprintf("gunzip: %v", err))
		}
	}
	if len(data) > 0 && data[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var m map[string]any
		err := dec.Decode(&m)
		require.NoError(t, err, "frame is not JSON: %v: %s", err, data)
		return m
	}
	v, err := mpDecode(data)
	require.NoError(t, err, "frame is neither JSON nor msgpack")
	m, ok := v.(map[string]any)
	require.True(t, ok, "msgpack frame is %T, want a map", v)
	return m
}

// next reads and decodes the next frame.
func (c *client) next() map[string]any {
	c.t.Helper()
	f, err := c.readFrame(5 * time.Second)
	require.NoError(c.t, err, "read")
	return decodeFrame(c.t, f)
}

// expect reads the next frame and checks its type.
func (c *client) expect(typ string) map[string]any {
	c.t.Helper()
	m := c.next()
	require.EqualValues(c.t, typ, m["type"], "got %v, want a %s message", m, typ)
	return m
}

// expectClose reads until the connection closes and returns the close status.
func (c *client) expectClose() (websocket.StatusCode, string) {
	c.t.Helper()
	for {
		_, err := c.readFrame(15 * time.Second)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Reason
			}
			return -1, err.Error()
		}
	}
}

// quiet asserts no frame is pending: it sends a next_batch for an unknown
// id and expects that error as the very next frame.
func (c *client) quiet(marker string) {
	c.t.Helper()
	c.sendJSON(map[string]any{"type": "next_batch", "subscription_id": marker})
	m := c.next()
	require.EqualValues(c.t, "error", m["type"])
	require.EqualValues(c.t, marker, m["subscription_id"])
	require.EqualValues(c.t, "BATCH_FETCH_FAILED", m["code"], "unexpected frame before the %s marker: %v", marker, m)
}

func (c *client) subscribe(id, sql string, options any) {
	c.t.Helper()
	sub := map[string]any{"id": id, "sql": sql}
	if options != nil {
		sub["options"] = options
	}
	c.sendJSON(map[string]any{"type": "subscribe", "subscription": sub})
}

func rowsOf(t testing.TB, m map[string]any, key string) []map[string]any {
	t.Helper()
	arr, ok := m[key].([]any)
	require.True(t, ok, "%s is %T in %v, want an array", key, m[key], m)
	out := make([]map[string]any, len(arr))
	for i, r := range arr {
		if out[i], ok = r.(map[string]any); !ok {
			require.FailNow(t, fmt.Sprintf("%s[%d] is %T, want a map", key, i, r))
		}
	}
	return out
}

func bcOf(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	bc, ok := m["batch_control"].(map[string]any)
	require.True(t, ok, "batch_control missing in %v", m)
	return bc
}

// num reads an integer from JSON (json.Number) or msgpack (int64).
func num(t testing.TB, v any) int64 {
	t.Helper()
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		require.NoError(t, err, "%v is not an int64", x)
		return n
	case int64:
		return x
	}
	require.FailNow(t, fmt.Sprintf("%v (%T) is not an integer", v, v))
	return 0
}

func ids(t testing.TB, rows []map[string]any) string {
	t.Helper()
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = fmt.Sprint(r["id"])
	}
	return strings.Join(parts, ",")
}
