package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonscan"
	"github.com/kalamstack/kalam-go/transport"
)

// Defaults.
const (
	// DefaultTimeout bounds each call (request and response body) when the
	// caller's context has no earlier deadline; the official client uses 30 s.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxRetries bounds automatic retries of one call.
	DefaultMaxRetries = 3
	// DefaultMaxResponseBytes bounds a JSON response body read into memory.
	// KalamDB caps a SELECT at 1000 rows, so 64 MiB leaves room for wide rows;
	// a larger body fails with ErrResponseTooLarge instead of being cut.
	// File downloads are streamed and not bounded.
	DefaultMaxResponseBytes = 64 << 20
	// DefaultRetryBackoff is the first retry delay; it doubles per attempt
	// (with full jitter) up to DefaultMaxRetryBackoff.
	DefaultRetryBackoff    = 100 * time.Millisecond
	DefaultMaxRetryBackoff = 5 * time.Second
)

// Client talks to one KalamDB server. It is safe for concurrent use by many
// goroutines. Create it with New and release it with Close.
type Client struct {
	eps              *endpointSet
	extraEndpoints   []string     // from WithEndpoints, until New builds eps
	cluster          clusterHooks // nil unless WithEndpoints
	tr               transport.Transport
	timeout          time.Duration
	maxRetries       int
	backoff          time.Duration
	maxBackoff       time.Duration
	maxResponseBytes int64
	log              Logger
	auth             *authState
	rt               *realtimeState // the shared WebSocket (realtime.go)

	// done is cancelled by Close; every call's context is tied to it.
	done      context.Context
	closeDone context.CancelFunc
	closeOnce sync.Once
	// ownsTransport: tr is the default transport New made, closed with c.
	ownsTransport bool
}

// Option configures a Client.
type Option func(*Client) error

// WithTransport replaces the platform's default transport (net/http on
// native, fetch in browsers), e.g. with transport/mock in tests.
func WithTransport(t transport.Transport) Option {
	return func(c *Client) error {
		if t == nil {
			return errors.New("sdk: WithTransport: transport is nil")
		}
		c.tr = t
		return nil
	}
}

// WithTimeout sets the per-call timeout (default DefaultTimeout). It applies
// only when the call's context has no earlier deadline. Zero disables it.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return fmt.Errorf("sdk: WithTimeout: negative duration %v", d)
		}
		c.timeout = d
		return nil
	}
}

// WithMaxRetries bounds automatic retries per call (default 3; 0 disables).
// Retries happen only where they are safe: read-only statements after a
// transport failure, and any request the server rejected with
// RATE_LIMIT_EXCEEDED before running it.
func WithMaxRetries(n int) Option {
	return func(c *Client) error {
		if n < 0 {
			return fmt.Errorf("sdk: WithMaxRetries: negative count %d", n)
		}
		c.maxRetries = n
		return nil
	}
}

// WithRetryBackoff sets the first retry delay and its cap. Each attempt
// waits a random duration up to base·2^attempt (full jitter), at most max.
func WithRetryBackoff(base, max time.Duration) Option {
	return func(c *Client) error {
		if base <= 0 || max < base {
			return fmt.Errorf("sdk: WithRetryBackoff: need 0 < base <= max, got base %v max %v", base, max)
		}
		c.backoff, c.maxBackoff = base, max
		return nil
	}
}

// WithMaxResponseBytes bounds JSON response bodies (default
// DefaultMaxResponseBytes).
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) error {
		if n <= 0 {
			return fmt.Errorf("sdk: WithMaxResponseBytes: need a positive size, got %d", n)
		}
		c.maxResponseBytes = n
		return nil
	}
}

// WithLogger sends the client's debug and warning logs to l, typically a
// *slog.Logger. By default the client is silent. Credentials and tokens are
// never logged.
func WithLogger(l Logger) Option {
	return func(c *Client) error {
		if isNil(l) {
			return errors.New("sdk: WithLogger: logger is nil")
		}
		c.log = l
		return nil
	}
}

