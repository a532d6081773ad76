package mock

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// pipeBuffer is how many bytes one direction of an in-memory connection
// holds before a writer blocks, about what a loopback socket buffers. A
// buffer (unlike net.Pipe) lets both peers write at once without deadlock,
// as on a real network.
const pipeBuffer = 256 << 10

// newPipe returns the two ends of an in-memory, buffered, full-duplex
// connection.
func newPipe() (client, server *pipeConn) {
	a, b := newPipeHalf(), newPipeHalf()
	client = &pipeConn{rx: a, tx: b, local: pipeAddr(RemoteAddr), remote: pipeAddr("mock-server:80")}
	server = &pipeConn{rx: b, tx: a, local: pipeAddr("mock-server:80"), remote: pipeAddr(RemoteAddr)}
	client.peer, server.peer = server, client
	return client, server
}

// pipeHalf is one direction of a pipe.
type pipeHalf struct {
	mu   sync.Mutex
	cond sync.Cond
	buf  bytes.Buffer
	// eof: the writer closed; the reader drains then sees eofErr (io.EOF
	// for an orderly end).
	eof    bool
	eofErr error
	// readErr and writeErr are set once no more data flows (the reader
	// closed, or the connection was cut); buffered data is discarded.
	readErr, writeErr error
}

func newPipeHalf() *pipeHalf {
	h := &pipeHalf{}
	h.cond.L = &h.mu
	return h
}

func (h *pipeHalf) read(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		if h.readErr != nil {
			return 0, h.readErr
		}
		if h.buf.Len() > 0 {
			n, _ := h.buf.Read(p)
			h.cond.Broadcast()
			return n, nil
		}
		if h.eof {
			return 0, h.eofErr
		}
		h.cond.Wait()
	}
}

func (h *pipeHalf) write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	written := 0
	for written < len(p) {
		if h.writeErr != nil {
			return written, h.writeErr
		}
		if h.eof {
			return written, net.ErrClosed
		}
		space := pipeBuffer - h.buf.Len()
		if space == 0 {
			h.cond.Wait()
			continue
		}
		n := min(space, len(p)-written)
		h.buf.Write(p[written : written+n])
		written += n
		h.cond.Broadcast()
	}
	return written, nil
}

// closeWrite ends the stream: the reader drains what is buffered, then
// gets err (nil means io.EOF).
func (h *pipeHalf) closeWrite(err error) {
	if err == nil {
		err = io.EOF
	}
	h.mu.Lock()
	if !h.eof {
		h.eof, h.eofErr = true, err
	}
	h.cond.Broadcast()
	h.mu.Unlock()
}

// breakWith stops the flow both ways: buffered data is discarded, the
// reader gets readErr and the writer writeErr.
func (h *pipeHalf) breakWith(readErr, writeErr error) {
	h.mu.Lock()
	if h.readErr == nil {
		h.readErr, h.writeErr = readErr, writeErr
		h.buf.Reset()
	}
	h.cond.Broadcast()
	h.mu.Unlock()
}

// pipeConn is one end of a pipe; it implements net.Conn without deadlines.
type pipeConn struct {
	rx, tx        *pipeHalf
	peer          *pipeConn
	local, remote pipeAddr
	closeOnce     sync.Once
}

func (c *pipeConn) Read(p []byte) (int, error)  { return c.rx.read(p) }
func (c *pipeConn) Write(p []byte) (int, error) { return c.tx.write(p) }

// Close is an orderly close: the peer reads what was sent, then EOF; its
// writes fail with EPIPE; this end's own reads and writes fail with
// net.ErrClosed.
func (c *pipeConn) Close() error {
	c.closeOnce.Do(func() {
		c.tx.closeWrite(nil)
		c.rx.breakWith(net.ErrClosed, &net.OpError{Op: "write", Net: "mock", Err: os.NewSyscallError("write", syscall.EPIPE)})
	})
	return nil
}

// cut severs both directions at once, discarding buffered data, as a
// network failure would: each side's next read or write fails with
// ECONNRESET.
func (c *pipeConn) cut() {
	reset := &net.OpError{Op: "read", Net: "mock", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	c.rx.breakWith(reset, reset)
	c.tx.breakWith(reset, reset)
}

func (c *pipeConn) LocalAddr() net.Addr  { return c.local }
func (c *pipeConn) RemoteAddr() net.Addr { return c.remote }

var errNoDeadlines = errors.New("mock: in-memory connections do not support deadlines")

func (c *pipeConn) SetDeadline(time.Time) error      { return errNoDeadlines }
func (c *pipeConn) SetReadDeadline(time.Time) error  { return errNoDeadlines }
func (c *pipeConn) SetWriteDeadline(time.Time) error { return errNoDeadlines }

type pipeAddr string

func (a pipeAddr) Network() string { return "mock" }
func (a pipeAddr) String() string  { return string(a) }
