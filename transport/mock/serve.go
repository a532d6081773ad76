package mock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
)

// exchange runs one request through the handler and is the handler's
// http.ResponseWriter.
type exchange struct {
	req    *http.Request
	rec    *record
	cancel context.CancelFunc
	done   chan struct{} // closed when the handler returns
	// hijacked is closed when the handler hijacks the connection.
	hijacked chan struct{}

	mu        sync.Mutex
	header    http.Header // the handler's, mutable until committed
	committed bool
	ready     chan struct{} // closed once status/header (or failure) are known

	// Set before ready is closed, read-only after; hijackConn is set
	// before hijacked is closed.
	status     int
	sent       http.Header // snapshot taken at commit
	failure    error
	hijackConn net.Conn // client end, when the handler hijacked

	// body carries the response body, buffered like a socket so that a
	// handler finishes writing a modest response without waiting for the
	// client to read it.
	body *pipeHalf
}

// serve starts the handler on hreq. The handler's context is not the
// caller's: like a real server's, it ends when the handler returns or when
// the client goes away before a hijack (see abort).
func (t *Transport) serve(hreq *http.Request, rec *record) *exchange {
	ctx, cancel := context.WithCancel(context.Background())
	ex := &exchange{
		rec: rec, cancel: cancel, header: make(http.Header),
		ready: make(chan struct{}), done: make(chan struct{}), hijacked: make(chan struct{}),
	}
	ex.body = newPipeHalf()
	ex.req = hreq.WithContext(ctx)
	go ex.run(t.handler)
	return ex
}

func (ex *exchange) run(h http.Handler) {
	defer func() {
		p := recover()
		ex.mu.Lock()
		hijacked := ex.hijackConn
		if p != nil && !ex.committed {
			ex.failure = fmt.Errorf("mock: %s %s: handler panicked before responding: %v", ex.req.Method, ex.req.RequestURI, p)
			ex.committed = true
			close(ex.ready)
		}
		ex.mu.Unlock()
		if p != nil {
			// A server drops the connection when a handler panics: the
			// client sees its body, or its WebSocket, cut short.
			ex.body.closeWrite(fmt.Errorf("mock: handler panicked mid-response: %v: %w", p, io.ErrUnexpectedEOF))
			if pc, ok := hijacked.(*pipeConn); ok {
				pc.cut()
			}
		} else {
			ex.commit(http.StatusOK)
			ex.body.closeWrite(nil)
		}
		// As in net/http, the request context ends with the handler, even
		// for a hijacked connection.
		ex.cancel()
		ex.req.Body.Close()
		close(ex.done)
	}()
	h.ServeHTTP(ex, ex.req)
}

// abort ends the exchange from the client side: pending handler writes fail
// with err and the handler's context ends (unless the handler hijacked the
// connection, which then lives on its own).
func (ex *exchange) abort(err error) {
	ex.body.breakWith(err, errClientGone)
	ex.mu.Lock()
	hijacked := ex.hijackConn != nil
	ex.mu.Unlock()
	if !hijacked {
		ex.cancel()
	}
}

func (ex *exchange) Header() http.Header { return ex.header }

func (ex *exchange) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	// Informational statuses other than 101 do not end the header phase.
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		return
	}
	ex.commit(code)
}

// commit fixes the status and header; later calls are no-ops, as with
// net/http's "superfluous WriteHeader".
func (ex *exchange) commit(code int) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.committed {
		return
	}
	ex.committed = true
	ex.status = code
	ex.rec.status.Store(int64(code))
	// A real response is parsed off the wire, which canonicalises keys.
	ex.sent = canonicalHeader(ex.header)
	close(ex.ready)
}

func (ex *exchange) Write(p []byte) (int, error) {
	ex.mu.Lock()
	committed, hijacked := ex.committed, ex.hijackConn != nil
	if !committed && ex.header.Get("Content-Type") == "" && len(p) > 0 {
		ex.header.Set("Content-Type", http.DetectContentType(p))
	}
	ex.mu.Unlock()
	if hijacked {
		return 0, http.ErrHijacked
	}
	if !committed {
		ex.commit(http.StatusOK)
	}
	if !bodyAllowed(ex.status) || ex.req.Method == http.MethodHead {
		return 0, http.ErrBodyNotAllowed
	}
	return ex.body.write(p)
}

// errClientGone is what a handler's Write returns once the client hung up.
var errClientGone = errors.New("mock: the client closed the response body or its context ended")

func bodyAllowed(status int) bool {
	return !(status >= 100 && status < 200) && status != http.StatusNoContent && status != http.StatusNotModified
}

// Flush commits the header; body bytes are never buffered.
func (ex *exchange) Flush() { ex.commit(http.StatusOK) }

// FlushError lets http.ResponseController.Flush work.
func (ex *exchange) FlushError() error {
	ex.commit(http.StatusOK)
	return nil
}

// Hijack hands the handler the server end of an in-memory connection. Only
// a handler that already wrote 101 Switching Protocols (as
// websocket.Accept does) may hijack: the mock cannot parse a response the
// handler would write on the raw connection.
func (ex *exchange) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.hijackConn != nil {
		return nil, nil, http.ErrHijacked
	}
	if !ex.committed || ex.status != http.StatusSwitchingProtocols {
		return nil, nil, errors.New("mock: Hijack is supported only after WriteHeader(101 Switching Protocols)")
	}
	client, server := newPipe()
	ex.hijackConn = client
	close(ex.hijacked)
	return server, bufio.NewReadWriter(bufio.NewReader(server), bufio.NewWriter(server)), nil
}

// hangUp drops an exchange whose handler switched protocols but whose
// client cannot follow: the hijacked connection, if any, is closed so the
// handler sees it end.
func (ex *exchange) hangUp() {
	ex.abort(errors.New("mock: client cannot switch protocols"))
	select {
	case <-ex.hijacked:
		ex.hijackConn.Close()
	case <-ex.done:
	}
}
