package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// suiteTimeout bounds every check, so a broken transport fails the check
// instead of hanging the run.
const suiteTimeout = 30 * time.Second

// A transport may say that it lacks a capability the suite checks (a
// browser cannot stream request bodies or see a refused upgrade's status);
// the suite then checks the weaker behaviour the platform allows instead.
type (
	requestStreamer   interface{ StreamsRequestBodies() bool }
	handshakeReporter interface{ ReportsHandshakeStatus() bool }
)

func streamsRequestBodies(tr transport.Transport) bool {
	rs, ok := tr.(requestStreamer)
	return !ok || rs.StreamsRequestBodies()
}

func reportsHandshakeStatus(tr transport.Transport) bool {
	hr, ok := tr.(handshakeReporter)
	return !ok || hr.ReportsHandshakeStatus()
}

// TransportAgainst runs the transport suite with tr against a server that
// serves TransportHandler at base ("http://host:port").
func TransportAgainst(t *testing.T, tr transport.Transport, base string) {
	s := &suite{tr: tr, base: strings.TrimSuffix(base, "/")}
	t.Run("HTTP", func(t *testing.T) {
		t.Run("StatusCodes", s.statusCodes)
		t.Run("Headers", s.headers)
		t.Run("RequestBody", s.requestBody)
		t.Run("ResponseContentLength", s.responseContentLength)
		t.Run("StreamedRequestBody", s.streamedRequestBody)
		t.Run("StreamedResponseBody", s.streamedResponseBody)
		t.Run("CancelMidBody", s.cancelMidBody)
		t.Run("CloseMidBody", s.closeMidBody)
		t.Run("CancelledBeforeStart", s.cancelledBeforeStart)
		t.Run("Concurrent", s.concurrentDo)
	})
	t.Run("WebSocket", func(t *testing.T) {
		t.Run("HandshakeRefused", s.handshakeRefused)
		t.Run("DialHeaders", s.dialHeaders)
		t.Run("DialContextScope", s.dialContextScope)
		t.Run("TextAndBinary", s.textAndBinary)
		t.Run("PeerClose", s.peerClose)
		t.Run("OwnClose", s.ownClose)
		t.Run("AbruptPeerClose", s.abruptPeerClose)
		t.Run("ReadCancelled", s.readCancelled)
		t.Run("ReadCancelledKeepsOrder", s.readCancelledKeepsOrder)
		t.Run("WriteCancelledWhileQueued", s.writeCancelledWhileQueued)
		t.Run("ConcurrentWriters", s.concurrentWriters)
		t.Run("LargeMessages", s.largeMessages)
		t.Run("ReadLimit", s.readLimit)
		t.Run("Ping", s.ping)
	})
}

type suite struct {
	tr   transport.Transport
	base string
	ids  atomic.Int64
}

// id returns a signal name unique within the run.
func (s *suite) id(t *testing.T) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "."), s.ids.Add(1))
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	t.Cleanup(cancel)
	return ctx
}

// pattern returns n deterministic bytes that cover every byte value.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// do runs one exchange and returns the status, headers and whole body.
func (s *suite) do(t *testing.T, ctx context.Context, req *transport.Request) (int, map[string][]string, []byte) {
	t.Helper()
	resp, err := s.tr.Do(ctx, req)
	require.NoError(t, err, "%s %s", req.Method, req.URL)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "%s %s: reading the response body", req.Method, req.URL)
	return resp.StatusCode, resp.Header, body
}

func (s *suite) get(t *testing.T, ctx context.Context, path string) (int, []byte) {
	t.Helper()
	status, _, body := s.do(t, ctx, &transport.Request{Method: "GET", URL: s.base + path})
	return status, body
}

// awaitSignal asks the server for the value raised under id.
func (s *suite) awaitSignal(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	status, body := s.get(t, ctx, "/wait?id="+id)
	require.Equal(t, 200, status, "waiting for server signal %q: HTTP %d: %s", id, status, body)
	return string(body)
}

