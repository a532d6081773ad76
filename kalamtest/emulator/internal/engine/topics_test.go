package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTopicMessages publishes committed changes with the payload of
// sql-model §7 / http-api §8.1.
func TestTopicMessages(t *testing.T) {
	clock := newClock()
	e := newTestEngine(t, Options{Now: clock.Now})
	mustExec(t, e, root, `CREATE TABLE app.msgs (id BIGINT PRIMARY KEY, title TEXT) WITH (TYPE='USER');
		CREATE TOPIC app.feed;
		ALTER TOPIC app.feed ADD SOURCE app.msgs ON INSERT;
		ALTER TOPIC app.feed ADD SOURCE app.msgs ON UPDATE;
		ALTER TOPIC app.feed ADD SOURCE app.msgs ON DELETE WITH (payload = 'key')`)
	err := mustFail(t, e, root, `ALTER TOPIC app.feed ADD SOURCE app.msgs ON INSERT`)
	wantContains(t, err.Message, "already exists")
	mustExec(t, e, alice, `INSERT INTO app.msgs (id, title) VALUES (1, 'hello')`)
	mustExec(t, e, alice, `UPDATE app.msgs SET title = 'hi' WHERE id = 1`)
	mustExec(t, e, alice, `DELETE FROM app.msgs WHERE id = 1`)
	res, cerr := e.Consume(svc, ConsumeRequest{TopicID: "app.feed", GroupID: "g", Start: "earliest", Limit: 10})
	require.Nil(t, cerr)
	require.Len(t, res.Messages, 3)
	require.EqualValues(t, 3, res.NextOffset)
	require.False(t, res.HasMore, "consume: %+v", res)
	for i, want := range []struct{ op, title string }{{"Insert", `"hello"`}, {"Update", `"hi"`}, {"Delete", `"hi"`}} {
		m := res.Messages[i]
		require.Equal(t, uint64(i), m.Offset)
		require.Equal(t, want.op, m.Op)
		require.NotNil(t, m.Key)
		// The key is the row JSON without _table, as the real publisher sends it.
		var key map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(*m.Key), &key), "key %s", *m.Key)
		require.Equal(t, `"1"`, string(key["id"]))
		require.NotContains(t, key, "_table")
		require.Equal(t, "alice", m.User)
		require.Equal(t, clock.Now().UnixMilli(), m.TimestampMS, "message %d: %+v key=%v", i, m, m.Key)
		var p map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(m.Payload, &p), "payload %s", m.Payload)
		require.Equal(t, `"1"`, string(p["id"]))
		require.Equal(t, want.title, string(p["title"]))
		require.NotNil(t, p["_seq"])
		require.NotNil(t, p["_commit_seq"], "payload %d: %s", i, m.Payload)
		_, hasTable := p["_table"]
		require.Equal(t, want.op != "Delete", hasTable)
		require.False(t, hasTable && string(p["_table"]) != `"app:msgs"`, "payload %d _table (key mode omits it): %s", i, m.Payload)
		require.False(t, want.op == "Delete" && string(p["_deleted"]) != "true", "delete payload is the tombstone: %s", m.Payload)
	}
	_, cerr = e.Consume(svc, ConsumeRequest{TopicID: "app.nope", GroupID: "g", Limit: 1})
	require.NotNil(t, cerr)
	require.Equal(t, "NOT_FOUND", cerr.Code)
	require.Equal(t, 404, cerr.HTTPStatus, "unknown topic: %+v", cerr)
}

