//go:build !js

package live

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func (e *env) sharedTable(rows int) {
	e.t.Helper()
	e.exec(rootID, `CREATE TABLE app.todos (id BIGINT PRIMARY KEY, title TEXT, done BOOLEAN) WITH (TYPE='SHARED', ACCESS_LEVEL='public')`)
	for i := 1; i <= rows; i++ {
		e.exec(rootID, fmt.Sprintf(`INSERT INTO app.todos (id, title, done) VALUES (%d, 't%d', false)`, i, i))
	}
}

// §5.1-§5.3, §6.1: ack with schema and batch_control identical to batch #0;
// rows are maps with _seq as a string; more batches only on next_batch.
func TestSnapshotPaging(t *testing.T) {
	e := newEnv(t, nil)
	e.sharedTable(5)
	c := e.login("alice")
	c.subscribe("s1", "SELECT * FROM app.todos", map[string]any{"batch_size": 2})
	ack := c.expect("subscription_ack")
	if ack["subscription_id"] != "s1" || num(t, ack["total_rows"]) != 0 {
		t.Fatalf("ack %v", ack)
	}
	schema, _ := json.Marshal(ack["schema"])
	if !strings.Contains(string(schema), `{"data_type":"BigInt","flags":["pk","nn","uq"],"index":0,"name":"id"}`) ||
		!strings.Contains(string(schema), `"name":"_seq"`) {
		t.Fatalf("schema %s", schema)
	}
	b0 := c.expect("initial_data_batch")
	bc0 := bcOf(t, b0)
	ackBC, _ := json.Marshal(bcOf(t, ack))
	b0BC, _ := json.Marshal(bc0)
	if string(ackBC) != string(b0BC) {
		t.Fatalf("ack batch_control %s differs from batch #0 %s", ackBC, b0BC)
	}
	rows := rowsOf(t, b0, "rows")
	if ids(t, rows) != "1,2" || bc0["status"] != "loading" || bc0["has_more"] != true || num(t, bc0["batch_num"]) != 0 {
		t.Fatalf("batch 0: rows %s bc %v", ids(t, rows), bc0)
	}
	seq, ok := rows[1]["_seq"].(string)
	if !ok || fmt.Sprint(num(t, bc0["last_seq_id"])) != seq {
		t.Fatalf("row _seq %v must be a string equal to last_seq_id %v", rows[1]["_seq"], bc0["last_seq_id"])
	}
	if num(t, bc0["snapshot_end_seq"]) <= 1<<53 {
		t.Fatalf("snapshot_end_seq %v should be a Snowflake id above 2^53", bc0["snapshot_end_seq"])
	}
	c.quiet("m0") // no batch is pushed without next_batch

	c.sendJSON(map[string]any{"type": "next_batch", "subscription_id": "s1", "last_seq_id": bc0["last_seq_id"]})
	b1 := c.expect("initial_data_batch")
	bc1 := bcOf(t, b1)
	if ids(t, rowsOf(t, b1, "rows")) != "3,4" || bc1["status"] != "loading_batch" || num(t, bc1["batch_num"]) != 1 {
		t.Fatalf("batch 1: %v", b1)
	}
	c.sendJSON(map[string]any{"type": "next_batch", "subscription_id": "s1", "last_seq_id": bc1["last_seq_id"]})
	b2 := c.expect("initial_data_batch")
	bc2 := bcOf(t, b2)
	if ids(t, rowsOf(t, b2, "rows")) != "5" || bc2["status"] != "ready" || bc2["has_more"] != false {
		t.Fatalf("batch 2: %v", b2)
	}
	// §4.3: after ready, next_batch is harmless: an empty ready batch.
	c.sendJSON(map[string]any{"type": "next_batch", "subscription_id": "s1", "last_seq_id": bc2["last_seq_id"]})
	b3 := c.expect("initial_data_batch")
	if len(rowsOf(t, b3, "rows")) != 0 || bcOf(t, b3)["status"] != "ready" || bcOf(t, b3)["last_seq_id"] != nil {
		t.Fatalf("batch after ready: %v", b3)
	}
}

