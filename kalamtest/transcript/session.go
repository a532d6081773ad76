//go:build !js && !wasip1

package transcript

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Session runs one scenario against one server and records every exchange.
type Session struct {
	base    string
	root    string // root's password on this server
	http    *http.Client
	ctx     context.Context
	records []Exchange
	conns   []*WS
}

// abort stops a scenario that cannot go on; Run records the reason.
type abort struct{ reason string }

func newSession(ctx context.Context, base, rootPassword string) *Session {
	return &Session{base: strings.TrimRight(base, "/"), root: rootPassword, ctx: ctx,
		http: &http.Client{Timeout: 20 * time.Second}}
}

// Abort ends the scenario, recording why.
func (s *Session) Abort(format string, args ...any) {
	panic(abort{fmt.Sprintf(format, args...)})
}

// RootPassword is root's password on the server under record or replay.
func (s *Session) RootPassword() string { return s.root }

// Req is one HTTP request of a scenario.
type Req struct {
	Method string
	Path   string
	Token  string // sent as Authorization: Bearer
	JSON   any    // marshalled as the body, Content-Type application/json
	Raw    []byte // a body sent as is (with ContentType)
	// ContentType overrides the body's type (multipart, text, ...).
	ContentType string
	Header      map[string]string
}

// Resp is a recorded answer; Body is the decoded JSON before normalising.
type Resp struct {
	Status int
	Body   any
	Header http.Header
}

// Get returns a top-level string field of a JSON object body ("" if none).
func (r *Resp) Get(path ...string) string {
	var v any = r.Body
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// Do sends one HTTP request and records it with its answer.
func (s *Session) Do(step string, r Req) *Resp {
	var body io.Reader
	var recBody any
	ctype := r.ContentType
	switch {
	case r.JSON != nil:
		b, err := json.Marshal(r.JSON)
		if err != nil {
			s.Abort("%s: encode request: %v", step, err)
		}
		body, recBody = bytes.NewReader(b), decodeBody(b)
		if ctype == "" {
			ctype = "application/json"
		}
	case r.Raw != nil:
		body, recBody = bytes.NewReader(r.Raw), decodeBody(r.Raw)
	}
	req, err := http.NewRequestWithContext(s.ctx, r.Method, s.base+r.Path, body)
	if err != nil {
		s.Abort("%s: %v", step, err)
	}
	recHeaders := Headers{}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
		recHeaders["content-type"] = normalizeString(ctype, "content-type")
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
		recHeaders["authorization"] = normalizeString("Bearer "+r.Token, "authorization")
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
		recHeaders[strings.ToLower(k)] = normalizeString(v, k)
	}
	if len(recHeaders) == 0 {
		recHeaders = nil
	}
	ex := Exchange{Step: step, Request: &Request{Method: r.Method, Path: normalizePath(r.Path), Headers: recHeaders, Body: recBody}}
	resp, err := s.http.Do(req)
	if err != nil {
		s.records = append(s.records, ex)
		s.Abort("%s: %v", step, err)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	resp.Body.Close()
	if err != nil {
		s.records = append(s.records, ex)
		s.Abort("%s: read body: %v", step, err)
	}
	ex.Status, ex.Headers, ex.Body = resp.StatusCode, pickHeaders(resp.Header), decodeBody(b)
	s.records = append(s.records, ex)
	return &Resp{Status: resp.StatusCode, Body: rawJSON(b), Header: resp.Header}
}

func pickHeaders(h http.Header) Headers {
	out := Headers{}
	for _, name := range recordedHeaders {
		if vs := h.Values(name); len(vs) > 0 {
			out[name] = normalizeString(strings.Join(vs, "\n"), name)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func rawJSON(b []byte) any {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return string(b)
	}
	return v
}

// Login logs user in and returns the access token (the scenario aborts
// without one).
func (s *Session) Login(step, user, password string) string {
	r := s.Do(step, Req{Method: "POST", Path: "/v1/api/auth/login", JSON: map[string]string{"user": user, "password": password}})
	tok := r.Get("access_token")
	if tok == "" {
		s.Abort("%s: no access token (status %d)", step, r.Status)
	}
	return tok
}

// SQL runs statements over POST /v1/api/sql.
func (s *Session) SQL(step, token, sql string, params ...any) *Resp {
	body := map[string]any{"sql": sql}
	if params != nil {
		body["params"] = params
	}
	return s.Do(step, Req{Method: "POST", Path: "/v1/api/sql", Token: token, JSON: body})
}

// SQLNS runs statements with a default namespace.
func (s *Session) SQLNS(step, token, namespace, sql string) *Resp {
	return s.Do(step, Req{Method: "POST", Path: "/v1/api/sql", Token: token,
		JSON: map[string]any{"sql": sql, "namespace_id": namespace}})
}

// WS is a recorded WebSocket connection.
type WS struct {
	s    *Session
	conn *websocket.Conn
}

// Dial opens /v1/ws (with a Bearer header when token is set) and records
// the upgrade's outcome; a refused upgrade returns nil.
func (s *Session) Dial(step, token string, header map[string]string) *WS {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		h.Set(k, v)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(s.base, "http") + "/v1/ws"
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h, HTTPClient: s.http})
	ex := Exchange{Step: step, WS: "open"}
	if resp != nil {
		ex.Status, ex.Headers = resp.StatusCode, pickHeaders(resp.Header)
		if resp.Body != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			ex.Body = decodeBody(b)
		}
	}
	// The upgrade's headers say little a client reads; keep the status.
	if ex.Status == http.StatusSwitchingProtocols {
		ex.Headers = nil
	}
	s.records = append(s.records, ex)
	if err != nil {
		if resp == nil {
			s.Abort("%s: %v", step, err)
		}
		return nil
	}
	conn.SetReadLimit(16 << 20)
	w := &WS{s: s, conn: conn}
	s.conns = append(s.conns, w)
	return w
}

