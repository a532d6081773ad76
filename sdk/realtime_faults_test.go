//go:build !js && !wasip1

package sdk_test

// The network-fault scenarios of the official SDK (sdk-features §3.6),
// through a fault-injecting TCP proxy, against any KalamDB: the embedded
// emulator by default, or the server named by KALAMDB_URL (with
// KALAMDB_USER and KALAMDB_PASSWORD).

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

type faultEnv struct {
	t      *testing.T
	srv    *kalamtest.Server // any target: the faults are in the proxy
	proxy  *kalamtest.Proxy
	client *sdk.Client // through the proxy
	writer *sdk.Client // straight to the server
	table  string

	mu     sync.Mutex
	events []sdk.ConnectionEventKind
}

var faultTableSeq atomic.Int64

// The client's keepalive, scaled down from the official tests' 1 s ping
// and 2 s pong budget (sdk-features §3.6) by 5 so that the scenarios stay
// fast; fault durations that must beat or stay below the pong budget are
// written relative to faultPong.
const (
	faultPing = 100 * time.Millisecond
	faultPong = 400 * time.Millisecond
)

func newFaultEnv(t *testing.T, opts ...sdk.Option) *faultEnv {
	t.Helper()
	srv := kalamtest.Start(t)
	url, user, pass := srv.URL, srv.RootUser, srv.RootPassword
	e := &faultEnv{t: t, srv: srv, proxy: kalamtest.NewProxy(t, url)}
	var err error
	e.writer, err = sdk.New(url, sdk.WithBasicAuth(user, pass))
	require.NoError(t, err)
	t.Cleanup(func() { e.writer.Close() })
	base := []sdk.Option{sdk.WithBasicAuth(user, pass),
		sdk.WithKeepalive(faultPing, faultPong),
		sdk.WithReconnect(20*time.Millisecond, 200*time.Millisecond, 0),
		sdk.WithAuthTimeout(2 * time.Second),
		sdk.WithConnectionEvents(func(ev sdk.ConnectionEvent) {
			e.mu.Lock()
			e.events = append(e.events, ev.Kind)
			e.mu.Unlock()
		})}
	e.client, err = sdk.New(e.proxy.URL, append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { e.client.Close() })
	e.table = e.newTable()
	return e
}

func (e *faultEnv) newTable() string {
	name := fmt.Sprintf("faults.t%d_%d", time.Now().UnixNano()%1e9, faultTableSeq.Add(1))
	e.sql("CREATE NAMESPACE IF NOT EXISTS faults")
	e.sql("CREATE TABLE " + name + " (id TEXT PRIMARY KEY, body TEXT) WITH (TYPE='SHARED', ACCESS_LEVEL='public')")
	return name
}

func (e *faultEnv) sql(q string, args ...any) {
	e.t.Helper()
	var opts []sdk.QueryOption
	if len(args) > 0 {
		opts = append(opts, sdk.Args(args...))
	}
	_, err := e.writer.Query(waitCtx(e.t), q, opts...)
	require.NoError(e.t, err, q)
}

func (e *faultEnv) insert(table string, ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		e.sql("INSERT INTO "+table+" (id, body) VALUES ($1, $2)", id, "v")
	}
}

func (e *faultEnv) count(k sdk.ConnectionEventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return countEv(e.events, k)
}

// subscribe subscribes through the proxy; the watch checks every row it
// reads.
func (e *faultEnv) subscribe(table string, opts ...sdk.SubscribeOption) (*sdk.Subscription, *watch) {
	e.t.Helper()
	sub, err := e.client.Subscribe(waitCtx(e.t), "SELECT * FROM "+table, opts...)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { sub.Close() })
	return sub, newWatch(e.t)
}

func (e *faultEnv) checkExactlyOnce(w *watch, want int) {
	e.t.Helper()
	require.Equal(e.t, want, len(w.ids), fmt.Sprint("distinct rows: ", w.events))
	for id, n := range w.ids {
		require.Equal(e.t, 1, n, "row "+id+" delivered once")
	}
}

