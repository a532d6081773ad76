//go:build !js

// Package fakews is a scripted KalamDB /v1/ws endpoint for the SDK's tests:
// one table per name keyed by "id", a global _seq above 2^53, snapshot
// paging, resume with from, server-side flow control (changes buffered
// while a snapshot loads), a per-connection message rate limit, gzip and
// MessagePack frames, and controls to cut connections. It follows
// ws-protocol.md; it is not the emulator and is never shipped.
package fakews

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// BaseSeq is where _seq starts: above 2^53 so a float64 decode would show.
const BaseSeq = int64(300000000000000001)

// Server is an http.Handler serving /v1/ws.
type Server struct {
	// Token is the only JWT accepted ("" accepts any non-empty token).
	Token string
	// TokenOK, when set, decides instead of Token.
	TokenOK func(string) bool
	// RateLimit drops client text messages above this many per second per
	// connection (0: no limit), as the server does.
	RateLimit int
	// Gzip compresses frames of 512 bytes and more into binary frames.
	Gzip bool
	// Msgpack answers ack/batch/change frames in MessagePack when the
	// client asks for it.
	Msgpack bool
	// NoFlowControl sends changes at once even while a snapshot loads (the
	// real server holds them; this checks the client's own bound).
	NoFlowControl bool
	// OnMessage sees every client message (after auth), before it is
	// handled; returning false drops it silently.
	OnMessage func(conn int, msg map[string]any) bool
	// Rewrite, when set, may replace the encoded form of every data
	// message (ack, batch, change) before it is compressed: a test's
	// poison frames.
	Rewrite func(p []byte) []byte

	mu     sync.Mutex
	seq    int64
	tables map[string]*table
	conns  map[int]*conn
	nextID int
	log    []string // types of client messages, in order
	dials  int
	tokens []string
}

type table struct {
	rows map[string]map[string]any // id -> row (with _seq, _deleted)
}

type conn struct {
	id      int
	ws      *websocket.Conn
	msgpack bool
	subs    map[string]*sub
	cancel  context.CancelFunc
	bucket  []time.Time
}

type sub struct {
	table     string
	batchSize int
	boundary  int64
	loading   bool
	buffered  [][]byte
	kinds     []string
	liveOnly  bool
	sentUpTo  int64
}

// New returns an empty server.
func New() *Server { return NewFromSeq(BaseSeq) }

// NewFromSeq returns an empty server whose first _seq is first: nodes of
// a cluster stamp one row with different _seq values.
func NewFromSeq(first int64) *Server {
	return &Server{seq: first - 1, tables: map[string]*table{}, conns: map[int]*conn{}}
}

func (s *Server) tableLocked(name string) *table {
	t := s.tables[name]
	if t == nil {
		t = &table{rows: map[string]map[string]any{}}
		s.tables[name] = t
	}
	return t
}

// Insert adds (or replaces) row id in table and notifies subscribers; it
// returns the row's _seq.
func (s *Server) Insert(tbl, id string, fields map[string]any) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	row := map[string]any{"id": id, "_seq": strconv.FormatInt(s.seq, 10), "_deleted": false}
	for k, v := range fields {
		row[k] = v
	}
	s.tableLocked(tbl).rows[id] = row
	s.notifyLocked(tbl, "insert", []map[string]any{row}, nil, s.seq)
	return s.seq
}

// Update changes fields of row id and notifies with old values.
func (s *Server) Update(tbl, id string, fields map[string]any) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tableLocked(tbl)
	old := t.rows[id]
	s.seq++
	row := map[string]any{}
	for k, v := range old {
		row[k] = v
	}
	oldDelta := map[string]any{"id": id, "_seq": old["_seq"]}
	for k, v := range fields {
		oldDelta[k] = old[k]
		row[k] = v
	}
	row["_seq"] = strconv.FormatInt(s.seq, 10)
	t.rows[id] = row
	s.notifyLocked(tbl, "update", []map[string]any{row}, []map[string]any{oldDelta}, s.seq)
	return s.seq
}

// Delete soft-deletes row id and notifies with the tombstone.
func (s *Server) Delete(tbl, id string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tableLocked(tbl)
	s.seq++
	row := map[string]any{}
	for k, v := range t.rows[id] {
		row[k] = v
	}
	row["_seq"] = strconv.FormatInt(s.seq, 10)
	row["_deleted"] = true
	t.rows[id] = row
	s.notifyLocked(tbl, "delete", nil, []map[string]any{row}, s.seq)
	return s.seq
}

