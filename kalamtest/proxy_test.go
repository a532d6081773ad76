//go:build !js && !wasip1

package kalamtest_test

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest"
)

// echoServer answers every line with the same line.
func echoServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) (string, error) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	return got, err
}

func TestProxyForwardsAndCuts(t *testing.T) {
	p := kalamtest.NewProxy(t, "http://"+echoServer(t))
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	got, err := roundTrip(t, c, r, "hello")
	if err != nil || got != "hello\n" {
		t.Fatalf("echo through the proxy: %q, %v", got, err)
	}
	if p.Active() != 1 || p.Accepted() != 1 {
		t.Fatalf("active %d accepted %d, want 1 and 1", p.Active(), p.Accepted())
	}
	if n := p.CutAll(); n != 1 {
		t.Fatalf("CutAll cut %d connections, want 1", n)
	}
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("a cut connection still reads")
	}
}

func TestProxyBlackholeHoldsThenDelivers(t *testing.T) {
	p := kalamtest.NewProxy(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := roundTrip(t, c, r, "warm"); err != nil {
		t.Fatal(err)
	}
	p.Blackhole(true)
	c.SetDeadline(time.Now().Add(100 * time.Millisecond))
	c.Write([]byte("held\n"))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("data crossed a blackhole")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("blackholed read ended with %v, want a timeout (the connection stays open)", err)
	}
	if p.Active() != 1 {
		t.Fatalf("active %d during the blackhole, want 1", p.Active())
	}
	p.Blackhole(false)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := r.ReadString('\n')
	if err != nil || got != "held\n" {
		t.Fatalf("after restore: %q, %v", got, err)
	}
}

func TestProxyLatencyAndRefuse(t *testing.T) {
	p := kalamtest.NewProxy(t, echoServer(t))
	p.SetLatency(20 * time.Millisecond)
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if got, err := roundTrip(t, c, bufio.NewReader(c), "slow"); err != nil || got != "slow\n" {
		t.Fatalf("with latency: %q, %v", got, err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("round trip took %v; two 20 ms hops cannot be faster than 40 ms", d)
	}
	p.SetLatency(0)
	p.Down()
	rc, err := net.Dial("tcp", p.Addr)
	if err == nil {
		rc.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = rc.Read(make([]byte, 1))
		rc.Close()
	}
	if err == nil {
		t.Fatal("a refused connection delivered data")
	}
	p.Up()
	c2, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got, err := roundTrip(t, c2, bufio.NewReader(c2), "back"); err != nil || got != "back\n" {
		t.Fatalf("after Up: %q, %v", got, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestProxyChunkStall(t *testing.T) {
	p := kalamtest.NewProxy(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	// Every 2nd chunk stalls: of the two hops of one round trip, exactly
	// one is held.
	p.SetChunkStall(2, 60*time.Millisecond)
	start := time.Now()
	if got, err := roundTrip(t, c, r, "stalled"); err != nil || got != "stalled\n" {
		t.Fatalf("with a stall: %q, %v", got, err)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("round trip took %v; one of its two chunks stalls 60 ms", d)
	}
	// A short read deadline proves the stall is real: the echo is held
	// past it, then arrives.
	p.SetChunkStall(1, 300*time.Millisecond)
	c.SetDeadline(time.Now().Add(50 * time.Millisecond))
	c.Write([]byte("held\n"))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("a stalled chunk crossed at once")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("stalled read ended with %v, want a timeout", err)
	}
	p.SetChunkStall(0, 0)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "held\n" {
		t.Fatalf("after the stall: %q, %v", got, err)
	}
	if got, err := roundTrip(t, c, r, "free"); err != nil || got != "free\n" {
		t.Fatalf("after clearing: %q, %v", got, err)
	}
}

// BenchmarkProxyRoundTrip measures what the proxy adds to a small echo
// round trip over loopback.
func BenchmarkProxyRoundTrip(b *testing.B) {
	echo := echoServer(b)
	p, err := kalamtest.StartProxy(echo)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	for _, c := range []struct{ name, addr string }{{"direct", echo}, {"proxied", p.Addr}} {
		b.Run(c.name, func(b *testing.B) {
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			msg, buf := []byte("ping\n"), make([]byte, 5)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := conn.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(conn, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
