package sdk_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a log sink safe for the client's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func debugLogger(buf *syncBuffer) sdk.Option {
	return sdk.WithLogger(slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// Issue 9 item 2: password literals in failing SQL are redacted however
// they are written, in the details the server echoes to admins (over the
// wire, from the emulator) and in the error string and log.
func TestPasswordLiteralVariantsRedacted(t *testing.T) {
	srv := e2eServer(t)
	var logs syncBuffer
	c := e2eClient(t, srv, debugLogger(&logs))
	const secret = "Hunter2-Secret"
	for _, sql := range []string{
		`SELECT * FROM app.nope WHERE PASSWORD = '` + secret + `'`,
		`SELECT * FROM app.nope WHERE PASSWORD/**/'` + secret + `'`,
		`SELECT * FROM app.nope WHERE PASSWORD "` + secret + `"`,
		"SELECT * FROM app.nope WHERE password\n\t=\t'" + secret + "'",
		"SELECT * FROM app.nope WHERE PassWord -- note\n'" + secret + "'",
		`SELECT * FROM app.nope WHERE PASSWORD /* a */ = /* b */ '` + secret + `'`,
		`SELECT * FROM app.nope WHERE PASSWORD = E'` + secret + `'`,
		`SELECT * FROM app.nope WHERE PASSWORD = $$` + secret + `$$`,
		`SELECT * FROM app.nope WHERE PASSWORD = 'it''s ` + secret + `'`,
	} {
		t.Run(sql, func(t *testing.T) {
			_, err := c.Query(context.Background(), sql)
			require.Error(t, err)
			var se *sdk.ServerError
			require.ErrorAs(t, err, &se)
			require.NotEmpty(t, se.Details, "the emulator echoes the failing SQL to root")
			assert.Contains(t, se.Details, "[REDACTED]")
			for _, s := range []string{err.Error(), se.Message, se.Details, logs.String()} {
				assert.NotContains(t, s, secret)
				assert.NotContains(t, s, "Secret")
			}
		})
	}
}

// A proxy that echoes the request body (a misconfigured gateway's error
// page) does not put the login password into a ResponseError snippet, nor
// an opaque token cut in half at the snippet's end.
func TestEchoedRequestBodyRedacted(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		if auth := r.Header.Get("Authorization"); auth != "" {
			// The token starts near the snippet's 200-byte cut.
			io.WriteString(w, "<html><body>bad gateway "+strings.Repeat(".", 150)+" auth="+auth+"</body></html>")
			return
		}
		io.WriteString(w, "<html><body>bad gateway, body="+string(body)+"</body></html>")
	})
	for name, opt := range map[string]struct {
		opt    sdk.Option
		secret string
	}{
		"login password":               {sdk.WithBasicAuth("alice", "Alice-Pass-123!"), "Alice-Pass-123!"},
		"login password JSON-escaped":  {sdk.WithBasicAuth("alice", `Al"ice\Pass-123`), `ice\\Pass`},
		"opaque token cut at the snip": {sdk.WithToken("opaque-0123456789abcdefghijklmnopqrstuvwxyz"), "0123456789"},
	} {
		t.Run(name, func(t *testing.T) {
			var logs syncBuffer
			c, _ := newClient(t, echo, opt.opt, sdk.WithMaxRetries(1), debugLogger(&logs))
			_, err := c.Query(context.Background(), "SELECT 1")
			require.ErrorIs(t, err, sdk.ErrUnexpectedResponse)
			var re *sdk.ResponseError
			require.ErrorAs(t, err, &re)
			require.NotEmpty(t, re.Snippet)
			for _, s := range []string{err.Error(), re.Snippet, logs.String()} {
				assert.NotContains(t, s, opt.secret)
				assert.NotContains(t, s, "Pass-123")
				assert.NotContains(t, s, "0123")
			}
		})
	}
}

// An opaque (non-JWT) token the server echoes in an HTTP error and in a
// WebSocket auth_error reaches neither the error, ConnectionEvent.Err nor
// the debug log.
func TestOpaqueTokenEchoRedacted(t *testing.T) {
	const token = "opaque-session-7f3a9c2e41"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"status":"error","results":[],"took":0,"error":{"code":"UNAUTHORIZED","message":"token `+r.Header.Get("Authorization")+` is not valid"}}`)
			return
		}
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		// The token came in the Authorization header of the upgrade; echo it.
		reply := `{"type":"auth_error","message":"rejected ` + r.Header.Get("Authorization") + `"}`
		ws.Write(r.Context(), websocket.MessageText, []byte(reply))
		ws.Read(r.Context())
	})
	var logs syncBuffer
	var mu sync.Mutex
	var events []string
	c, err := sdk.New("http://kalam.test", sdk.WithTransport(mock.New(h)), sdk.WithToken(token),
		sdk.WithReconnect(time.Millisecond, time.Millisecond, 2), sdk.WithMaxRetries(0), debugLogger(&logs),
		sdk.WithConnectionEvents(func(ev sdk.ConnectionEvent) {
			if ev.Err != nil {
				mu.Lock()
				events = append(events, ev.Err.Error())
				mu.Unlock()
			}
		}))
	require.NoError(t, err)
	defer c.Close()

	_, qerr := c.Query(context.Background(), "SELECT 1")
	require.Error(t, qerr)
	assert.NotContains(t, qerr.Error(), token)
	assert.Contains(t, qerr.Error(), "[REDACTED]")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cerr := c.Connect(ctx)
	require.Error(t, cerr)
	assert.NotContains(t, cerr.Error(), token)
	var all []string
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		all = append(all[:0], events...)
		return len(all) > 0
	}, 10*time.Second, time.Millisecond, "a connection event carries the auth error")
	for _, s := range append(all, logs.String()) {
		assert.NotContains(t, s, token)
	}
	assert.Contains(t, strings.Join(append(all, cerr.Error()), "\n"), "rejected", "the server's auth_error text reaches the application, redacted")
}

// A close reason that echoes the token is redacted too, in the events and
// in the error the caller gets.
func TestCloseReasonEchoRedacted(t *testing.T) {
	const token = "opaque-session-close-5e8d1b"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.Write(r.Context(), websocket.MessageText, []byte(`{"type":"auth_success","user":"u","role":"user","protocol":{"serialization":"json","compression":"none"}}`))
		ws.Close(websocket.StatusPolicyViolation, "bye "+r.Header.Get("Authorization"))
	})
	var logs syncBuffer
	var mu sync.Mutex
	var events []string
	c, err := sdk.New("http://kalam.test", sdk.WithTransport(mock.New(h)), sdk.WithToken(token),
		sdk.WithReconnect(time.Millisecond, time.Millisecond, 1), debugLogger(&logs),
		sdk.WithConnectionEvents(func(ev sdk.ConnectionEvent) {
			if ev.Err != nil {
				mu.Lock()
				events = append(events, ev.Err.Error())
				mu.Unlock()
			}
		}))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Connect(context.Background()))
	var all []string
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		all = append(all[:0], events...)
		return strings.Contains(strings.Join(all, "\n"), "bye")
	}, 10*time.Second, time.Millisecond, "an event carries the close reason")
	for _, s := range append(all, logs.String()) {
		assert.NotContains(t, s, token)
	}
}
