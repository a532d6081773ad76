package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
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
	if cerr != nil {
		t.Fatal(cerr)
	}
	if len(res.Messages) != 3 || res.NextOffset != 3 || res.HasMore {
		t.Fatalf("consume: %+v", res)
	}
	for i, want := range []struct{ op, title string }{{"Insert", `"hello"`}, {"Update", `"hi"`}, {"Delete", `"hi"`}} {
		m := res.Messages[i]
		if m.Offset != uint64(i) || m.Op != want.op || m.Key == nil || *m.Key != "1" || m.User != "alice" || m.TimestampMS != clock.Now().UnixMilli() {
			t.Fatalf("message %d: %+v key=%v", i, m, m.Key)
		}
		var p map[string]json.RawMessage
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatalf("payload %s: %v", m.Payload, err)
		}
		if string(p["id"]) != `"1"` || string(p["title"]) != want.title || p["_seq"] == nil || p["_commit_seq"] == nil {
			t.Fatalf("payload %d: %s", i, m.Payload)
		}
		_, hasTable := p["_table"]
		if hasTable != (want.op != "Delete") || hasTable && string(p["_table"]) != `"app:msgs"` {
			t.Fatalf("payload %d _table (key mode omits it): %s", i, m.Payload)
		}
		if want.op == "Delete" && string(p["_deleted"]) != "true" {
			t.Fatalf("delete payload is the tombstone: %s", m.Payload)
		}
	}
	if _, cerr := e.Consume(svc, ConsumeRequest{TopicID: "app.nope", GroupID: "g", Limit: 1}); cerr == nil || cerr.Code != "NOT_FOUND" || cerr.HTTPStatus != 404 {
		t.Fatalf("unknown topic: %+v", cerr)
	}
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
		if err != nil {
			t.Fatal(err)
		}
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
			if err := e.Ack(svc, "app.tp", "g", 0, 1); err != nil {
				t.Fatal(err)
			}
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
			if err := e.Ack(svc, "app.tp", "g", 0, 3); err != nil {
				t.Fatal(err)
			}
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
		if got := offsets(s.do()); got != s.want {
			t.Fatalf("%s: got %s, want %s", s.name, got, s.want)
		}
	}
	if got := queryRowsJSON(t, e, root, `SELECT group_id, last_acked_offset FROM system.topic_offsets`); got != `[["g","3"]]` {
		t.Fatalf("system.topic_offsets: %s", got)
	}
	// SQL CONSUME with a group auto-acks; ACK returns its row.
	res := mustExec(t, e, svc, `CONSUME FROM app.tp GROUP 'sqlg' FROM EARLIEST LIMIT 2`)[0]
	if res.RowCount != 2 || res.Schema[4].Name != "payload" || string(res.Schema[4].DataType) != `"Bytes"` || string(res.Rows[1][7]) != `"insert"` {
		t.Fatalf("CONSUME: %s %s", schemaJSON(t, res), rowsJSON(t, res))
	}
	res = mustExec(t, e, svc, `CONSUME FROM app.tp GROUP 'sqlg' FROM EARLIEST LIMIT 10`)[0]
	if res.RowCount != 3 || string(res.Rows[0][2]) != `"2"` {
		t.Fatalf("CONSUME resumes after auto-ack: %s", rowsJSON(t, res))
	}
	res = mustExec(t, e, svc, `ACK app.tp GROUP 'sqlg' UPTO OFFSET 4`)[0]
	if got := rowsJSON(t, res); got != `[["app.tp","sqlg",0,"4"]]` {
		t.Fatalf("ACK row: %s", got)
	}
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
			t.Fatalf("change %d (%s) not delivered within 5s", i, w)
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
		if got != w || c.Namespace != "app" || c.Table != "t" || c.TableType != "user" || c.UserID != "alice" || len(c.PK) != 1 || c.PK[0] != "id" {
			t.Fatalf("change %d = %s %+v, want %s", i, got, c, w)
		}
		if c.Seq <= lastSeq {
			t.Fatalf("change %d seq %d not after %d", i, c.Seq, lastSeq)
		}
		lastSeq = c.Seq
		var seqStr string
		if err := json.Unmarshal(c.Row["_seq"], &seqStr); err != nil || seqStr != fmt.Sprint(c.Seq) {
			t.Fatalf("row _seq %s != Seq %d", c.Row["_seq"], c.Seq)
		}
	}
	// A marker proves nothing else (e.g. the rolled-back rows) was queued before it.
	mustExec(t, e, alice, `INSERT INTO app.t (id, v) VALUES (99, 'marker')`)
	select {
	case c := <-ch:
		if string(c.Row["v"]) != `"marker"` {
			t.Fatalf("unexpected change %+v", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("marker change not delivered within 5s")
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
		t.Fatal(err)
	}
	if got := queryRowsJSON(t, e, root, `SELECT COUNT(*) FROM app.c`); got != fmt.Sprintf(`[["%d"]]`, writers*each) {
		t.Fatalf("count %s", got)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("feed delivered %d of %d changes within 10s", len(seen), writers*each)
	}
	mu.Lock()
	defer mu.Unlock()
	if orderErr != nil {
		t.Fatal(orderErr)
	}
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
		if got != `"1"` {
			t.Fatalf("callback query saw %s", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("callback did not finish within 5s (deadlock?)")
	}
}
