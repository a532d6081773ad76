package live

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
)

// conn is one WebSocket connection. The handler goroutine reads and
// processes client messages strictly in order (§4.7); one writer goroutine
// drains the outbound queue, so frames leave in the order they were queued.
type conn struct {
	srv *Server
	ws  *websocket.Conn
	id  string // connection_id in system.live

	// Fixed once authenticated (the reader sets them; the writer reads them
	// only for frames queued afterwards, through the queue's mutex).
	identity      engine.Identity
	authed        bool
	authStarted   bool
	headerAuth    bool
	serialization string
	compression   string
	compress      bool
	clientIP      string

	subs map[string]*subscription // by client id; reader goroutine only

	q outQueue

	timerMu   sync.Mutex
	idleTimer *time.Timer
	authTimer *time.Timer

	tokens   float64 // rate limiter, reader goroutine only
	tokensAt time.Time

	cancel context.CancelFunc
}

// outItem is one queued frame: a message, or a close.
type outItem struct {
	msg       obj
	asJSON    bool // auth and error frames stay JSON in msgpack mode (§3.2)
	msgpack   bool // decided by the producer, after authentication
	notif     bool
	closeCode websocket.StatusCode
	reason    string
}

// outQueue is the per-connection send queue. Replies wait for room (only
// the reader produces them); change notifications never wait: beyond the
// cap they are dropped, as the real server's per-connection channel does.
type outQueue struct {
	mu      sync.Mutex
	cond    sync.Cond
	items   []outItem
	replies int
	notifs  int
	closed  bool
}

func (q *outQueue) init() { q.cond.L = &q.mu }

// waitRoom blocks until a reply fits; false when the queue is closed.
func (q *outQueue) waitRoom() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.replies >= replyQueue && !q.closed {
		q.cond.Wait()
	}
	return !q.closed
}

// push queues an item; notif items beyond limit are dropped (false).
func (q *outQueue) push(it outItem, limit int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	if it.notif {
		if limit > 0 && q.notifs >= limit {
			return false
		}
		q.notifs++
	} else {
		q.replies++
	}
	q.items = append(q.items, it)
	q.cond.Broadcast()
	return true
}

func (q *outQueue) pop() (outItem, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return outItem{}, false
	}
	it := q.items[0]
	q.items[0] = outItem{}
	q.items = q.items[1:]
	if it.notif {
		q.notifs--
	} else {
		q.replies--
	}
	q.cond.Broadcast()
	return it, true
}

func (q *outQueue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.items = nil
	q.cond.Broadcast()
	q.mu.Unlock()
}

// reply queues a reply, waiting for room.
func (c *conn) reply(msg obj, asJSON bool) {
	if c.q.waitRoom() {
		c.q.push(outItem{msg: msg, asJSON: asJSON, msgpack: c.serialization == "msgpack"}, 0)
	}
}

func (c *conn) sendError(subID, code, message string) {
	c.reply(obj{{"type", "error"}, {"subscription_id", subID}, {"code", code}, {"message", message}}, true)
}

// closeAfterQueued closes the connection once the frames queued so far
// are written.
func (c *conn) closeAfterQueued(code websocket.StatusCode, reason string) {
	c.q.push(outItem{closeCode: code, reason: reason}, 0)
}

// closeGrace bounds a close handshake: a client that neither reads nor
// answers is cut after it.
const closeGrace = time.Second

// closeNow sends a close frame at once, ahead of anything queued.
func (c *conn) closeNow(code websocket.StatusCode, reason string) {
	c.q.close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.ws.Close(code, reason) // the connection is going away either way
	}()
	select {
	case <-done:
	case <-time.After(closeGrace):
		_ = c.ws.CloseNow()
		<-done
	}
}

// cut drops the connection with no close frame.
func (c *conn) cut() {
	c.q.close()
	_ = c.ws.CloseNow()
}

func (c *conn) touch() {
	c.timerMu.Lock()
	if c.idleTimer != nil {
		c.idleTimer.Reset(c.srv.limits.ClientTimeout)
	}
	c.timerMu.Unlock()
}