// Send writes one JSON text frame.
func (w *WS) Send(step string, msg any) {
	b, err := json.Marshal(msg)
	if err != nil {
		w.s.Abort("%s: %v", step, err)
	}
	w.SendRaw(step, b)
}

// SendRaw writes one text frame as is (malformed input on purpose).
func (w *WS) SendRaw(step string, b []byte) {
	w.s.records = append(w.s.records, Exchange{Step: step, WS: "send", Frame: decodeBody(b)})
	ctx, cancel := context.WithTimeout(w.s.ctx, 5*time.Second)
	defer cancel()
	if err := w.conn.Write(ctx, websocket.MessageText, b); err != nil {
		w.s.Abort("%s: write: %v", step, err)
	}
}

// Authenticate sends the authenticate message and reads the answer.
func (w *WS) Authenticate(step, token, compression string) map[string]any {
	w.Send(step, map[string]any{"type": "authenticate", "method": "jwt", "token": token,
		"protocol": map[string]string{"serialization": "json", "compression": compression}})
	return w.Recv(step + ": answer")
}

// Recv reads the next frame (gunzipping binary gzip frames) and records
// it; a closed connection is recorded with its close code and the
// scenario goes on with a nil frame.
func (w *WS) Recv(step string) map[string]any {
	ctx, cancel := context.WithTimeout(w.s.ctx, 10*time.Second)
	defer cancel()
	typ, b, err := w.conn.Read(ctx)
	if err != nil {
		ex := Exchange{Step: step, WS: "closed"}
		var ce websocket.CloseError
		switch {
		case errors.As(err, &ce):
			ex.Code, ex.Reason = int(ce.Code), normalizeString(ce.Reason, "reason")
		case ctx.Err() != nil:
			ex.Reason = "no frame within 10 s"
		default:
			ex.Reason = "connection lost"
		}
		w.s.records = append(w.s.records, ex)
		return nil
	}
	ex := Exchange{Step: step, WS: "recv"}
	if typ == websocket.MessageBinary {
		if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err == nil {
				if plain, err := io.ReadAll(io.LimitReader(zr, 64<<20)); err == nil {
					b, ex.Gzip = plain, true
				}
			}
		} else {
			ex.Binary = true
		}
	}
	ex.Frame = decodeBody(b)
	w.s.records = append(w.s.records, ex)
	m, _ := rawJSON(b).(map[string]any)
	return m
}

// RecvSet reads n frames whose order the server does not fix (one change
// fanned out to several subscriptions) and records them sorted by
// subscription id.
func (w *WS) RecvSet(step string, n int) {
	start := len(w.s.records)
	for range n {
		if w.Recv(step) == nil {
			break
		}
	}
	got := w.s.records[start:]
	sort.SliceStable(got, func(i, j int) bool { return frameKey(got[i]) < frameKey(got[j]) })
}

func frameKey(e Exchange) string {
	m, _ := e.Frame.(map[string]any)
	id, _ := m["subscription_id"].(string)
	return id
}

// RecvUntil reads frames until one has the given type (recording each),
// at most max frames; nil when none came.
func (w *WS) RecvUntil(step, typ string, max int) map[string]any {
	for range max {
		m := w.Recv(step)
		if m == nil {
			return nil
		}
		if m["type"] == typ {
			return m
		}
	}
	return nil
}

// Close closes the connection normally (not recorded: the client's act).
func (w *WS) Close() { w.conn.Close(websocket.StatusNormalClosure, "") }

func (s *Session) closeAll() {
	for _, w := range s.conns {
		w.conn.CloseNow()
	}
	s.http.CloseIdleConnections()
}
