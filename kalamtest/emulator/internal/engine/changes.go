package engine

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"

	"github.com/ncruces/go-sqlite3"
)

// rawChange is one physical row change recorded by a trigger. Value lists
// hold the user columns, then _seq, _deleted, _owner.
type rawChange struct {
	table  string // ns.table
	kind   byte   // 'i', 'u', 'd'
	old    []any
	new    []any
	writer string
}

// capture is the kv_capture(table, kind, values...) function the triggers call.
func (e *Engine) capture(ctx sqlite3.Context, args ...sqlite3.Value) {
	if len(args) < 2 {
		ctx.ResultError(fmt.Errorf("kv_capture: want table and kind"))
		return
	}
	rc := rawChange{table: args[0].Text(), writer: e.cur.user}
	kind := args[1].Text()
	if kind == "" {
		ctx.ResultError(fmt.Errorf("kv_capture: empty kind"))
		return
	}
	rc.kind = kind[0]
	vals := make([]any, len(args)-2)
	for i, a := range args[2:] {
		vals[i] = valueOf(a)
	}
	switch rc.kind {
	case 'i':
		rc.new = vals
	case 'd':
		rc.old = vals
	case 'u':
		half := len(vals) / 2
		rc.old, rc.new = vals[:half], vals[half:]
	}
	e.captured = append(e.captured, rc)
	ctx.ResultNull()
}

// createTriggers records every row change of t into the capture list, so
// the feed comes from the database itself rather than from the DML text.
func (e *Engine) createTriggers(t *tableInfo) error {
	cols := func(prefix string) string {
		parts := make([]string, 0, len(t.Columns)+3)
		for _, c := range t.Columns {
			parts = append(parts, prefix+"."+quoteIdent(c.Name))
		}
		parts = append(parts, prefix+"._seq", prefix+"._deleted", prefix+"._owner")
		return strings.Join(parts, ", ")
	}
	id := quoteString(t.id())
	phys := quoteIdent(t.phys())
	for _, q := range []string{
		fmt.Sprintf(`CREATE TRIGGER %s AFTER INSERT ON %s BEGIN SELECT kv_capture(%s, 'i', %s); END`,
			quoteIdent(t.phys()+"$i"), phys, id, cols("NEW")),
		fmt.Sprintf(`CREATE TRIGGER %s AFTER UPDATE ON %s BEGIN SELECT kv_capture(%s, 'u', %s, %s); END`,
			quoteIdent(t.phys()+"$u"), phys, id, cols("OLD"), cols("NEW")),
		fmt.Sprintf(`CREATE TRIGGER %s AFTER DELETE ON %s BEGIN SELECT kv_capture(%s, 'd', %s); END`,
			quoteIdent(t.phys()+"$d"), phys, id, cols("OLD")),
	} {
		if err := e.conn.Exec(q); err != nil {
			return fmt.Errorf("create change trigger: %w", err)
		}
	}
	return nil
}

// encodeRow renders the user columns, _seq and _deleted of a captured row.
func encodeRow(t *tableInfo, vals []any) (map[string]json.RawMessage, []string, error) {
	cols := t.allColumns()
	row := make(map[string]json.RawMessage, len(cols))
	order := make([]string, 0, len(cols))
	for i, c := range cols {
		if i >= len(vals) {
			return nil, nil, fmt.Errorf("captured row of %s has %d values, want %d", t.id(), len(vals), len(cols))
		}
		cell, err := encodeCell(c.Type, vals[i])
		if err != nil {
			return nil, nil, fmt.Errorf("encode %s.%s: %w", t.id(), c.Name, err)
		}
		row[c.Name] = cell
		order = append(order, c.Name)
	}
	return row, order, nil
}

// pendingChange is a Change plus what topic publishing needs.
type pendingChange struct {
	Change
	order []string // column order of Row
	table *tableInfo
}

// buildChanges turns the captured rows into logical changes (§3: a
// tombstone update is a delete, reviving a tombstone is an insert).
func (e *Engine) buildChanges(raw []rawChange) ([]pendingChange, error) {
	out := make([]pendingChange, 0, len(raw))
	for _, rc := range raw {
		t := e.cat.Tables[rc.table]
		if t == nil {
			return nil, fmt.Errorf("change captured for unknown table %s", rc.table)
		}
		n := len(t.Columns)
		deleted := func(v []any) bool { x, _ := v[n+1].(int64); return x != 0 }
		var op ChangeOp
		var rowVals, oldVals []any
		switch rc.kind {
		case 'i':
			op, rowVals = OpInsert, rc.new
		case 'd':
			op, rowVals = OpDelete, rc.old
		case 'u':
			switch od, nd := deleted(rc.old), deleted(rc.new); {
			case od && nd:
				continue
			case od:
				op, rowVals = OpInsert, rc.new
			case nd:
				op, rowVals = OpDelete, rc.new
			default:
				op, rowVals, oldVals = OpUpdate, rc.new, rc.old
			}
		}
		row, order, err := encodeRow(t, rowVals)
		if err != nil {
			return nil, err
		}
		pc := pendingChange{order: order, table: t}
		pc.Namespace, pc.Table, pc.TableType, pc.Op, pc.Row = t.Namespace, t.Name, t.Type, op, row
		pc.Seq, _ = rowVals[n].(int64)
		owner, _ := rowVals[n+2].(string)
		pc.UserID = owner
		if owner == "" {
			pc.UserID = rc.writer
		}
		if oldVals != nil {
			if pc.Old, _, err = encodeRow(t, oldVals); err != nil {
				return nil, err
			}
		}
		if pk := t.pk(); pk >= 0 {
			pc.PK = []string{t.Columns[pk].Name}
		}
		out = append(out, pc)
	}
	return out, nil
}

