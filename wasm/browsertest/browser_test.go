//go:build js && wasm

package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/transport"
	"github.com/kalamstack/kalam-go/transport/wasmjs"
)

var (
	emulatorURL = os.Getenv("KALAM_EMULATOR_URL")
	refusingURL = os.Getenv("KALAM_REFUSING_URL")
	controlURL  = os.Getenv("KALAM_CONTROL_URL")
	password    = os.Getenv("KALAM_EMULATOR_PASSWORD")
)

// TestMain runs the tests, then ends the program right after Close
// returns on a client with a live subscription: the runner fails the run
// if any late browser event calls into the exited program.
func TestMain(m *testing.M) {
	code := m.Run()
	if emulatorURL != "" {
		if err := closeThenExit(); err != nil {
			fmt.Println("close-then-exit:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func closeThenExit() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := sdk.New(emulatorURL, sdk.WithBasicAuth("root", password))
	if err != nil {
		return err
	}
	ns := fmt.Sprintf("exit_%d", time.Now().UnixNano())
	for _, sql := range []string{"CREATE NAMESPACE " + ns, "CREATE TABLE " + ns + ".t (id BIGINT PRIMARY KEY) WITH (TYPE='SHARED')"} {
		if _, err := c.Query(ctx, sql); err != nil {
			return err
		}
	}
	if _, err := c.Subscribe(ctx, "SELECT * FROM "+ns+".t"); err != nil {
		return err
	}
	go c.Query(context.Background(), "SELECT 1") // in flight at exit
	return c.Close()
}

func needFixtures(t *testing.T) {
	if emulatorURL == "" || refusingURL == "" || controlURL == "" {
		t.Skip("run under wasm/chromeexec with KALAM_BROWSER_FIXTURES=1 (wasm/test-browser.sh)")
	}
}

// control acts on the fault proxy in front of the emulator.
func control(t *testing.T, action string) {
	t.Helper()
	resp, err := wasmjs.New(nil).Do(context.Background(), &transport.Request{Method: "POST", URL: controlURL + action})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 204, resp.StatusCode, "control %s", action)
}

func newClient(t *testing.T, url string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	c, err := sdk.New(url, append([]sdk.Option{sdk.WithBasicAuth("root", password)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// A page whose origin the server's CORS settings do not allow gets an
// error naming the refusal at once, without the three retries a network
// failure gets: the 5 s context would otherwise end it.
func TestRefusedOriginHTTP(t *testing.T) {
	needFixtures(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := newClient(t, refusingURL).Query(ctx, "SELECT 1")
	t.Logf("refused HTTP request failed after %v: %v", time.Since(start), err)
	require.ErrorIs(t, err, transport.ErrRefused)
	require.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, sdk.IsRetryable(err))
	assert.Contains(t, err.Error(), "do not allow this page's origin "+js.Global().Get("location").Get("origin").String())
}

// The same for the WebSocket: the upgrade is refused for the origin (the
// browser shows no status), and a first Connect ends with the error
// instead of retrying until the deadline.
func TestRefusedOriginWebSocket(t *testing.T) {
	needFixtures(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A token needs no HTTP login, so only the WebSocket is exercised.
	c, err := sdk.New(refusingURL, sdk.WithToken("not.checked.here"))
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	err = c.Connect(ctx)
	t.Logf("refused WebSocket failed after %v: %v", time.Since(start), err)
	require.ErrorIs(t, err, transport.ErrRefused)
	require.ErrorIs(t, err, sdk.ErrConnectionLost)
	require.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "refused the upgrade")
}

// A first Connect to a server that is down also ends with the error (the
// browser cannot tell it from a refusal), saying the server did not answer.
func TestFirstConnectToDownServerEnds(t *testing.T) {
	needFixtures(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := sdk.New("http://127.0.0.1:9", sdk.WithToken("x.y.z"))
	require.NoError(t, err)
	defer c.Close()
	err = c.Connect(ctx)
	require.ErrorIs(t, err, sdk.ErrConnectionLost)
	require.NotErrorIs(t, err, transport.ErrRefused)
	require.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "no answer from the server")
}

type events chan sdk.ConnectionEvent

func (ev events) waitFor(t *testing.T, ctx context.Context, kind sdk.ConnectionEventKind) sdk.ConnectionEvent {
	t.Helper()
	for {
		select {
		case e := <-ev:
			if e.Kind == kind {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("no %v event: %v", kind, ctx.Err())
		}
	}
}

func watchEvents() (events, sdk.Option) {
	ev := make(events, 64)
	return ev, sdk.WithConnectionEvents(func(e sdk.ConnectionEvent) {
		select {
		case ev <- e:
		default:
		}
	})
}

func exec(t *testing.T, ctx context.Context, c *sdk.Client, sql string, args ...any) {
	t.Helper()
	var opts []sdk.QueryOption
	if len(args) > 0 {
		opts = append(opts, sdk.Args(args...))
	}
	_, err := c.Query(ctx, sql, opts...)
	require.NoError(t, err, sql)
}

func table(t *testing.T, ctx context.Context, c *sdk.Client, name string) string {
	ns := fmt.Sprintf("bt_%d", time.Now().UnixNano())
	exec(t, ctx, c, "CREATE NAMESPACE "+ns)
	tbl := ns + "." + name
	exec(t, ctx, c, "CREATE TABLE "+tbl+" (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='SHARED')")
	return tbl
}

// nextInsert returns the body of the next inserted row.
func nextInsert(t *testing.T, ctx context.Context, sub *sdk.Subscription) string {
	t.Helper()
	for {
		ev, err := sub.Next(ctx)
		require.NoError(t, err)
		switch ev := ev.(type) {
		case *sdk.Insert:
			body, err := ev.Rows[0].String("body")
			require.NoError(t, err)
			return body
		case *sdk.InitialRows:
			for _, r := range ev.Rows {
				body, err := r.String("body")
				require.NoError(t, err)
				if ev.Resumed {
					return body
				}
			}
		}
	}
}

// A frozen server (the proxy forwards nothing, new connections included)
// is noticed without pongs: the link is quiet, the HTTP probe gets no
// answer, the connection is dropped as dead, and it comes back when the
// server does.
func TestFrozenServerNoticed(t *testing.T) {
	needFixtures(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	ev, watch := watchEvents()
	c := newClient(t, emulatorURL, watch)
	tbl := table(t, ctx, c, "frozen")
	sub, err := c.Subscribe(ctx, "SELECT * FROM "+tbl)
	require.NoError(t, err)
	defer sub.Close()
	ev.waitFor(t, ctx, sdk.EventConnected)

	control(t, "blackhole")
	t.Cleanup(func() { control(t, "unblackhole") })
	frozen := time.Now()
	dis := ev.waitFor(t, ctx, sdk.EventDisconnected)
	t.Logf("frozen server noticed after %v: %v", time.Since(frozen), dis.Err)
	require.ErrorContains(t, dis.Err, "dead link")
	require.ErrorContains(t, dis.Err, "nothing arrived for")

	control(t, "unblackhole")
	ev.waitFor(t, ctx, sdk.EventConnected)
	exec(t, ctx, c, "INSERT INTO "+tbl+" (id, body) VALUES (1, 'after thaw')")
	require.Equal(t, "after thaw", nextInsert(t, ctx, sub))
}

// A quiet link to a live server is not dropped: the probe answers.
func TestQuietLinkKept(t *testing.T) {
	needFixtures(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ev, watch := watchEvents()
	c := newClient(t, emulatorURL, watch, sdk.WithKeepalive(200*time.Millisecond, 2*time.Second))
	tbl := table(t, ctx, c, "quiet")
	sub, err := c.Subscribe(ctx, "SELECT * FROM "+tbl)
	require.NoError(t, err)
	defer sub.Close()
	ev.waitFor(t, ctx, sdk.EventConnected)
	// Quiet for many ping intervals (each probing), then a change.
	quiet, stop := context.WithTimeout(ctx, 2*time.Second)
	defer stop()
	_, err = sub.Next(quiet)
	for err == nil { // the snapshot's events
		_, err = sub.Next(quiet)
	}
	require.ErrorIs(t, err, context.DeadlineExceeded)
	exec(t, ctx, c, "INSERT INTO "+tbl+" (id, body) VALUES (1, 'still here')")
	require.Equal(t, "still here", nextInsert(t, ctx, sub))
	select {
	case e := <-ev:
		t.Fatalf("unexpected connection event on a quiet live link: %v %v", e.Kind, e.Err)
	default:
	}
}

// After the server goes away and comes back, the subscription resumes:
// a change made after the restart arrives on the same Subscription.
func TestReconnectResumesAfterRestart(t *testing.T) {
	needFixtures(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	ev, watch := watchEvents()
	c := newClient(t, emulatorURL, watch, sdk.WithReconnect(100*time.Millisecond, time.Second, 0))
	tbl := table(t, ctx, c, "restart")
	sub, err := c.Subscribe(ctx, "SELECT * FROM "+tbl)
	require.NoError(t, err)
	defer sub.Close()
	exec(t, ctx, c, "INSERT INTO "+tbl+" (id, body) VALUES (1, 'before')")
	require.Equal(t, "before", nextInsert(t, ctx, sub))

	control(t, "down")
	t.Cleanup(func() { control(t, "up") })
	ev.waitFor(t, ctx, sdk.EventReconnecting)
	control(t, "up")
	ev.waitFor(t, ctx, sdk.EventConnected)
	exec(t, ctx, c, "INSERT INTO "+tbl+" (id, body) VALUES (2, 'after')")
	require.Equal(t, "after", nextInsert(t, ctx, sub))
}

// Every waiting call ends when its context does, even with the server
// frozen (fetch is aborted; the WebSocket wait is left).
func TestCancellation(t *testing.T) {
	needFixtures(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newClient(t, emulatorURL)
	tbl := table(t, ctx, c, "cancel")
	sub, err := c.Subscribe(ctx, "SELECT * FROM "+tbl)
	require.NoError(t, err)
	defer sub.Close()

	topic := strings.SplitN(tbl, ".", 2)[0] + ".events"
	exec(t, ctx, c, "CREATE TOPIC "+topic)
	consumer, err := c.Consumer(sdk.ConsumerConfig{Group: "cancel", Topic: topic, AutoOffsetReset: sdk.Earliest})
	require.NoError(t, err)

	control(t, "blackhole")
	t.Cleanup(func() { control(t, "unblackhole") })
	fresh := newClient(t, emulatorURL)
	calls := map[string]func(context.Context) error{
		"Query": func(ctx context.Context) error { _, err := c.Query(ctx, "SELECT 1"); return err },
		"Insert": func(ctx context.Context) error {
			_, err := c.Query(ctx, "INSERT INTO "+tbl+" (id, body) VALUES (9, 'x')")
			return err
		},
		"Subscribe": func(ctx context.Context) error { _, err := c.Subscribe(ctx, "SELECT * FROM "+tbl); return err },
		"Next": func(ctx context.Context) error {
			for {
				if _, err := sub.Next(ctx); err != nil {
					return err
				}
			}
		},
		"Connect": func(ctx context.Context) error { return fresh.Connect(ctx) },
		"Login":   func(ctx context.Context) error { _, err := fresh.Login(ctx, "root", password); return err },
		"Health":  func(ctx context.Context) error { _, err := c.Health(ctx); return err },
		"Download": func(ctx context.Context) error {
			_, err := c.Download(ctx, "ns", "t", sdk.FileRef{ID: "1", Sub: "f0001", Name: "a.txt"})
			return err
		},
		"Poll": func(ctx context.Context) error { _, err := consumer.Poll(ctx); return err },
		"Upload": func(ctx context.Context) error {
			_, err := c.Query(ctx, "INSERT INTO "+tbl+" (id, body) VALUES (8, FILE(\"doc\"))",
				sdk.File("doc", "a.txt", "text/plain", strings.NewReader("hello")))
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			cctx, ccancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer ccancel()
			err := call(cctx)
			require.Error(t, err)
			require.True(t, errors.Is(err, context.DeadlineExceeded), "%s: %v", name, err)
		})
	}
}
