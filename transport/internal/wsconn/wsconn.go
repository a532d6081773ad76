//go:build !js

// Package wsconn adapts a github.com/coder/websocket connection to
// transport.Conn. It is shared by the native and the in-memory transports
// so that both give the contract's guarantees the same way.
package wsconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/kalamstack/kalam-go/transport"
)

// maxHandshakeBody is how much of a refused upgrade's body a
// *transport.HandshakeError keeps.
const maxHandshakeBody = 64 << 10

// Dial opens a WebSocket to url with hc, which must return writable bodies
// for 101 responses (net/http's Transport does). A refused upgrade is a
// *transport.HandshakeError.
func Dial(ctx context.Context, hc *http.Client, url string, opts *transport.DialOptions) (*Conn, error) {
	var o transport.DialOptions
	if opts != nil {
		o = *opts
	}
	limit := o.ReadLimit
	if limit < 0 {
		return nil, fmt.Errorf("transport: websocket dial %s: negative ReadLimit %d", url, limit)
	}
	if limit == 0 {
		limit = transport.DefaultReadLimit
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	capture := &handshakeCapture{next: next}
	client := *hc
	client.Transport = capture
	header := make(http.Header, len(o.Header))
	for k, v := range o.Header {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		header[ck] = append(header[ck], v...)
	}
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: &client, HTTPHeader: header})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			if he := capture.refusal(); he != nil {
				return nil, he
			}
		}
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			return nil, fmt.Errorf("transport: websocket dial %s: %w (%v)", url, ctxErr, err)
		}
		return nil, fmt.Errorf("transport: websocket dial %s: %w", url, err)
	}
	return New(c, limit), nil
}

// handshakeCapture keeps the status and the first 64 KiB of a refused
// upgrade's body: coder/websocket itself keeps only 1 KiB.
type handshakeCapture struct {
	next http.RoundTripper

	mu      sync.Mutex
	refused *transport.HandshakeError
}

func (h *handshakeCapture) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.next.RoundTrip(req)
	if err != nil || resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, err
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxHandshakeBody))
	resp.Body.Close()
	if readErr != nil {
		// The status alone still says why the upgrade was refused; the body
		// is kept as far as it arrived and the read failure is named in it.
		body = append(body, fmt.Sprintf("\n[transport: reading the refusal body failed: %v]", readErr)...)
	}
	h.mu.Lock()
	h.refused = &transport.HandshakeError{StatusCode: resp.StatusCode, Body: body}
	h.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func (h *handshakeCapture) refusal() *transport.HandshakeError {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.refused
}

// Conn is a transport.Conn over a coder/websocket connection.
//
// coder/websocket closes the whole connection when a Read's context ends,
// so one goroutine per connection reads with no deadline and hands each
// message over an unbuffered channel; Read waits on that channel or its
// own ctx. The reader holds at most one message while nobody reads, so a
// slow consumer pushes back on the socket instead of growing memory.
type Conn struct {
	ws *websocket.Conn

	msgs chan message
	stop chan struct{} // closed by Close: the reader stops delivering
	done chan struct{} // closed when the reader exits; err is set before
	err  error

	readLimit int64

	closing     atomic.Bool // Close was called
	interrupted atomic.Bool // a Write was cancelled mid-message

	writeSlot chan struct{} // one message at a time, acquired with ctx

	// writeMu and writing let a Write's ctx close the connection only
	// while that Write's frame is still going out.
	writeMu sync.Mutex
	writing bool
}

type message struct {
	typ  transport.MessageType
	data []byte
}

var _ transport.Conn = (*Conn)(nil)

// New wraps c, which must have no other reader, and starts its read loop.
// readLimit is the largest message accepted, in bytes.
func New(c *websocket.Conn, readLimit int64) *Conn {
	c.SetReadLimit(readLimit)
	conn := &Conn{
		ws:        c,
		readLimit: readLimit,
		msgs:      make(chan message),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		writeSlot: make(chan struct{}, 1),
	}
	go conn.readLoop()
	return conn
}

func (c *Conn) readLoop() {
	defer close(c.done)
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.err = c.terminalError(err)
			return
		}
		select {
		case c.msgs <- message{typ: transport.MessageType(typ), data: data}:
		case <-c.stop:
			c.err = transport.ErrConnClosed
			return
		}
	}
}

// terminalError maps the error that ended the read loop to the contract's
// errors.
func (c *Conn) terminalError(err error) error {
	if c.interrupted.Load() {
		return fmt.Errorf("transport: a cancelled Write left a partial message, so the connection was closed: %w", transport.ErrConnClosed)
	}
	if c.closing.Load() {
		return transport.ErrConnClosed
	}
	if errors.Is(err, websocket.ErrMessageTooBig) {
		return fmt.Errorf("%w (%d bytes), so the connection was closed with 1009: %w", transport.ErrMessageTooLarge, c.readLimit, transport.ErrConnClosed)
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return &transport.CloseError{Code: transport.StatusCode(ce.Code), Reason: ce.Reason}
	}
	return fmt.Errorf("transport: websocket ended without a close frame from the peer: %w: %w", transport.ErrConnClosed, err)
}

