// Package transport is the contract between the SDK and the platforms it runs on:
// one HTTP exchange and one WebSocket connection. It holds interfaces and plain
// types only, so that a browser build of the SDK never pulls in net/http.
package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Transport carries HTTP exchanges and opens WebSocket connections.
// Implementations must be safe for concurrent use.
type Transport interface {
	// Do performs one HTTP exchange. A non-2xx status is not an error: the
	// caller reads it from Response. The returned error is a transport
	// failure (connection refused, reset, TLS, timeout) or ctx's error.
	// On success the caller must close Response.Body.
	Do(ctx context.Context, req *Request) (*Response, error)

	// Dial opens one WebSocket connection to url (ws:// or wss://). When the
	// server refuses the upgrade with an HTTP status, the error is a
	// *HandshakeError carrying that status and body.
	Dial(ctx context.Context, url string, opts *DialOptions) (Conn, error)
}

// Request is one HTTP request.
type Request struct {
	Method string
	URL    string
	// Header uses canonical MIME header keys (e.g. "Content-Type").
	Header map[string][]string
	// Body is streamed where the platform allows; nil means no body.
	// If it implements io.Closer the transport closes it.
	Body io.Reader
	// ContentLength is the body's size, or -1 when unknown (then the body
	// is sent chunked where the platform allows). Ignored when Body is nil.
	ContentLength int64
}

// Response is one HTTP response.
type Response struct {
	StatusCode int
	// Header uses canonical MIME header keys.
	Header map[string][]string
	// Body is streamed; the caller must close it.
	Body io.ReadCloser
}

// HeaderValue returns the first value of key in h (key in canonical form), or "".
func HeaderValue(h map[string][]string, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// DialOptions tunes one WebSocket dial. A nil *DialOptions means defaults.
type DialOptions struct {
	// Header is sent with the upgrade request where the platform allows it
	// (browsers do not: check SupportsDialHeaders).
	Header map[string][]string
	// ReadLimit is the largest message Read accepts, in bytes.
	// Zero means DefaultReadLimit.
	ReadLimit int64
}

// DefaultReadLimit is the largest WebSocket message accepted when
// DialOptions.ReadLimit is zero.
const DefaultReadLimit = 32 << 20

// HeaderCapable is implemented by transports that can tell whether Dial
// sends DialOptions.Header (browsers cannot set headers on a WebSocket).
type HeaderCapable interface {
	SupportsDialHeaders() bool
}

// SupportsDialHeaders reports whether t sends DialOptions.Header on Dial.
// Transports that do not say are assumed to.
func SupportsDialHeaders(t Transport) bool {
	if hc, ok := t.(HeaderCapable); ok {
		return hc.SupportsDialHeaders()
	}
	return true
}

// MessageType is a WebSocket data frame type.
type MessageType int

const (
	MessageText   MessageType = 1
	MessageBinary MessageType = 2
)

func (t MessageType) String() string {
	switch t {
	case MessageText:
		return "text"
	case MessageBinary:
		return "binary"
	}
	return fmt.Sprintf("MessageType(%d)", int(t))
}

// StatusCode is a WebSocket close code (RFC 6455 section 7.4).
type StatusCode int

const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	StatusNoStatusRcvd    StatusCode = 1005
	StatusAbnormalClosure StatusCode = 1006
	StatusPolicyViolation StatusCode = 1008
	StatusMessageTooBig   StatusCode = 1009
	StatusInternalError   StatusCode = 1011
	StatusTryAgainLater   StatusCode = 1013
)

// Conn is one WebSocket connection. Read must be called from one goroutine
// at a time (keep one long-lived read loop per connection); Write and Close
// are safe to call concurrently with Read and with each other.
//
// A cancelled ctx ends only that Read or Write call with ctx's error; the
// connection stays usable. (coder/websocket closes the connection instead,
// so implementations over it must shield it.)
type Conn interface {
	Read(ctx context.Context) (MessageType, []byte, error)
	Write(ctx context.Context, typ MessageType, p []byte) error
	// Close sends a close frame with code and reason and releases the
	// connection. Calling it more than once is harmless.
	Close(code StatusCode, reason string) error
}

// ErrRefused is wrapped by a transport error when the server is reachable
// but refused the exchange in a way retrying cannot change, for instance a
// browser withholding a response because CORS does not allow the page's
// origin. Callers should not retry it.
var ErrRefused = errors.New("transport: refused by the server (retrying cannot help)")

// ErrNotSent is wrapped by a Do error when the request certainly never
// reached the server (the connection could not be opened), so even a
// statement that is not idempotent may be sent again, e.g. to another
// node. Transports that cannot tell leave it out.
var ErrNotSent = errors.New("transport: the request was not sent (no connection to the server)")

// ErrConnClosed is returned (possibly wrapped) by Read and Write once the
// connection was closed by this side, or was lost without a close frame.
var ErrConnClosed = errors.New("transport: connection closed")

// ErrMessageTooLarge is returned (wrapped, with ErrConnClosed) by Read when
// a message exceeded DialOptions.ReadLimit: the connection was closed
// with 1009.
var ErrMessageTooLarge = errors.New("transport: message exceeds the read limit")

// CloseError is returned by Read when the peer closed the connection with
// a close frame.
type CloseError struct {
	Code   StatusCode
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("transport: connection closed by peer: status %d reason %q", int(e.Code), e.Reason)
}

// CloseStatus returns the close code carried by err, or -1 when err is not
// (and does not wrap) a *CloseError.
func CloseStatus(err error) StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// HandshakeError is returned by Dial when the server answered the upgrade
// request with an HTTP status instead of switching protocols.
type HandshakeError struct {
	StatusCode int
	// Body is the start of the response body (at most 64 KiB).
	Body []byte
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("transport: websocket handshake refused with HTTP %d", e.StatusCode)
}
