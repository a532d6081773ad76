//go:build !js

package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/kalamstack/kalam-go/transport"
)

// Transport runs the transport suite. newTarget maps the suite's handler to
// a transport and the base URL ("http://host:port", no trailing slash) at
// which that transport reaches the handler: for a native transport, serve
// h with httptest.NewServer; for an in-memory one, hand h to it.
func Transport(t *testing.T, newTarget func(t *testing.T, h http.Handler) (transport.Transport, string)) {
	tr, base := newTarget(t, TransportHandler())
	TransportAgainst(t, tr, base)
}

// serverWait bounds how long the handler waits for a signal from the test
// before it answers 504, so a broken transport fails instead of hanging.
const serverWait = 10 * time.Second

// TransportHandler returns the server side of the transport suite. It
// keeps per-test state (signals between requests) in memory, so one
// handler serves one suite run; a browser run serves it from a native
// process and points TransportAgainst at it.
func TransportHandler() http.Handler {
	s := &suiteServer{signals: make(map[string]chan string)}
	mux := http.NewServeMux()
	mux.HandleFunc("/status/{code}", s.status)
	mux.HandleFunc("/headers", s.headers)
	mux.HandleFunc("/echo", s.echo)
	mux.HandleFunc("/sized", s.sized)
	mux.HandleFunc("/stream-request", s.streamRequest)
	mux.HandleFunc("/stream-response", s.streamResponse)
	mux.HandleFunc("/hold", s.hold)
	mux.HandleFunc("/signal", s.signal)
	mux.HandleFunc("/wait", s.wait)
	mux.HandleFunc("/ws/refuse", s.wsRefuse)
	mux.HandleFunc("/ws/echo", s.wsEcho)
	return mux
}

type suiteServer struct {
	mu      sync.Mutex
	signals map[string]chan string
}

// slot returns the one-value channel named id, creating it on first use.
func (s *suiteServer) slot(id string) chan string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.signals[id]
	if !ok {
		ch = make(chan string, 1)
		s.signals[id] = ch
	}
	return ch
}

// raise records value under id; only the first value counts.
func (s *suiteServer) raise(id, value string) {
	select {
	case s.slot(id) <- value:
	default:
	}
}

// await waits for the value raised under id.
func (s *suiteServer) await(ctx context.Context, id string) (string, error) {
	timer := time.NewTimer(serverWait)
	defer timer.Stop()
	ch := s.slot(id)
	select {
	case v := <-ch:
		ch <- v // stay raised for later waiters
		return v, nil
	case <-timer.C:
		return "", fmt.Errorf("server waited %v for signal %q, it never came", serverWait, id)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (s *suiteServer) status(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.PathValue("code"))
	if err != nil || code < 200 || code > 599 {
		http.Error(w, "bad status "+r.PathValue("code"), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	if code != http.StatusNoContent && code != http.StatusNotModified {
		fmt.Fprintf(w, "status %d", code)
	}
}

// headers answers with the request's method, host and headers as JSON and
// sets a multi-valued and a lower-case response header.
func (s *suiteServer) headers(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("X-Multi", "one")
	w.Header().Add("X-Multi", "two")
	w.Header()["x-lower-case"] = []string{"lower"}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "header": r.Header})
}

// echo answers with the request body and reports how it arrived.
func (s *suiteServer) echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Method", r.Method)
	w.Header().Set("X-Request-Content-Length", strconv.FormatInt(r.ContentLength, 10))
	w.Header().Set("X-Request-Transfer-Encoding", strings.Join(r.TransferEncoding, ","))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(body)
}

// sized answers n pattern bytes, with a Content-Length when known=1.
func (s *suiteServer) sized(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 {
		http.Error(w, "bad n", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if r.URL.Query().Get("known") == "1" {
		w.Header().Set("Content-Length", strconv.Itoa(n))
	} else {
		// Flushing before the body forces chunked encoding on HTTP/1.1.
		http.NewResponseController(w).Flush()
	}
	w.Write(pattern(n))
}

// streamRequest raises "<id>" with the first chunk of the request body as
// soon as it arrives, then answers with the whole body.
func (s *suiteServer) streamRequest(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	buf := make([]byte, 64)
	n, err := r.Body.Read(buf)
	if n == 0 {
		http.Error(w, fmt.Sprintf("reading the first chunk: %v", err), http.StatusBadRequest)
		return
	}
	s.raise(id, string(buf[:n]))
	rest, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading the rest: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Write(append(buf[:n], rest...))
}

// streamResponse writes and flushes "first:", waits for the test to raise
// "<id>", then writes "second".
func (s *suiteServer) streamResponse(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "first:")
	http.NewResponseController(w).Flush()
	if _, err := s.await(r.Context(), id); err != nil {
		io.WriteString(w, "error: "+err.Error())
		return
	}
	io.WriteString(w, "second")
}

// hold writes and flushes "tick", then holds the response open until the
// request context ends and raises "<id>" with "ctx done".
func (s *suiteServer) hold(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	io.WriteString(w, "tick")
	http.NewResponseController(w).Flush()
	<-r.Context().Done()
	s.raise(id, "ctx done")
}

// signal raises "<id>" with "<value>".
func (s *suiteServer) signal(w http.ResponseWriter, r *http.Request) {
	s.raise(r.URL.Query().Get("id"), r.URL.Query().Get("value"))
	w.WriteHeader(http.StatusNoContent)
}

// wait answers the value raised under "<id>", or 504 after serverWait.
func (s *suiteServer) wait(w http.ResponseWriter, r *http.Request) {
	v, err := s.await(r.Context(), r.URL.Query().Get("id"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusGatewayTimeout)
		return
	}
	io.WriteString(w, v)
}

// wsRefuse refuses the upgrade with status and a body of n bytes.
func (s *suiteServer) wsRefuse(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.URL.Query().Get("status"))
	if err != nil {
		code = http.StatusForbidden
	}
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil {
		n = 0
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(code)
	w.Write(pattern(n))
}

// wsEcho accepts a WebSocket, first sends the upgrade request's headers as
// a JSON text message, then echoes every message with its type. A text
// message "close:<code>:<reason>" makes it close with that status;
// "close:abrupt" drops the connection without a close frame;
// "send:<n>" makes it send one binary message of n pattern bytes. When the
// client closes, it raises "<id>" with "<code> <reason>".
func (s *suiteServer) wsEcho(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 20)
	ctx := r.Context()
	hdr, _ := json.Marshal(r.Header)
	if err := c.Write(ctx, websocket.MessageText, hdr); err != nil {
		return
	}
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				s.raise(id, fmt.Sprintf("%d %s", ce.Code, ce.Reason))
			} else {
				s.raise(id, "error: "+err.Error())
			}
			return
		}
		if typ == websocket.MessageText {
			if cmd, ok := strings.CutPrefix(string(msg), "close:"); ok {
				if cmd == "abrupt" {
					c.CloseNow()
					return
				}
				codeStr, reason, _ := strings.Cut(cmd, ":")
				code, _ := strconv.Atoi(codeStr)
				c.Close(websocket.StatusCode(code), reason)
				return
			}
			if nStr, ok := strings.CutPrefix(string(msg), "send:"); ok {
				n, _ := strconv.Atoi(nStr)
				if err := c.Write(ctx, websocket.MessageBinary, pattern(n)); err != nil {
					return
				}
				continue
			}
		}
		if err := c.Write(ctx, typ, msg); err != nil {
			return
		}
	}
}