// maxSeq is the server's MAX(_seq) of table: the checkpoint a fault's
// rows must come strictly after.
func (e *faultEnv) maxSeq(table string) int64 {
	e.t.Helper()
	res, err := e.writer.Query(waitCtx(e.t), "SELECT MAX(_seq) AS m FROM "+table)
	require.NoError(e.t, err)
	require.Len(e.t, res.Rows(), 1, "MAX(_seq) returns one row")
	m, err := res.Rows()[0].Int64("m")
	require.NoError(e.t, err, "MAX(_seq) of "+table)
	return m
}

// down takes the server away (refuse new connections, cut the open ones)
// and waits until the client has noticed, so that what the test does next
// happens during the outage as seen by the client. The client must be
// connected first: an outage during a reconnect backoff would cut nothing.
func (e *faultEnv) down() {
	e.t.Helper()
	eventually(e.t, "connected before the outage", func() bool { return e.client.ConnectionState() == sdk.StateConnected })
	before := e.count(sdk.EventDisconnected)
	e.proxy.Down()
	eventually(e.t, "the client notices the outage", func() bool { return e.count(sdk.EventDisconnected) > before })
}

// reconnected is §3.6's check: at least want connects and connected now.
func (e *faultEnv) reconnected(want int) {
	e.t.Helper()
	eventually(e.t, fmt.Sprintf("reconnected (%d connects)", want), func() bool {
		return e.count(sdk.EventConnected) >= want && e.client.ConnectionState() == sdk.StateConnected
	})
}

// serverSubscriptions waits until the server holds exactly n live
// subscriptions (the writer has none): the emulator's counters, or a real
// server's system.live.
func (e *faultEnv) serverSubscriptions(n int) {
	e.t.Helper()
	eventually(e.t, fmt.Sprintf("%d subscriptions on the server", n), func() bool {
		if e.srv.Emulator != nil {
			return e.srv.Emulator.WebSocketStats().Subscriptions == n
		}
		res, err := e.writer.Query(context.Background(), "SELECT COUNT(*) AS n FROM system.live")
		if err != nil || len(res.Rows()) != 1 {
			return false
		}
		got, err := res.Rows()[0].Int64("n")
		return err == nil && got == int64(n)
	})
}

// watch is a seen (no row twice) that also enforces §3.6's "no replay":
// after after(seq) every row read must have _seq > seq, and a forbidden id
// must never be delivered again. It counts what it read.
type watch struct {
	*seen
	floor     int64
	hasFloor  bool
	forbidden map[string]bool
	nEvents   int // events read
	batches   int // InitialRows events
	resumed   int // InitialRows of a resync (Resumed)
	maxBatch  int // highest BatchNum
}

func newWatch(t testing.TB) *watch {
	return &watch{seen: newSeen(t), forbidden: map[string]bool{}}
}

// after sets the checkpoint every later row must be strictly after.
func (w *watch) after(seq int64) { w.floor, w.hasFloor = seq, true }

// forbid fails the test if any of ids is delivered again.
func (w *watch) forbid(ids ...string) {
	for _, id := range ids {
		w.forbidden[id] = true
	}
}

// read consumes events until done reports true, checking every row.
func (w *watch) read(sub *sdk.Subscription, done func() bool) {
	w.t.Helper()
	ctx := waitCtx(w.t)
	for !done() {
		ev, err := sub.Next(ctx)
		if err != nil {
			w.t.Fatalf("Next: %v (events so far: %v)", err, w.events)
		}
		w.nEvents++
		switch e := ev.(type) {
		case *sdk.InitialRows:
			w.batches++
			w.maxBatch = max(w.maxBatch, e.BatchNum)
			if e.Resumed {
				w.resumed++
			}
			w.rows("initial", e.Rows)
		case *sdk.Insert:
			w.rows("insert", e.Rows)
		case *sdk.Update:
			w.rows("update", e.Rows)
		case *sdk.Delete:
			w.rows("delete", e.Rows)
		}
	}
}

// readEvents reads n more events.
func (w *watch) readEvents(sub *sdk.Subscription, n int) {
	w.t.Helper()
	until := w.nEvents + n
	w.read(sub, func() bool { return w.nEvents >= until })
}

func (w *watch) rows(kind string, rows []sdk.Row) {
	w.t.Helper()
	w.seen.rows(kind, rows) // fails on a row without id or _seq, or a repeat
	for _, r := range rows {
		id, _ := r.String("id")
		seq, _ := r.Int64("_seq")
		if w.hasFloor && seq <= w.floor {
			w.t.Fatalf("%s row %s has _seq %d, not after the checkpoint %d (events so far: %v)", kind, id, seq, w.floor, w.events)
		}
		if w.forbidden[id] {
			w.t.Fatalf("%s row %s from before the fault was replayed (events so far: %v)", kind, id, w.events)
		}
	}
}