// §6.1: the engine's 50-row default and 1000-row LIMIT cap must not cut a
// big batch: the default batch of 1000 and a batch of 1500 come whole.
func TestSnapshotLargerThanEngineCaps(t *testing.T) {
	e := newEnv(t, nil)
	e.exec(rootID, `CREATE TABLE app.big (id BIGINT PRIMARY KEY, v TEXT) WITH (TYPE='SHARED', ACCESS_LEVEL='public')`)
	var sb strings.Builder
	for i := 1; i <= 1600; i++ {
		if sb.Len() > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, "(%d, 'v%d')", i, i)
	}
	e.exec(rootID, "INSERT INTO app.big (id, v) VALUES "+sb.String())
	c := e.login("alice")
	c.subscribe("all", "SELECT * FROM app.big", map[string]any{})
	c.expect("subscription_ack")
	b := c.expect("initial_data_batch")
	if n := len(rowsOf(t, b, "rows")); n != 1000 || bcOf(t, b)["has_more"] != true {
		t.Fatalf("default batch: %d rows, bc %v; want 1000 and has_more", n, bcOf(t, b))
	}
	c.sendJSON(map[string]any{"type": "next_batch", "subscription_id": "all", "last_seq_id": bcOf(t, b)["last_seq_id"]})
	b = c.expect("initial_data_batch")
	if n := len(rowsOf(t, b, "rows")); n != 600 || bcOf(t, b)["status"] != "ready" {
		t.Fatalf("second batch: %d rows, bc %v; want 600, ready", n, bcOf(t, b))
	}
	c.subscribe("wide", "SELECT id FROM app.big WHERE id > 100", map[string]any{"batch_size": 1500})
	c.expect("subscription_ack")
	b = c.expect("initial_data_batch")
	rows := rowsOf(t, b, "rows")
	if len(rows) != 1500 || bcOf(t, b)["status"] != "ready" {
		t.Fatalf("batch_size 1500: %d rows, bc %v", len(rows), bcOf(t, b))
	}
	if _, ok := rows[0]["v"]; ok || rows[0]["_seq"] == nil || fmt.Sprint(rows[0]["id"]) != "101" {
		t.Fatalf("projected row %v: want id and _seq only, from id 101", rows[0])
	}
}

// §4.2/§5.1: no options = live only (ready ack, null seqs, no batch, changes at once);
// {} = snapshot; batch_size 0 = an empty ready snapshot.
func TestLiveOnlyAndEmptyOptions(t *testing.T) {
	e := newEnv(t, nil)
	e.sharedTable(2)
	c := e.login("alice")
	c.sendText(`{"type":"subscribe","subscription":{"id":"live","sql":"SELECT * FROM app.todos","options":null}}`)
	ack := c.expect("subscription_ack")
	bc, _ := json.Marshal(bcOf(t, ack))
	if string(bc) != `{"batch_num":0,"has_more":false,"last_seq_id":null,"snapshot_end_seq":null,"status":"ready"}` {
		t.Fatalf("live-only batch_control %s", bc)
	}
	e.exec(rootID, `INSERT INTO app.todos (id, title) VALUES (10, 'new')`)
	ch := c.expect("change")
	if ch["change_type"] != "insert" || ids(t, rowsOf(t, ch, "rows")) != "10" {
		t.Fatalf("change %v", ch)
	}
	c.subscribe("zero", "SELECT * FROM app.todos", map[string]any{"batch_size": 0})
	c.expect("subscription_ack")
	b := c.expect("initial_data_batch")
	if len(rowsOf(t, b, "rows")) != 0 || bcOf(t, b)["status"] != "ready" {
		t.Fatalf("batch_size 0: %v", b)
	}
	c.subscribe("snap", "SELECT * FROM app.todos", map[string]any{})
	c.expect("subscription_ack")
	if got := ids(t, rowsOf(t, c.expect("initial_data_batch"), "rows")); got != "1,2,10" {
		t.Fatalf("{} snapshot rows %s", got)
	}
}

