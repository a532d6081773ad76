package http_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kalamstack/kalam-go/transport"
	kalamhttp "github.com/kalamstack/kalam-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDefaults(t *testing.T) {
	tr := kalamhttp.New(nil)
	rt, ok := tr.HTTPClient().Transport.(*http.Transport)
	require.True(t, ok, "default client transport is %T, want *http.Transport", tr.HTTPClient().Transport)
	assert.GreaterOrEqual(t, rt.MaxIdleConnsPerHost, 10, "MaxIdleConnsPerHost %d, want at least 10", rt.MaxIdleConnsPerHost)
	assert.EqualValues(t, 90*time.Second, rt.IdleConnTimeout, "IdleConnTimeout %v, want 90s", rt.IdleConnTimeout)
	assert.NotNil(t, rt.Proxy, "no proxy function, want the environment's")
	assert.False(t, rt.TLSClientConfig != nil && rt.TLSClientConfig.InsecureSkipVerify, "TLS verification is off by default")
	assert.False(t, rt.Protocols == nil || rt.Protocols.HTTP2() || !rt.Protocols.HTTP1(), "protocols %v, want HTTP/1.1 only", rt.Protocols)
	assert.True(t, transport.SupportsDialHeaders(tr), "SupportsDialHeaders is false")
}

// TestKeepAlive checks that sequential requests share one pooled
// connection.
func TestKeepAlive(t *testing.T) {
	ctx := testContext(t)
	var newConns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tr := kalamhttp.New(nil)
	defer tr.CloseIdleConnections()
	for range 5 {
		resp, err := tr.Do(ctx, &transport.Request{Method: "GET", URL: srv.URL})
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	n := newConns.Load()
	require.EqualValues(t, 1, n, "5 sequential requests opened %d connections, want 1 (keep-alive)", n)
}

func TestCustomClient(t *testing.T) {
	ctx := testContext(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			c.Close(websocket.StatusNormalClosure, "")
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	var trips atomic.Int64
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		trips.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	tr := kalamhttp.New(&kalamhttp.Options{HTTPClient: client})
	require.Same(t, client, tr.HTTPClient(), "HTTPClient() is not the client handed in")
	resp, err := tr.Do(ctx, &transport.Request{Method: "GET", URL: srv.URL})
	require.NoError(t, err)
	resp.Body.Close()
	c, err := tr.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	require.NoError(t, err)
	c.Close(transport.StatusNormalClosure, "")
	n := trips.Load()
	require.EqualValues(t, 2, n, "the custom client carried %d round trips, want 2 (one Do, one Dial)", n)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTLSVerification(t *testing.T) {
	ctx := testContext(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret")
	}))
	defer srv.Close()

	_, err := kalamhttp.New(nil).Do(ctx, &transport.Request{Method: "GET", URL: srv.URL})
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	require.False(t, !errors.As(err, &unknown) && !errors.As(err, &verify), "Do against an untrusted certificate: %v, want a certificate verification error", err)
	_, err = kalamhttp.New(nil).Dial(ctx, "wss"+strings.TrimPrefix(srv.URL, "https")+"/ws", nil)
	require.False(t, !errors.As(err, &unknown) && !errors.As(err, &verify), "Dial against an untrusted certificate: %v, want a certificate verification error", err)

	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	trusted := kalamhttp.New(&kalamhttp.Options{TLSConfig: &tls.Config{RootCAs: pool}})
	resp, err := trusted.Do(ctx, &transport.Request{Method: "GET", URL: srv.URL})
	require.NoError(t, err, "Do trusting the server's certificate")
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, "secret", string(b), "body %q", b)
}

// TestProxyFromEnvironment runs itself in a child process with HTTP_PROXY
// set, because net/http reads the environment once per process.
func TestProxyFromEnvironment(t *testing.T) {
	if os.Getenv("KALAM_PROXY_CHILD") == "1" {
		resp, err := kalamhttp.New(nil).Do(testContext(t), &transport.Request{Method: "GET", URL: "http://kalamdb.invalid/v1/api/healthcheck"})
		require.NoError(t, err, "Do through the proxy")
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, "via proxy: http://kalamdb.invalid/v1/api/healthcheck", string(b), "body %q, want the proxy's answer", b)
		return
	}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A proxy receives the absolute URL.
		io.WriteString(w, "via proxy: "+r.URL.String())
	}))
	defer proxy.Close()
	cmd := exec.CommandContext(testContext(t), os.Args[0], "-test.run=^TestProxyFromEnvironment$", "-test.v")
	cmd.Env = append(os.Environ(), "KALAM_PROXY_CHILD=1", "HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child process: %v\n%s", err, out)
	require.Contains(t, string(out), "--- PASS: TestProxyFromEnvironment", "child process did not run the check:\n%s", out)
}