// Read returns the next message. A cancelled ctx ends only this call.
func (c *Conn) Read(ctx context.Context) (transport.MessageType, []byte, error) {
	if c.closing.Load() {
		return 0, nil, transport.ErrConnClosed
	}
	select {
	case m := <-c.msgs:
		return m.typ, m.data, nil
	case <-c.done:
		return 0, nil, c.err
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

// Write sends one message. A ctx that ends while the message waits for its
// turn ends only this call; one that ends while the message is going out
// closes the connection, because half a frame cannot be taken back.
func (c *Conn) Write(ctx context.Context, typ transport.MessageType, p []byte) error {
	if typ != transport.MessageText && typ != transport.MessageBinary {
		return fmt.Errorf("transport: write: invalid message type %v", typ)
	}
	if typ == transport.MessageText && !utf8.Valid(p) {
		// The peer would fail the connection (RFC 6455 section 8.1).
		return errors.New("transport: write: a text message must be valid UTF-8")
	}
	if err := c.finished(); err != nil {
		return err
	}
	select {
	case c.writeSlot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.writeSlot }()
	if err := ctx.Err(); err != nil {
		return err
	}

	if ctx.Done() != nil {
		c.writeMu.Lock()
		c.writing = true
		c.writeMu.Unlock()
		stop := context.AfterFunc(ctx, c.interruptWrite)
		defer func() {
			c.writeMu.Lock()
			c.writing = false
			c.writeMu.Unlock()
			stop()
		}()
	}
	err := c.ws.Write(context.Background(), websocket.MessageType(typ), p)
	if err == nil {
		return nil
	}
	if c.interrupted.Load() {
		return fmt.Errorf("transport: write cancelled mid-message (%w), connection closed: %w", ctx.Err(), transport.ErrConnClosed)
	}
	if ferr := c.finished(); ferr != nil {
		return ferr
	}
	return fmt.Errorf("transport: websocket write: %w: %w", transport.ErrConnClosed, err)
}

func (c *Conn) interruptWrite() {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.writing {
		c.interrupted.Store(true)
		c.ws.CloseNow()
	}
}

// finished returns why the connection can no longer be used, or nil.
func (c *Conn) finished() error {
	if c.closing.Load() {
		return transport.ErrConnClosed
	}
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close sends a close frame with code and reason, waits (at most a few
// seconds, inside coder/websocket) for the peer's, and releases the
// connection. It fails only for a code or reason that cannot be sent (the
// connection is then closed with 1011 instead); a connection that was
// already gone is simply released, its loss having been reported by Read.
// Later calls return nil.
func (c *Conn) Close(code transport.StatusCode, reason string) error {
	if c.closing.Swap(true) {
		return nil
	}
	close(c.stop)
	invalid := validateClose(code, reason)
	if invalid != nil {
		code, reason = transport.StatusInternalError, ""
	}
	c.ws.Close(websocket.StatusCode(code), reason)
	<-c.done
	return invalid
}

// CloseNow drops the connection without the close handshake, and makes a
// Close that is waiting for the peer's close frame return at once.
func (c *Conn) CloseNow() error {
	if !c.closing.Swap(true) {
		close(c.stop)
	}
	err := c.ws.CloseNow()
	<-c.done
	return err
}

// validateClose checks what RFC 6455 allows in a close frame.
func validateClose(code transport.StatusCode, reason string) error {
	validCode := (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
	if !validCode {
		return fmt.Errorf("transport: websocket close: status %d cannot be sent in a close frame", int(code))
	}
	if len(reason) > maxCloseReason {
		return fmt.Errorf("transport: websocket close: reason is %d bytes, the limit is %d", len(reason), maxCloseReason)
	}
	return nil
}

// maxCloseReason is the longest close reason: a control frame carries 125
// bytes, 2 of them the status.
const maxCloseReason = 123

// Ping sends a WebSocket Ping and waits for the Pong, for dead-link
// detection (KalamDB answers pings; it never sends them). A ctx that ends
// while waiting ends only this call. The Pong is seen by the read loop, so
// it arrives only while the connection's messages are being read.
func (c *Conn) Ping(ctx context.Context) error {
	if err := c.finished(); err != nil {
		return err
	}
	// coder/websocket would close the connection for a ctx that is already
	// done when the Ping frame goes out.
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.ws.Ping(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("transport: websocket ping: no pong before the context ended: %w", ctxErr)
		}
		if ferr := c.finished(); ferr != nil {
			return ferr
		}
		return fmt.Errorf("transport: websocket ping: %w: %w", transport.ErrConnClosed, err)
	}
	return nil
}

// Done is closed once the connection has ended, by either side.
func (c *Conn) Done() <-chan struct{} { return c.done }