// New returns a client for the server at baseURL, e.g.
// "http://localhost:8080". The URL needs an http or https scheme and a host;
// a path is accepted only as a reverse-proxy prefix (not "/v1/..."), and
// query, fragment and user info are rejected. The platform's default
// transport is used unless WithTransport is given.
func New(baseURL string, opts ...Option) (*Client, error) {
	c := &Client{
		timeout:          DefaultTimeout,
		maxRetries:       DefaultMaxRetries,
		backoff:          DefaultRetryBackoff,
		maxBackoff:       DefaultMaxRetryBackoff,
		maxResponseBytes: DefaultMaxResponseBytes,
		log:              discard{},
		auth:             &authState{},
	}
	c.realtimeConfig()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	urls := c.extraEndpoints
	if baseURL != "" || len(urls) == 0 {
		base, err := normalizeBaseURL(baseURL)
		if err != nil {
			return nil, err
		}
		urls = append([]string{base}, urls...)
	}
	c.eps = newEndpointSet(urls)
	c.extraEndpoints = nil
	if c.eps.many() {
		c.eps.onSwitch = func(from, to string) {
			c.log.Warn("kalamdb node failed; moving to the next", "from", from, "to", to)
		}
	}
	if err := c.auth.validate(); err != nil {
		return nil, err
	}
	if c.tr == nil {
		c.tr = defaultTransport()
		c.ownsTransport = true
	}
	c.done, c.closeDone = context.WithCancel(context.Background())
	return c, nil
}

func normalizeBaseURL(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("sdk: base URL is required (e.g. \"http://localhost:8080\")")
	}
	u, err := parseBaseURL(raw)
	if err != nil {
		// Say what is wrong without quoting the input: it may carry user info.
		return "", fmt.Errorf("sdk: base URL cannot be parsed: %v", err)
	}
	if u.userInfo {
		return "", errors.New("sdk: base URL must not contain user info; use WithBasicAuth or WithToken")
	}
	if u.scheme != "http" && u.scheme != "https" {
		return "", fmt.Errorf("sdk: base URL %q: scheme must be http or https, got %q", raw, u.scheme)
	}
	if u.host == "" || u.hostname() == "" {
		return "", fmt.Errorf("sdk: base URL %q: host is missing", raw)
	}
	if u.hasQuery {
		return "", fmt.Errorf("sdk: base URL %q: must not have a query (%q)", raw, u.query)
	}
	if u.fragment != "" {
		return "", fmt.Errorf("sdk: base URL %q: must not have a fragment (%q)", raw, u.fragment)
	}
	p := strings.TrimRight(u.path, "/")
	if p == "/v1" || strings.HasPrefix(p, "/v1/") || strings.Contains(p, "/v1/api") {
		return "", fmt.Errorf("sdk: base URL %q: path %q looks like an API endpoint; give the server root (the client adds /v1/...)", raw, p)
	}
	return u.scheme + "://" + u.host + p, nil
}

// BaseURL returns the normalised URL of the server (the cluster node) the
// client talks to now.
func (c *Client) BaseURL() string { return c.eps.current() }

// Close releases the client: calls in flight are cancelled and later calls
// fail with ErrClosed. It is safe to call more than once.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closeDone()
		c.rt.close()
		c.auth.secrets.Close()
		if ic, ok := c.tr.(interface{ CloseIdleConnections() }); ok && c.ownsTransport {
			// The default transport is this client's alone: its idle
			// keep-alive connections (and their goroutines) go with it.
			ic.CloseIdleConnections()
		}
		c.log.Debug("kalamdb client closed")
	})
	return nil
}

// callContext ties ctx to the client's lifetime and applies the default
// timeout when ctx has no earlier deadline.
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc, error) {
	ctx, cancel, _, err := c.boundContext(ctx)
	return ctx, cancel, err
}

