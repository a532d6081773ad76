package live

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
)

// subscription is one live query on one connection.
type subscription struct {
	id       string
	conn     *conn
	user     string
	tableKey string // ns.table
	q        *subQuery
	filter   *filterNode // nil: every change passes
	allCols  []string    // table columns in order, with _seq and _deleted
	numeric  map[string]bool
	schema   []engine.Column // the ack schema

	// Paging state; reader goroutine only.
	initial   bool   // options were given: a snapshot was requested
	since     *int64 // options.from
	batchSize int
	batchNum  int

	// For system.live (system.go): set at creation, then counters under mu.
	sql       string
	options   string
	createdMS int64
	changes   int64
	updatedMS int64

	mu       sync.Mutex // guards the flow-control state below
	closed   bool
	loading  bool
	boundary int64 // snapshot_end_seq; 0 when none
	cutSet   bool
	dropUpTo int64 // changes with _seq <= dropUpTo are covered by the snapshot
	buffer   []engine.Change
}

func mapEngineError(e *engine.Error, tableKey string) *queryError {
	switch {
	case e.HTTPStatus == 403 || e.Code == "PERMISSION_DENIED":
		return &queryError{code: "UNAUTHORIZED", msg: "Permission denied: " + e.Message}
	case strings.Contains(e.Message, "Table not found") || strings.Contains(e.Message, "table not found"):
		// TableId displays as "ns:table" (kalamdb-live/src/manager/queries_manager.rs).
		return &queryError{code: "NOT_FOUND", msg: "Not found: Table not found: " + strings.Replace(tableKey, ".", ":", 1)}
	}
	return &queryError{code: "SUBSCRIPTION_FAILED", msg: "Execution error: " + e.Message}
}

// query runs one statement as the subscriber, so row visibility, masking
// and access rules are the engine's.
func (c *conn) query(sql string) (engine.Result, *engine.Error) {
	eng := c.srv.opts.Engine
	if eng == nil {
		return engine.Result{}, &engine.Error{Code: "INTERNAL_ERROR", Message: "no engine configured"}
	}
	res, err := eng.Execute(engine.Request{Identity: c.identity, SQL: sql})
	if err != nil {
		return engine.Result{}, err
	}
	if len(res) != 1 {
		return engine.Result{}, &engine.Error{Code: "INTERNAL_ERROR", Message: fmt.Sprintf("engine returned %d results for one statement", len(res))}
	}
	return res[0], nil
}

// cutSeq takes a fresh Snowflake id from the engine: every change committed
// before it has a smaller _seq, every later one a bigger _seq, so it splits
// "in the snapshot" from "delivered live" exactly, whatever the clock does.
func (c *conn) cutSeq() (int64, *queryError) {
	res, err := c.query("SELECT SNOWFLAKE_ID()")
	if err != nil {
		return 0, &queryError{code: "SUBSCRIPTION_FAILED", msg: "Execution error: " + err.Message}
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		return 0, &queryError{code: "SUBSCRIPTION_FAILED", msg: "Execution error: SNOWFLAKE_ID() returned no value"}
	}
	seq, ok := cellInt(res.Rows[0][0])
	if !ok {
		return 0, &queryError{code: "SUBSCRIPTION_FAILED", msg: fmt.Sprintf("Execution error: SNOWFLAKE_ID() returned %s", res.Rows[0][0])}
	}
	return seq, nil
}