func (s *suite) statusCodes(t *testing.T) {
	ctx := testContext(t)
	for _, code := range []int{200, 201, 204, 400, 401, 404, 409, 500, 503} {
		status, hdr, body := s.do(t, ctx, &transport.Request{Method: "GET", URL: fmt.Sprintf("%s/status/%d", s.base, code)})
		assert.Equal(t, code, status, "GET /status/%d: status %d, want %d", code, status, code)
		want := fmt.Sprintf("status %d", code)
		if code == 204 {
			want = ""
		}
		assert.Equal(t, want, string(body), "GET /status/%d: body %q, want %q", code, body, want)
		ct := transport.HeaderValue(hdr, "Content-Type")
		assert.Equal(t, "text/plain; charset=utf-8", ct, "GET /status/%d: Content-Type %q, want text/plain; charset=utf-8", code, ct)
	}
}

func (s *suite) headers(t *testing.T) {
	ctx := testContext(t)
	status, hdr, body := s.do(t, ctx, &transport.Request{
		Method: "GET",
		URL:    s.base + "/headers",
		Header: map[string][]string{
			"X-Multi":       {"a", "b"},
			"X-Kalam-Token": {"t0k3n"},
			"Accept":        {"application/json"},
			"x-lower-req":   {"v"}, // not canonical: the transport must cope
		},
	})
	require.Equal(t, 200, status, "GET /headers: status %d: %s", status, body)
	var got struct {
		Method string
		Header map[string][]string
	}
	require.NoError(t, json.Unmarshal(body, &got), "GET /headers: decoding %q", body)
	assert.True(t, sameList(got.Header["X-Multi"], "a", "b"), "server saw X-Multi %q, want [a b] (multi-valued request header)", got.Header["X-Multi"])
	assert.True(t, slices.Equal(got.Header["X-Kalam-Token"], []string{"t0k3n"}), "server saw X-Kalam-Token %q, want [t0k3n]", got.Header["X-Kalam-Token"])
	assert.True(t, slices.Equal(got.Header["Accept"], []string{"application/json"}), "server saw Accept %q, want [application/json]", got.Header["Accept"])
	assert.True(t, slices.Equal(got.Header["X-Lower-Req"], []string{"v"}), "server saw X-Lower-Req %q, want [v] (sent under a lower-case key)", got.Header["X-Lower-Req"])
	assert.True(t, sameList(hdr["X-Multi"], "one", "two"), "response X-Multi %q, want [one two] (multi-valued response header)", hdr["X-Multi"])
	assert.True(t, slices.Equal(hdr["X-Lower-Case"], []string{"lower"}), "response X-Lower-Case %q, want [lower] under the canonical key; headers: %v", hdr["X-Lower-Case"], hdr)
	for k := range hdr {
		assert.Equal(t, canonicalKey(k), k, "response header key %q is not canonical", k)
	}
}

// sameList reports whether a multi-valued header holds want, as separate
// values or joined with ", " (equivalent per RFC 9110 section 5.3; fetch
// joins them).
func sameList(got []string, want ...string) bool {
	return slices.Equal(got, want) || (len(got) == 1 && got[0] == strings.Join(want, ", "))
}

// canonicalKey is textproto.CanonicalMIMEHeaderKey for the ASCII token
// keys the suite uses, written out so the suite needs no net package.
func canonicalKey(k string) string {
	b := []byte(strings.ToLower(k))
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		upper = c == '-'
	}
	return string(b)
}

// onlyReader hides every method but Read, so a transport cannot learn the
// size from the body's type.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// closeTracker records whether the transport closed the body.
type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error {
	c.closed.Store(true)
	return nil
}