// boundContext is callContext plus a function that disarms the timeout
// while keeping ctx alive (for streamed downloads).
func (c *Client) boundContext(ctx context.Context) (context.Context, context.CancelFunc, func(), error) {
	if ctx == nil {
		return nil, nil, nil, errors.New("sdk: nil context")
	}
	if c.done.Err() != nil {
		return nil, nil, nil, ErrClosed
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(c.done, func() { cancel(ErrClosed) })
	var timer *time.Timer
	var cd *callDeadline
	if c.timeout > 0 {
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > c.timeout {
			cd = &callDeadline{at: time.Now().Add(c.timeout)}
			cd.armed.Store(true)
			timer = time.AfterFunc(c.timeout, func() { cancel(errCallTimeout) })
		}
	}
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			cd.armed.Store(false)
		}
	}
	if cd != nil {
		ctx = context.WithValue(ctx, callDeadlineKey{}, cd)
	}
	return ctx, func() {
		stop()
		stopTimer()
		cancel(context.Canceled)
	}, stopTimer, nil
}

// callDeadline is when the client's own timeout ends a call, which the
// context cannot carry as a deadline since a streamed download disarms it.
type callDeadline struct {
	at    time.Time
	armed atomic.Bool
}

type callDeadlineKey struct{}

// timeLeft is how long the call may still run: the earlier of the
// context's deadline and the client's timeout; ok is false when unbounded.
func timeLeft(ctx context.Context) (left time.Duration, ok bool) {
	dl, ok := ctx.Deadline()
	if cd, _ := ctx.Value(callDeadlineKey{}).(*callDeadline); cd != nil && cd.armed.Load() && (!ok || cd.at.Before(dl)) {
		dl, ok = cd.at, true
	}
	if !ok {
		return 0, false
	}
	return time.Until(dl), true
}

// ctxError reports why a call's context ended: the client closed, the
// client's timeout, or the caller's own cancellation or deadline.
func ctxError(ctx context.Context) error {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, ErrClosed):
		return ErrClosed
	case errors.Is(cause, errCallTimeout):
		return fmt.Errorf("%w (%w)", errCallTimeout, context.DeadlineExceeded)
	case cause != nil:
		return cause
	}
	return ctx.Err()
}

// request describes one logical API call; the pipeline may send it several
// times.
type request struct {
	method string
	path   string // starting with /v1/... (or /health); may include a query
	// body builds a fresh body for each attempt; nil means no body.
	body func() (requestBody, error)
	// authed: send the access token and renew it on TOKEN_EXPIRED.
	authed bool
	// idempotent: safe to resend after a transport failure.
	idempotent bool
	// bearer, when set, is sent instead of the access token (refresh).
	bearer string
}

type requestBody struct {
	r           io.Reader
	size        int64 // -1 when unknown
	contentType string
	// replayable is false when a second call to the factory would fail
	// (an upload from a reader that cannot seek).
	replayable bool
}

func jsonBody(b []byte) func() (requestBody, error) {
	return func() (requestBody, error) {
		return requestBody{r: bytes.NewReader(b), size: int64(len(b)), contentType: "application/json", replayable: true}, nil
	}
}

