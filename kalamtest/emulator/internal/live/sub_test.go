//go:build !js

package live

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
	require.EqualValues(t, "s1", ack["subscription_id"])
	require.EqualValues(t, 0, num(t, ack["total_rows"]), "ack %v", ack)
	schema, _ := json.Marshal(ack["schema"])
	require.Contains(t, string(schema), `{"data_type":"BigInt","flags":["pk","nn","uq"],"index":0,"name":"id"}`)
	require.Contains(t, string(schema), `"name":"_seq"`, "schema %s", schema)
	b0 := c.expect("initial_data_batch")
	bc0 := bcOf(t, b0)
	ackBC, _ := json.Marshal(bcOf(t, ack))
	b0BC, _ := json.Marshal(bc0)
	require.Equal(t, string(b0BC), string(ackBC), "ack batch_control %s differs from batch #0 %s", ackBC, b0BC)
	rows := rowsOf(t, b0, "rows")
	require.Equal(t, "1,2", ids(t, rows))
	require.EqualValues(t, "loading", bc0["status"])
	require.EqualValues(t, true, bc0["has_more"])
	require.EqualValues(t, 0, num(t, bc0["batch_num"]), "batch 0: rows %s bc %v", ids(t, rows), bc0)
	seq, ok := rows[1]["_seq"].(string)
	require.True(t, ok)
	require.Equal(t, seq, fmt.Sprint(num(t, bc0["last_seq_id"])), "row _seq %v must be a string equal to last_seq_id %v", rows[1]["_seq"], bc0["last_seq_id"])
	require.True(t, num(t, bc0["snapshot_end_seq"]) > 1<<53, "snapshot_end_seq %v should be a Snowflake id above 2^53", bc0["snapshot_end_seq"])
	c.quiet("m0") // no batch is pushed without next_batch

	c.sendJSON(map[string]any{"type": "next_batch", "subscription_id": "s1", "last_seq_id": bc0["last_seq_id"]})
	b1 := c.expect("initial_data_batch")
	bc1 := bcOf(t, b1)
	require.Equal(t, "3,4", ids(t, rowsOf(t, b1, "rows")))
	require.EqualValues(t, "loading_batch", bc1["status"])
	require.EqualValues(t, 1, num(t, bc1["batch_num"]), "batch 1: %v", b1)
	c.sendJSON(map[string]any{"type": "next_batch", "subscription_id": "s1", "last_seq_id": bc1["last_seq_id"]})
	b2 := c.expect("initial_data_batch")
	bc2 := bcOf(t, b2)
	require.Equal(t, "5", ids(t, rowsOf(t, b2, "rows")))
	require.EqualValues(t, "ready", bc2["status"])
	require.EqualValues(t, false, bc2["has_more"], "batch 2: %v", b2)
	// §4.3: after ready, next_batch is harmless: an empty ready batch.
	c.sendJSON(map[string]any{"type": "next_batch", "subscription_id": "s1", "last_seq_id": bc2["last_seq_id"]})
	b3 := c.expect("initial_data_batch")
	require.Empty(t, rowsOf(t, b3, "rows"))
	require.EqualValues(t, "ready", bcOf(t, b3)["status"])
	require.False(t, bcOf(t, b3)["last_seq_id"] != nil, "batch after ready: %v", b3)
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
	n := len(rowsOf(t, b, "rows"))
	require.Equal(t, 1000, n)
	require.EqualValues(t, true, bcOf(t, b)["has_more"], "default batch: %d rows, bc %v; want 1000 and has_more", n, bcOf(t, b))
	c.sendJSON(map[string]any{"type": "next_batch", "subscription_id": "all", "last_seq_id": bcOf(t, b)["last_seq_id"]})
	b = c.expect("initial_data_batch")
	n = len(rowsOf(t, b, "rows"))
	require.Equal(t, 600, n)
	require.EqualValues(t, "ready", bcOf(t, b)["status"], "second batch: %d rows, bc %v; want 600, ready", n, bcOf(t, b))
	c.subscribe("wide", "SELECT id FROM app.big WHERE id > 100", map[string]any{"batch_size": 1500})
	c.expect("subscription_ack")
	b = c.expect("initial_data_batch")
	rows := rowsOf(t, b, "rows")
	require.Len(t, rows, 1500)
	require.EqualValues(t, "ready", bcOf(t, b)["status"], "batch_size 1500: %d rows, bc %v", len(rows), bcOf(t, b))
	_, ok := rows[0]["v"]
	require.False(t, ok)
	require.NotNil(t, rows[0]["_seq"])
	require.Equal(t, "101", fmt.Sprint(rows[0]["id"]), "projected row %v: want id and _seq only, from id 101", rows[0])
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
	require.Equal(t, `{"batch_num":0,"has_more":false,"last_seq_id":null,"snapshot_end_seq":null,"status":"ready"}`, string(bc), "live-only batch_control %s", bc)
	e.exec(rootID, `INSERT INTO app.todos (id, title) VALUES (10, 'new')`)
	ch := c.expect("change")
	require.EqualValues(t, "insert", ch["change_type"])
	require.Equal(t, "10", ids(t, rowsOf(t, ch, "rows")), "change %v", ch)
	c.subscribe("zero", "SELECT * FROM app.todos", map[string]any{"batch_size": 0})
	c.expect("subscription_ack")
	b := c.expect("initial_data_batch")
	require.Empty(t, rowsOf(t, b, "rows"))
	require.EqualValues(t, "ready", bcOf(t, b)["status"], "batch_size 0: %v", b)
	c.subscribe("snap", "SELECT * FROM app.todos", map[string]any{})
	c.expect("subscription_ack")
	got := ids(t, rowsOf(t, c.expect("initial_data_batch"), "rows"))
	require.Equal(t, "1,2,10", got, "{} snapshot rows %s", got)
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
	require.EqualValues(t, "2", ins["id"])
	require.EqualValues(t, "b", ins["title"])
	require.EqualValues(t, false, ins["_deleted"])
	require.NotNil(t, ins["_commit_seq"], "insert row %v", ins)
	e.exec(rootID, `UPDATE app.todos SET title = 'B' WHERE id = 2`)
	up := c.expect("change")
	nr, or := rowsOf(t, up, "rows")[0], rowsOf(t, up, "old_values")[0]
	require.EqualValues(t, "update", up["change_type"])
	require.EqualValues(t, "B", nr["title"])
	require.EqualValues(t, false, nr["done"])
	require.EqualValues(t, "2", nr["id"], "update rows %v", nr)
	require.EqualValues(t, "2", or["id"])
	require.EqualValues(t, "b", or["title"])
	require.Equal(t, ins["_seq"], or["_seq"])
	require.Len(t, or, 3, "update old_values %v: want id, old _seq %v and title only", or, ins["_seq"])
	_, ok := nr["_deleted"]
	require.False(t, ok, "update rows carry no _ columns but _seq: %v", nr)
	e.exec(rootID, `DELETE FROM app.todos WHERE id = 2`)
	del := c.expect("change")
	_, ok = del["rows"]
	require.False(t, ok)
	require.EqualValues(t, "delete", del["change_type"], "delete %v", del)
	tomb := rowsOf(t, del, "old_values")[0]
	require.EqualValues(t, "2", tomb["id"])
	require.EqualValues(t, true, tomb["_deleted"])
	require.NotEqual(t, nr["_seq"], tomb["_seq"])
	require.EqualValues(t, "B", tomb["title"], "tombstone %v: want the row, _deleted true, a new _seq", tomb)
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
	require.Equal(t, want, strings.Join(got, ","))
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
	got := ids(t, rowsOf(t, b, "rows"))
	require.Equal(t, "4,2", got, "resumed rows %s, want 4,2 (in _seq order)", got)
	// from_seq_id is an alias; last_rows returns the newest N, oldest first.
	c.sendText(`{"type":"subscribe","subscription":{"id":"last","sql":"SELECT * FROM app.todos","options":{"last_rows":2}}}`)
	c.expect("subscription_ack")
	b = c.expect("initial_data_batch")
	got = ids(t, rowsOf(t, b, "rows"))
	require.Equal(t, "4,2", got)
	require.EqualValues(t, "loading", bcOf(t, b)["status"], "last_rows: %s %v", got, bcOf(t, b))
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
	got := ids(t, rowsOf(t, a.expect("initial_data_batch"), "rows"))
	require.Equal(t, "1", got, "alice snapshot %s", got)
	got = ids(t, rowsOf(t, b.expect("initial_data_batch"), "rows"))
	require.Equal(t, "2", got, "bob snapshot %s", got)
	e.exec(bobID, `INSERT INTO app.notes (id, body) VALUES (3, 'bob-3')`)
	e.exec(aliceID, `INSERT INTO app.notes (id, body) VALUES (4, 'alice-4')`)
	got = ids(t, rowsOf(t, a.expect("change"), "rows"))
	require.Equal(t, "4", got, "alice got change %s, want only her row 4", got)
	got = ids(t, rowsOf(t, b.expect("change"), "rows"))
	require.Equal(t, "3", got, "bob got change %s", got)
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
	require.EqualValues(t, "f", m["subscription_id"])
	require.EqualValues(t, "9007199254740993", row["id"])
	require.Len(t, row, 3, "filtered change %v: want only id 9007199254740993 with id, title, _seq", m)
	c.quiet("q")
	// A WHERE the engine rejects is INVALID_SQL, even for a live-only subscription.
	c.subscribe("bad", "SELECT * FROM app.todos WHERE id >>> 3 (", nil)
	m = c.expect("error")
	require.EqualValues(t, "INVALID_SQL", m["code"])
	require.EqualValues(t, "bad", m["subscription_id"], "bad WHERE: %v", m)
}