func (s *suite) requestBody(t *testing.T) {
	ctx := testContext(t)
	payload := pattern(100_000)
	cases := []struct {
		name          string
		body          io.Reader
		contentLength int64
		want          []byte
		wantLength    string // as the server saw it; "" means any
	}{
		{"KnownLength", onlyReader{bytes.NewReader(payload)}, int64(len(payload)), payload, strconv.Itoa(len(payload))},
		{"UnknownLength", onlyReader{bytes.NewReader(payload)}, -1, payload, ""},
		{"Empty", onlyReader{bytes.NewReader(nil)}, 0, nil, "0"},
		{"NoBody", nil, 0, nil, "0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := &transport.Request{Method: "POST", URL: s.base + "/echo", Body: c.body, ContentLength: c.contentLength}
			var tracker *closeTracker
			if c.body != nil {
				tracker = &closeTracker{Reader: c.body}
				req.Body = tracker
			}
			status, hdr, body := s.do(t, ctx, req)
			require.Equal(t, 200, status, "POST /echo: status %d: %s", status, body)
			assert.True(t, bytes.Equal(body, c.want), "POST /echo: echoed %d bytes, want %d identical ones", len(body), len(c.want))
			m := transport.HeaderValue(hdr, "X-Method")
			assert.Equal(t, "POST", m, "server saw method %q, want POST", m)
			gotLength := transport.HeaderValue(hdr, "X-Request-Content-Length")
			assert.False(t, c.wantLength != "" && gotLength != c.wantLength, "server saw Content-Length %s, want %s", gotLength, c.wantLength)
			if c.contentLength < 0 && streamsRequestBodies(s.tr) {
				te := transport.HeaderValue(hdr, "X-Request-Transfer-Encoding")
				assert.False(t, gotLength != "-1" || te != "chunked", "unknown length: server saw Content-Length %s, Transfer-Encoding %q; want -1, chunked", gotLength, te)
			}
			assert.False(t, tracker != nil && !tracker.closed.Load(), "the transport did not close a request body that implements io.Closer")
		})
	}
}

func (s *suite) responseContentLength(t *testing.T) {
	ctx := testContext(t)
	const n = 200_000
	for _, known := range []bool{true, false} {
		t.Run(fmt.Sprintf("known=%v", known), func(t *testing.T) {
			q := "0"
			if known {
				q = "1"
			}
			status, hdr, body := s.do(t, ctx, &transport.Request{Method: "GET", URL: fmt.Sprintf("%s/sized?n=%d&known=%s", s.base, n, q)})
			require.Equal(t, 200, status, "GET /sized: status %d", status)
			require.True(t, bytes.Equal(body, pattern(n)), "GET /sized: got %d bytes, want %d pattern bytes", len(body), n)
			cl := transport.HeaderValue(hdr, "Content-Length")
			assert.False(t, known && cl != strconv.Itoa(n), "Content-Length %q, want %d", cl, n)
			assert.False(t, !known && cl != "", "Content-Length %q on a chunked response, want none", cl)
		})
	}
}

// streamedRequestBody checks that the server reads the first chunk of a
// request body while the client has not finished writing it.
func (s *suite) streamedRequestBody(t *testing.T) {
	ctx := testContext(t)
	id := s.id(t)
	pr, pw := io.Pipe()
	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := s.tr.Do(ctx, &transport.Request{Method: "POST", URL: s.base + "/stream-request?id=" + id, Body: pr, ContentLength: -1})
		if err != nil {
			pr.CloseWithError(err)
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, b, err}
	}()
	if !streamsRequestBodies(s.tr) {
		// The platform reads the whole body first: check only that it
		// arrives intact.
		pw.Write([]byte("first|second"))
		pw.Close()
	} else {
		writeErr := make(chan error, 1)
		go func() {
			_, err := pw.Write([]byte("first|"))
			writeErr <- err
		}()
		got := s.awaitSignal(t, ctx, id)
		require.Equal(t, "first|", got, "the server's first chunk was %q, want %q", got, "first|")
		require.NoError(t, <-writeErr, "writing the first chunk")
		pw.Write([]byte("second"))
		pw.Close()
	}
	r := <-done
	require.NoError(t, r.err, "POST /stream-request")
	require.Equal(t, 200, r.status)
	require.Equal(t, "first|second", string(r.body), "POST /stream-request: status %d body %q, want 200 %q", r.status, r.body, "first|second")
}

// streamedResponseBody checks that the client reads the first chunk of a
// response while the handler has not finished writing it.
func (s *suite) streamedResponseBody(t *testing.T) {
	ctx := testContext(t)
	id := s.id(t)
	resp, err := s.tr.Do(ctx, &transport.Request{Method: "GET", URL: s.base + "/stream-response?id=" + id})
	require.NoError(t, err, "GET /stream-response")
	defer resp.Body.Close()
	first := make([]byte, len("first:"))
	_, err = io.ReadFull(resp.Body, first)
	require.NoError(t, err, "reading the first chunk before the handler finished")
	require.Equal(t, "first:", string(first), "first chunk %q, want %q", first, "first:")
	status, body := s.get(t, ctx, "/signal?id="+id+"&value=go")
	require.Equal(t, 204, status, "GET /signal: status %d: %s", status, body)
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "reading the rest")
	require.Equal(t, "second", string(rest), "rest %q, want %q", rest, "second")
}