// publish appends one topic message per matching route (sql-model §7,
// http-api §8.1) inside the committing transaction.
func (e *Engine) publish(changes []pendingChange, commitSeq int64) error {
	if len(e.cat.Topics) == 0 {
		return nil
	}
	tsMS := e.opts.Now().UnixMilli()
	for _, ch := range changes {
		tableID := ch.Namespace + "." + ch.Table
		opName := map[ChangeOp]string{OpInsert: "Insert", OpUpdate: "Update", OpDelete: "Delete"}[ch.Op]
		for _, topicID := range sortedKeys(e.cat.Topics) {
			tp := e.cat.Topics[topicID]
			for _, r := range tp.Routes {
				if r.Table != tableID || r.Op != opName {
					continue
				}
				payload := topicPayload(ch, commitSeq, r.Payload != "key")
				// The key is the whole row as JSON without _table
				// (kalamdb-publisher/src/payload.rs extract_key), not the
				// primary key.
				var key any = string(topicPayload(ch, commitSeq, false))
				part := int64(0)
				if k, ok := key.(string); ok && tp.Partitions > 1 {
					h := fnv.New32a()
					h.Write([]byte(k))
					part = int64(h.Sum32() % uint32(tp.Partitions))
				}
				var user any
				if ch.TableType != "shared" {
					user = ch.UserID
				}
				rows, err := e.queryRows(`SELECT COALESCE(MAX(off) + 1, 0) FROM _kv_msgs WHERE topic = ? AND part = ?`, topicID, part)
				if err != nil {
					return fmt.Errorf("topic %s next offset: %w", topicID, err)
				}
				if err := e.exec(`INSERT INTO _kv_msgs (topic, part, off, msg_key, payload, ts_ms, user_id, op) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
					topicID, part, rows[0][0], key, payload, tsMS, user, opName); err != nil {
					return fmt.Errorf("topic %s append: %w", topicID, err)
				}
			}
		}
	}
	return nil
}

// topicPayload is the row JSON in column order plus _commit_seq and, except
// in key mode, "_table":"ns:table".
func topicPayload(ch pendingChange, commitSeq int64, withTable bool) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i, name := range ch.order {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(jsonString(name))
		b.WriteByte(':')
		b.Write(ch.Row[name])
		if name == "_seq" {
			b.WriteString(`,"_commit_seq":"` + strconv.FormatInt(commitSeq, 10) + `"`)
		}
	}
	if withTable {
		b.WriteString(`,"_table":`)
		b.Write(jsonString(ch.Namespace + ":" + ch.Table))
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// feed delivers committed changes to OnChange callbacks in commit order
// from one goroutine, so a callback may call back into the engine.
type feed struct {
	mu     sync.Mutex
	wake   chan struct{}
	queue  []Change
	subs   map[int]func(Change)
	nextID int
	closed bool
}

func newFeed() *feed {
	f := &feed{wake: make(chan struct{}, 1), subs: map[int]func(Change){}}
	go f.run()
	return f
}

func (f *feed) push(chs []Change) {
	if len(chs) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.queue = append(f.queue, chs...)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *feed) run() {
	for range f.wake {
		for {
			f.mu.Lock()
			batch := f.queue
			f.queue = nil
			closed := f.closed
			ids := sortedKeys(f.subs)
			subs := make([]func(Change), 0, len(ids))
			for _, id := range ids {
				subs = append(subs, f.subs[id])
			}
			f.mu.Unlock()
			if len(batch) == 0 {
				if closed {
					return
				}
				break
			}
			for _, ch := range batch {
				for _, fn := range subs {
					fn(ch)
				}
			}
		}
	}
}

func (f *feed) subscribe(fn func(Change)) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextID
	f.nextID++
	f.subs[id] = fn
	return func() {
		f.mu.Lock()
		delete(f.subs, id)
		f.mu.Unlock()
	}
}

func (f *feed) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	close(f.wake)
	f.mu.Unlock()
}

// OnChange registers fn for every committed row change, in commit order,
// delivered after commit from a single goroutine. cancel unregisters it.
func (e *Engine) OnChange(fn func(Change)) (cancel func()) { return e.feed.subscribe(fn) }
