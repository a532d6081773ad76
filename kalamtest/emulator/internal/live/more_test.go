//go:build !js

package live

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// §4.6: before authentication next_batch and unsubscribe are ignored, ping is
// accepted, binary frames get UNSUPPORTED_DATA; the connection stays usable.
func TestBeforeAuthentication(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(dialOpts{})
	c.sendText(`{"type":"next_batch","subscription_id":"x"}`)
	c.sendText(`{"type":"unsubscribe","subscription_id":"x"}`)
	c.sendText(`{"type":"ping"}`)
	require.NoError(t, c.ws.Write(context.Background(), websocket.MessageBinary, []byte{0x80}))
	m := c.expect("error")
	require.EqualValues(t, "UNSUPPORTED_DATA", m["code"], "binary before auth: %v", m)
	c.sendText(`{"type":"authenticate","method":"jwt","token":"alice","protocol":{"serialization":"json","compression":"gzip"}}`)
	c.expect("auth_success")
}

// §4.2/§4.4/§9: ids are echoed exactly; re-using an id replaces the
// subscription; unsubscribe of an unknown id is ignored.
func TestSubscriptionIDsAndReplace(t *testing.T) {
	e := newEnv(t, nil)
	e.sharedTable(1)
	e.exec(rootID, `CREATE TABLE app.other (id BIGINT PRIMARY KEY) WITH (TYPE='SHARED', ACCESS_LEVEL='public')`)
	c := e.login("alice")
	id := "sub-ünï \"quoted\" 42"
	c.subscribe(id, "SELECT * FROM app.todos", nil)
	if m := c.expect("subscription_ack"); m["subscription_id"] != id {
		require.FailNow(t, fmt.Sprintf("id echoed as %q, want %q", m["subscription_id"], id))
	}
	c.subscribe(id, "SELECT * FROM app.other", nil) // replaces
	c.expect("subscription_ack")
	c.sendJSON(map[string]any{"type": "unsubscribe", "subscription_id": "never-existed"})
	e.exec(rootID, `INSERT INTO app.todos (id) VALUES (7)`)
	e.exec(rootID, `INSERT INTO app.other (id) VALUES (8)`)
	m := c.expect("change")
	require.EqualValues(t, id, m["subscription_id"])
	require.Equal(t, "8", ids(t, rowsOf(t, m, "rows")), "after replace got %v, want only app.other's row 8", m)
	c.quiet("q")
	st := e.srv.Stats()
	require.Equal(t, 1, st.Subscriptions, "replace left %d subscriptions, want 1", st.Subscriptions)
}

// §13: a DBA sees every user's rows in a USER table snapshot but only own
// rows live; a user cannot subscribe to a private SHARED table.
func TestDBAOnUserTable(t *testing.T) {
	e := newEnv(t, nil)
	e.exec(rootID, `CREATE TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='USER')`)
	e.exec(aliceID, `INSERT INTO app.notes (id, body) VALUES (1, 'a')`)
	e.exec(bobID, `INSERT INTO app.notes (id, body) VALUES (2, 'b')`)
	d := e.login("admin")
	d.subscribe("n", "SELECT * FROM app.notes", map[string]any{})
	d.expect("subscription_ack")
	got := ids(t, rowsOf(t, d.expect("initial_data_batch"), "rows"))
	require.Equal(t, "1,2", got, "dba snapshot %s, want every user's rows", got)
	e.exec(aliceID, `INSERT INTO app.notes (id, body) VALUES (3, 'a3')`)
	e.exec(adminID, `INSERT INTO app.notes (id, body) VALUES (4, 'own')`)
	got = ids(t, rowsOf(t, d.expect("change"), "rows"))
	require.Equal(t, "4", got, "dba live change %s, want only own row 4", got)
}