// cancelMidBody cancels ctx while a response streams: the read ends with
// ctx's error and the handler sees its request context end.
func (s *suite) cancelMidBody(t *testing.T) {
	ctx := testContext(t)
	id := s.id(t)
	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := s.tr.Do(reqCtx, &transport.Request{Method: "GET", URL: s.base + "/hold?id=" + id})
	require.NoError(t, err, "GET /hold")
	defer resp.Body.Close()
	tick := make([]byte, 4)
	_, err = io.ReadFull(resp.Body, tick)
	require.NoError(t, err)
	require.Equal(t, "tick", string(tick), "reading the first chunk: %q, %v", tick, err)
	readErr := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 16))
		readErr <- err
	}()
	cancel()
	err = <-readErr
	require.ErrorIs(t, err, context.Canceled, "a read during cancellation returned %v, want an error wrapping context.Canceled", err)
	got := s.awaitSignal(t, ctx, id)
	require.Equal(t, "ctx done", got, "handler signal %q, want %q", got, "ctx done")
}

// closeMidBody closes the body while a response streams: the handler sees
// its request context end.
func (s *suite) closeMidBody(t *testing.T) {
	ctx := testContext(t)
	id := s.id(t)
	resp, err := s.tr.Do(ctx, &transport.Request{Method: "GET", URL: s.base + "/hold?id=" + id})
	require.NoError(t, err, "GET /hold")
	tick := make([]byte, 4)
	_, err = io.ReadFull(resp.Body, tick)
	require.NoError(t, err)
	require.Equal(t, "tick", string(tick), "reading the first chunk: %q, %v", tick, err)
	require.NoError(t, resp.Body.Close(), "closing the body mid-stream")
	got := s.awaitSignal(t, ctx, id)
	require.Equal(t, "ctx done", got, "handler signal %q, want %q", got, "ctx done")
	_, err = resp.Body.Read(make([]byte, 1))
	assert.Error(t, err, "a read after Close succeeded, want an error")
}

func (s *suite) cancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	resp, err := s.tr.Do(ctx, &transport.Request{Method: "GET", URL: s.base + "/status/200"})
	if err == nil {
		resp.Body.Close()
		require.FailNow(t, "Do with a cancelled context succeeded, want context.Canceled")
	}
	require.ErrorIs(t, err, context.Canceled, "Do with a cancelled context: %v, want an error wrapping context.Canceled", err)
}

func (s *suite) concurrentDo(t *testing.T) {
	ctx := testContext(t)
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			payload := []byte(fmt.Sprintf("request %d", i))
			resp, err := s.tr.Do(ctx, &transport.Request{Method: "POST", URL: s.base + "/echo", Body: bytes.NewReader(payload), ContentLength: int64(len(payload))})
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(body, payload) {
				errs <- fmt.Errorf("request %d: echoed %q (%v), want %q", i, body, err, payload)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.Fail(t, fmt.Sprint(err))
	}
}

// dial opens /ws/echo and consumes its first message (the upgrade
// request's headers, returned decoded).
func (s *suite) dial(t *testing.T, ctx context.Context, id string, opts *transport.DialOptions) (transport.Conn, map[string][]string) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(s.base, "http") + "/ws/echo?id=" + id
	c, err := s.tr.Dial(ctx, url, opts)
	require.NoError(t, err, "Dial %s", url)
	t.Cleanup(func() { c.Close(transport.StatusNormalClosure, "") })
	typ, msg, err := c.Read(ctx)
	require.NoError(t, err, "reading the header message")
	require.Equal(t, transport.MessageText, typ, "header message type %v, want text", typ)
	var hdr map[string][]string
	require.NoError(t, json.Unmarshal(msg, &hdr), "decoding the header message %q", msg)
	return c, hdr
}

func roundTrip(t *testing.T, ctx context.Context, c transport.Conn, typ transport.MessageType, p []byte) {
	t.Helper()
	require.NoError(t, c.Write(ctx, typ, p), "Write %v message of %d bytes", typ, len(p))
	gotType, got, err := c.Read(ctx)
	require.NoError(t, err, "Read the echo of a %v message of %d bytes", typ, len(p))
	require.Equal(t, typ, gotType)
	require.True(t, bytes.Equal(got, p), "echo: %v message of %d bytes, want the same %v message of %d bytes", gotType, len(got), typ, len(p))
}

