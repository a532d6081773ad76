//go:build js && wasm

package wasmjs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
	"unicode/utf8"

	"github.com/kalamstack/kalam-go/transport"
)

// Dial opens a browser WebSocket with binaryType "arraybuffer". opts.Header
// cannot be sent (browsers forbid it) and is ignored; check
// transport.SupportsDialHeaders. A refused upgrade is a plain error: the
// browser does not reveal the HTTP status.
func (t *Transport) Dial(ctx context.Context, url string, opts *transport.DialOptions) (transport.Conn, error) {
	var o transport.DialOptions
	if opts != nil {
		o = *opts
	}
	if o.ReadLimit < 0 {
		return nil, fmt.Errorf("transport/wasmjs: websocket dial %s: negative ReadLimit %d", url, o.ReadLimit)
	}
	if o.ReadLimit == 0 {
		o.ReadLimit = transport.DefaultReadLimit
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ws, err := jsCall("new WebSocket", func() js.Value { return js.Global().Get("WebSocket").New(url) })
	if err != nil {
		return nil, fmt.Errorf("transport/wasmjs: websocket dial %s: %w", url, err)
	}
	ws.Set("binaryType", "arraybuffer")
	c := &Conn{
		ws: ws, url: url, readLimit: o.ReadLimit, queueSize: t.queueSize,
		notify: make(chan struct{}, 1), opened: make(chan struct{}), ended: make(chan struct{}), failed: make(chan struct{}),
	}
	c.attach()
	select {
	case <-c.opened:
		return c, nil
	case <-c.ended:
		select {
		case <-c.opened:
			// It opened and already ended: Read hands over what arrived,
			// then the close.
			return c, nil
		default:
		}
		return nil, fmt.Errorf("transport/wasmjs: websocket dial %s failed: %w; %w", url, c.terminal(), diagnoseDial(ctx, url))
	case <-c.failed:
		// Some runtimes (Node's undici) never follow a failed handshake's
		// error event with a close event: give up on the socket here.
		c.abandon()
		return nil, fmt.Errorf("transport/wasmjs: websocket dial %s failed: %w", url, diagnoseDial(ctx, url))
	case <-ctx.Done():
		c.abandon()
		return nil, ctx.Err()
	}
}

// abandon closes a socket that never opened and detaches its handlers.
func (c *Conn) abandon() {
	jsCall("WebSocket.close", func() js.Value { return c.ws.Call("close") })
	c.detach()
}

// detach removes the event handlers, then releases them: JavaScript must
// never call a released function.
func (c *Conn) detach() {
	c.detachOnce.Do(func() {
		for _, event := range []string{"onopen", "onmessage", "onerror", "onclose"} {
			c.ws.Set(event, js.Null())
		}
		for _, f := range c.funcs {
			f.Release()
		}
	})
}

// Conn is a browser WebSocket.
//
// The browser delivers messages as events and offers no way to pause a
// WebSocket, so received messages wait in a queue of at most QueueSize
// messages. A reader that falls further behind gets the connection closed
// with 1008 and an error saying so, rather than unbounded memory or a
// silently dropped message. Writes are buffered by the browser
// (WebSocket.send does not block).
type Conn struct {
	ws        js.Value
	url       string
	readLimit int64
	queueSize int
	funcs     []js.Func

	opened chan struct{}
	ended  chan struct{} // closed once the connection is over
	failed chan struct{} // closed by an error event before the socket opened

	detachOnce sync.Once

	mu      sync.Mutex
	queue   []message
	err     error // set when the connection ended: what Read returns after the queue
	closing bool  // Close was called
	notify  chan struct{}
}

type message struct {
	typ  transport.MessageType
	data []byte
}

var _ transport.Conn = (*Conn)(nil)

func (c *Conn) on(event string, f func(ev js.Value)) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		f(arg0(args))
		return nil
	})
	c.funcs = append(c.funcs, fn)
	c.ws.Set(event, fn)
}

// attach installs the event handlers. They run on the browser's event loop
// and must not block: they only queue and signal.
func (c *Conn) attach() {
	var openOnce, failOnce sync.Once
	opened := false // only touched by the event handlers, which run one at a time
	c.on("onopen", func(js.Value) {
		opened = true
		openOnce.Do(func() { close(c.opened) })
	})
	c.on("onmessage", func(ev js.Value) {
		data := ev.Get("data")
		var m message
		if data.Type() == js.TypeString {
			m = message{typ: transport.MessageText, data: []byte(data.String())}
		} else {
			arr := js.Global().Get("Uint8Array").New(data)
			m = message{typ: transport.MessageBinary, data: make([]byte, arr.Get("byteLength").Int())}
			js.CopyBytesToGo(m.data, arr)
		}
		c.deliver(m)
	})
	// onerror carries no detail; once open, onclose follows it.
	c.on("onerror", func(js.Value) {
		if !opened {
			failOnce.Do(func() { close(c.failed) })
		}
	})
	c.on("onclose", func(ev js.Value) {
		code := transport.StatusCode(ev.Get("code").Int())
		reason := ev.Get("reason").String()
		clean := ev.Get("wasClean").Bool()
		c.mu.Lock()
		if c.err == nil {
			switch {
			case c.closing:
				c.err = transport.ErrConnClosed
			case clean && code != transport.StatusAbnormalClosure:
				c.err = &transport.CloseError{Code: code, Reason: reason}
			default:
				c.err = fmt.Errorf("transport/wasmjs: websocket %s ended without a close frame from the peer (code %d): %w", c.url, int(code), transport.ErrConnClosed)
			}
		}
		c.mu.Unlock()
		c.signal()
		close(c.ended)
		c.detach()
	})
}

