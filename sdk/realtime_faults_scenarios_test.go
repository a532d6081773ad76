//go:build !js && !wasip1

package sdk_test

// The rest of the §3.6 network-fault scenarios (see realtime_faults_test.go
// for the harness). Times are the official tests' scaled to faultPong.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

// hold keeps a fault in place for d: it shapes the fault, it does not
// synchronise anything.
func hold(d time.Duration) { <-time.After(d) }

func TestFault02BlackholeDuringSubscribe(t *testing.T) {
	e := newFaultEnv(t)
	seeds := names("seed", 5)
	e.insert(e.table, seeds...)
	require.NoError(t, e.client.Connect(waitCtx(t)))
	e.proxy.Blackhole(true)
	// Rust bounds this subscribe at 3 s against a 2 s pong budget.
	ctx, cancel := contextWithTimeout(3 * faultPong)
	sub, err := e.client.Subscribe(ctx, "SELECT * FROM "+e.table)
	cancel()
	e.proxy.Blackhole(false)
	w := newWatch(t)
	if err != nil {
		// Nothing else may fail it: the SDK rides out the dead link.
		require.ErrorIs(t, err, context.DeadlineExceeded, "a subscribe over a blackhole ends only by its deadline")
		sub, w = e.subscribe(e.table)
	} else {
		t.Cleanup(func() { sub.Close() })
	}
	w.read(sub, w.has(seeds...))
	e.insert(e.table, "post-recovery")
	w.read(sub, w.has("post-recovery"))
	e.checkExactlyOnce(w, 6)
	// A subscribe that timed out leaves no zombie to be renewed on every
	// reconnect (the official SDK does, sdk-features §4 C2).
	e.serverSubscriptions(1)
}

func TestFault03DoubleOutage(t *testing.T) {
	e := newFaultEnv(t)
	e.insert(e.table, "pre-1")
	sub, w := e.subscribe(e.table)
	w.read(sub, w.has("pre-1"))
	w.after(e.maxSeq(e.table))
	w.forbid("pre-1")
	e.down()
	accepted := e.proxy.Accepted()
	e.proxy.Up()
	eventually(t, "a reconnect has started", func() bool { return e.proxy.Accepted() > accepted })
	e.proxy.Down() // whether or not that reconnect got through
	e.insert(e.table, "gap-double")
	hold(180 * time.Millisecond) // Rust: 900 ms
	e.proxy.Up()
	w.read(sub, w.has("gap-double"))
	e.insert(e.table, "live-after")
	w.read(sub, w.has("live-after"))
	e.reconnected(2)
	e.checkExactlyOnce(w, 3)
}

func TestFault05GradualDegradation(t *testing.T) {
	e := newFaultEnv(t)
	e.insert(e.table, "baseline")
	sub, w := e.subscribe(e.table)
	w.read(sub, w.has("baseline"))
	w.after(e.maxSeq(e.table))
	w.forbid("baseline")
	// Rust: 100, 500, 1500, 3000 ms per chunk, 2 s each, pong budget 2 s.
	steps := []time.Duration{faultPong / 20, faultPong / 4, faultPong * 3 / 4, faultPong * 3 / 2}
	var rows []string
	for i, latency := range steps {
		e.proxy.SetLatency(latency)
		rows = append(rows, fmt.Sprintf("step-%d", i))
		e.insert(e.table, rows[i])
		if i < len(steps)-1 {
			hold(faultPong)
		}
	}
	eventually(t, "the step above the pong budget drops the link", func() bool { return e.count(sdk.EventDisconnected) >= 1 })
	e.proxy.SetLatency(0)
	e.insert(e.table, "post-ramp")
	w.read(sub, w.has(append(rows, "post-ramp")...))
	e.reconnected(2)
	e.checkExactlyOnce(w, 6)
}