func (s *suite) handshakeRefused(t *testing.T) {
	ctx := testContext(t)
	for _, tc := range []struct {
		status, n int
	}{{401, 100}, {403, 0}, {503, 100_000}} {
		url := fmt.Sprintf("ws%s/ws/refuse?status=%d&n=%d", strings.TrimPrefix(s.base, "http"), tc.status, tc.n)
		c, err := s.tr.Dial(ctx, url, nil)
		if err == nil {
			c.Close(transport.StatusNormalClosure, "")
			require.FailNow(t, fmt.Sprintf("Dial %s succeeded, want a refusal", url))
		}
		require.NoError(t, ctx.Err(), "Dial %s: %v: the refusal was not reported before the deadline", url, err)
		if !reportsHandshakeStatus(s.tr) {
			continue
		}
		var he *transport.HandshakeError
		require.ErrorAs(t, err, &he, "Dial %s: %v (%T), want a *transport.HandshakeError", url, err, err)
		assert.Equal(t, tc.status, he.StatusCode, "HandshakeError status %d, want %d", he.StatusCode, tc.status)
		want := pattern(min(tc.n, 64<<10))
		assert.True(t, bytes.Equal(he.Body, want), "HandshakeError body: %d bytes, want the first %d bytes of the %d-byte body", len(he.Body), len(want), tc.n)
	}
}

func (s *suite) dialHeaders(t *testing.T) {
	ctx := testContext(t)
	_, hdr := s.dial(t, ctx, s.id(t), &transport.DialOptions{Header: map[string][]string{
		"Authorization": {"Bearer abc"},
		"X-Multi":       {"a", "b"},
	}})
	if !transport.SupportsDialHeaders(s.tr) {
		return
	}
	assert.True(t, slices.Equal(hdr["Authorization"], []string{"Bearer abc"}), "upgrade request Authorization %q, want [Bearer abc]", hdr["Authorization"])
	assert.True(t, slices.Equal(hdr["X-Multi"], []string{"a", "b"}), "upgrade request X-Multi %q, want [a b]", hdr["X-Multi"])
}

// dialContextScope checks that Dial's ctx bounds only the handshake: once
// Dial returned, cancelling it leaves the connection usable.
func (s *suite) dialContextScope(t *testing.T) {
	ctx := testContext(t)
	dialCtx, cancel := context.WithCancel(ctx)
	c, _ := s.dial(t, dialCtx, s.id(t), nil)
	cancel()
	roundTrip(t, ctx, c, transport.MessageText, []byte("after the dial context ended"))
}

func (s *suite) textAndBinary(t *testing.T) {
	ctx := testContext(t)
	c, _ := s.dial(t, ctx, s.id(t), nil)
	roundTrip(t, ctx, c, transport.MessageText, []byte("héllo ✓ {\"type\":\"ping\"}"))
	roundTrip(t, ctx, c, transport.MessageText, []byte{})
	roundTrip(t, ctx, c, transport.MessageBinary, pattern(256))
	roundTrip(t, ctx, c, transport.MessageBinary, []byte{})
	roundTrip(t, ctx, c, transport.MessageBinary, []byte{0x1f, 0x8b, 0x08, 0x00}) // a gzip header
	err := c.Write(ctx, transport.MessageType(9), []byte("x"))
	assert.Error(t, err, "Write with message type 9 succeeded, want an error")
	err = c.Write(ctx, transport.MessageText, []byte{'a', 0xff, 'b'})
	assert.Error(t, err, "Write of a text message with invalid UTF-8 succeeded, want an error")
	roundTrip(t, ctx, c, transport.MessageText, []byte("still usable after refused writes"))
}