// deliver queues a received message, or ends the connection when the
// message is over the read limit or the queue is full.
func (c *Conn) deliver(m message) {
	c.mu.Lock()
	var fatal error
	var code transport.StatusCode
	switch {
	case c.err != nil || c.closing:
	case int64(len(m.data)) > c.readLimit:
		code = transport.StatusMessageTooBig
		fatal = fmt.Errorf("transport/wasmjs: websocket %s: a %d-byte message exceeds the read limit of %d bytes; connection closed with 1009: %w", c.url, len(m.data), c.readLimit, transport.ErrConnClosed)
	case len(c.queue) >= c.queueSize:
		code = transport.StatusPolicyViolation
		fatal = fmt.Errorf("transport/wasmjs: websocket %s: %d received messages were waiting for Read; connection closed with 1008 instead of buffering more: %w", c.url, len(c.queue), transport.ErrConnClosed)
	default:
		c.queue = append(c.queue, m)
	}
	if fatal != nil {
		c.err = fatal
	}
	c.mu.Unlock()
	if fatal != nil {
		// The browser only lets a page send 1000 and 3000-4999: the
		// meaning is carried in the reason.
		c.ws.Call("close", 1000, closeReason(code))
	}
	c.signal()
}

func closeReason(code transport.StatusCode) string {
	if code == transport.StatusMessageTooBig {
		return "message too big"
	}
	return "client fell behind"
}

func (c *Conn) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *Conn) terminal() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Read returns the next message; queued messages come before the error
// that ended the connection. A cancelled ctx ends only this call.
func (c *Conn) Read(ctx context.Context) (transport.MessageType, []byte, error) {
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			return 0, nil, transport.ErrConnClosed
		}
		if len(c.queue) > 0 {
			m := c.queue[0]
			c.queue[0] = message{}
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return m.typ, m.data, nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return 0, nil, err
		}
		select {
		case <-c.notify:
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
	}
}

// Write hands one message to the browser, which buffers it.
func (c *Conn) Write(ctx context.Context, typ transport.MessageType, p []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	closing, err := c.closing, c.err
	c.mu.Unlock()
	if closing {
		return transport.ErrConnClosed
	}
	if err != nil {
		return err
	}
	var payload any
	switch typ {
	case transport.MessageText:
		if !utf8.Valid(p) {
			return errInvalidText
		}
		payload = string(p)
	case transport.MessageBinary:
		arr := js.Global().Get("Uint8Array").New(len(p))
		js.CopyBytesToJS(arr, p)
		payload = arr
	default:
		return fmt.Errorf("transport/wasmjs: write: invalid message type %v", typ)
	}
	if _, err := jsCall("WebSocket.send", func() js.Value { return c.ws.Call("send", payload) }); err != nil {
		return fmt.Errorf("%w: %w", err, transport.ErrConnClosed)
	}
	return nil
}

// errInvalidText refuses a text message that is not UTF-8: the browser
// would silently replace the bad bytes.
var errInvalidText = errors.New("transport/wasmjs: write: a text message must be valid UTF-8")

// Close starts the closing handshake with code and reason. Browsers accept
// only 1000 and 3000-4999: another code closes with 1000 and returns an
// error naming the refused code. Later calls return nil. The event
// handlers are detached before Close returns.
func (c *Conn) Close(code transport.StatusCode, reason string) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	c.mu.Unlock()
	c.signal()
	var invalid error
	if code != transport.StatusNormalClosure && (code < 3000 || code > 4999) {
		invalid = fmt.Errorf("transport/wasmjs: websocket close: browsers send only 1000 and 3000-4999, not %d; closed with 1000", int(code))
		code = transport.StatusNormalClosure
	}
	if len(reason) > 123 {
		invalid = errors.Join(invalid, fmt.Errorf("transport/wasmjs: websocket close: reason is %d bytes, the limit is 123; sent without it", len(reason)))
		reason = ""
	}
	_, err := jsCall("WebSocket.close", func() js.Value { return c.ws.Call("close", int(code), reason) })
	// Nothing waits for the close event once Close was called (Read
	// returns ErrConnClosed), and a program may exit as soon as Close
	// returns: the browser's late close event would then call into an
	// exited program and throw "Go program has already exited". So the
	// handlers go now.
	c.detach()
	if err != nil {
		return errors.Join(invalid, err)
	}
	return invalid
}