func (c *conn) serve(parent context.Context) {
	s := c.srv
	c.q.init()
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	c.cancel = cancel
	defer cancel()
	c.ws.SetReadLimit(-1) // limits are applied per message below

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = c.ws.Close(websocket.StatusGoingAway, "Server shutting down")
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(ctx)
	}()

	c.timerMu.Lock()
	if d := s.limits.ClientTimeout; d > 0 {
		c.idleTimer = time.AfterFunc(d, func() { c.closeNow(websocket.StatusNormalClosure, "Heartbeat timeout") })
	}
	if d := s.limits.AuthTimeout; d > 0 && !c.authed {
		c.authTimer = time.AfterFunc(d, c.authTimeout)
	}
	c.timerMu.Unlock()

	if c.authed {
		c.reply(c.authSuccess(), true)
	}
	c.readLoop(ctx)

	c.timerMu.Lock()
	for _, t := range []*time.Timer{c.idleTimer, c.authTimer} {
		if t != nil {
			t.Stop()
		}
	}
	c.idleTimer, c.authTimer = nil, nil
	c.timerMu.Unlock()
	c.q.close()
	cancel()
	<-writerDone
	_ = c.ws.CloseNow() // already closed in every path that gets here

	for id := range c.subs {
		s.unregister(c.subs[id])
	}
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (c *conn) authTimeout() {
	c.timerMu.Lock()
	started := c.authStarted || c.authTimer == nil
	c.timerMu.Unlock()
	if started {
		return
	}
	// The text is hard-coded on the real server whatever the setting (§2.4).
	c.q.push(outItem{msg: obj{{"type", "auth_error"}, {"message", "Authentication timeout - no auth message received within 3 seconds"}}, asJSON: true}, 0)
	c.closeAfterQueued(websocket.StatusPolicyViolation, "Authentication timeout")
}

func (c *conn) writeLoop(ctx context.Context) {
	for {
		it, ok := c.q.pop()
		if !ok {
			return
		}
		if it.msg == nil {
			c.q.close()
			_ = c.ws.Close(it.closeCode, it.reason) // ends the read loop too
			return
		}
		f, err := encodeFrame(it.msg, it.msgpack && !it.asJSON, c.compress && !(it.asJSON && isAuthFrame(it.msg)))
		if err != nil {
			// A cell that cannot be encoded is a server bug: say so loudly
			// rather than leaving a hole in the stream.
			c.srv.log.Error("ws encode failed; closing connection", "err", err)
			c.q.close()
			_ = c.ws.Close(websocket.StatusInternalError, "encode failed")
			return
		}
		typ := websocket.MessageText
		if f.binary {
			typ = websocket.MessageBinary
		}
		if err := c.ws.Write(ctx, typ, f.data); err != nil {
			c.q.close()
			_ = c.ws.CloseNow()
			return
		}
	}
}

// isAuthFrame: auth_error is always an uncompressed text frame (§2.4).
func isAuthFrame(m obj) bool {
	return len(m) > 0 && m[0].k == "type" && m[0].v == "auth_error"
}

func (c *conn) readLoop(ctx context.Context) {
	lim := c.srv.limits
	for {
		typ, r, err := c.ws.Reader(ctx)
		if err != nil {
			return
		}
		c.touch()
		if typ == websocket.MessageText {
			// actix-ws parses frames with actix-http's default codec
			// (65_536 bytes, ws/codec.rs): a bigger frame is a protocol
			// error that drops the connection with no close frame. Only
			// a text under that but over max_message_size gets
			// MESSAGE_TOO_LARGE (kalamdb-api/src/ws/runtime.rs).
			data, tooBig, err := readCapped(r, actixFrameMax)
			if err != nil {
				return
			}
			if tooBig {
				c.ws.CloseNow()
				return
			}
			if lim.MaxMessageSize > 0 && len(data) > lim.MaxMessageSize {
				c.sendError("protocol", "MESSAGE_TOO_LARGE", fmt.Sprintf("Message exceeds maximum size of %d bytes", lim.MaxMessageSize))
				continue
			}
			if !c.allowMessage() {
				c.sendError("rate_limit", "RATE_LIMIT_EXCEEDED", "Too many messages")
				continue
			}
			v, err := decodeJSON(data)
			if err == nil {
				var m clientMessage
				if m, err = parseClientMessage(v); err == nil {
					c.handle(m)
					continue
				}
				if strings.HasPrefix(err.Error(), "unknown variant ") {
					// serde_json reads the tag while streaming, so its
					// error carries a position (the reason is then cut
					// at 123 bytes); field errors come from buffered
					// content and carry none.
					err = fmt.Errorf("%w at %s", err, serdePos(data, len(data)))
				}
			}
			c.closeAfterQueued(websocket.StatusInternalError, truncateReason("Invalid message: "+err.Error()))
			c.drain(ctx)
			return
		}
		data, tooBig, err := readCapped(r, maxInboundBytes)
		if err != nil {
			return
		}
		if tooBig {
			c.closeAfterQueued(websocket.StatusMessageTooBig, "Message too large")
			c.drain(ctx)
			return
		}
		if !c.authed || c.serialization != "msgpack" {
			c.sendError("protocol", "UNSUPPORTED_DATA", "Binary not supported")
			continue
		}
		m, err := decodeBinary(data)
		if err != nil {
			c.sendError("protocol", "UNSUPPORTED_DATA", err.Error())
			continue
		}
		c.handle(m)
	}
}