func (s *suite) peerClose(t *testing.T) {
	ctx := testContext(t)
	c, _ := s.dial(t, ctx, s.id(t), nil)
	require.NoError(t, c.Write(ctx, transport.MessageText, []byte("close:4001:server says bye")), "Write")
	for range 2 { // the error is sticky
		_, _, err := c.Read(ctx)
		var ce *transport.CloseError
		require.ErrorAs(t, err, &ce, "Read after the peer closed: %v, want a *transport.CloseError", err)
		require.EqualValues(t, 4001, ce.Code)
		require.Equal(t, "server says bye", ce.Reason, "CloseError %d %q, want 4001 %q", ce.Code, ce.Reason, "server says bye")
		require.EqualValues(t, 4001, transport.CloseStatus(err), "CloseStatus %d, want 4001", transport.CloseStatus(err))
	}
	err := c.Write(ctx, transport.MessageText, []byte("late"))
	assert.Error(t, err, "Write after the peer closed succeeded, want an error")
	err = c.Close(transport.StatusNormalClosure, "")
	assert.NoError(t, err, "Close after the peer closed: %v, want nil", err)
}

func (s *suite) ownClose(t *testing.T) {
	ctx := testContext(t)
	id := s.id(t)
	c, _ := s.dial(t, ctx, id, nil)
	require.NoError(t, c.Close(4002, "client says bye"), "Close")
	got := s.awaitSignal(t, ctx, id)
	require.Equal(t, "4002 client says bye", got, "the server saw close %q, want %q", got, "4002 client says bye")
	_, _, err := c.Read(ctx)
	assert.ErrorIs(t, err, transport.ErrConnClosed, "Read after Close: %v, want ErrConnClosed", err)
	err = c.Write(ctx, transport.MessageText, []byte("late"))
	assert.ErrorIs(t, err, transport.ErrConnClosed, "Write after Close: %v, want ErrConnClosed", err)
	err = c.Close(transport.StatusNormalClosure, "")
	assert.NoError(t, err, "second Close: %v, want nil", err)
}

func (s *suite) abruptPeerClose(t *testing.T) {
	ctx := testContext(t)
	c, _ := s.dial(t, ctx, s.id(t), nil)
	require.NoError(t, c.Write(ctx, transport.MessageText, []byte("close:abrupt")), "Write")
	_, _, err := c.Read(ctx)
	require.ErrorIs(t, err, transport.ErrConnClosed, "Read after the peer dropped the connection: %v, want ErrConnClosed", err)
	code := transport.CloseStatus(err)
	require.EqualValues(t, -1, code, "CloseStatus %d for a connection lost without a close frame, want -1", code)
}

func (s *suite) readCancelled(t *testing.T) {
	ctx := testContext(t)
	c, _ := s.dial(t, ctx, s.id(t), nil)
	for range 3 {
		readCtx, cancel := context.WithCancel(ctx)
		readErr := make(chan error, 1)
		go func() {
			_, _, err := c.Read(readCtx)
			readErr <- err
		}()
		cancel()
		err := <-readErr
		require.ErrorIs(t, err, context.Canceled, "Read with nothing to read and a cancelled ctx: %v, want context.Canceled", err)
	}
	roundTrip(t, ctx, c, transport.MessageText, []byte("still here"))
}

