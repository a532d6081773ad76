//go:build !js && !wasip1

package kalamtest_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/stretchr/testify/require"
)

// echoServer answers every line with the same line.
func echoServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
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
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	got, err := roundTrip(t, c, r, "hello")
	require.NoError(t, err)
	require.Equal(t, "hello\n", got, "echo through the proxy: %q, %v", got, err)
	require.Equal(t, 1, p.Active())
	require.Equal(t, 1, p.Accepted(), "active %d accepted %d, want 1 and 1", p.Active(), p.Accepted())
	n := p.CutAll()
	require.Equal(t, 1, n, "CutAll cut %d connections, want 1", n)
	_, err = r.ReadString('\n')
	require.Error(t, err, "a cut connection still reads")
}

func TestProxyBlackholeHoldsThenDelivers(t *testing.T) {
	p := kalamtest.NewProxy(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr)
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	_, err = roundTrip(t, c, r, "warm")
	require.NoError(t, err)
	p.Blackhole(true)
	c.SetDeadline(time.Now().Add(100 * time.Millisecond))
	c.Write([]byte("held\n"))
	if _, err := r.ReadString('\n'); err == nil {
		require.FailNow(t, "data crossed a blackhole")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		require.FailNow(t, fmt.Sprintf("blackholed read ended with %v, want a timeout (the connection stays open)", err))
	}
	require.Equal(t, 1, p.Active(), "active %d during the blackhole, want 1", p.Active())
	p.Blackhole(false)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "held\n", got, "after restore: %q, %v", got, err)
}

func TestProxyLatencyAndRefuse(t *testing.T) {
	p := kalamtest.NewProxy(t, echoServer(t))
	p.SetLatency(20 * time.Millisecond)
	c, err := net.Dial("tcp", p.Addr)
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	got, err := roundTrip(t, c, bufio.NewReader(c), "slow")
	require.NoError(t, err)
	require.Equal(t, "slow\n", got, "with latency: %q, %v", got, err)
	d := time.Since(start)
	require.True(t, d >= 40*time.Millisecond, "round trip took %v; two 20 ms hops cannot be faster than 40 ms", d)
	p.SetLatency(0)
	p.Down()
	rc, err := net.Dial("tcp", p.Addr)
	if err == nil {
		rc.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = rc.Read(make([]byte, 1))
		rc.Close()
	}
	require.Error(t, err, "a refused connection delivered data")
	p.Up()
	c2, err := net.Dial("tcp", p.Addr)
	require.NoError(t, err)
	defer c2.Close()
	got, err = roundTrip(t, c2, bufio.NewReader(c2), "back")
	require.NoError(t, err)
	require.Equal(t, "back\n", got, "after Up: %q, %v", got, err)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "second Close")
}

func TestProxyChunkStall(t *testing.T) {
	p := kalamtest.NewProxy(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr)
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	// Every 2nd chunk stalls: of the two hops of one round trip, exactly
	// one is held.
	p.SetChunkStall(2, 60*time.Millisecond)
	start := time.Now()
	got, err := roundTrip(t, c, r, "stalled")
	require.NoError(t, err)
	require.Equal(t, "stalled\n", got, "with a stall: %q, %v", got, err)
	d := time.Since(start)
	require.True(t, d >= 60*time.Millisecond, "round trip took %v; one of its two chunks stalls 60 ms", d)
	// A short read deadline proves the stall is real: the echo is held
	// past it, then arrives.
	p.SetChunkStall(1, 300*time.Millisecond)
	c.SetDeadline(time.Now().Add(50 * time.Millisecond))
	c.Write([]byte("held\n"))
	if _, err := r.ReadString('\n'); err == nil {
		require.FailNow(t, "a stalled chunk crossed at once")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		require.FailNow(t, fmt.Sprintf("stalled read ended with %v, want a timeout", err))
	}
	p.SetChunkStall(0, 0)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err = r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "held\n", got, "after the stall: %q, %v", got, err)
	got, err = roundTrip(t, c, r, "free")
	require.NoError(t, err)
	require.Equal(t, "free\n", got, "after clearing: %q, %v", got, err)
}

// BenchmarkProxyRoundTrip measures what the proxy adds to a small echo
// round trip over loopback.
func BenchmarkProxyRoundTrip(b *testing.B) {
	echo := echoServer(b)
	p, err := kalamtest.StartProxy(echo)
	require.NoError(b, err)
	defer p.Close()
	for _, c := range []struct{ name, addr string }{{"direct", echo}, {"proxied", p.Addr}} {
		b.Run(c.name, func(b *testing.B) {
			conn, err := net.Dial("tcp", c.addr)
			require.NoError(b, err)
			defer conn.Close()
			msg, buf := []byte("ping\n"), make([]byte, 5)
			b.ReportAllocs()
			for b.Loop() {
				_, err := conn.Write(msg)
				require.NoError(b, err)
				_, err = io.ReadFull(conn, buf)
				require.NoError(b, err)
			}
		})
	}
}
