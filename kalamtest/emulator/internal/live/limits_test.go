//go:build !js

package live

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// §5.5: error codes and the ids they carry.
func TestSubscribeErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.exec(rootID, `CREATE TABLE app.secret (id BIGINT PRIMARY KEY) WITH (TYPE='SHARED', ACCESS_LEVEL='private')`)
	pre := e.dial(dialOpts{})
	pre.sendText(`{"type":"subscribe","subscription":{"id":"x","sql":"SELECT * FROM app.secret"}}`)
	m := pre.expect("error")
	require.EqualValues(t, "AUTH_REQUIRED", m["code"])
	require.EqualValues(t, "subscribe", m["subscription_id"], "before auth: %v", m)
	c := e.login("alice")
	for _, tc := range []struct{ id, sql, code, wantID string }{
		{"  ", "SELECT * FROM app.secret", "INVALID_SUBSCRIPTION_ID", "invalid_subscription"},
		{"a", "SELECT * FROM secret", "INVALID_SQL", "a"},
		{"b", "SELECT * FROM app.secret ORDER BY id", "INVALID_SQL", "b"},
		{"c", "SELECT _seq FROM app.secret", "INVALID_SQL", "c"},
		{"d", "SELECT * FROM app.nope", "NOT_FOUND", "d"},
		{"e", "SELECT * FROM app.secret", "UNAUTHORIZED", "e"},
		{"f", "SELECT * FROM app.secret a JOIN app.secret b ON a.id = b.id", "INVALID_SQL", "f"},
	} {
		c.subscribe(tc.id, tc.sql, map[string]any{})
		m := c.expect("error")
		require.EqualValues(t, tc.code, m["code"])
		require.EqualValues(t, tc.wantID, m["subscription_id"], "%q: got %v, want %s for %q", tc.sql, m, tc.code, tc.wantID)
	}
	st := e.srv.Stats()
	require.Equal(t, 0, st.Subscriptions, "failed subscribes left %d subscriptions", st.Subscriptions)
	c.sendText(`{"type":"subscribe","subscription":{"id":"live","sql":"SELECT * FROM app.marker2"}}`)
	c.expect("error")
	e.exec(rootID, `CREATE TABLE app.pub (id BIGINT PRIMARY KEY) WITH (TYPE='SHARED', ACCESS_LEVEL='public')`)
	c.subscribe("live", "SELECT * FROM app.pub", nil)
	c.expect("subscription_ack")
	c.sendJSON(map[string]any{"type": "next_batch", "subscription_id": "live"})
	m = c.expect("error")
	require.EqualValues(t, "BATCH_FETCH_FAILED", m["code"])
	require.Contains(t, fmt.Sprint(m["message"]), "without initial data", "next_batch on live-only: %v", m)
}

// §8.2: 10 subscriptions per user across connections, 100 per connection.
func TestSubscriptionLimits(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Limits.MaxSubscriptionsPerUser = 3
		o.Limits.MaxSubscriptionsPerConnection = 2
	})
	e.sharedTable(0)
	a1, a2 := e.login("alice"), e.login("alice")
	a1.subscribe("1", "SELECT * FROM app.todos", nil)
	a1.expect("subscription_ack")
	a1.subscribe("2", "SELECT * FROM app.todos", nil)
	a1.expect("subscription_ack")
	a1.subscribe("3", "SELECT * FROM app.todos", nil)
	m := a1.expect("error")
	require.EqualValues(t, "UNSUPPORTED", m["code"])
	require.EqualValues(t, "3", m["subscription_id"], "per-connection limit: %v", m)
	a2.subscribe("3", "SELECT * FROM app.todos", nil)
	a2.expect("subscription_ack")
	a2.subscribe("4", "SELECT * FROM app.todos", nil)
	m = a2.expect("error")
	require.EqualValues(t, "SUBSCRIPTION_LIMIT_EXCEEDED", m["code"])
	require.EqualValues(t, "Maximum subscriptions reached", m["message"], "per-user limit: %v", m)
	b := e.login("bob")
	b.subscribe("1", "SELECT * FROM app.todos", nil)
	b.expect("subscription_ack")
	// Unsubscribing frees a slot.
	a2.sendJSON(map[string]any{"type": "unsubscribe", "subscription_id": "3"})
	a2.subscribe("4", "SELECT * FROM app.todos", nil)
	a2.expect("subscription_ack")
	st := e.srv.Stats()
	require.Equal(t, 4, st.Subscriptions)
	require.Equal(t, 3, st.Connections, "stats %+v, want 4 subscriptions on 3 connections", st)
}

// §4.7: over the message rate, RATE_LIMIT_EXCEEDED and the message is dropped;
// a text frame over the size limit gets MESSAGE_TOO_LARGE and the connection stays.
func TestRateAndSizeLimits(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Limits.MaxMessagesPerSecond = 5
		o.Limits.MaxMessageSize = 1024
	})
	c := e.login("alice")
	// 1 token was used by authenticate; send 30 marker requests at once.
	for i := range 30 {
		c.sendJSON(map[string]any{"type": "next_batch", "subscription_id": fmt.Sprint("m", i)})
	}
	limited, answered := 0, 0
	for range 30 {
		m := c.expect("error")
		switch m["code"] {
		case "RATE_LIMIT_EXCEEDED":
			require.EqualValues(t, "rate_limit", m["subscription_id"])
			require.EqualValues(t, "Too many messages", m["message"], "rate limit error %v", m)
			limited++
		case "BATCH_FETCH_FAILED":
			answered++
		}
	}
	require.NotEqual(t, 0, limited)
	require.NotEqual(t, 0, answered)
	require.LessOrEqual(t, answered, 15, "answered %d, limited %d: want a few answered, the rest limited", answered, limited)

	big := e.login("bob")
	big.sendText(`{"type":"ping","pad":"` + strings.Repeat("x", 2000) + `"}`)
	m := big.expect("error")
	require.EqualValues(t, "MESSAGE_TOO_LARGE", m["code"])
	require.EqualValues(t, "protocol", m["subscription_id"], "oversized: %v", m)
	big.quiet("alive")
}

