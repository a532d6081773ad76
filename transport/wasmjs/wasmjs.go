//go:build js && wasm

// Package wasmjs is the browser transport: HTTP through fetch and WebSocket
// through the browser's WebSocket, both reached with syscall/js. It does
// not import net/http, which would add megabytes to a browser bundle.
//
// Browser limits it inherits, by design of the web platform:
//   - Request bodies are read whole into memory before fetch is called:
//     streaming request bodies (ReadableStream with duplex "half") exist
//     only in some browsers and only over HTTP/2, so they are not used.
//     Response bodies do stream.
//   - Headers a page may not set (Cookie, Host, Content-Length, ...) are
//     dropped or refused by the browser; multi-valued response headers
//     arrive joined with ", "; Set-Cookie is never visible.
//   - A WebSocket carries no custom headers (SupportsDialHeaders is false)
//     and a refused upgrade shows no HTTP status, so Dial cannot return a
//     *transport.HandshakeError.
//   - Close accepts only status 1000 and 3000-4999.
//
// Every call waits on browser promises or events, so it must run on a
// goroutine of its own, never directly inside a js.FuncOf callback (which
// holds the event loop: the call would deadlock).
package wasmjs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"syscall/js"

	"github.com/kalamstack/kalam-go/transport"
)

// DefaultQueueSize is how many received WebSocket messages wait for Read
// before the connection is closed as overloaded.
const DefaultQueueSize = 4096

// Options tunes a Transport; a nil *Options gives the defaults.
type Options struct {
	// Credentials is fetch's credentials mode: "same-origin" (the
	// default), "include" or "omit".
	Credentials string
	// QueueSize bounds the received messages waiting for Read on each
	// WebSocket; 0 means DefaultQueueSize. See Conn.
	QueueSize int
}

// Transport is the browser transport.Transport.
type Transport struct {
	credentials string
	queueSize   int
}

var (
	_ transport.Transport     = (*Transport)(nil)
	_ transport.HeaderCapable = (*Transport)(nil)
)

// New returns a browser Transport; opts may be nil.
func New(opts *Options) *Transport {
	t := &Transport{credentials: "same-origin", queueSize: DefaultQueueSize}
	if opts != nil {
		if opts.Credentials != "" {
			t.credentials = opts.Credentials
		}
		if opts.QueueSize > 0 {
			t.queueSize = opts.QueueSize
		}
	}
	return t
}

// SupportsDialHeaders is false: browsers send no custom WebSocket headers.
func (t *Transport) SupportsDialHeaders() bool { return false }

// StreamsRequestBodies is false: request bodies are read whole first.
func (t *Transport) StreamsRequestBodies() bool { return false }

// ReportsHandshakeStatus is false: the browser hides a refused upgrade's
// status.
func (t *Transport) ReportsHandshakeStatus() bool { return false }

// jsCall runs f and turns a JavaScript exception (a panic with js.Error in
// syscall/js) into an error.
func jsCall(what string, f func() js.Value) (v js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if je, ok := r.(js.Error); ok {
				err = fmt.Errorf("transport/wasmjs: %s: %s", what, jsErrorText(je.Value))
				return
			}
			err = fmt.Errorf("transport/wasmjs: %s: %v", what, r)
		}
	}()
	return f(), nil
}

func jsErrorText(v js.Value) string {
	if v.Type() == js.TypeObject {
		if name, msg := v.Get("name"), v.Get("message"); msg.Type() == js.TypeString {
			if name.Type() == js.TypeString {
				return name.String() + ": " + msg.String()
			}
			return msg.String()
		}
	}
	return v.String()
}

type settled struct {
	value js.Value
	err   js.Value // undefined unless rejected
}

// await waits for promise. If ctx ends first it returns ctx's error; the
// callbacks are then released once the promise settles, not before (a
// released callback that JavaScript calls would crash the program).
func await(ctx context.Context, promise js.Value) (js.Value, error) {
	ch := make(chan settled, 1)
	onOK := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{value: arg0(args), err: js.Undefined()}
		return nil
	})
	onErr := js.FuncOf(func(_ js.Value, args []js.Value) any {
		e := arg0(args)
		if e.IsUndefined() || e.IsNull() {
			e = js.ValueOf("promise rejected without a reason")
		}
		ch <- settled{err: e}
		return nil
	})
	release := func() {
		onOK.Release()
		onErr.Release()
	}
	promise.Call("then", onOK, onErr)
	select {
	case s := <-ch:
		release()
		if !s.err.IsUndefined() {
			return js.Undefined(), errors.New(jsErrorText(s.err))
		}
		return s.value, nil
	case <-ctx.Done():
		go func() {
			<-ch
			release()
		}()
		return js.Undefined(), ctx.Err()
	}
}

