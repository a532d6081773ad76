package emulator

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Listening is an emulator serving HTTP on a TCP address, for programs
// (examples, other languages' tests) that want a KalamDB without a
// testing.TB; tests use kalamtest.NewServer.
type Listening struct {
	// URL is the base URL, e.g. "http://127.0.0.1:41234".
	URL      string
	Emulator *Server
	http     *http.Server
	done     chan error
}

// Listen starts an emulator configured by opts on addr ("127.0.0.1:0" picks
// a free loopback port) and serves it until Close.
func Listen(addr string, opts Options) (*Listening, error) {
	emu, err := New(opts)
	if err != nil {
		return nil, err
	}
	headerTimeout := opts.ReadHeaderTimeout
	if headerTimeout <= 0 {
		headerTimeout = DefaultReadHeaderTimeout
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		emu.Close()
		return nil, fmt.Errorf("emulator: listen on %s: %w", addr, err)
	}
	l := &Listening{
		URL:      "http://" + ln.Addr().String(),
		Emulator: emu,
		// IdleTimeout is the real keepalive_timeout (75 s).
		http: &http.Server{Handler: emu, ReadHeaderTimeout: headerTimeout, IdleTimeout: 75 * time.Second},
		done: make(chan error, 1),
	}
	go func() { l.done <- l.http.Serve(ln) }()
	return l, nil
}

// Close stops serving (dropping open connections) and releases the emulator.
func (l *Listening) Close() error {
	closeErr := l.http.Close()
	if err := <-l.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		closeErr = errors.Join(closeErr, err)
	}
	return errors.Join(closeErr, l.Emulator.Close())
}

// DefaultReadHeaderTimeout is the real client_request_timeout: a client
// has 5 s to send a request's headers.
const DefaultReadHeaderTimeout = 5 * time.Second

// limitBodyTime gives r d to deliver its body. It is not
// http.Server.ReadTimeout, which would also cancel the context of a handler
// still running when it expires (a long poll): the deadline is lifted once
// the body has been read to its end. A body that stalls fails its read, and
// the server closes the connection rather than reuse it. Where the
// connection has no deadlines (an in-memory transport) nothing changes.
func limitBodyTime(w http.ResponseWriter, r *http.Request, d time.Duration) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(d)) == nil {
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
	}
}

type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		// Whole body read: what follows (the handler's work, the
		// server's wait for the next request) has its own limits.
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