func TestFault01AckBeforeFirstBatch(t *testing.T) {
	e := newFaultEnv(t)
	seeds := names("seed", 12)
	e.insert(e.table, seeds...)
	sub, s := e.subscribe(e.table, sdk.BatchSize(3))
	ack := nextEvent(t, sub).(*sdk.Ack)
	require.False(t, ack.Resumed)
	e.down()
	e.insert(e.table, "gap-after-ack")
	e.proxy.Up()
	s.read(sub, s.has(append(seeds, "gap-after-ack")...))
	e.insert(e.table, "post")
	s.read(sub, s.has("post"))
	e.checkExactlyOnce(s, 14)
}

func TestFault10LoadingResumeWithLiveWrites(t *testing.T) {
	// The small buffer holds back page requests until the application
	// reads, so the drop below really hits a loading snapshot (the Rust
	// original's "mid-load" drop happens after its subscribe() has waited
	// for the whole snapshot, sdk-features §4 R1).
	e := newFaultEnv(t, sdk.WithSubscriptionBuffer(8))
	seeds := names("seed", 30)
	e.insert(e.table, seeds...)
	sub, s := e.subscribe(e.table, sdk.BatchSize(3))
	s.read(sub, func() bool { return s.batches >= 2 })
	e.insert(e.table, "loading-live-1", "loading-live-2")
	s.read(sub, func() bool { return s.batches >= 4 })
	e.down()
	e.insert(e.table, "gap-1", "gap-2", "gap-3")
	e.proxy.Up()
	s.read(sub, s.has(append(seeds, "gap-3")...))
	e.insert(e.table, "after-1", "after-2")
	s.read(sub, s.has("loading-live-1", "loading-live-2", "gap-1", "gap-2", "after-1", "after-2"))
	e.checkExactlyOnce(s, 37)
	require.True(t, s.batches >= 10, fmt.Sprint("30 rows in batches of 3: ", s.batches, " batches"))
	require.True(t, s.resumed > 0, "the snapshot was still loading at the drop")
}

func TestFault06HeavyWriteBurstRecovery(t *testing.T) {
	e := newFaultEnv(t)
	e.insert(e.table, "baseline")
	sub, s := e.subscribe(e.table)
	s.read(sub, s.has("baseline"))
	s.after(e.maxSeq(e.table))
	s.forbid("baseline")
	e.down()
	burst := names("burst", 50)
	e.insert(e.table, burst...)
	e.proxy.Up()
	s.read(sub, s.has(burst...))
	e.insert(e.table, "after-burst")
	s.read(sub, s.has("after-burst"))
	e.checkExactlyOnce(s, 52)
}

func TestFault04EventCounterIntegrity(t *testing.T) {
	e := newFaultEnv(t)
	sub, s := e.subscribe(e.table)
	eventually(t, "connected once", func() bool { return e.count(sdk.EventConnected) == 1 })
	require.Equal(t, 0, e.count(sdk.EventDisconnected))
	for cycle := 1; cycle <= 3; cycle++ {
		e.proxy.Down()
		eventually(t, fmt.Sprintf("disconnect %d", cycle), func() bool { return e.count(sdk.EventDisconnected) == cycle })
		require.Equal(t, cycle, e.count(sdk.EventConnected), "no connect while down")
		e.proxy.Up()
		eventually(t, fmt.Sprintf("connect %d", cycle+1), func() bool { return e.count(sdk.EventConnected) == cycle+1 })
		require.Equal(t, cycle, e.count(sdk.EventDisconnected))
	}
	e.insert(e.table, "still-flowing")
	s.read(sub, s.has("still-flowing"))
}

func TestFault19aBlackholeIsDetectedAndResumed(t *testing.T) {
	e := newFaultEnv(t)
	e.insert(e.table, "pre")
	sub, s := e.subscribe(e.table)
	s.read(sub, s.has("pre"))
	s.after(e.maxSeq(e.table))
	s.forbid("pre")
	e.proxy.Blackhole(true)
	eventually(t, "the dead link is noticed", func() bool { return e.count(sdk.EventDisconnected) >= 1 })
	require.True(t, e.proxy.Active() >= 1, "the blackholed socket is still open")
	e.insert(e.table, "gap")
	e.proxy.Blackhole(false)
	s.read(sub, s.has("gap"))
	e.insert(e.table, "post")
	s.read(sub, s.has("post"))
	e.checkExactlyOnce(s, 3)
}

