//go:build !js

// Package http is the native transport: HTTP through net/http and
// WebSocket through github.com/coder/websocket.
package http

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/textproto"
	"net/url"
	"time"

	"github.com/kalamstack/kalam-go/transport"
	"github.com/kalamstack/kalam-go/transport/internal/wsconn"
)

// Defaults of the connection pool, as the official client's.
const (
	DefaultMaxIdleConnsPerHost = 10
	DefaultIdleConnTimeout     = 90 * time.Second
)

// Options tunes a Transport. The zero value (or a nil *Options) gives the
// defaults.
type Options struct {
	// HTTPClient, when set, carries every request and WebSocket handshake
	// as given; the other fields are then ignored. Its Transport must
	// return writable bodies for 101 responses (net/http's does) and must
	// not negotiate HTTP/2 for WebSocket handshakes.
	HTTPClient *nethttp.Client

	// TLSConfig overrides TLS settings (for example RootCAs for a private
	// CA). Certificates are verified unless it says otherwise.
	TLSConfig *tls.Config

	// Proxy chooses the proxy for a request; nil means the environment's
	// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY).
	Proxy func(*nethttp.Request) (*url.URL, error)

	// MaxIdleConnsPerHost is the keep-alive pool size per host; 0 means
	// DefaultMaxIdleConnsPerHost.
	MaxIdleConnsPerHost int

	// IdleConnTimeout closes pooled connections idle this long; 0 means
	// DefaultIdleConnTimeout.
	IdleConnTimeout time.Duration

	// DialTimeout bounds establishing a TCP connection; 0 means 30 s.
	DialTimeout time.Duration
}

// Transport is the native transport.Transport. It is safe for concurrent
// use.
type Transport struct {
	client *nethttp.Client
}

var (
	_ transport.Transport     = (*Transport)(nil)
	_ transport.HeaderCapable = (*Transport)(nil)
)

// New returns a Transport; opts may be nil.
func New(opts *Options) *Transport {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.HTTPClient != nil {
		return &Transport{client: o.HTTPClient}
	}
	return &Transport{client: &nethttp.Client{Transport: newRoundTripper(o)}}
}

func newRoundTripper(o Options) *nethttp.Transport {
	proxy := o.Proxy
	if proxy == nil {
		proxy = nethttp.ProxyFromEnvironment
	}
	perHost := o.MaxIdleConnsPerHost
	if perHost <= 0 {
		perHost = DefaultMaxIdleConnsPerHost
	}
	idle := o.IdleConnTimeout
	if idle <= 0 {
		idle = DefaultIdleConnTimeout
	}
	dialTimeout := o.DialTimeout
	if dialTimeout <= 0 {
		dialTimeout = 30 * time.Second
	}
	// HTTP/1.1 only, as the official client by default; it is also what a
	// WebSocket upgrade needs.
	var protocols nethttp.Protocols
	protocols.SetHTTP1(true)
	var tlsConfig *tls.Config
	if o.TLSConfig != nil {
		tlsConfig = o.TLSConfig.Clone()
	}
	return &nethttp.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   perHost,
		IdleConnTimeout:       idle,
		ExpectContinueTimeout: time.Second,
		Protocols:             &protocols,
	}
}

// HTTPClient returns the client the Transport uses.
func (t *Transport) HTTPClient() *nethttp.Client { return t.client }

// SupportsDialHeaders reports true: native WebSockets send custom headers.
func (t *Transport) SupportsDialHeaders() bool { return true }

// CloseIdleConnections closes pooled keep-alive connections.
func (t *Transport) CloseIdleConnections() { t.client.CloseIdleConnections() }

// Do performs one HTTP exchange. The request body streams: a known
// ContentLength is sent as such, -1 is sent chunked, and nothing is
// buffered whole.
func (t *Transport) Do(ctx context.Context, req *transport.Request) (*transport.Response, error) {
	if req == nil {
		return nil, errors.New("transport/http: Do called with a nil request")
	}
	method := req.Method
	if method == "" {
		method = nethttp.MethodGet
	}
	var body io.ReadCloser
	contentLength := int64(0)
	switch {
	case req.Body == nil:
	case req.ContentLength == 0:
		// net/http reads a non-nil body with length 0 as "unknown"; the
		// contract's 0 means empty.
		closeBody(req.Body)
	default:
		if rc, ok := req.Body.(io.ReadCloser); ok {
			body = rc
		} else {
			body = io.NopCloser(req.Body)
		}
		contentLength = max(req.ContentLength, -1)
	}
	hreq, err := nethttp.NewRequestWithContext(ctx, method, req.URL, body)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, fmt.Errorf("transport/http: %s %s: %w", method, req.URL, err)
	}
	hreq.ContentLength = contentLength
	if body == nil {
		hreq.Body = nil
	}
	// Never replay a streamed body on a redirect or retry: it cannot be
	// rewound.
	hreq.GetBody = nil
	for k, v := range req.Header {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		hreq.Header[ck] = append(hreq.Header[ck], v...)
	}
	if host := hreq.Header.Get("Host"); host != "" {
		hreq.Host = host
		hreq.Header.Del("Host")
	}
	resp, err := t.client.Do(hreq)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			return nil, fmt.Errorf("%w: %w", ctxErr, err)
		}
		if notSent(err) {
			return nil, fmt.Errorf("%w: %w", transport.ErrNotSent, err)
		}
		return nil, err
	}
	return &transport.Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: resp.Body}, nil
}

// notSent reports an error that proves the server never had the whole
// request: opening the connection failed, or writing the request did (a
// reused keep-alive connection the server had already closed). An HTTP/1
// server runs nothing before the request's last byte, and a write that
// failed never handed its bytes to the network.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && (op.Op == "dial" || op.Op == "write")
}

func closeBody(r io.Reader) {
	if c, ok := r.(io.Closer); ok {
		c.Close()
	}
}

// Dial opens a WebSocket through the Transport's client (same proxy and TLS
// settings); ctx bounds only the handshake. On the Conn, a cancelled ctx
// ends only that Read or Write call (a Write whose ctx ends mid-frame
// closes the connection: half a frame cannot be taken back). The Conn also
// has Ping(ctx) error, a WebSocket Ping that waits for the Pong.
func (t *Transport) Dial(ctx context.Context, url string, opts *transport.DialOptions) (transport.Conn, error) {
	c, err := wsconn.Dial(ctx, t.client, url, opts)
	if err != nil {
		return nil, err
	}
	return c, nil
}