func TestFault07LargeSnapshotRepeatedOutages(t *testing.T) {
	// A small buffer makes the SDK hold back page requests until the
	// application reads, so the outages really hit a loading snapshot.
	e := newFaultEnv(t, sdk.WithSubscriptionBuffer(8))
	seeds := names("seed", 30)
	e.insert(e.table, seeds...)
	sub, w := e.subscribe(e.table, sdk.BatchSize(3))
	w.readEvents(sub, 3)
	e.down()
	e.insert(e.table, "gap-one")
	e.proxy.Up()
	w.readEvents(sub, 3)
	e.down()
	e.insert(e.table, "gap-two")
	e.proxy.Up()
	w.read(sub, w.has(append(seeds, "gap-one", "gap-two")...))
	e.insert(e.table, "final-live")
	w.read(sub, w.has("final-live"))
	e.checkExactlyOnce(w, 33)
	require.True(t, w.resumed > 0, "the load continued after an outage (resumed batches)")
}

func TestFault08LatencyDuringSnapshot(t *testing.T) {
	e := newFaultEnv(t)
	seeds := names("seed", 20)
	e.insert(e.table, seeds...)
	// Rust: 200 ms per chunk against a 2 s pong budget. Batches of 5 make
	// the snapshot four round trips through it.
	e.proxy.SetLatency(faultPong / 8)
	sub, w := e.subscribe(e.table, sdk.BatchSize(5))
	w.read(sub, w.has(seeds...))
	require.True(t, w.batches >= 4, fmt.Sprint("20 rows in batches of 5: ", w.batches, " batches"))
	e.proxy.SetLatency(0)
	e.insert(e.table, "live-after")
	w.read(sub, w.has("live-after"))
	e.checkExactlyOnce(w, 21)
}

func TestFault09LiveUpdatesResume(t *testing.T) {
	e := newFaultEnv(t)
	pre := names("pre", 2)
	e.insert(e.table, pre...)
	sub, w := e.subscribe(e.table)
	w.read(sub, w.has(pre...))
	w.after(e.maxSeq(e.table))
	w.forbid(pre...)
	e.down()
	gap := names("gap", 3)
	e.insert(e.table, gap...)
	e.proxy.Up()
	live := names("live", 3)
	e.insert(e.table, live...) // while the client reconnects
	w.read(sub, w.has(append(gap, live...)...))
	e.checkExactlyOnce(w, 8)
}

func TestFault11MixedStageRecovery(t *testing.T) {
	e := newFaultEnv(t, sdk.WithSubscriptionBuffer(8)) // B stays loading (see 07)
	tableA, tableB := e.table, e.newTable()
	e.insert(tableA, "live-before")
	subA, wa := e.subscribe(tableA)
	wa.read(subA, wa.has("live-before"))
	wa.after(e.maxSeq(tableA))
	wa.forbid("live-before")
	seeds := names("seed", 40)
	e.insert(tableB, seeds...)
	subB, wb := e.subscribe(tableB, sdk.BatchSize(3))
	wb.readEvents(subB, 2)
	e.down()
	e.insert(tableA, "gap-a")
	e.insert(tableB, "gap-b")
	e.proxy.Up()
	e.insert(tableA, "after-a")
	e.insert(tableB, "after-b")
	wa.read(subA, wa.has("gap-a", "after-a"))
	e.checkExactlyOnce(wa, 3)
	wb.read(subB, wb.has(append(seeds, "gap-b", "after-b")...))
	e.checkExactlyOnce(wb, 42)
	require.True(t, wb.resumed > 0, "B was still loading at the outage")
}

func TestFault15ServerDownInitialLoad(t *testing.T) {
	// Pages of one row, held back by a buffer of 4: the load is in flight
	// when the server goes.
	e := newFaultEnv(t, sdk.WithSubscriptionBuffer(4))
	seeds := names("seed", 5)
	e.insert(e.table, seeds...)
	sub, w := e.subscribe(e.table, sdk.BatchSize(1))
	w.readEvents(sub, 2)
	require.True(t, len(w.ids) < len(seeds), "the load is still in flight")
	e.down()
	e.proxy.Up()
	w.read(sub, w.has(seeds...))
	e.reconnected(2)
	e.checkExactlyOnce(w, 5)
	require.True(t, w.resumed > 0, "the load resumed after the outage")
}