// ignoreRejection handles a promise rejection whose cause is reported
// elsewhere; unhandled rejections crash some runtimes (Node).
// It is a JavaScript built-in (Boolean, called with the reason and
// ignoring it), not a Go function: a rejection may settle after the
// program exited, when calling into Go would throw.
var ignoreRejection = js.Global().Get("Boolean")

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// Do performs one exchange with fetch. The request body is read whole
// first (see the package comment); the response body streams.
func (t *Transport) Do(ctx context.Context, req *transport.Request) (*transport.Response, error) {
	if req == nil {
		return nil, errors.New("transport/wasmjs: Do called with a nil request")
	}
	method := req.Method
	if method == "" {
		method = "GET"
	}
	fail := func(format string, args ...any) (*transport.Response, error) {
		return nil, fmt.Errorf("transport/wasmjs: %s %s: "+format, append([]any{method, req.URL}, args...)...)
	}
	var body []byte
	if req.Body != nil {
		var err error
		if req.ContentLength != 0 {
			body, err = io.ReadAll(req.Body)
		}
		if c, ok := req.Body.(io.Closer); ok {
			c.Close()
		}
		if err != nil {
			return fail("reading the request body: %w", err)
		}
		if req.ContentLength > 0 && int64(len(body)) != req.ContentLength {
			return fail("request body has %d bytes, ContentLength says %d", len(body), req.ContentLength)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	headers := js.Global().Get("Headers").New()
	for k, vs := range req.Header {
		for _, v := range vs {
			if _, err := jsCall("header "+k, func() js.Value { return headers.Call("append", k, v) }); err != nil {
				return fail("%w", err)
			}
		}
	}
	abort := js.Global().Get("AbortController").New()
	init := map[string]any{
		"method":      method,
		"headers":     headers,
		"signal":      abort.Get("signal"),
		"credentials": t.credentials,
	}
	if body != nil {
		arr := js.Global().Get("Uint8Array").New(len(body))
		js.CopyBytesToJS(arr, body)
		init["body"] = arr
	}
	stopAbort := context.AfterFunc(ctx, func() { abort.Call("abort") })
	promise, err := jsCall("fetch", func() js.Value { return js.Global().Call("fetch", req.URL, init) })
	if err != nil {
		stopAbort()
		return fail("%w", err)
	}
	resp, err := await(ctx, promise)
	if err != nil {
		stopAbort()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return fail("%w", diagnoseFetch(ctx, req.URL, err))
	}

	out := &transport.Response{StatusCode: resp.Get("status").Int(), Header: make(map[string][]string)}
	each := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) >= 2 {
			k := canonicalKey(args[1].String())
			out.Header[k] = append(out.Header[k], args[0].String())
		}
		return nil
	})
	resp.Get("headers").Call("forEach", each)
	each.Release()

	rb := &responseBody{ctx: ctx, stopAbort: stopAbort}
	if stream := resp.Get("body"); !stream.IsNull() && !stream.IsUndefined() {
		rb.reader = stream.Call("getReader")
	}
	out.Body = rb
	return out, nil
}

// responseBody streams a fetch response through its ReadableStream reader.
type responseBody struct {
	ctx       context.Context
	stopAbort func() bool
	reader    js.Value // undefined for a response without a body

	closed atomic.Bool

	mu      sync.Mutex // serialises Reads
	pending []byte
	err     error // sticky: io.EOF or a failure
}

var errBodyClosed = errors.New("transport/wasmjs: read on closed response body")

func (b *responseBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.pending) == 0 {
		if b.closed.Load() {
			return 0, errBodyClosed
		}
		if b.err != nil {
			return 0, b.err
		}
		if b.reader.IsUndefined() {
			b.err = io.EOF
			continue
		}
		chunk, err := await(b.ctx, b.reader.Call("read"))
		switch {
		case b.closed.Load():
		case err != nil:
			if ctxErr := b.ctx.Err(); ctxErr != nil {
				b.err = ctxErr
			} else {
				b.err = fmt.Errorf("transport/wasmjs: reading the response body: %w", err)
			}
		case chunk.Get("done").Bool():
			b.err = io.EOF
			b.stopAbort()
		default:
			v := chunk.Get("value")
			buf := make([]byte, v.Get("byteLength").Int())
			js.CopyBytesToGo(buf, v)
			b.pending = buf
		}
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}

// Close drops the rest of the body. It does not wait for a Read in
// progress: cancelling the stream ends that Read.
func (b *responseBody) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	if !b.reader.IsUndefined() {
		// Tells the browser to drop the rest; a pending read resolves.
		// cancel rejects when the stream already failed (an abort): that
		// was reported to Read, so the rejection is handled by ignoring it.
		b.reader.Call("cancel").Call("catch", ignoreRejection)
	}
	b.stopAbort()
	return nil
}

// canonicalKey is the canonical MIME form of an HTTP header name ("content-type"
// -> "Content-Type"); fetch hands names over in lower case.
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