// TestConsumeOffsetsAndClaims follows http-api §8.1 steps 1-3 and §8.2.
func TestConsumeOffsetsAndClaims(t *testing.T) {
	clock := newClock()
	e := newTestEngine(t, Options{Now: clock.Now, VisibilityTimeout: 30 * time.Second})
	mustExec(t, e, root, `CREATE TABLE app.t (id INT PRIMARY KEY) WITH (TYPE='SHARED');
		CREATE TOPIC app.tp; ALTER TOPIC app.tp ADD SOURCE app.t ON INSERT`)
	for i := 0; i < 5; i++ {
		mustExec(t, e, root, `INSERT INTO app.t (id) VALUES ($1)`, int64(i))
	}
	consume := func(group, start string, off, limit uint64) ConsumeResult {
		t.Helper()
		res, err := e.Consume(svc, ConsumeRequest{TopicID: "app.tp", GroupID: group, Start: start, StartOffset: off, Limit: limit})
		require.Nil(t, err)
		return res
	}
	offsets := func(r ConsumeResult) string {
		var s []string
		for _, m := range r.Messages {
			s = append(s, fmt.Sprint(m.Offset))
		}
		return strings.Join(s, ",") + fmt.Sprintf("|next=%d|more=%v", r.NextOffset, r.HasMore)
	}
	steps := []struct {
		name string
		do   func() ConsumeResult
		want string
	}{
		{"latest is empty", func() ConsumeResult { return consume("late", "latest", 0, 10) }, "|next=5|more=false"},
		{"the first consume set the cursor", func() ConsumeResult { return consume("late", "offset", 0, 10) }, "|next=0|more=false"},
		{"first claim", func() ConsumeResult { return consume("g", "earliest", 0, 2) }, "0,1|next=2|more=true"},
		{"claims advance without ack", func() ConsumeResult { return consume("g", "earliest", 0, 2) }, "2,3|next=4|more=true"},
		{"seeking back has no effect", func() ConsumeResult { return consume("g", "offset", 0, 10) }, "4|next=5|more=false"},
		{"ack then nothing new", func() ConsumeResult {
			err := e.Ack(svc, "app.tp", "g", 0, 1)
			require.Nil(t, err)
			return consume("g", "earliest", 0, 10)
		}, "|next=2|more=false"},
		{"a claim lives the whole visibility timeout", func() ConsumeResult {
			clock.Advance(30 * time.Second)
			return consume("g", "earliest", 0, 10)
		}, "|next=2|more=false"},
		{"expired claims are redelivered", func() ConsumeResult {
			clock.Advance(time.Millisecond)
			return consume("g", "earliest", 0, 10)
		}, "2,3,4|next=5|more=false"},
		{"committed offset beats start", func() ConsumeResult {
			err := e.Ack(svc, "app.tp", "g", 0, 3)
			require.Nil(t, err)
			clock.Advance(31 * time.Second)
			return consume("g", "latest", 0, 10)
		}, "4|next=5|more=false"},
		{"a lower ack changes nothing", func() ConsumeResult {
			if err := e.Ack(svc, "app.tp", "g", 0, 1); err != nil {
				t.Fatal(err)
			}
			clock.Advance(31 * time.Second)
			return consume("g", "earliest", 0, 10)
		}, "4|next=5|more=false"},
		{"limit 0 reports more", func() ConsumeResult { return consume("z", "earliest", 0, 0) }, "|next=0|more=true"},
	}
	for _, s := range steps {
		got := offsets(s.do())
		require.Equal(t, s.want, got, "%s: got %s, want %s", s.name, got, s.want)
	}
	got := queryRowsJSON(t, e, root, `SELECT group_id, last_acked_offset FROM system.topic_offsets`)
	require.Equal(t, `[["g","3"]]`, got, "system.topic_offsets: %s", got)
	// SQL CONSUME with a group auto-acks; ACK returns its row.
	res := mustExec(t, e, svc, `CONSUME FROM app.tp GROUP 'sqlg' FROM EARLIEST LIMIT 2`)[0]
	require.Equal(t, 2, res.RowCount)
	require.Equal(t, "payload", res.Schema[4].Name)
	require.Equal(t, `"Bytes"`, string(res.Schema[4].DataType))
	require.Equal(t, `"insert"`, string(res.Rows[1][7]), "CONSUME: %s %s", schemaJSON(t, res), rowsJSON(t, res))
	res = mustExec(t, e, svc, `CONSUME FROM app.tp GROUP 'sqlg' FROM EARLIEST LIMIT 10`)[0]
	require.Equal(t, 3, res.RowCount)
	require.Equal(t, `"2"`, string(res.Rows[0][2]), "CONSUME resumes after auto-ack: %s", rowsJSON(t, res))
	res = mustExec(t, e, svc, `ACK app.tp GROUP 'sqlg' UPTO OFFSET 4`)[0]
	got = rowsJSON(t, res)
	require.Equal(t, `[["app.tp","sqlg",0,"4"]]`, got, "ACK row: %s", got)
}