func TestExplicitProxy(t *testing.T) {
	ctx := testContext(t)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "via proxy: "+r.URL.String())
	}))
	defer proxy.Close()
	proxyURL, _ := url.Parse(proxy.URL)
	tr := kalamhttp.New(&kalamhttp.Options{Proxy: http.ProxyURL(proxyURL)})
	resp, err := tr.Do(ctx, &transport.Request{Method: "GET", URL: "http://kalamdb.invalid/x"})
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, "via proxy: http://kalamdb.invalid/x", string(b), "body %q, want the proxy's answer", b)
}

// patternReader yields n deterministic bytes without holding them.
type patternReader struct{ off, n int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	m := min(int64(len(b)), p.n-p.off)
	for i := range m {
		b[i] = byte((p.off + i) % 251)
	}
	p.off += m
	return int(m), nil
}

// TestLargeUploadIsStreamed sends 100 MiB and checks that the client side
// never allocated anything near that: the body streamed.
func TestLargeUploadIsStreamed(t *testing.T) {
	ctx := testContext(t)
	const size = 100 << 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int64
		buf := make([]byte, 64<<10)
		for {
			m, err := r.Body.Read(buf)
			for i := range m {
				if buf[i] != byte((n+int64(i))%251) {
					http.Error(w, "corrupt byte", http.StatusBadRequest)
					return
				}
			}
			n += int64(m)
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		io.WriteString(w, "received")
	}))
	defer srv.Close()
	tr := kalamhttp.New(nil)
	for _, length := range []int64{size, -1} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		resp, err := tr.Do(ctx, &transport.Request{Method: "POST", URL: srv.URL, Body: &patternReader{n: size}, ContentLength: length})
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		runtime.ReadMemStats(&after)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "received", string(b), "ContentLength %d: status %d body %q", length, resp.StatusCode, b)
		// The server's allocations count too, and they are small as well.
		alloc := after.TotalAlloc - before.TotalAlloc
		require.True(t, alloc <= 32<<20, "ContentLength %d: uploading 100 MiB allocated %d MiB: the body was buffered", length, alloc>>20)
	}
}

func TestDoErrors(t *testing.T) {
	ctx := testContext(t)
	tr := kalamhttp.New(nil)
	if _, err := tr.Do(ctx, nil); err == nil {
		assert.Fail(t, "Do(nil) succeeded")
	}
	if _, err := tr.Do(ctx, &transport.Request{Method: "GET", URL: "http://[::1"}); err == nil || !strings.Contains(err.Error(), "http://[::1") {
		assert.Fail(t, fmt.Sprintf("bad URL: %v, want an error naming it", err))
	}
	// A closed listener refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	_, err = tr.Do(ctx, &transport.Request{Method: "GET", URL: "http://" + addr})
	assert.False(t, err == nil || !strings.Contains(err.Error(), addr), "refused connection: %v, want an error naming %s", err, addr)
	_, err = tr.Dial(ctx, "ws://"+addr+"/ws", nil)
	var he *transport.HandshakeError
	assert.False(t, err == nil || errors.As(err, &he), "Dial to a refused port: %v, want a transport error, not a HandshakeError", err)
}

// A refused connection is marked ErrNotSent (any statement may go to another
// node); a connection the server reset after reading the request is not.
func TestDoMarksOnlyUnsentRequests(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := ln.Addr().String()
	require.NoError(t, ln.Close())

	tr := kalamhttp.New(nil)
	_, err = tr.Do(testContext(t), &transport.Request{Method: "POST", URL: "http://" + closedAddr + "/v1/api/sql",
		Body: strings.NewReader("{}"), ContentLength: 2})
	require.Error(t, err)
	assert.ErrorIs(t, err, transport.ErrNotSent, "a refused dial: %v", err)

	resetting, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { resetting.Close() })
	go func() {
		c, err := resetting.Accept()
		if err != nil {
			return
		}
		io.ReadFull(c, make([]byte, 16)) // the request arrived
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}()
	_, err = tr.Do(testContext(t), &transport.Request{Method: "POST", URL: "http://" + resetting.Addr().String() + "/v1/api/sql",
		Body: strings.NewReader("{}"), ContentLength: 2})
	require.Error(t, err)
	assert.NotErrorIs(t, err, transport.ErrNotSent, "the server had the request: %v", err)
}