// cellInt reads a BigInt cell ("42" or 42).
func cellInt(cell json.RawMessage) (int64, bool) {
	s := strings.Trim(string(cell), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func (c *conn) subscribe(m clientMessage) {
	s := c.srv
	if strings.TrimSpace(m.subID) == "" {
		c.sendError("invalid_subscription", "INVALID_SUBSCRIPTION_ID", "Subscription ID cannot be empty")
		return
	}
	if old := c.subs[m.subID]; old != nil {
		// The same id replaces the active subscription (§4.2).
		delete(c.subs, m.subID)
		s.unregister(old)
	}
	if !s.userHasRoom(c.identity.UserID) {
		c.sendError(m.subID, "SUBSCRIPTION_LIMIT_EXCEEDED", "Maximum subscriptions reached")
		return
	}
	sub, qe := c.prepare(m)
	if qe == nil {
		qe = c.start(sub, m)
	}
	if qe != nil {
		if sub != nil {
			s.unregister(sub)
			delete(c.subs, m.subID)
		}
		c.sendError(m.subID, qe.code, qe.msg)
	}
}

// prepare validates the query and resolves the table's columns.
func (c *conn) prepare(m clientMessage) (*subscription, *queryError) {
	q, qe := analyzeSubscription(m.sql)
	if qe != nil {
		return nil, qe
	}
	if limit := c.srv.limits.MaxSubscriptionsPerConnection; limit > 0 && len(c.subs) >= limit {
		return nil, &queryError{code: "UNSUPPORTED", msg: fmt.Sprintf("Invalid operation: Maximum subscriptions (%d) per connection exceeded", limit)}
	}
	tableKey := q.namespace + "." + q.table
	full, err := c.query("SELECT * FROM " + q.fromText + " LIMIT 0")
	if err != nil {
		return nil, mapEngineError(err, tableKey)
	}
	sub := &subscription{id: m.subID, conn: c, user: c.identity.UserID, tableKey: tableKey, q: q, numeric: map[string]bool{},
		sql: m.sql, options: optionsJSON(m), createdMS: c.srv.opts.Now().UnixMilli()}
	for _, col := range full.Schema {
		sub.allCols = append(sub.allCols, col.Name)
		if t := strings.Trim(string(col.DataType), `"`); t == "BigInt" || strings.HasPrefix(string(col.DataType), `{"Decimal"`) {
			sub.numeric[col.Name] = true
		}
	}
	sub.schema = projectSchema(full.Schema, q.columns)
	if q.where != "" {
		f, ok := parseFilter(q.where, c.identity.UserID)
		if !ok {
			// Beyond what the live filter parses: if the engine rejects it,
			// it is invalid SQL; if not, it is an expression the real
			// evaluator cannot evaluate, so no live event passes (§14).
			if _, err := c.query("SELECT * FROM " + q.fromText + " WHERE " + q.where + " LIMIT 0"); err != nil {
				return nil, &queryError{code: "INVALID_SQL", msg: "Invalid SQL: " + err.Message}
			}
			f = &filterNode{kind: 'x', what: "expression outside the live filter's grammar"}
		}
		sub.filter = f
	}
	return sub, nil
}

// projectSchema keeps the projected columns that exist (case-insensitive),
// indexed by projection position, with flags in the server's pk,nn,uq order.
func projectSchema(all []engine.Column, cols []string) []engine.Column {
	var out []engine.Column
	if cols == nil {
		out = slices.Clone(all)
	} else {
		for i, name := range cols {
			for _, col := range all {
				if strings.EqualFold(col.Name, name) {
					col.Index = i
					out = append(out, col)
					break
				}
			}
		}
	}
	for i := range out {
		var flags []string
		for _, f := range []string{"pk", "nn", "uq"} {
			if slices.Contains(out[i].Flags, f) {
				flags = append(flags, f)
			}
		}
		out[i].Flags = flags
	}
	return out
}

// start registers the subscription, then sends the ack and batch #0.
// Registration comes first so no change committed meanwhile is missed.
func (c *conn) start(sub *subscription, m clientMessage) *queryError {
	s := c.srv
	sub.loading = true
	if !s.register(sub) {
		return &queryError{code: "SUBSCRIPTION_LIMIT_EXCEEDED", msg: "Maximum subscriptions reached"}
	}
	c.subs[sub.id] = sub
	cut, qe := c.cutSeq()
	if qe != nil {
		return qe
	}
	opts := m.options
	sub.initial = m.hasOptions
	sub.since = opts.from
	sub.batchSize = s.limits.DefaultBatchSize
	if opts.batchSize != nil {
		sub.batchSize = int(min(*opts.batchSize, 1<<31))
	}
	boundary := cut
	if opts.from != nil && opts.snapshotEnd != nil {
		boundary = *opts.snapshotEnd // honoured only with from (§7.2)
	}

	if !sub.initial || sub.batchSize == 0 {
		// Live only, or an empty snapshot (batch_size 0): ready at once.
		bc := batchControl(0, false, nil, nil)
		c.q.waitRoom()
		sub.mu.Lock()
		sub.cutSet, sub.dropUpTo = true, cut
		c.pushReply(ackMessage(sub, bc))
		if sub.initial {
			c.pushReply(batchMessage(sub, nil, bc))
		}
		sub.goLive()
		sub.mu.Unlock()
		return nil
	}

	sub.mu.Lock()
	sub.boundary, sub.cutSet, sub.dropUpTo = boundary, true, boundary
	sub.mu.Unlock()

	var rows []obj
	var hasMore bool
	var err *queryError
	if opts.lastRows != nil && opts.from == nil {
		n := int(*opts.lastRows)
		rows, err = c.fetch(sub, nil, boundary, n+1, true)
		if err == nil {
			hasMore = len(rows) > n
			rows = rows[:min(n, len(rows))]
			slices.Reverse(rows)
		}
	} else {
		rows, err = c.fetch(sub, sub.since, boundary, sub.batchSize+1, false)
		if err == nil {
			hasMore = len(rows) > sub.batchSize
			rows = rows[:min(sub.batchSize, len(rows))]
		}
	}
	if err != nil {
		return err
	}
	bc := batchControl(0, hasMore, lastSeqOf(rows), &boundary)
	c.q.waitRoom()
	sub.mu.Lock()
	c.pushReply(ackMessage(sub, bc))
	c.pushReply(batchMessage(sub, rows, bc))
	if !hasMore {
		sub.goLive()
	}
	sub.mu.Unlock()
	return nil
}

// pushReply queues a reply without waiting (the caller made room first).
func (c *conn) pushReply(msg obj) {
	c.q.push(outItem{msg: msg, msgpack: c.serialization == "msgpack"}, 0)
}

func (c *conn) nextBatch(m clientMessage) {
	sub := c.subs[m.subID]
	if sub == nil {
		c.sendError(m.subID, "BATCH_FETCH_FAILED", "Not found: Subscription not found: "+m.subID)
		return
	}
	if !sub.initial {
		c.sendError(m.subID, "BATCH_FETCH_FAILED", "Invalid operation: Subscription "+m.subID+" was created without initial data loading")
		return
	}
	after := m.lastSeq
	if after == nil {
		after = sub.since // no cursor: the snapshot starts over (§4.3)
	}
	sub.mu.Lock()
	boundary := sub.boundary
	sub.mu.Unlock()
	rows, qe := c.fetch(sub, after, boundary, sub.batchSize+1, false)
	if qe != nil {
		c.sendError(m.subID, "BATCH_FETCH_FAILED", qe.msg)
		return
	}
	hasMore := len(rows) > sub.batchSize
	rows = rows[:min(sub.batchSize, len(rows))]
	sub.batchNum++
	var bnd *int64
	if boundary != 0 {
		bnd = &boundary
	}
	bc := batchControl(sub.batchNum, hasMore, lastSeqOf(rows), bnd)
	c.q.waitRoom()
	sub.mu.Lock()
	c.pushReply(batchMessage(sub, rows, bc))
	if !hasMore && sub.loading {
		sub.goLive()
	}
	sub.mu.Unlock()
}

// fetch reads up to n snapshot rows with after < _seq <= upto, ordered by
// _seq (descending for last_rows). It pages in chunks the engine returns
// whole and stops only on an empty chunk, so an engine row cap can never
// cut a batch short unnoticed.
func (c *conn) fetch(sub *subscription, after *int64, upto int64, n int, desc bool) ([]obj, *queryError) {
	q := sub.q
	sel := "*"
	if q.columns != nil {
		quoted := make([]string, len(q.columns))
		for i, col := range q.columns {
			quoted[i] = quoteIdent(col)
		}
		sel = strings.Join(quoted, ", ") + ", _seq"
	}
	var rows []obj
	cursor := after
	for len(rows) < n {
		conds := []string{"_seq <= " + strconv.FormatInt(upto, 10)}
		order := "ASC"
		if desc {
			order = "DESC"
			if cursor != nil {
				conds = append(conds, "_seq < "+strconv.FormatInt(*cursor, 10))
			}
		} else if cursor != nil {
			conds = append(conds, "_seq > "+strconv.FormatInt(*cursor, 10))
		}
		if q.where != "" {
			conds = append(conds, "("+q.where+")")
		}
		chunk := min(n-len(rows), engineRowCap)
		sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY _seq %s LIMIT %d", sel, q.fromText, strings.Join(conds, " AND "), order, chunk)
		res, err := c.query(sql)
		if err != nil {
			return nil, mapEngineError(err, sub.tableKey)
		}
		if len(res.Rows) == 0 {
			break
		}
		seqAt := -1
		for i, col := range res.Schema {
			if col.Name == "_seq" {
				seqAt = i // for a projection, the _seq we appended is the last one
			}
		}
		if seqAt < 0 {
			return nil, &queryError{code: "SUBSCRIPTION_FAILED", msg: "Execution error: snapshot query returned no _seq column"}
		}
		for _, r := range res.Rows {
			row := make(obj, 0, len(r))
			for i, cell := range r {
				if i < len(res.Schema) && (i == seqAt || res.Schema[i].Name != "_seq") {
					row = append(row, kv{res.Schema[i].Name, cell})
				}
			}
			rows = append(rows, row)
			seq, ok := cellInt(r[seqAt])
			if !ok {
				return nil, &queryError{code: "SUBSCRIPTION_FAILED", msg: fmt.Sprintf("Execution error: row _seq %s is not an integer", r[seqAt])}
			}
			cursor = &seq
		}
	}
	return rows, nil
}

func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func lastSeqOf(rows []obj) *int64 {
	if len(rows) == 0 {
		return nil
	}
	var best *int64
	for _, r := range rows {
		for _, e := range r {
			if e.k == "_seq" {
				if n, ok := cellInt(e.v.(json.RawMessage)); ok && (best == nil || n > *best) {
					best = &n
				}
			}
		}
	}
	return best
}

// batchControl builds BatchControl with BatchControl::new's status rule (§5.3).
func batchControl(num int, hasMore bool, lastSeq, boundary *int64) obj {
	status := "ready"
	switch {
	case hasMore && num == 0:
		status = "loading"
	case hasMore:
		status = "loading_batch"
	}
	opt := func(p *int64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	return obj{{"batch_num", num}, {"has_more", hasMore}, {"status", status}, {"last_seq_id", opt(lastSeq)}, {"snapshot_end_seq", opt(boundary)}}
}

func ackMessage(sub *subscription, bc obj) obj {
	schema := make([]obj, len(sub.schema))
	for i, col := range sub.schema {
		o := obj{{"name", col.Name}, {"data_type", col.DataType}, {"index", col.Index}}
		if len(col.Flags) > 0 {
			flags := make([]json.RawMessage, len(col.Flags))
			for j, f := range col.Flags {
				flags[j] = json.RawMessage(`"` + f + `"`)
			}
			o = append(o, kv{"flags", flags})
		}
		schema[i] = o
	}
	return obj{{"type", "subscription_ack"}, {"subscription_id", sub.id}, {"total_rows", 0}, {"batch_control", bc}, {"schema", schema}}
}

func batchMessage(sub *subscription, rows []obj, bc obj) obj {
	if rows == nil {
		rows = []obj{}
	}
	return obj{{"type", "initial_data_batch"}, {"subscription_id", sub.id}, {"rows", rows}, {"batch_control", bc}}
}

// goLive ends the initial load: buffered changes newer than the snapshot
// go out in _seq order, then changes flow directly. Caller holds sub.mu.
func (sub *subscription) goLive() {
	buf := sub.buffer
	sub.buffer, sub.loading = nil, false
	sort.SliceStable(buf, func(i, j int) bool { return buf[i].Seq < buf[j].Seq })
	for _, ch := range buf {
		if sub.covered(ch) {
			continue
		}
		if !sub.deliver(ch) {
			// As complete_initial_load (kalamdb-live/src/models/connection.rs):
			// the first full queue ends the flush, the rest is dropped.
			return
		}
	}
}

// covered reports a change the snapshot already reflects (§6.3). Stream
// hard deletes carry no _seq of their own and are never covered.
func (sub *subscription) covered(ch engine.Change) bool {
	if ch.TableType == "stream" && ch.Op == engine.OpDelete {
		return false
	}
	return sub.cutSet && ch.Seq <= sub.dropUpTo
}

// deliver queues a change message, or drops it when the connection's
// queue is full, telling the client nothing, exactly as KalamDB does: its
// per-connection channel holds NOTIFICATION_CHANNEL_CAPACITY = 256
// (kalamdb-live/src/models/connection.rs) and a full one only logs
// "Notification channel full ..., dropping notification"
// (kalamdb-live/src/notification.rs, try_send / TrySendError::Full); the
// link stays up and no notice is sent. It reports false for a drop; the
// caller holds sub.mu.
func (sub *subscription) deliver(ch engine.Change) bool {
	c := sub.conn
	s := c.srv
	sub.changes++
	sub.updatedMS = s.opts.Now().UnixMilli()
	if !c.q.push(outItem{msg: sub.changeMessage(ch), notif: true, msgpack: c.serialization == "msgpack"}, s.limits.NotificationQueue) {
		if c.q.isClosed() {
			return true // the connection is going away; nothing is waiting for this
		}
		s.mu.Lock()
		s.dropped++
		s.mu.Unlock()
		s.log.Warn("ws notification dropped: connection send queue full", "subscription", sub.id, "user", sub.user, "seq", ch.Seq)
		return false
	}
	return true
}

// offer routes one committed change to this subscription (§13, §14, §6.3).
func (sub *subscription) offer(ch engine.Change) {
	if ch.TableType != "shared" && ch.UserID != sub.user {
		return // USER and STREAM notifications are indexed by owner
	}
	if sub.filter != nil {
		ok, err := sub.filter.matches(rowView{row: ch.Row, numeric: sub.numeric}, 0)
		if err != nil {
			sub.conn.srv.log.Debug("ws live filter failed; change skipped", "subscription", sub.id, "err", err)
			return
		}
		if !ok {
			return
		}
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	switch {
	case sub.closed || sub.covered(ch):
	case sub.loading:
		limit := sub.conn.srv.limits.MaxBufferedChanges
		if limit > 0 && len(sub.buffer) >= limit {
			sub.buffer = slices.Delete(sub.buffer, 0, 1)
			s := sub.conn.srv
			s.mu.Lock()
			s.evicted++
			s.mu.Unlock()
			s.log.Warn("ws change evicted from a loading subscription's buffer", "subscription", sub.id, "limit", limit)
		}
		sub.buffer = append(sub.buffer, ch)
	default:
		sub.deliver(ch)
	}
}

// changeMessage builds the change notification as [LIVE]/notification.rs
// projects it (§5.4).
func (sub *subscription) changeMessage(ch engine.Change) obj {
	msg := obj{{"type", "change"}, {"subscription_id", sub.id}, {"change_type", string(ch.Op)}}
	switch ch.Op {
	case engine.OpInsert:
		return append(msg, kv{"rows", []obj{sub.projectRow(ch)}})
	case engine.OpUpdate:
		newRow, oldRow := sub.updateDelta(ch)
		return append(msg, kv{"rows", []obj{newRow}}, kv{"old_values", []obj{oldRow}})
	}
	if ch.TableType == "stream" {
		rowID := fmt.Sprintf("%s:%d", ch.UserID, ch.Seq)
		return append(msg, kv{"old_values", []obj{{{"row_id", rowID}}}})
	}
	return append(msg, kv{"old_values", []obj{sub.projectRow(ch)}})
}

// rowColumns lists a change row's columns in table order; columns the
// subscription did not know yet (added later) follow, sorted.
func (sub *subscription) rowColumns(row map[string]json.RawMessage) []string {
	cols := make([]string, 0, len(row))
	for _, name := range sub.allCols {
		if _, ok := row[name]; ok {
			cols = append(cols, name)
		}
	}
	if len(cols) < len(row) {
		var extra []string
		for name := range row {
			if !slices.Contains(sub.allCols, name) {
				extra = append(extra, name)
			}
		}
		sort.Strings(extra)
		cols = append(cols, extra...)
	}
	return cols
}

// projectRow: SELECT * gets every column plus _commit_seq (stream rows:
// user columns and _seq only); a projection gets its columns plus _seq.
func (sub *subscription) projectRow(ch engine.Change) obj {
	row := ch.Row
	out := make(obj, 0, len(row)+1)
	if sub.q.columns != nil {
		for _, name := range sub.q.columns {
			if cell, ok := lookupCell(row, name); ok {
				out = append(out, kv{name, cell})
			}
		}
		if cell, ok := row["_seq"]; ok {
			out = append(out, kv{"_seq", cell})
		}
		return out
	}
	for _, name := range sub.rowColumns(row) {
		if name == "_commit_seq" {
			continue
		}
		if ch.TableType == "stream" && strings.HasPrefix(name, "_") && name != "_seq" {
			continue
		}
		out = append(out, kv{name, row[name]})
		if name == "_seq" && ch.TableType != "stream" {
			commit, ok := row["_commit_seq"]
			if !ok {
				commit = json.RawMessage(`"0"`) // the engine's change feed carries no commit seq
			}
			out = append(out, kv{"_commit_seq", commit})
		}
	}
	return out
}

func lookupCell(row map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if cell, ok := row[name]; ok {
		return cell, true
	}
	for k, cell := range row {
		if strings.EqualFold(k, name) {
			return cell, true
		}
	}
	return nil, false
}

// updateDelta is project_update_delta: the new row has _seq, the key and
// every non-null user column; the old row has the previous _seq, the key and
// the previous values of the changed columns.
func (sub *subscription) updateDelta(ch engine.Change) (obj, obj) {
	newRow := obj{}
	oldRow := obj{}
	for _, key := range append([]string{"_seq"}, ch.PK...) {
		if cell, ok := ch.Row[key]; ok {
			newRow = append(newRow, kv{key, cell})
		}
		if cell, ok := ch.Old[key]; ok {
			oldRow = append(oldRow, kv{key, cell})
		}
	}
	cols := sub.q.columns
	if cols == nil {
		cols = sub.rowColumns(ch.Row)
	}
	for _, col := range cols {
		if strings.HasPrefix(col, "_") || slices.Contains(ch.PK, col) {
			continue
		}
		nv, hasNew := lookupCell(ch.Row, col)
		ov, hasOld := lookupCell(ch.Old, col)
		if hasNew && string(nv) != "null" {
			newRow = append(newRow, kv{col, nv})
		}
		if hasNew && hasOld && string(ov) != string(nv) {
			oldRow = append(oldRow, kv{col, ov})
		}
	}
	return newRow, oldRow
}

// ---- server-side index ----

func (s *Server) userHasRoom(user string) bool {
	limit := s.limits.MaxSubscriptionsPerUser
	s.mu.Lock()
	defer s.mu.Unlock()
	return limit <= 0 || s.perUser[user] < limit
}

// register indexes sub for dispatch; false when the user's limit is reached.
func (s *Server) register(sub *subscription) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit := s.limits.MaxSubscriptionsPerUser; limit > 0 && s.perUser[sub.user] >= limit {
		return false
	}
	s.perUser[sub.user]++
	s.nSubs++
	// Copy on write: dispatch reads the set without holding s.mu.
	next := make(map[*subscription]struct{}, len(s.byTable[sub.tableKey])+1)
	for k := range s.byTable[sub.tableKey] {
		next[k] = struct{}{}
	}
	next[sub] = struct{}{}
	s.byTable[sub.tableKey] = next
	return true
}

func (s *Server) unregister(sub *subscription) {
	sub.mu.Lock()
	already := sub.closed
	sub.closed, sub.buffer = true, nil
	sub.mu.Unlock()
	if already {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.byTable[sub.tableKey]
	if !ok {
		return
	}
	if _, ok := cur[sub]; !ok {
		return
	}
	s.perUser[sub.user]--
	if s.perUser[sub.user] <= 0 {
		delete(s.perUser, sub.user)
	}
	s.nSubs--
	next := make(map[*subscription]struct{}, len(cur))
	for k := range cur {
		if k != sub {
			next[k] = struct{}{}
		}
	}
	if len(next) == 0 {
		delete(s.byTable, sub.tableKey)
	} else {
		s.byTable[sub.tableKey] = next
	}
}

// dispatch is the engine's OnChange callback. It never blocks on a client:
// deliveries are non-blocking queue pushes.
func (s *Server) dispatch(ch engine.Change) {
	s.mu.Lock()
	subs := s.byTable[ch.Namespace+"."+ch.Table]
	s.mu.Unlock()
	for sub := range subs {
		sub.offer(ch)
	}
}