// send runs the request pipeline: authentication, one renewal after
// TOKEN_EXPIRED, and bounded jittered retries where safe. It returns a 2xx
// response whose body the caller must close, or an error.
func (c *Client) send(ctx context.Context, rq *request) (*transport.Response, error) {
	renewed := false
	// movesLeft bounds the immediate resends on another node after a node
	// failed: each other node once, on top of the ordinary retries.
	movesLeft := len(c.eps.urls) - 1
	for attempt := 0; ; attempt++ {
		var gen uint64
		hdr := map[string][]string{"Accept": {"application/json"}}
		switch {
		case rq.bearer != "":
			hdr["Authorization"] = []string{"Bearer " + rq.bearer}
		case rq.authed:
			tok, g, err := c.accessToken(ctx)
			if err != nil {
				return nil, err
			}
			gen = g
			if tok != "" {
				hdr["Authorization"] = []string{"Bearer " + tok}
			}
		}
		node := c.eps.current()
		treq := &transport.Request{Method: rq.method, URL: node + rq.path, Header: hdr}
		replayable := true
		if rq.body != nil {
			b, err := rq.body()
			if err != nil {
				return nil, err
			}
			treq.Body, treq.ContentLength, replayable = b.r, b.size, b.replayable
			hdr["Content-Type"] = []string{b.contentType}
		}
		start := time.Now()
		resp, err := c.tr.Do(ctx, treq)
		if err != nil {
			if ctx.Err() != nil {
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					// A node that hangs looks like this; later calls try
					// another (with one URL this does nothing).
					c.eps.failed(node)
				}
				return nil, ctxError(ctx)
			}
			terr := &TransportError{Method: rq.method, Path: pathOnly(rq.path), Err: err}
			if c.eps.failed(node) && movesLeft > 0 && replayable && !errors.Is(err, transport.ErrRefused) &&
				(rq.idempotent || errors.Is(err, transport.ErrNotSent)) {
				movesLeft--
				attempt-- // moving to a healthy node is not a retry
				c.log.Warn("kalamdb request failed; sending it to the next node", "method", rq.method, "path", pathOnly(rq.path), "error", err)
				continue
			}
			if rq.idempotent && replayable && attempt < c.maxRetries && !errors.Is(err, transport.ErrRefused) {
				c.log.Warn("kalamdb request failed; retrying", "method", rq.method, "path", pathOnly(rq.path), "attempt", attempt+1, "error", err)
				if werr := c.wait(ctx, attempt, 0); werr != nil {
					return nil, werr
				}
				continue
			}
			return nil, terr
		}
		c.log.Debug("kalamdb request", "method", rq.method, "path", pathOnly(rq.path), "status", resp.StatusCode, "elapsed", time.Since(start))
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, nil
		}
		serr := c.readError(ctx, resp)
		if ctx.Err() != nil {
			return nil, ctxError(ctx)
		}
		if c.cluster != nil && c.eps.many() && replayable {
			switch c.cluster.nodeTrouble(c, node, serr, rq.idempotent) {
			case resendNow:
				if movesLeft > 0 {
					movesLeft--
					attempt--
					continue
				}
			case resendLater:
				if attempt < c.maxRetries {
					if werr := c.wait(ctx, attempt, 0); werr != nil {
						return nil, fmt.Errorf("%w (while waiting to retry after: %w)", werr, serr)
					}
					continue
				}
			}
		}
		if rq.authed && rq.bearer == "" && !renewed && errors.Is(serr, ErrTokenExpired) {
			if !replayable {
				return nil, fmt.Errorf("%w: the token expired and the upload was not retried because a file reader is not an io.Seeker (pass an *os.File, *bytes.Reader or other io.ReadSeeker to allow it): %w", ErrBodyNotReplayable, serr)
			}
			c.log.Debug("kalamdb token expired; renewing", "path", pathOnly(rq.path))
			if err := c.renewToken(ctx, gen); err != nil {
				return nil, fmt.Errorf("sdk: renewing the expired token: %w (server said: %w)", err, serr)
			}
			renewed = true
			attempt-- // a renewal is not a retry
			continue
		}
		var se *ServerError
		if errors.As(serr, &se) && strings.EqualFold(se.Code, "RATE_LIMIT_EXCEEDED") && attempt < c.maxRetries {
			// The server rejects a rate-limited request before running it,
			// so any statement may be resent.
			if !replayable {
				return nil, fmt.Errorf("%w: rate limited, and the upload cannot be resent because a file reader is not an io.Seeker: %w", ErrBodyNotReplayable, serr)
			}
			if left, ok := timeLeft(ctx); ok && se.RetryAfter > 0 && se.RetryAfter > left {
				// Sleeping into the deadline would only trade the server's
				// answer for a timeout.
				return nil, fmt.Errorf("%w (Retry-After %v exceeds the %v left before the call's deadline)", serr, se.RetryAfter, left.Round(time.Millisecond))
			}
			c.log.Warn("kalamdb rate limited; retrying", "path", pathOnly(rq.path), "attempt", attempt+1)
			if werr := c.wait(ctx, attempt, se.RetryAfter); werr != nil {
				return nil, fmt.Errorf("%w (while waiting to retry after: %w)", werr, serr)
			}
			continue
		}
		return nil, serr
	}
}

// wait sleeps before retry number attempt (0-based): full jitter over an
// exponential window, but never less than the server's Retry-After hint.
func (c *Client) wait(ctx context.Context, attempt int, atLeast time.Duration) error {
	window := c.backoff << min(attempt, 30)
	if window <= 0 || window > c.maxBackoff {
		window = c.maxBackoff
	}
	d := time.Duration(rand.Int64N(int64(window))) + 1
	if d < atLeast {
		d = atLeast
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctxError(ctx)
	case <-t.C:
		return nil
	}
}