// drain keeps reading after a close was queued, so the close handshake
// can complete, until the connection ends.
func (c *conn) drain(ctx context.Context) {
	for {
		_, r, err := c.ws.Reader(ctx)
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
	}
}

// readCapped reads a message up to limit bytes (limit <= 0: no limit);
// beyond it the rest is discarded and tooBig is set.
// actixFrameMax is actix-http's default WebSocket codec max_size.
const actixFrameMax = 65_536

func readCapped(r io.Reader, limit int) (data []byte, tooBig bool, err error) {
	if limit <= 0 {
		data, err = io.ReadAll(io.LimitReader(r, maxInboundBytes+1))
		return data, len(data) > maxInboundBytes, err
	}
	data, err = io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, false, err
	}
	if len(data) > limit {
		_, err = io.Copy(io.Discard, r)
		return nil, true, err
	}
	return data, false, nil
}

// serdePos is serde_json's "line L column C" for the byte offset off.
func serdePos(data []byte, off int) string {
	line, col := 1, 0
	for _, b := range data[:min(off, len(data))] {
		if b == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d column %d", line, col)
}

func truncateReason(s string) string {
	const max = 123 // a close frame's reason fits in 123 bytes
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			// serde_json's text, at the end of the input.
			return nil, errors.New("EOF while parsing a value at " + serdePos(data, len(data)))
		}
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing characters after the JSON value")
	}
	return v, nil
}

// decodeBinary reads a msgpack client message, optionally gzip-wrapped (§3.3).
func decodeBinary(data []byte) (clientMessage, error) {
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return clientMessage{}, errors.New("Failed to decompress binary msgpack")
		}
		plain, err := io.ReadAll(io.LimitReader(zr, maxInboundBytes+1))
		if err != nil {
			return clientMessage{}, errors.New("Failed to decompress binary msgpack")
		}
		if len(plain) > maxInboundBytes {
			return clientMessage{}, fmt.Errorf("Decompressed message exceeds %d bytes", maxInboundBytes)
		}
		data = plain
	}
	v, err := mpDecode(data)
	if err != nil {
		return clientMessage{}, fmt.Errorf("Invalid MessagePack: %v", err)
	}
	m, err := parseClientMessage(v)
	if err != nil {
		return clientMessage{}, fmt.Errorf("Invalid MessagePack: %v", err)
	}
	return m, nil
}

// allowMessage is the per-connection token bucket of §4.7.
func (c *conn) allowMessage() bool {
	rate := c.srv.limits.MaxMessagesPerSecond
	if rate <= 0 {
		return true
	}
	now := time.Now()
	if c.tokensAt.IsZero() {
		c.tokens = float64(rate)
	} else {
		c.tokens = min(float64(rate), c.tokens+now.Sub(c.tokensAt).Seconds()*float64(rate))
	}
	c.tokensAt = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

func (c *conn) authSuccess() obj {
	return obj{{"type", "auth_success"}, {"user", c.identity.UserID}, {"role", string(c.identity.Role)},
		{"protocol", obj{{"serialization", c.serialization}, {"compression", c.compression}}}}
}

func (c *conn) handle(m clientMessage) {
	switch m.typ {
	case "authenticate":
		c.handleAuthenticate(m)
	case "subscribe":
		if !c.authed {
			c.sendError("subscribe", "AUTH_REQUIRED", "Authentication required before subscribing")
			return
		}
		c.subscribe(m)
	case "next_batch":
		if c.authed {
			c.nextBatch(m)
		}
	case "unsubscribe":
		if c.authed {
			if sub := c.subs[m.subID]; sub != nil {
				delete(c.subs, m.subID)
				c.srv.unregister(sub)
			}
		}
	case "ping":
		// Refreshes the heartbeat (done on every frame); no reply (§4.5).
	}
}

func (c *conn) handleAuthenticate(m clientMessage) {
	c.timerMu.Lock()
	c.authStarted = true
	c.timerMu.Unlock()
	if c.authed {
		// Re-authentication echoes the existing identity (§2.4).
		c.reply(c.authSuccess(), true)
		return
	}
	if !c.srv.allowAuth(c.clientIP) {
		c.reply(obj{{"type", "auth_error"}, {"message", "Too many authentication attempts. Please retry shortly."}}, true)
		c.closeAfterQueued(websocket.StatusPolicyViolation, "Authentication failed")
		return
	}
	id, err := c.srv.authenticate(m.token)
	if err != nil {
		c.srv.log.Info("ws authentication failed", "reason", err.Error())
		c.reply(obj{{"type", "auth_error"}, {"message", "Invalid credentials"}}, true)
		c.closeAfterQueued(websocket.StatusPolicyViolation, "Authentication failed")
		return
	}
	c.identity, c.authed = id, true
	c.serialization, c.compression = m.serialization, m.compression
	c.reply(c.authSuccess(), true)
}