func TestFault19bLatencyBelowPongBudgetKeepsTheLink(t *testing.T) {
	e := newFaultEnv(t)
	sub, s := e.subscribe(e.table)
	e.proxy.SetLatency(50 * time.Millisecond)
	e.insert(e.table, "slow-1")
	s.read(sub, s.has("slow-1"))
	e.insert(e.table, "slow-2")
	s.read(sub, s.has("slow-2"))
	require.Equal(t, 0, e.count(sdk.EventDisconnected))
	require.Equal(t, sdk.StateConnected, e.client.ConnectionState())
}

func TestFault14ServerDownConnecting(t *testing.T) {
	e := newFaultEnv(t)
	e.proxy.Down()
	ctx, cancel := contextWithTimeout(300 * time.Millisecond)
	defer cancel()
	require.Error(t, e.client.Connect(ctx), "Connect reports that the server is down")
	require.Equal(t, 0, e.count(sdk.EventConnected))
	e.proxy.Up()
	// No second Connect: the client keeps trying on its own.
	e.reconnected(1)
	require.Equal(t, 1, e.count(sdk.EventConnected), "one connected event")
	require.Equal(t, 0, e.count(sdk.EventDisconnected), "nothing established was lost")
}

func TestFault13RapidFlap(t *testing.T) {
	e := newFaultEnv(t)
	e.insert(e.table, "baseline")
	sub, s := e.subscribe(e.table)
	s.read(sub, s.has("baseline"))
	s.after(e.maxSeq(e.table))
	s.forbid("baseline")
	// Rust: down 150 ms, up 250 ms.
	for i := range 5 {
		e.proxy.Down()
		hold(30 * time.Millisecond)
		e.proxy.Up()
		e.insert(e.table, fmt.Sprintf("flap-%02d", i))
		hold(50 * time.Millisecond)
	}
	e.insert(e.table, "post-flap")
	s.read(sub, s.has("post-flap"))
	s.read(sub, s.has(names("flap", 5)...)) // here even the rows written during flaps arrive
	require.True(t, e.count(sdk.EventDisconnected) >= 1, "the flaps were noticed")
	e.reconnected(2)
	// No reconnect loop: once stable the link stays up while rows flow.
	// (The proxy counts connections as they open; connection events are
	// delivered asynchronously, so they would be a racy measure here.)
	accepted := e.proxy.Accepted()
	e.insert(e.table, "stable")
	s.read(sub, s.has("stable"))
	require.Equal(t, accepted, e.proxy.Accepted(), "no new connection once the network is stable")
	e.checkExactlyOnce(s, 8)
}

func TestFault12And20MultiSubBounceAndUnsubscribeDuringOutage(t *testing.T) {
	e := newFaultEnv(t)
	tables := []string{e.table, e.newTable(), e.newTable()}
	subs := make([]*sdk.Subscription, 3)
	seens := make([]*watch, 3)
	for i, tbl := range tables {
		e.insert(tbl, fmt.Sprintf("pre-%d", i))
		subs[i], seens[i] = e.subscribe(tbl)
		seens[i].read(subs[i], seens[i].has(fmt.Sprintf("pre-%d", i)))
		seens[i].after(e.maxSeq(tbl))
		seens[i].forbid(fmt.Sprintf("pre-%d", i))
	}
	e.down()
	require.NoError(t, subs[2].Close())
	for i, tbl := range tables {
		e.insert(tbl, fmt.Sprintf("gap-%d", i))
	}
	e.proxy.Up()
	for i := range 2 {
		seens[i].read(subs[i], seens[i].has(fmt.Sprintf("gap-%d", i)))
		e.insert(tables[i], fmt.Sprintf("live-%d", i))
		seens[i].read(subs[i], seens[i].has(fmt.Sprintf("live-%d", i)))
		e.checkExactlyOnce(seens[i], 3)
	}
	e.serverSubscriptions(2) // 20: the one closed during the outage is not renewed
}