// MaxSeq is the highest _seq written.
func (s *Server) MaxSeq() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// CutAll closes every connection without a close frame and returns how many.
func (s *Server) CutAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.conns)
	for _, c := range s.conns {
		c.cancel()
		c.ws.CloseNow()
	}
	return n
}

// Inject sends a raw text frame on every open connection.
func (s *Server) Inject(frame string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		s.writeLocked(context.Background(), c, append([]byte{'t'}, frame...))
	}
}

// Conns returns the number of open connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Dials returns how many upgrades were accepted.
func (s *Server) Dials() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dials
}

// Tokens returns the tokens connections authenticated with, in order.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tokens)
}

// Log returns the types of client messages received, in order.
func (s *Server) Log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// ActiveSubs returns the number of subscriptions registered on open
// connections.
func (s *Server) ActiveSubs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.conns {
		n += len(c.subs)
	}
	return n
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/ws" {
		http.NotFound(w, r)
		return
	}
	headerTok, headerAuth := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if headerAuth && !s.tokenOK(headerTok) {
		http.Error(w, "Invalid token", http.StatusUnauthorized)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	s.mu.Lock()
	s.nextID++
	s.dials++
	c := &conn{id: s.nextID, ws: ws, subs: map[string]*sub{}, cancel: cancel}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c.id)
		s.mu.Unlock()
		ws.CloseNow()
	}()
	wantMsgpack := s.Msgpack && strings.Contains(strings.ToLower(r.URL.RawQuery), "serialization=msgpack")
	if headerAuth {
		s.authOK(ctx, c, headerTok, wantMsgpack)
	} else {
		_, p, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var m struct {
			Type     string `json:"type"`
			Token    string `json:"token"`
			Protocol struct {
				Serialization string `json:"serialization"`
			} `json:"protocol"`
		}
		if json.Unmarshal(p, &m) != nil || m.Type != "authenticate" || !s.tokenOK(m.Token) {
			ws.Write(ctx, websocket.MessageText, []byte(`{"type":"auth_error","message":"Invalid credentials"}`))
			ws.Close(websocket.StatusPolicyViolation, "Authentication failed")
			return
		}
		s.authOK(ctx, c, m.Token, s.Msgpack && m.Protocol.Serialization == "msgpack")
	}
	for {
		typ, p, err := ws.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			s.send(ctx, c, map[string]any{"type": "error", "subscription_id": "protocol", "code": "UNSUPPORTED_DATA", "message": "Binary not supported"}, false)
			continue
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(p))
		dec.UseNumber() // sequence ids exceed 2^53
		if err := dec.Decode(&m); err != nil {
			ws.Close(websocket.StatusInternalError, "Invalid message: "+err.Error())
			return
		}
		s.handle(ctx, c, m)
	}
}

func (s *Server) tokenOK(t string) bool {
	if s.TokenOK != nil {
		return s.TokenOK(t)
	}
	return t != "" && (s.Token == "" || t == s.Token)
}

func (s *Server) authOK(ctx context.Context, c *conn, tok string, msgpack bool) {
	s.mu.Lock()
	s.conns[c.id] = c
	s.tokens = append(s.tokens, tok)
	c.msgpack = msgpack
	ser := "json"
	if msgpack {
		ser = "msgpack"
	}
	s.sendLocked(ctx, c, map[string]any{"type": "auth_success", "user": "u1", "role": "user",
		"protocol": map[string]any{"serialization": ser, "compression": "gzip"}}, false)
	s.mu.Unlock()
}

func (s *Server) handle(ctx context.Context, c *conn, m map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	typ, _ := m["type"].(string)
	if s.RateLimit > 0 {
		now := time.Now()
		keep := c.bucket[:0]
		for _, t := range c.bucket {
			if now.Sub(t) < time.Second {
				keep = append(keep, t)
			}
		}
		c.bucket = keep
		if len(c.bucket) >= s.RateLimit {
			s.sendLocked(ctx, c, map[string]any{"type": "error", "subscription_id": "rate_limit", "code": "RATE_LIMIT_EXCEEDED", "message": "Too many messages"}, false)
			return
		}
		c.bucket = append(c.bucket, now)
	}
	s.log = append(s.log, typ)
	if s.OnMessage != nil {
		s.mu.Unlock()
		keep := s.OnMessage(c.id, m)
		s.mu.Lock()
		if !keep {
			return
		}
	}
	switch typ {
	case "subscribe":
		spec, _ := m["subscription"].(map[string]any)
		id, _ := spec["id"].(string)
		sql, _ := spec["sql"].(string)
		s.subscribeLocked(ctx, c, id, sql, spec["options"])
	case "next_batch":
		id, _ := m["subscription_id"].(string)
		sb := c.subs[id]
		if sb == nil {
			s.sendLocked(ctx, c, errMsg(id, "BATCH_FETCH_FAILED", "Not found: Subscription not found: "+id), false)
			return
		}
		lastSeq, _ := num(m["last_seq_id"])
		s.sendBatchLocked(ctx, c, id, sb, lastSeq, 0, false)
	case "unsubscribe":
		id, _ := m["subscription_id"].(string)
		delete(c.subs, id)
	case "ping":
	}
}