// CutAll drops connections with no close frame; Close sends 1001.
func TestCutAllAndClose(t *testing.T) {
	e := newEnv(t, nil)
	e.sharedTable(0)
	c := e.login("alice")
	c.subscribe("s", "SELECT * FROM app.todos", nil)
	c.expect("subscription_ack")
	e.srv.CutAll()
	code, _ := c.expectClose()
	require.EqualValues(t, -1, code, "CutAll: close code %d, want an abrupt end (no close frame)", code)
	waitFor(t, "subscriptions removed after CutAll", func() bool { st := e.srv.Stats(); return st.Subscriptions == 0 && st.Connections == 0 })

	d := e.login("bob")
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, e.srv.Close(), "Close")
	}()
	code, reason := d.expectClose()
	require.Equal(t, websocket.StatusGoingAway, code)
	require.Equal(t, "Server shutting down", reason, "Close: %d %q, want 1001 Server shutting down", code, reason)
	<-done
	_, resp, err := e.dialRaw(dialOpts{})
	require.Error(t, err)
	require.NotNil(t, resp)
	require.Equal(t, 503, resp.StatusCode, "dial after Close: %v %v, want 503", err, resp)
}

// §1/§8.2: beyond max connections the upgrade is refused with 503.
func TestMaxConnections(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.MaxConnections = 1 })
	e.login("alice")
	_, resp, err := e.dialRaw(dialOpts{})
	require.Error(t, err)
	require.NotNil(t, resp)
	require.Equal(t, 503, resp.StatusCode, "second connection: %v %v, want 503", err, resp)
}

// §6.4/§8.2: a client that does not read never blocks the engine's change
// feed or other connections.
func TestSlowClientDoesNotBlock(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.ClientTimeout = -1 }) // the fast client only reads
	e.exec(rootID, `CREATE TABLE app.feed (id BIGINT PRIMARY KEY, pad TEXT) WITH (TYPE='SHARED', ACCESS_LEVEL='public')`)
	// Uncompressed frames, so the unread socket buffers fill.
	slow := e.dial(dialOpts{query: "compress=false"})
	slow.sendText(`{"type":"authenticate","method":"jwt","token":"alice","protocol":{"serialization":"json","compression":"none"}}`)
	slow.expect("auth_success")
	fast := e.login("bob")
	slow.subscribe("s", "SELECT * FROM app.feed", nil)
	slow.expect("subscription_ack")
	fast.subscribe("f", "SELECT * FROM app.feed", nil)
	fast.expect("subscription_ack")
	// 60 rows of 200 KB: far more than the socket buffers of the
	// connection that does not read.
	pad := strings.Repeat("p", 200000)
	const n = 60
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			if _, err := e.eng.Execute(engine.Request{Identity: rootID, SQL: `INSERT INTO app.feed (id, pad) VALUES ($1, $2)`, Params: []any{json.Number(fmt.Sprint(i)), pad}}); err != nil {
				assert.Fail(t, fmt.Sprintf("insert %d: %v", i, err))
				return
			}
		}
	}()
	for i := range n {
		m := fast.expect("change")
		got := rowsOf(t, m, "rows")[0]["id"]
		require.EqualValues(t, fmt.Sprint(i), got, "fast client change %d has id %v", i, got)
	}
	wg.Wait()
}

// §6.4: beyond the per-connection queue, change messages are dropped (and
// counted), and offering never waits, even with no writer draining.
func TestNotificationQueueOverflowDrops(t *testing.T) {
	s := New(Options{Limits: Limits{NotificationQueue: 3}})
	c := &conn{srv: s, serialization: "json"}
	c.q.init()
	sub := &subscription{id: "x", conn: c, user: "u", q: &subQuery{}, allCols: []string{"id", "_seq"}}
	for i := range 10 {
		sub.offer(engine.Change{Namespace: "a", Table: "b", TableType: "shared", Op: engine.OpInsert, Seq: int64(i + 1),
			Row: map[string]json.RawMessage{"id": json.RawMessage(fmt.Sprint(i)), "_seq": json.RawMessage(fmt.Sprintf(`"%d"`, i+1))}})
	}
	st := s.Stats()
	require.EqualValues(t, 7, st.DroppedNotifications, "dropped %d, want 7", st.DroppedNotifications)
	require.Len(t, c.q.items, 3, "queued %d, want 3", len(c.q.items))
	// While loading, the buffer keeps the newest MaxBufferedChanges.
	s2 := New(Options{Limits: Limits{MaxBufferedChanges: 2}})
	c2 := &conn{srv: s2}
	c2.q.init()
	sub2 := &subscription{id: "y", conn: c2, user: "u", q: &subQuery{}, loading: true}
	for i := range 5 {
		sub2.offer(engine.Change{TableType: "shared", Op: engine.OpInsert, Seq: int64(i + 1)})
	}
	require.Len(t, sub2.buffer, 2)
	require.EqualValues(t, 4, sub2.buffer[0].Seq)
	require.EqualValues(t, 3, s2.Stats().EvictedBuffered, "buffer %+v evicted %d, want seqs 4,5 and 3 evicted", sub2.buffer, s2.Stats().EvictedBuffered)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		require.False(t, time.Now().After(deadline), "timed out waiting for %s", what)
		time.Sleep(2 * time.Millisecond) // polling interval
	}
}
