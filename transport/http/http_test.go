package http_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
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
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDefaults(t *testing.T) {
	tr := kalamhttp.New(nil)
	rt, ok := tr.HTTPClient().Transport.(*http.Transport)
	if !ok {
		t.Fatalf("default client transport is %T, want *http.Transport", tr.HTTPClient().Transport)
	}
	if rt.MaxIdleConnsPerHost < 10 {
		t.Errorf("MaxIdleConnsPerHost %d, want at least 10", rt.MaxIdleConnsPerHost)
	}
	if rt.IdleConnTimeout != 90*time.Second {
		t.Errorf("IdleConnTimeout %v, want 90s", rt.IdleConnTimeout)
	}
	if rt.Proxy == nil {
		t.Errorf("no proxy function, want the environment's")
	}
	if rt.TLSClientConfig != nil && rt.TLSClientConfig.InsecureSkipVerify {
		t.Errorf("TLS verification is off by default")
	}
	if rt.Protocols == nil || rt.Protocols.HTTP2() || !rt.Protocols.HTTP1() {
		t.Errorf("protocols %v, want HTTP/1.1 only", rt.Protocols)
	}
	if !transport.SupportsDialHeaders(tr) {
		t.Errorf("SupportsDialHeaders is false")
	}
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
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if n := newConns.Load(); n != 1 {
		t.Fatalf("5 sequential requests opened %d connections, want 1 (keep-alive)", n)
	}
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
	if tr.HTTPClient() != client {
		t.Fatalf("HTTPClient() is not the client handed in")
	}
	resp, err := tr.Do(ctx, &transport.Request{Method: "GET", URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c, err := tr.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close(transport.StatusNormalClosure, "")
	if n := trips.Load(); n != 2 {
		t.Fatalf("the custom client carried %d round trips, want 2 (one Do, one Dial)", n)
	}
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
	if !errors.As(err, &unknown) && !errors.As(err, &verify) {
		t.Fatalf("Do against an untrusted certificate: %v, want a certificate verification error", err)
	}
	_, err = kalamhttp.New(nil).Dial(ctx, "wss"+strings.TrimPrefix(srv.URL, "https")+"/ws", nil)
	if !errors.As(err, &unknown) && !errors.As(err, &verify) {
		t.Fatalf("Dial against an untrusted certificate: %v, want a certificate verification error", err)
	}

	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	trusted := kalamhttp.New(&kalamhttp.Options{TLSConfig: &tls.Config{RootCAs: pool}})
	resp, err := trusted.Do(ctx, &transport.Request{Method: "GET", URL: srv.URL})
	if err != nil {
		t.Fatalf("Do trusting the server's certificate: %v", err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "secret" {
		t.Fatalf("body %q", b)
	}
}

// TestProxyFromEnvironment runs itself in a child process with HTTP_PROXY
// set, because net/http reads the environment once per process.
func TestProxyFromEnvironment(t *testing.T) {
	if os.Getenv("KALAM_PROXY_CHILD") == "1" {
		resp, err := kalamhttp.New(nil).Do(testContext(t), &transport.Request{Method: "GET", URL: "http://kalamdb.invalid/v1/api/healthcheck"})
		if err != nil {
			t.Fatalf("Do through the proxy: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "via proxy: http://kalamdb.invalid/v1/api/healthcheck" {
			t.Fatalf("body %q, want the proxy's answer", b)
		}
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
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestProxyFromEnvironment") {
		t.Fatalf("child process did not run the check:\n%s", out)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "via proxy: http://kalamdb.invalid/x" {
		t.Fatalf("body %q, want the proxy's answer", b)
	}
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
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		runtime.ReadMemStats(&after)
		if resp.StatusCode != 200 || string(b) != "received" {
			t.Fatalf("ContentLength %d: status %d body %q", length, resp.StatusCode, b)
		}
		// The server's allocations count too, and they are small as well.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
			t.Fatalf("ContentLength %d: uploading 100 MiB allocated %d MiB: the body was buffered", length, alloc>>20)
		}
	}
}

func TestDoErrors(t *testing.T) {
	ctx := testContext(t)
	tr := kalamhttp.New(nil)
	if _, err := tr.Do(ctx, nil); err == nil {
		t.Error("Do(nil) succeeded")
	}
	if _, err := tr.Do(ctx, &transport.Request{Method: "GET", URL: "http://[::1"}); err == nil || !strings.Contains(err.Error(), "http://[::1") {
		t.Errorf("bad URL: %v, want an error naming it", err)
	}
	// A closed listener refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = tr.Do(ctx, &transport.Request{Method: "GET", URL: "http://" + addr})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("refused connection: %v, want an error naming %s", err, addr)
	}
	_, err = tr.Dial(ctx, "ws://"+addr+"/ws", nil)
	var he *transport.HandshakeError
	if err == nil || errors.As(err, &he) {
		t.Errorf("Dial to a refused port: %v, want a transport error, not a HandshakeError", err)
	}
}