func num(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func errMsg(id, code, msg string) map[string]any {
	return map[string]any{"type": "error", "subscription_id": id, "code": code, "message": msg}
}

func (s *Server) subscribeLocked(ctx context.Context, c *conn, id, sql string, rawOpts any) {
	if strings.TrimSpace(id) == "" {
		s.sendLocked(ctx, c, errMsg("invalid_subscription", "INVALID_SUBSCRIPTION_ID", "blank id"), false)
		return
	}
	f := strings.Fields(sql)
	tbl := ""
	for i, w := range f {
		if strings.EqualFold(w, "FROM") && i+1 < len(f) {
			tbl = f[i+1]
		}
	}
	if !strings.Contains(tbl, ".") {
		s.sendLocked(ctx, c, errMsg(id, "INVALID_SQL", "Invalid SQL: Query must use namespace.table format"), false)
		return
	}
	if _, ok := s.tables[tbl]; !ok {
		s.sendLocked(ctx, c, errMsg(id, "NOT_FOUND", "Not found: Table not found: "+tbl), false)
		return
	}
	sb := &sub{table: tbl, batchSize: 1000}
	c.subs[id] = sb
	schema := []any{
		map[string]any{"name": "id", "data_type": "Text", "index": 0, "flags": []any{"pk", "nn", "uq"}},
		map[string]any{"name": "body", "data_type": "Text", "index": 1},
		map[string]any{"name": "n", "data_type": "BigInt", "index": 2},
		map[string]any{"name": "_seq", "data_type": "BigInt", "index": 3},
		map[string]any{"name": "_deleted", "data_type": "Boolean", "index": 4},
	}
	opts, _ := rawOpts.(map[string]any)
	if opts == nil {
		sb.liveOnly = true
		s.sendLocked(ctx, c, map[string]any{"type": "subscription_ack", "subscription_id": id, "total_rows": 0,
			"batch_control": map[string]any{"batch_num": 0, "has_more": false, "status": "ready", "last_seq_id": nil, "snapshot_end_seq": nil},
			"schema":        schema}, true)
		return
	}
	if v, ok := num(opts["batch_size"]); ok {
		sb.batchSize = int(v)
	}
	from := int64(-1)
	if v, ok := num(opts["from"]); ok {
		from = v
	}
	sb.boundary = s.seq
	if v, ok := num(opts["snapshot_end_seq"]); ok && from >= 0 {
		sb.boundary = v
	}
	sb.loading = true
	last := 0
	if v, ok := num(opts["last_rows"]); ok && from < 0 {
		last = int(v)
	}
	s.sendBatchLocked(ctx, c, id, sb, from, last, true, schema)
}

// snapshotLocked lists live rows with after < _seq <= boundary by _seq.
func (s *Server) snapshotLocked(sb *sub, after int64) []map[string]any {
	var rows []map[string]any
	for _, r := range s.tables[sb.table].rows {
		seq := seqOf(r)
		if seq > after && seq <= sb.boundary && r["_deleted"] != true {
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(a, b map[string]any) int { return int(seqOf(a) - seqOf(b)) })
	return rows
}

func seqOf(r map[string]any) int64 {
	n, _ := strconv.ParseInt(r["_seq"].(string), 10, 64)
	return n
}

func (s *Server) sendBatchLocked(ctx context.Context, c *conn, id string, sb *sub, after int64, lastRows int, first bool, schema ...[]any) {
	rows := s.snapshotLocked(sb, after)
	hasMore := false
	if lastRows > 0 && len(rows) > lastRows {
		rows = rows[len(rows)-lastRows:]
		hasMore = true
	} else if len(rows) > sb.batchSize {
		rows, hasMore = rows[:sb.batchSize], true
	}
	num := 0
	if !first {
		num = 1
	}
	status := "ready"
	switch {
	case hasMore && first:
		status = "loading"
	case hasMore:
		status = "loading_batch"
	}
	var lastSeq any
	if len(rows) > 0 {
		lastSeq = seqOf(rows[len(rows)-1])
	}
	bc := map[string]any{"batch_num": num, "has_more": hasMore, "status": status, "last_seq_id": lastSeq, "snapshot_end_seq": sb.boundary}
	if first {
		s.sendLocked(ctx, c, map[string]any{"type": "subscription_ack", "subscription_id": id, "total_rows": 0, "batch_control": bc, "schema": schema[0]}, true)
	}
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	s.sendLocked(ctx, c, map[string]any{"type": "initial_data_batch", "subscription_id": id, "rows": out, "batch_control": bc}, true)
	if !hasMore && sb.loading {
		sb.loading = false
		for _, b := range sb.buffered {
			s.writeLocked(ctx, c, b)
		}
		sb.buffered = nil
	}
}

func (s *Server) notifyLocked(tbl, kind string, rows, old []map[string]any, seq int64) {
	msg := map[string]any{"type": "change", "change_type": kind}
	if rows != nil {
		msg["rows"] = toAny(rows)
	}
	if old != nil {
		msg["old_values"] = toAny(old)
	}
	ctx := context.Background()
	for _, c := range s.conns {
		for id, sb := range c.subs {
			if sb.table != tbl {
				continue
			}
			msg["subscription_id"] = id
			frame := s.encode(c, msg, true)
			if sb.loading && !s.NoFlowControl {
				if seq > sb.boundary {
					sb.buffered = append(sb.buffered, frame)
				}
				continue
			}
			s.writeLocked(ctx, c, frame)
		}
	}
}

func toAny(rows []map[string]any) []any {
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	return out
}

func (s *Server) send(ctx context.Context, c *conn, msg map[string]any, data bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sendLocked(ctx, c, msg, data)
}

func (s *Server) sendLocked(ctx context.Context, c *conn, msg map[string]any, data bool) {
	s.writeLocked(ctx, c, s.encode(c, msg, data))
}

// frame is an encoded message with its kind (binary or text).
type frame = []byte

// encode returns the frame with a leading kind byte: 't' text, 'b' binary.
func (s *Server) encode(c *conn, msg map[string]any, data bool) frame {
	var p []byte
	binary := false
	if data && c.msgpack {
		p, binary = EncodeMsgpack(msg), true
	} else {
		p, _ = json.Marshal(msg)
	}
	if data && s.Rewrite != nil {
		p = s.Rewrite(p)
	}
	if s.Gzip && len(p) >= 512 {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(p)
		zw.Close()
		if buf.Len() < len(p) {
			p, binary = buf.Bytes(), true
		}
	}
	kind := byte('t')
	if binary {
		kind = 'b'
	}
	return append([]byte{kind}, p...)
}

func (s *Server) writeLocked(ctx context.Context, c *conn, f frame) {
	typ := websocket.MessageText
	if f[0] == 'b' {
		typ = websocket.MessageBinary
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, typ, f[1:]); err != nil {
		c.cancel()
	}
}

// EncodeMsgpack writes v (maps, slices, strings, ints, floats, bools, nil)
// in MessagePack, as rmp_serde's named form does.
func EncodeMsgpack(v any) []byte {
	var b []byte
	var enc func(v any)
	enc = func(v any) {
		switch x := v.(type) {
		case nil:
			b = append(b, 0xc0)
		case bool:
			if x {
				b = append(b, 0xc3)
			} else {
				b = append(b, 0xc2)
			}
		case int:
			enc(int64(x))
		case int64:
			b = append(b, 0xd3)
			b = appendU64(b, uint64(x))
		case float64:
			b = append(b, 0xcb)
			b = appendU64(b, mathFloat64bits(x))
		case string:
			b = append(b, 0xdb)
			b = appendU32(b, uint32(len(x)))
			b = append(b, x...)
		case []any:
			b = append(b, 0xdd)
			b = appendU32(b, uint32(len(x)))
			for _, e := range x {
				enc(e)
			}
		case map[string]any:
			b = append(b, 0xdf)
			b = appendU32(b, uint32(len(x)))
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				enc(k)
				enc(x[k])
			}
		default:
			panic(fmt.Sprintf("fakews: cannot encode %T", v))
		}
	}
	enc(v)
	return b
}
