// Package mock is an in-memory transport.Transport: it serves HTTP exchanges
// and WebSocket connections from any http.Handler with no sockets, and it
// injects faults (latency, refused connections, cut or stalled WebSockets)
// and logs traffic so tests can drive the SDK through bad networks
// deterministically.
package mock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kalamstack/kalam-go/transport"
)

// RemoteAddr is the client address every request carries, a loopback one so
// that localhost-only endpoints (such as KalamDB's health checks) accept it.
const RemoteAddr = "127.0.0.1:40000"

// Transport serves transport requests from an http.Handler in memory.
// It is safe for concurrent use.
type Transport struct {
	handler http.Handler

	latency        atomic.Int64 // per request, in nanoseconds
	messageLatency atomic.Int64 // per WebSocket message, in nanoseconds

	mu       sync.Mutex
	failNext int
	conns    map[*wsConn]struct{} // open WebSockets, for DropConnections
	stall    chan struct{}        // non-nil while reads are stalled; closed on release
	logOn    bool
	log      []*record
}

var _ transport.Transport = (*Transport)(nil)

// Option configures a Transport.
type Option func(*Transport)

// WithLatency delays every request (and WebSocket handshake) by d before the
// handler sees it.
func WithLatency(d time.Duration) Option { return func(t *Transport) { t.SetLatency(d) } }

// WithMessageLatency delays every WebSocket message, in both directions, by d.
func WithMessageLatency(d time.Duration) Option {
	return func(t *Transport) { t.SetMessageLatency(d) }
}

// WithTrafficLog records every exchange; read it with Traffic. It is off by
// default so that long benchmarks do not grow memory.
func WithTrafficLog() Option { return func(t *Transport) { t.logOn = true } }

// New returns a Transport that serves every request and WebSocket upgrade
// from h.
func New(h http.Handler, opts ...Option) *Transport {
	t := &Transport{handler: h, conns: make(map[*wsConn]struct{})}
	for _, o := range opts {
		o(t)
	}
	return t
}

// SetLatency changes the per-request latency (0 removes it).
func (t *Transport) SetLatency(d time.Duration) { t.latency.Store(int64(d)) }

// SetMessageLatency changes the per-WebSocket-message latency (0 removes it).
func (t *Transport) SetMessageLatency(d time.Duration) { t.messageLatency.Store(int64(d)) }

// FailNext makes the next n requests (Do calls and Dial handshakes) fail
// before reaching the handler with a *FaultError wrapping
// syscall.ECONNREFUSED, as a refused connection would.
func (t *Transport) FailNext(n int) {
	t.mu.Lock()
	t.failNext = max(n, 0)
	t.mu.Unlock()
}

// FaultError is the transport error an injected fault produces. It wraps
// the system error the fault imitates, so errors.Is(err,
// syscall.ECONNREFUSED) holds for a FailNext failure.
type FaultError struct {
	Op  string // "dial"
	URL string
	Err error
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("mock: injected fault: %s %s: %v", e.Op, e.URL, e.Err)
}

func (e *FaultError) Unwrap() error { return e.Err }

// takeFault consumes one pending FailNext failure, if any.
func (t *Transport) takeFault(rawURL string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failNext == 0 {
		return nil
	}
	t.failNext--
	return &FaultError{Op: "dial", URL: rawURL, Err: syscall.ECONNREFUSED}
}

// Exchange is one entry of the traffic log.
type Exchange struct {
	Method string
	URL    string
	// Status is the response status, 0 when no response arrived (an
	// injected fault, a cancelled context, a handler panic).
	Status int
	// Err is why the exchange failed before a response, or nil.
	Err error
	// RequestBytes and ResponseBytes count body bytes that crossed so far.
	RequestBytes  int64
	ResponseBytes int64
	// WebSocket marks an upgrade; the counts are data messages written and
	// read by the client.
	WebSocket        bool
	MessagesSent     int64
	MessagesReceived int64
}

type record struct {
	method, url      string
	status           atomic.Int64
	err              atomic.Pointer[error]
	websocket        bool
	reqBytes         atomic.Int64
	respBytes        atomic.Int64
	msgsSent, msgsRx atomic.Int64
}

func (r *record) fail(err error) { r.err.Store(&err) }

// newRecord starts a traffic log entry; with logging off it still returns a
// record so callers need no nil checks.
func (t *Transport) newRecord(method, rawURL string, ws bool) *record {
	r := &record{method: method, url: rawURL, websocket: ws}
	t.mu.Lock()
	if t.logOn {
		t.log = append(t.log, r)
	}
	t.mu.Unlock()
	return r
}

// Traffic returns a snapshot of the traffic log (empty unless
// WithTrafficLog).
func (t *Transport) Traffic() []Exchange {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Exchange, 0, len(t.log))
	for _, r := range t.log {
		e := Exchange{
			Method: r.method, URL: r.url, Status: int(r.status.Load()),
			RequestBytes: r.reqBytes.Load(), ResponseBytes: r.respBytes.Load(),
			WebSocket: r.websocket, MessagesSent: r.msgsSent.Load(), MessagesReceived: r.msgsRx.Load(),
		}
		if p := r.err.Load(); p != nil {
			e.Err = *p
		}
		out = append(out, e)
	}
	return out
}

// ResetTraffic empties the traffic log.
func (t *Transport) ResetTraffic() {
	t.mu.Lock()
	t.log = nil
	t.mu.Unlock()
}