// TestChangeFeed delivers committed changes in commit order with full row
// encodings and never a rolled-back one (sql-model §3).
func TestChangeFeed(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT) WITH (TYPE='USER')`)
	ch := make(chan Change, 100)
	cancel := e.OnChange(func(c Change) { ch <- c })
	defer cancel()
	mustExec(t, e, alice, `INSERT INTO app.t (id, v) VALUES (1, 'a'), (2, 'b')`)
	mustFail(t, e, alice, `BEGIN; INSERT INTO app.t (id, v) VALUES (3, 'never'); INSERT INTO app.t (id, v) VALUES (1, 'dup')`)
	mustExec(t, e, alice, `BEGIN; INSERT INTO app.t (id, v) VALUES (4, 'd'); ROLLBACK`)
	mustExec(t, e, alice, `UPDATE app.t SET v = 'a2' WHERE id = 1`)
	mustExec(t, e, alice, `DELETE FROM app.t WHERE id = 2`)
	mustExec(t, e, alice, `INSERT INTO app.t (id, v) VALUES (2, 'back')`)
	want := []string{"insert 1 a", "insert 2 b", "update 1 a2 (old a)", "delete 2 b", "insert 2 back"}
	var lastSeq int64
	for i, w := range want {
		var c Change
		select {
		case c = <-ch:
		case <-time.After(5 * time.Second):
			require.FailNow(t, fmt.Sprintf("change %d (%s) not delivered within 5s", i, w))
		}
		var id int
		var v string
		_ = json.Unmarshal(c.Row["id"], &id)
		_ = json.Unmarshal(c.Row["v"], &v)
		got := fmt.Sprintf("%s %d %s", c.Op, id, v)
		if c.Old != nil {
			var old string
			_ = json.Unmarshal(c.Old["v"], &old)
			got += " (old " + old + ")"
		}
		require.Equal(t, w, got)
		require.Equal(t, "app", c.Namespace)
		require.Equal(t, "t", c.Table)
		require.Equal(t, "user", c.TableType)
		require.Equal(t, "alice", c.UserID)
		require.Len(t, c.PK, 1)
		require.Equal(t, "id", c.PK[0], "change %d = %s %+v, want %s", i, got, c, w)
		require.Greater(t, c.Seq, lastSeq, "change %d seq %d not after %d", i, c.Seq, lastSeq)
		lastSeq = c.Seq
		var seqStr string
		err := json.Unmarshal(c.Row["_seq"], &seqStr)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(c.Seq), seqStr, "row _seq %s != Seq %d", c.Row["_seq"], c.Seq)
	}
	// A marker proves nothing else (e.g. the rolled-back rows) was queued before it.
	mustExec(t, e, alice, `INSERT INTO app.t (id, v) VALUES (99, 'marker')`)
	select {
	case c := <-ch:
		require.Equal(t, `"marker"`, string(c.Row["v"]), "unexpected change %+v", c)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "marker change not delivered within 5s")
	}
}

// TestConcurrentWriters: many goroutines writing lose nothing, and the feed
// delivers every change exactly once with increasing _seq.
func TestConcurrentWriters(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.c (id INT PRIMARY KEY, w TEXT) WITH (TYPE='SHARED')`)
	const writers, each = 8, 25
	var mu sync.Mutex
	seen := map[string]bool{}
	var lastSeq int64
	var orderErr error
	done := make(chan struct{})
	cancel := e.OnChange(func(c Change) {
		mu.Lock()
		defer mu.Unlock()
		if c.Seq <= lastSeq && orderErr == nil {
			orderErr = fmt.Errorf("seq %d after %d", c.Seq, lastSeq)
		}
		lastSeq = c.Seq
		seen[string(c.Row["id"])] = true
		if len(seen) == writers*each {
			close(done)
		}
	})
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan *Error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := exec(e, root, `INSERT INTO app.c (id, w) VALUES ($1, $2)`, int64(w*each+i), fmt.Sprint(w)); err != nil {
					errs <- err
				}
				if _, err := exec(e, alice, `SELECT COUNT(*) FROM app.c`); err == nil {
					errs <- &Error{Message: "alice read a private shared table"}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.FailNow(t, fmt.Sprint(err))
	}
	got := queryRowsJSON(t, e, root, `SELECT COUNT(*) FROM app.c`)
	require.Equal(t, fmt.Sprintf(`[["%d"]]`, writers*each), got, "count %s", got)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		require.FailNow(t, fmt.Sprintf("feed delivered %d of %d changes within 10s", len(seen), writers*each))
	}
	mu.Lock()
	defer mu.Unlock()
	require.NoError(t, orderErr)
}

// TestOnChangeReentrant: a callback may query the engine (as a live-query
// layer re-reading rows would) without deadlocking it.
func TestOnChangeReentrant(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.t (id INT PRIMARY KEY) WITH (TYPE='SHARED')`)
	counts := make(chan string, 4)
	cancel := e.OnChange(func(c Change) {
		res, err := exec(e, root, `SELECT COUNT(*) FROM app.t`)
		if err != nil {
			counts <- err.Message
			return
		}
		counts <- string(res[0].Rows[0][0])
	})
	defer cancel()
	mustExec(t, e, root, `INSERT INTO app.t (id) VALUES (1)`)
	select {
	case got := <-counts:
		require.Equal(t, `"1"`, got, "callback query saw %s", got)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "callback did not finish within 5s (deadlock?)")
	}
}
