//go:build !js && !wasip1

package kalamtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Proxy is a fault-injecting TCP proxy for network-fault tests: it listens
// on 127.0.0.1 and forwards every connection to a target, and it can cut
// all connections, blackhole them (keep them open but forward nothing),
// add latency, stall every n-th chunk, and refuse new connections. Point a
// client at URL.
type Proxy struct {
	// URL is the proxy's base URL, with the target URL's scheme and path.
	URL string
	// Addr is the listening address (127.0.0.1:port).
	Addr string

	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu        sync.Mutex
	conns     map[*proxyConn]struct{}
	refuse    bool
	latency   time.Duration
	stallN    int           // stall every stallN-th chunk (0: never)
	stallFor  time.Duration // how long each stalled chunk waits
	chunks    int           // chunks forwarded since SetChunkStall
	blackhole chan struct{} // non-nil while blackholed; closed on restore
	closed    bool
	accepted  int
	done      chan struct{}
}

type proxyConn struct {
	client, server net.Conn
}

// NewProxy starts a proxy to target (a URL such as "http://127.0.0.1:8080",
// or host:port) and closes it when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := StartProxy(target)
	if err != nil {
		t.Fatalf("kalamtest: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// StartProxy is NewProxy without a test; call Close when done.
func StartProxy(target string) (*Proxy, error) {
	scheme, host, path := "http", target, ""
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		scheme, host, path = u.Scheme, u.Host, u.Path
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		return nil, fmt.Errorf("proxy target %q needs a host:port: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy listen: %w", err)
	}
	p := &Proxy{URL: scheme + "://" + ln.Addr().String() + path, Addr: ln.Addr().String(),
		target: host, ln: ln, conns: map[*proxyConn]struct{}{}, done: make(chan struct{})}
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return p, nil
}

func (p *Proxy) acceptLoop(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse || p.closed
		p.mu.Unlock()
		if refuse {
			reset(c)
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// reset closes c with an RST, as a refused or cut connection looks.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		reset(client)
		return
	}
	pc := &proxyConn{client: client, server: server}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		reset(client)
		reset(server)
		return
	}
	p.conns[pc] = struct{}{}
	p.accepted++
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(server, client) }()
	go func() { defer wg.Done(); p.pipe(client, server) }()
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
}

// pipe copies src to dst chunk by chunk, applying latency and blackholes;
// when either side fails both are reset.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer reset(dst)
	defer reset(src)
	buf := make([]byte, 32<<10)
	for {
		if !p.waitOpen() {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitOpen() || !p.delay() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// waitOpen blocks while blackholed; false when the proxy closed.
func (p *Proxy) waitOpen() bool {
	p.mu.Lock()
	bh := p.blackhole
	p.mu.Unlock()
	if bh == nil {
		return true
	}
	select {
	case <-bh:
		return true
	case <-p.done:
		return false
	}
}

// delay waits the configured latency, plus the stall when this chunk is
// a stalled one; false when the proxy closed.
func (p *Proxy) delay() bool {
	p.mu.Lock()
	d := p.latency
	if p.stallN > 0 {
		p.chunks++
		if p.chunks%p.stallN == 0 {
			d += p.stallFor
		}
	}
	p.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.done:
		return false
	}
}

// CutAll resets every open connection (both sides) and returns how many.
func (p *Proxy) CutAll() int {
	p.mu.Lock()
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		reset(c.client)
		reset(c.server)
	}
	return len(conns)
}

// Blackhole keeps connections open but stops forwarding anything, in both
// directions and for new connections too, until called with false (then
// the held bytes flow on, as TCP would retransmit them).
func (p *Proxy) Blackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case on && p.blackhole == nil:
		p.blackhole = make(chan struct{})
	case !on && p.blackhole != nil:
		close(p.blackhole)
		p.blackhole = nil
	}
}

// SetLatency delays every chunk forwarded, in each direction, by d (0
// removes it).
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// SetChunkStall holds every n-th chunk forwarded (counted over all
// connections and both directions) for d on top of any latency; n <= 0 or
// d <= 0 removes it. Chunks already waiting finish their wait.
func (p *Proxy) SetChunkStall(n int, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n <= 0 || d <= 0 {
		n, d = 0, 0
	}
	p.stallN, p.stallFor, p.chunks = n, d, 0
}

// Refuse makes the proxy reset new connections (a server that is down)
// until called with false; open connections are untouched (see Down).
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// Down refuses new connections and cuts the open ones: the server went
// away. Up undoes it.
func (p *Proxy) Down() int {
	p.Refuse(true)
	return p.CutAll()
}

// Up accepts connections again.
func (p *Proxy) Up() { p.Refuse(false) }

// Kill stops listening and cuts the open connections: new connections are
// refused by the operating system, as when a server process died (Down
// accepts and then resets them instead). Revive undoes it. It returns how
// many connections were cut.
func (p *Proxy) Kill() int {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	return p.CutAll()
}

// Revive listens again on the proxy's address after Kill.
func (p *Proxy) Revive() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("proxy: revive after Close")
	}
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		return fmt.Errorf("proxy: listen again on %s: %w", p.Addr, err)
	}
	p.ln = ln
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return nil
}

// refusing reports whether the proxy turns new connections away (Refuse,
// Down, Kill).
func (p *Proxy) refusing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refuse || p.ln == nil
}

// Active returns the number of open proxied connections.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Accepted returns how many connections were proxied so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Close stops the proxy, resets every connection and waits for its
// goroutines. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	p.CutAll()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

var _ io.Closer = (*Proxy)(nil)