func TestFault16SocketDropResume(t *testing.T) {
	e := newFaultEnv(t)
	e.insert(e.table, "pre-1")
	sub, w := e.subscribe(e.table)
	w.read(sub, w.has("pre-1"))
	e.insert(e.table, "pre-live")
	w.read(sub, w.has("pre-live")) // the watch requires _seq on it
	cp, ok := sub.Checkpoint()
	require.True(t, ok, "a checkpoint after reading rows")
	require.Equal(t, e.maxSeq(e.table), cp, "the checkpoint is the server's MAX(_seq) before the drop")
	w.after(cp)
	w.forbid("pre-1", "pre-live")
	e.down()
	gap := names("gap", 2)
	e.insert(e.table, gap...)
	e.proxy.Up()
	e.reconnected(2)
	live := names("live", 2)
	e.insert(e.table, live...)
	w.read(sub, w.has(append(gap, live...)...))
	e.checkExactlyOnce(w, 6)
}

func TestFault17StaggeredOutages(t *testing.T) {
	e := newFaultEnv(t)
	e.insert(e.table, "baseline")
	sub, w := e.subscribe(e.table)
	w.read(sub, w.has("baseline"))
	w.forbid("baseline")
	// Rust: after 0, 200 and 900 ms, down for 150, 700 and 1500 ms.
	for i, c := range []struct {
		name        string
		before, off time.Duration
	}{{"fast", 0, 30 * time.Millisecond}, {"medium", 40 * time.Millisecond, 140 * time.Millisecond}, {"slow", 180 * time.Millisecond, 300 * time.Millisecond}} {
		hold(c.before)
		w.after(e.maxSeq(e.table))
		e.down()
		e.insert(e.table, "gap-"+c.name)
		hold(c.off)
		e.proxy.Up()
		e.reconnected(i + 2)
		e.insert(e.table, "live-"+c.name)
		w.read(sub, w.has("gap-"+c.name, "live-"+c.name))
	}
	e.checkExactlyOnce(w, 7)
	require.Equal(t, 3, e.count(sdk.EventDisconnected), "one disconnect per outage")
}

func TestFault18SubscribeDuringReconnect(t *testing.T) {
	e := newFaultEnv(t)
	tableA, tableB := e.table, e.newTable()
	e.insert(tableA, "pre-a")
	seedsB := names("b", 3)
	e.insert(tableB, seedsB...)
	subA, wa := e.subscribe(tableA)
	wa.read(subA, wa.has("pre-a"))
	wa.after(e.maxSeq(tableA))
	wa.forbid("pre-a")
	e.down()
	e.insert(tableA, "gap-a")
	require.Equal(t, sdk.StateReconnecting, e.client.ConnectionState())
	type result struct {
		sub *sdk.Subscription
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Rust bounds this subscribe at 15 s.
		sub, err := e.client.Subscribe(waitCtx(t), "SELECT * FROM "+tableB)
		done <- result{sub, err}
	}()
	e.proxy.Up()
	r := <-done // bounded by waitCtx
	require.NoError(t, r.err, "a subscribe while reconnecting")
	t.Cleanup(func() { r.sub.Close() })
	wb := newWatch(t)
	wb.read(r.sub, wb.has(seedsB...))
	e.insert(tableB, "live-b")
	wb.read(r.sub, wb.has("live-b"))
	e.checkExactlyOnce(wb, 4)
	e.insert(tableA, "live-a")
	wa.read(subA, wa.has("gap-a", "live-a"))
	e.checkExactlyOnce(wa, 3)
	e.serverSubscriptions(2)
}

func TestFault19cChunkStallsForceReconnect(t *testing.T) {
	e := newFaultEnv(t)
	e.insert(e.table, "pre")
	sub, w := e.subscribe(e.table)
	w.read(sub, w.has("pre"))
	w.after(e.maxSeq(e.table))
	w.forbid("pre")
	// Rust: every chunk stalls 2.5 s against a 2 s pong budget.
	e.proxy.SetChunkStall(1, faultPong*3/2)
	eventually(t, "stalls beyond the pong budget drop the link", func() bool { return e.count(sdk.EventDisconnected) >= 1 })
	e.insert(e.table, "gap")
	e.proxy.SetChunkStall(0, 0)
	w.read(sub, w.has("gap"))
	e.insert(e.table, "post")
	w.read(sub, w.has("post"))
	e.reconnected(2)
	e.checkExactlyOnce(w, 3)
}