// §5.4: change shapes: insert rows with _commit_seq and _deleted; update rows =
// whole new row, old_values = key + old _seq + changed columns; delete =
// tombstone with a new _seq and _deleted true. Lowercase change_type.
func TestChangeShapes(t *testing.T) {
	e := newEnv(t, nil)
	e.sharedTable(1)
	c := e.login("alice")
	c.subscribe("s", "SELECT * FROM app.todos", nil)
	c.expect("subscription_ack")

	e.exec(rootID, `INSERT INTO app.todos (id, title, done) VALUES (2, 'b', false)`)
	ins := rowsOf(t, c.expect("change"), "rows")[0]
	if ins["id"] != "2" || ins["title"] != "b" || ins["_deleted"] != false || ins["_commit_seq"] == nil {
		t.Fatalf("insert row %v", ins)
	}
	e.exec(rootID, `UPDATE app.todos SET title = 'B' WHERE id = 2`)
	up := c.expect("change")
	nr, or := rowsOf(t, up, "rows")[0], rowsOf(t, up, "old_values")[0]
	if up["change_type"] != "update" || nr["title"] != "B" || nr["done"] != false || nr["id"] != "2" {
		t.Fatalf("update rows %v", nr)
	}
	if or["id"] != "2" || or["title"] != "b" || or["_seq"] != ins["_seq"] || len(or) != 3 {
		t.Fatalf("update old_values %v: want id, old _seq %v and title only", or, ins["_seq"])
	}
	if _, ok := nr["_deleted"]; ok {
		t.Fatalf("update rows carry no _ columns but _seq: %v", nr)
	}
	e.exec(rootID, `DELETE FROM app.todos WHERE id = 2`)
	del := c.expect("change")
	if _, ok := del["rows"]; ok || del["change_type"] != "delete" {
		t.Fatalf("delete %v", del)
	}
	tomb := rowsOf(t, del, "old_values")[0]
	if tomb["id"] != "2" || tomb["_deleted"] != true || tomb["_seq"] == nr["_seq"] || tomb["title"] != "B" {
		t.Fatalf("tombstone %v: want the row, _deleted true, a new _seq", tomb)
	}
}

// §6.3: changes committed while a snapshot is loading are delivered after
// the final batch, in _seq order, none lost, none duplicated.
func TestChangesDuringSnapshotLoad(t *testing.T) {
	e := newEnv(t, nil)
	e.sharedTable(3)
	c := e.login("alice")
	c.subscribe("s", "SELECT * FROM app.todos", map[string]any{"batch_size": 1})
	c.expect("subscription_ack")
	bc := bcOf(t, c.expect("initial_data_batch"))
	e.exec(rootID, `INSERT INTO app.todos (id, title) VALUES (4, 'four')`)
	e.exec(rootID, `UPDATE app.todos SET title = 'x' WHERE id = 3`)
	e.exec(rootID, `DELETE FROM app.todos WHERE id = 1`)
	var got []string
	for bc["has_more"] == true {
		c.sendJSON(map[string]any{"type": "next_batch", "subscription_id": "s", "last_seq_id": bc["last_seq_id"]})
		b := c.expect("initial_data_batch")
		bc = bcOf(t, b)
		got = append(got, "batch:"+ids(t, rowsOf(t, b, "rows")))
	}
	for range 3 {
		m := c.expect("change")
		key := "rows"
		if m["change_type"] == "delete" {
			key = "old_values"
		}
		got = append(got, fmt.Sprint(m["change_type"], ":", ids(t, rowsOf(t, m, key))))
	}
	c.quiet("end")
	// Row 3 was updated after the snapshot cut, so it is not in the
	// snapshot (its latest version is newer) and arrives as the update.
	want := "batch:2,insert:4,update:3,delete:1"
	if strings.Join(got, ",") != want {
		t.Fatalf("got %s, want %s", strings.Join(got, ","), want)
	}
}