// readError reads a non-2xx response and decodes KalamDB's error body.
func (c *Client) readError(ctx context.Context, resp *transport.Response) error {
	body, err := c.readBody(ctx, resp)
	if err != nil {
		return err
	}
	return decodeServerError(resp.StatusCode, transport.HeaderValue(resp.Header, "Content-Type"), body,
		transport.HeaderValue(resp.Header, "Retry-After"))
}

// readBody reads and closes resp.Body, failing (never truncating) when it
// exceeds the client's limit. The buffer grows as bytes arrive: a declared
// Content-Length only caps the growth (an honest one then costs no copy
// beyond the doubling), so a reply that declares 64 MiB and sends 33 bytes
// allocates little, and one near the limit peaks within a small constant
// of its size.
func (c *Client) readBody(ctx context.Context, resp *transport.Response) ([]byte, error) {
	defer resp.Body.Close()
	limit := c.maxResponseBytes
	want := limit + 1 // one more byte tells an over-limit body apart
	if n := contentLength(resp.Header); n >= 0 && n < limit {
		want = n + 1
	}
	first := int64(initialBodyBuffer) // streamed replies declare no length
	if want <= limit {
		first = min(want, declaredBodyBuffer)
	}
	buf := make([]byte, 0, first)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				break
			}
			// Grow eightfold while a declared length is still ahead (it
			// has been honest so far), else double; never past the limit.
			next := min(int64(cap(buf))*2, limit+1)
			if want > int64(cap(buf)) {
				next = min(int64(cap(buf))*8, want)
			}
			nb := make([]byte, len(buf), next)
			copy(nb, buf)
			buf = nb
		}
		n, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctxError(ctx)
			}
			return nil, fmt.Errorf("sdk: reading response body (HTTP %d) after %d bytes: %w", resp.StatusCode, len(buf), err)
		}
	}
	if int64(len(buf)) > limit {
		return nil, fmt.Errorf("%w: HTTP %d body exceeds %d bytes (raise it with WithMaxResponseBytes)", ErrResponseTooLarge, resp.StatusCode, limit)
	}
	return buf, nil
}

// The first allocation for a response body: small when the length is
// unknown (most replies are small), larger when a length was declared
// (it holds so far; growth then trusts it eightfold at a time).
const (
	initialBodyBuffer  = 512
	declaredBodyBuffer = 32 << 10
)

func contentLength(h map[string][]string) int64 {
	v := transport.HeaderValue(h, "Content-Length")
	if v == "" {
		return -1
	}
	n, ok := leadingInt(v)
	if !ok {
		return -1
	}
	return n
}

// leadingInt reads the decimal integer at the start of v as fmt.Sscanf's
// %d does (leading blanks, a sign, digits; the rest ignored) without
// linking fmt's scanner into the browser bundle.
func leadingInt(v string) (int64, bool) {
	v = strings.TrimLeft(v, " \t\r")
	i := 0
	if i < len(v) && (v[i] == '+' || v[i] == '-') {
		i++
	}
	for i < len(v) && '0' <= v[i] && v[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	return n, err == nil
}

// pathOnly strips the query (which may name a user) for logs and errors.
func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// doJSON runs one JSON call under its own call context.
func (c *Client) doJSON(ctx context.Context, rq *request, out any) error {
	ctx, cancel, err := c.callContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return c.exchange(ctx, rq, out)
}

// exchange sends rq and decodes a 2xx JSON body into out (nil: discard).
func (c *Client) exchange(ctx context.Context, rq *request, out any) error {
	resp, err := c.send(ctx, rq)
	if err != nil {
		return err
	}
	body, err := c.readBody(ctx, resp)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := jsonscan.Unmarshal(body, out); err != nil {
		return unexpected(resp.StatusCode, transport.HeaderValue(resp.Header, "Content-Type"), describeJSONError(err), body, err)
	}
	return nil
}