// §5.4/§13: STREAM tables: inserts carry user columns and _seq only, and only
// the owner's inserts are delivered.
func TestStreamTable(t *testing.T) {
	e := newEnv(t, nil)
	e.exec(rootID, `CREATE TABLE app.events (id BIGINT PRIMARY KEY, kind TEXT) WITH (TYPE='STREAM', TTL_SECONDS=3600)`)
	c := e.login("alice")
	c.subscribe("ev", "SELECT * FROM app.events", nil)
	c.expect("subscription_ack")
	e.exec(bobID, `INSERT INTO app.events (id, kind) VALUES (1, 'bob')`)
	e.exec(aliceID, `INSERT INTO app.events (id, kind) VALUES (2, 'alice')`)
	row := rowsOf(t, c.expect("change"), "rows")[0]
	require.EqualValues(t, "2", row["id"])
	require.NotNil(t, row["_seq"])
	require.Len(t, row, 3, "stream insert row %v, want id, kind, _seq only", row)
	c.quiet("q")
}

// §7.2: snapshot_end_seq is honoured with from: rows newer than it are not
// in the snapshot.
func TestResumeWithSnapshotEnd(t *testing.T) {
	e := newEnv(t, nil)
	e.sharedTable(2)
	c := e.login("alice")
	c.subscribe("a", "SELECT * FROM app.todos", map[string]any{"batch_size": 1})
	c.expect("subscription_ack")
	first := bcOf(t, c.expect("initial_data_batch"))
	e.exec(rootID, `INSERT INTO app.todos (id) VALUES (3)`)
	c.sendText(fmt.Sprintf(`{"type":"subscribe","subscription":{"id":"b","sql":"SELECT * FROM app.todos","options":{"from_seq_id":%v,"snapshot_end_seq":%v}}}`,
		first["last_seq_id"], first["snapshot_end_seq"]))
	c.expect("subscription_ack")
	b := c.expect("initial_data_batch")
	got := ids(t, rowsOf(t, b, "rows"))
	require.Equal(t, "2", got)
	require.Equal(t, fmt.Sprint(first["snapshot_end_seq"]), fmt.Sprint(bcOf(t, b)["snapshot_end_seq"]), "resume rows %s bc %v: want only row 2 within the old boundary", got, bcOf(t, b))
}

// §14: CURRENT_USER() in the WHERE is the subscriber for the snapshot and the live filter.
func TestFilterCurrentUser(t *testing.T) {
	e := newEnv(t, nil)
	e.exec(rootID, `CREATE TABLE app.tasks (id BIGINT PRIMARY KEY, owner TEXT) WITH (TYPE='SHARED', ACCESS_LEVEL='public')`)
	e.exec(rootID, `INSERT INTO app.tasks (id, owner) VALUES (1, 'alice'), (2, 'bob')`)
	c := e.login("bob")
	c.subscribe("mine", "SELECT * FROM app.tasks WHERE owner = CURRENT_USER()", map[string]any{})
	c.expect("subscription_ack")
	got := ids(t, rowsOf(t, c.expect("initial_data_batch"), "rows"))
	require.Equal(t, "2", got, "snapshot %s, want bob's row 2", got)
	e.exec(rootID, `INSERT INTO app.tasks (id, owner) VALUES (3, 'alice'), (4, 'bob')`)
	got = ids(t, rowsOf(t, c.expect("change"), "rows"))
	require.Equal(t, "4", got, "live %s, want 4", got)
}

// §8.1: WebSocket Ping control frames also keep a connection alive.
func TestPingFramesKeepAlive(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.ClientTimeout = 200 * time.Millisecond })
	c := e.login("alice")
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.ws.Read(context.Background()); err != nil {
				closed <- err
				return
			}
		}
	}()
	for start := time.Now(); time.Since(start) < time.Second; {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.ws.Ping(ctx)
		cancel()
		require.NoError(t, err, "ping after %v: %v (connection closed while pinging)", time.Since(start), err)
	}
	err := <-closed
	require.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err))
	require.Contains(t, err.Error(), "Heartbeat timeout", "after pings stopped: %v, want 1000 Heartbeat timeout", err)
}

// A client-initiated close removes the connection and its subscriptions.
func TestClientCloseCleansUp(t *testing.T) {
	e := newEnv(t, nil)
	e.sharedTable(0)
	c := e.login("alice")
	c.subscribe("s", "SELECT * FROM app.todos", nil)
	c.expect("subscription_ack")
	require.NoError(t, c.ws.Close(websocket.StatusNormalClosure, "bye"), "close")
	waitFor(t, "connection cleanup", func() bool { st := e.srv.Stats(); return st.Connections == 0 && st.Subscriptions == 0 })
}