// §7.2: from resumes with rows whose _seq > from (inserted or updated since).
func TestResumeFrom(t *testing.T) {
	e := newEnv(t, nil)
	e.sharedTable(3)
	c := e.login("alice")
	c.subscribe("s", "SELECT * FROM app.todos", map[string]any{})
	c.expect("subscription_ack")
	cursor := bcOf(t, c.expect("initial_data_batch"))["last_seq_id"]
	c.sendJSON(map[string]any{"type": "unsubscribe", "subscription_id": "s"})
	c.quiet("unsubscribed") // the unsubscribe is processed before the writes
	e.exec(rootID, `INSERT INTO app.todos (id, title) VALUES (4, 'four')`)
	e.exec(rootID, `UPDATE app.todos SET title = 'two' WHERE id = 2`)
	c.quiet("after-unsub") // unsubscribed: no change frames
	c.sendText(fmt.Sprintf(`{"type":"subscribe","subscription":{"id":"s","sql":"SELECT * FROM app.todos","options":{"from":%v}}}`, cursor))
	c.expect("subscription_ack")
	b := c.expect("initial_data_batch")
	if got := ids(t, rowsOf(t, b, "rows")); got != "4,2" {
		t.Fatalf("resumed rows %s, want 4,2 (in _seq order)", got)
	}
	// from_seq_id is an alias; last_rows returns the newest N, oldest first.
	c.sendText(`{"type":"subscribe","subscription":{"id":"last","sql":"SELECT * FROM app.todos","options":{"last_rows":2}}}`)
	c.expect("subscription_ack")
	b = c.expect("initial_data_batch")
	if got := ids(t, rowsOf(t, b, "rows")); got != "4,2" || bcOf(t, b)["status"] != "loading" {
		t.Fatalf("last_rows: %s %v", got, bcOf(t, b))
	}
}

// §13: USER tables: each user sees only own rows, in the snapshot and live.
func TestUserTableIsolation(t *testing.T) {
	e := newEnv(t, nil)
	e.exec(rootID, `CREATE TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='USER')`)
	e.exec(aliceID, `INSERT INTO app.notes (id, body) VALUES (1, 'alice-1')`)
	e.exec(bobID, `INSERT INTO app.notes (id, body) VALUES (2, 'bob-2')`)
	a, b := e.login("alice"), e.login("bob")
	a.subscribe("n", "SELECT * FROM app.notes", map[string]any{})
	b.subscribe("n", "SELECT * FROM app.notes", map[string]any{})
	a.expect("subscription_ack")
	b.expect("subscription_ack")
	if got := ids(t, rowsOf(t, a.expect("initial_data_batch"), "rows")); got != "1" {
		t.Fatalf("alice snapshot %s", got)
	}
	if got := ids(t, rowsOf(t, b.expect("initial_data_batch"), "rows")); got != "2" {
		t.Fatalf("bob snapshot %s", got)
	}
	e.exec(bobID, `INSERT INTO app.notes (id, body) VALUES (3, 'bob-3')`)
	e.exec(aliceID, `INSERT INTO app.notes (id, body) VALUES (4, 'alice-4')`)
	if got := ids(t, rowsOf(t, a.expect("change"), "rows")); got != "4" {
		t.Fatalf("alice got change %s, want only her row 4", got)
	}
	if got := ids(t, rowsOf(t, b.expect("change"), "rows")); got != "3" {
		t.Fatalf("bob got change %s", got)
	}
	a.quiet("a")
	b.quiet("b")
}

// §14: simple predicates filter live changes; what the real evaluator cannot
// evaluate (IN) gets a correct snapshot but no live events.
func TestLiveFilter(t *testing.T) {
	e := newEnv(t, nil)
	e.sharedTable(0)
	c := e.login("alice")
	c.subscribe("f", "SELECT id, title FROM app.todos WHERE id > 10 AND title LIKE 'k%'", nil)
	c.expect("subscription_ack")
	c.subscribe("in", "SELECT * FROM app.todos WHERE id IN (1, 20)", nil)
	c.expect("subscription_ack")
	e.exec(rootID, `INSERT INTO app.todos (id, title) VALUES (5, 'keep'), (20, 'skip'), (9007199254740993, 'kept')`)
	m := c.expect("change")
	row := rowsOf(t, m, "rows")[0]
	if m["subscription_id"] != "f" || row["id"] != "9007199254740993" || len(row) != 3 {
		t.Fatalf("filtered change %v: want only id 9007199254740993 with id, title, _seq", m)
	}
	c.quiet("q")
	// A WHERE the engine rejects is INVALID_SQL, even for a live-only subscription.
	c.subscribe("bad", "SELECT * FROM app.todos WHERE id >>> 3 (", nil)
	if m := c.expect("error"); m["code"] != "INVALID_SQL" || m["subscription_id"] != "bad" {
		t.Fatalf("bad WHERE: %v", m)
	}
}