// wait sleeps for d or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Do serves req through the handler. The handler runs in its own goroutine
// with a request whose body streams from req.Body; Do returns as soon as the
// handler commits its status, and the response body streams while the
// handler still writes.
func (t *Transport) Do(ctx context.Context, req *transport.Request) (*transport.Response, error) {
	if req == nil {
		return nil, errors.New("mock: Do called with a nil request")
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	rec := t.newRecord(method, req.URL, false)
	hreq, err := t.prepare(ctx, rec, method, req.URL)
	if err != nil {
		closeBody(req.Body)
		return nil, err
	}
	hreq.Header = canonicalHeader(req.Header)
	moveHostHeader(hreq)
	setRequestBody(hreq, req, rec)

	ex := t.serve(hreq, rec)
	select {
	case <-ex.ready:
	case <-ctx.Done():
		// The handler may still switch protocols; hangUp waits for that
		// or for its return, so it runs apart.
		go ex.hangUp()
		rec.fail(ctx.Err())
		return nil, ctx.Err()
	}
	if ex.failure != nil {
		rec.fail(ex.failure)
		return nil, ex.failure
	}
	if ex.status == http.StatusSwitchingProtocols {
		// The handler switches to a protocol Do cannot speak: hang up.
		ex.hangUp()
		err := fmt.Errorf("mock: %s %s: handler switched protocols (a WebSocket upgrade needs Dial)", method, req.URL)
		rec.fail(err)
		return nil, err
	}
	body := &responseBody{ex: ex, rec: rec}
	body.stop = context.AfterFunc(ctx, func() { ex.abort(ctx.Err()) })
	return &transport.Response{StatusCode: ex.status, Header: ex.sent, Body: body}, nil
}

// prepare applies faults and latency and builds the server-side request
// shared by Do and Dial.
func (t *Transport) prepare(ctx context.Context, rec *record, method, rawURL string) (*http.Request, error) {
	fail := func(err error) (*http.Request, error) {
		rec.fail(err)
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fail(fmt.Errorf("mock: invalid request URL %q: %w", rawURL, err))
	}
	if u.Host == "" {
		return fail(fmt.Errorf("mock: request URL %q has no host", rawURL))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := t.takeFault(rawURL); err != nil {
		return fail(err)
	}
	if err := wait(ctx, time.Duration(t.latency.Load())); err != nil {
		return fail(err)
	}
	// Build the request as a server would parse it off the wire: the URL
	// holds only the request URI, Host and RemoteAddr are set apart.
	reqURI := u.RequestURI()
	su, err := url.ParseRequestURI(reqURI)
	if err != nil {
		return fail(fmt.Errorf("mock: invalid request URI %q in %q: %w", reqURI, rawURL, err))
	}
	hreq := &http.Request{
		Method:     method,
		URL:        su,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Body:       http.NoBody,
		Host:       u.Host,
		RemoteAddr: RemoteAddr,
		RequestURI: reqURI,
	}
	return hreq, nil
}

// setRequestBody streams req.Body to the handler through a pipe, honouring
// ContentLength the way an HTTP/1.1 server would: a known length is read
// exactly (a short body is an error), an unknown one is sent chunked.
func setRequestBody(hreq *http.Request, req *transport.Request, rec *record) {
	if req.Body == nil {
		return
	}
	if req.ContentLength == 0 {
		closeBody(req.Body)
		return
	}
	pr, pw := io.Pipe()
	hreq.Body = pr
	hreq.ContentLength = req.ContentLength
	if req.ContentLength < 0 {
		hreq.ContentLength = -1
		hreq.TransferEncoding = []string{"chunked"}
	} else {
		hreq.Header.Set("Content-Length", strconv.FormatInt(req.ContentLength, 10))
	}
	go func() {
		defer closeBody(req.Body)
		src := req.Body
		if req.ContentLength > 0 {
			src = io.LimitReader(src, req.ContentLength)
		}
		n, err := io.Copy(&countingWriter{w: pw, n: &rec.reqBytes}, src)
		if err == nil && req.ContentLength > 0 && n < req.ContentLength {
			err = fmt.Errorf("mock: request body ended after %d of its %d declared bytes: %w", n, req.ContentLength, io.ErrUnexpectedEOF)
		}
		pw.CloseWithError(err) // nil means EOF
	}()
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func closeBody(r io.Reader) {
	if c, ok := r.(io.Closer); ok {
		c.Close()
	}
}

// moveHostHeader applies a Host header as net/http's client does: it sets
// the request's Host rather than travelling as a header.
func moveHostHeader(hreq *http.Request) {
	if host := hreq.Header.Get("Host"); host != "" {
		hreq.Host = host
	}
	hreq.Header.Del("Host")
}

func canonicalHeader(h map[string][]string) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		out[ck] = append(out[ck], v...)
	}
	return out
}

// responseBody is the client's end of a response stream.
type responseBody struct {
	ex     *exchange
	rec    *record
	stop   func() bool
	closed atomic.Bool
	eof    atomic.Bool
}

func (b *responseBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errors.New("mock: read on closed response body")
	}
	n, err := b.ex.body.read(p)
	b.rec.respBytes.Add(int64(n))
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

func (b *responseBody) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.stop()
	if !b.eof.Load() {
		// Like a client hanging up mid-response: the handler's writes fail
		// and its request context ends.
		b.ex.abort(errors.New("mock: response body closed by the client"))
	}
	return nil
}