// readCancelledKeepsOrder interleaves Reads whose ctx is already cancelled
// with normal ones while messages arrive: none is lost or reordered.
func (s *suite) readCancelledKeepsOrder(t *testing.T) {
	ctx := testContext(t)
	c, _ := s.dial(t, ctx, s.id(t), nil)
	const n = 50
	for i := range n {
		require.NoError(t, c.Write(ctx, transport.MessageText, []byte(strconv.Itoa(i))), "Write %d", i)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	next := 0
	for attempt := 0; next < n; attempt++ {
		readCtx := ctx
		if attempt%2 == 0 {
			readCtx = cancelled
		}
		_, msg, err := c.Read(readCtx)
		if err != nil {
			if readCtx == cancelled && errors.Is(err, context.Canceled) {
				continue
			}
			require.FailNow(t, fmt.Sprintf("Read waiting for message %d: %v", next, err))
		}
		require.Equal(t, strconv.Itoa(next), string(msg), "message %q, want %d: a cancelled Read lost or reordered a message", msg, next)
		next++
	}
}

func (s *suite) writeCancelledWhileQueued(t *testing.T) {
	ctx := testContext(t)
	c, _ := s.dial(t, ctx, s.id(t), nil)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err := c.Write(cancelled, transport.MessageText, []byte("never"))
	require.ErrorIs(t, err, context.Canceled, "Write with a cancelled ctx: %v, want context.Canceled", err)
	roundTrip(t, ctx, c, transport.MessageText, []byte("after a cancelled write"))
}

func (s *suite) concurrentWriters(t *testing.T) {
	ctx := testContext(t)
	c, _ := s.dial(t, ctx, s.id(t), nil)
	const writers, each = 16, 40
	var wg sync.WaitGroup
	writeErrs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				// Sizes vary so frames of different lengths interleave.
				msg := fmt.Sprintf("%02d:%03d:%s", w, i, strings.Repeat("x", (w*131+i*17)%3000))
				if err := c.Write(ctx, transport.MessageBinary, []byte(msg)); err != nil {
					writeErrs <- fmt.Errorf("writer %d message %d: %w", w, i, err)
					return
				}
			}
		})
	}
	nextOf := make([]int, writers)
	for range writers * each {
		_, msg, err := c.Read(ctx)
		require.NoError(t, err, "Read: %v (write errors: %v)", err, drain(writeErrs))
		var w, i int
		_, err = fmt.Sscanf(string(msg[:6]), "%02d:%03d", &w, &i)
		require.NoError(t, err)
		require.Less(t, w, writers, "a corrupted message arrived: %q", msg[:min(len(msg), 40)])
		want := fmt.Sprintf("%02d:%03d:%s", w, i, strings.Repeat("x", (w*131+i*17)%3000))
		require.Equal(t, want, string(msg), "message %02d:%03d arrived corrupted (%d bytes, want %d)", w, i, len(msg), len(want))
		require.Equal(t, nextOf[w], i, "writer %d: message %d arrived, want %d (one writer's messages must stay in order)", w, i, nextOf[w])
		nextOf[w]++
	}
	wg.Wait()
	errs := drain(writeErrs)
	require.Empty(t, errs, "write errors: %v", errs)
}

func drain(ch chan error) []error {
	var out []error
	for {
		select {
		case err := <-ch:
			out = append(out, err)
		default:
			return out
		}
	}
}

func (s *suite) largeMessages(t *testing.T) {
	ctx := testContext(t)
	c, _ := s.dial(t, ctx, s.id(t), nil)
	big := pattern(16 << 20)
	roundTrip(t, ctx, c, transport.MessageBinary, big)
	text := bytes.Repeat([]byte("kalam "), (16<<20)/6)
	roundTrip(t, ctx, c, transport.MessageText, text)
	// Server to client only, at the default read limit's edge.
	require.NoError(t, c.Write(ctx, transport.MessageText, []byte(fmt.Sprintf("send:%d", transport.DefaultReadLimit))), "Write")
	_, got, err := c.Read(ctx)
	require.NoError(t, err, "Read a message of exactly DefaultReadLimit bytes")
	require.True(t, bytes.Equal(got, pattern(transport.DefaultReadLimit)), "a %d-byte message arrived as %d different bytes", transport.DefaultReadLimit, len(got))
}

func (s *suite) readLimit(t *testing.T) {
	ctx := testContext(t)
	c, _ := s.dial(t, ctx, s.id(t), &transport.DialOptions{ReadLimit: 4096})
	roundTrip(t, ctx, c, transport.MessageBinary, pattern(4096))
	require.NoError(t, c.Write(ctx, transport.MessageText, []byte("send:4097")), "Write")
	_, msg, err := c.Read(ctx)
	require.Error(t, err, "Read accepted a %d-byte message over a 4096-byte ReadLimit", len(msg))
	require.NotErrorIs(t, err, context.DeadlineExceeded, "Read over the ReadLimit hung until the deadline: %v", err)
	require.ErrorIs(t, err, transport.ErrConnClosed, "Read over the ReadLimit: %v, want an error wrapping ErrConnClosed (the connection cannot continue)", err)
}

// pinger is implemented by connections that can send a WebSocket Ping and
// wait for the Pong (native ones; browsers cannot).
type pinger interface {
	Ping(ctx context.Context) error
}

func (s *suite) ping(t *testing.T) {
	ctx := testContext(t)
	c, _ := s.dial(t, ctx, s.id(t), nil)
	p, ok := c.(pinger)
	if !ok {
		return
	}
	for i := range 3 {
		require.NoError(t, p.Ping(ctx), "Ping %d", i)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err := p.Ping(cancelled)
	require.ErrorIs(t, err, context.Canceled, "Ping with a cancelled ctx: %v, want context.Canceled", err)
	roundTrip(t, ctx, c, transport.MessageText, []byte("after pings"))
}
