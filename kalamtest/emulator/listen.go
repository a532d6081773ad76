package emulator

import (
	"errors"
	"fmt"
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		emu.Close()
		return nil, fmt.Errorf("emulator: listen on %s: %w", addr, err)
	}
	l := &Listening{
		URL:      "http://" + ln.Addr().String(),
		Emulator: emu,
		http:     &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second},
		done:     make(chan error, 1),
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