func TestFault21UpdateDeleteResume(t *testing.T) {
	e := newFaultEnv(t)
	e.insert(e.table, "update-pre", "delete-pre", "update-gap", "delete-gap", "update-after", "delete-after", "anchor")
	sub, _ := e.subscribe(e.table)
	got := map[string][]string{}
	ctx := waitCtx(t)
	readUntil := func(kind, id string) {
		t.Helper()
		for !strings.Contains(","+strings.Join(got[kind], ",")+",", ","+id+",") {
			ev, err := sub.Next(ctx)
			require.NoError(t, err, fmt.Sprintf("waiting for %s %s; got %v", kind, id, got))
			switch x := ev.(type) {
			case *sdk.InitialRows:
				got["initial"] = append(got["initial"], ids(t, x.Rows)...)
			case *sdk.Update:
				got["update"] = append(got["update"], ids(t, x.Rows)...)
			case *sdk.Delete:
				got["delete"] = append(got["delete"], ids(t, x.Rows)...)
			case *sdk.Insert:
				got["insert"] = append(got["insert"], ids(t, x.Rows)...)
			}
		}
	}
	readUntil("initial", "anchor")
	e.sql("UPDATE " + e.table + " SET body = 'x' WHERE id = 'update-pre'")
	e.sql("DELETE FROM " + e.table + " WHERE id = 'delete-pre'")
	readUntil("delete", "delete-pre")
	e.down()
	e.sql("UPDATE " + e.table + " SET body = 'gap' WHERE id = 'update-gap'")
	e.proxy.Up()
	readUntil("initial", "anchor,update-gap") // changed offline: arrives again with the resync
	e.sql("DELETE FROM " + e.table + " WHERE id = 'delete-gap'")
	e.sql("UPDATE " + e.table + " SET body = 'after' WHERE id = 'update-after'")
	e.sql("DELETE FROM " + e.table + " WHERE id = 'delete-after'")
	readUntil("delete", "delete-after")
	require.Equal(t, []string{"update-pre", "update-after"}, got["update"])
	require.Equal(t, []string{"delete-pre", "delete-gap", "delete-after"}, got["delete"])
	require.Equal(t, 8, len(got["initial"]), fmt.Sprint("7 seeds, then update-gap once: ", got["initial"]))
}

// MessagePack and gzip against a real-protocol server (not the SDK's own
// fake): BIGINT and _seq exact, large frames inflated.
func TestServerMessagePackAndGzip(t *testing.T) {
	for _, mp := range []bool{false, true} {
		t.Run(fmt.Sprint("msgpack=", mp), func(t *testing.T) {
			var opts []sdk.Option
			if mp {
				opts = append(opts, sdk.WithMessagePack())
			}
			e := newFaultEnv(t, opts...)
			tbl := fmt.Sprintf("faults.big%d_%d", time.Now().UnixNano()%1e9, faultTableSeq.Add(1))
			e.sql("CREATE TABLE " + tbl + " (id TEXT PRIMARY KEY, n BIGINT, body TEXT) WITH (TYPE='SHARED', ACCESS_LEVEL='public')")
			big := strings.Repeat("gzip me ", 300)
			e.sql("INSERT INTO "+tbl+" (id, n, body) VALUES ($1, $2, $3)", "a", int64(9223372036854775807), big)
			sub, err := e.client.Subscribe(waitCtx(t), "SELECT * FROM "+tbl)
			require.NoError(t, err)
			defer sub.Close()
			nextEvent(t, sub)
			b := nextEvent(t, sub).(*sdk.InitialRows)
			n, err := b.Rows[0].Int64("n")
			require.NoError(t, err)
			require.Equal(t, int64(9223372036854775807), n)
			body, _ := b.Rows[0].String("body")
			require.Equal(t, big, body)
			e.sql("INSERT INTO "+tbl+" (id, n, body) VALUES ($1, $2, $3)", "b", int64(-9007199254740993), big)
			ins := nextEvent(t, sub).(*sdk.Insert)
			n, err = ins.Rows[0].Int64("n")
			require.NoError(t, err)
			require.Equal(t, int64(-9007199254740993), n)
			seq, err := ins.Rows[0].Int64("_seq")
			require.NoError(t, err)
			require.True(t, seq > 1<<53, "a real _seq exceeds 2^53")
		})
	}
}
