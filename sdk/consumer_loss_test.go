package sdk_test

// No-loss tests of the topic consumer over the real wire (the emulator):
// a consumer never commits past an offset it has not delivered and seen
// processed, whether the records are held by a crashed member, by a failed
// handler, or lost with a consume reply.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

// insertOrdersBulk inserts orders with ids from..to-1, 100 per statement.
func insertOrdersBulk(t *testing.T, c *sdk.Client, from, to int) {
	t.Helper()
	for lo := from; lo < to; lo += 100 {
		var vals []string
		for id := lo; id < min(lo+100, to); id++ {
			vals = append(vals, fmt.Sprintf("(%d, 'item-%d', %d)", id, id, id*100))
		}
		mustQuery(t, c, "INSERT INTO shop.orders (id, item, total) VALUES "+strings.Join(vals, ", "))
	}
}

// Issue 9 item 3: B starts while A's claim on 0..4 is open; B receives
// 5..9 and must not commit past 0..4 until they come back to it.
func TestConsumerNewMemberWaitsForCrashedMembersClaim(t *testing.T) {
	srv, c := topicEnv(t)
	insertOrders(t, c, 0, 10)
	cfg := sdk.ConsumerConfig{Group: "workers", AutoOffsetReset: sdk.Earliest, ManualCommit: true, MaxPollRecords: 5, PollTimeout: 100 * time.Millisecond}
	a := newConsumer(t, c, cfg)
	require.Equal(t, span(0, 5), offsetsOf(pollN(t, a, 5)))
	// a crashes: it never processes or commits 0..4.

	b := newConsumer(t, c, cfg)
	got := pollN(t, b, 5)
	require.Equal(t, span(5, 10), offsetsOf(got))
	markAll(t, b, got)
	_, err := b.Commit(context.Background())
	require.NoError(t, err)
	_, ok := committedOffset(t, c, "workers")
	require.False(t, ok, "b committed past 0..4, which nobody processed")

	srv.NeedEmulator(t, "clock").Advance(visibilityTimeout + time.Second)
	got = pollN(t, b, 5)
	require.Equal(t, span(0, 5), offsetsOf(got), "a's expired claim comes back to b")
	markAll(t, b, got)
	res, err := b.Commit(context.Background())
	require.NoError(t, err)
	require.True(t, res.Sent && res.Offset == 9, "commit after the gap filled: ", res)
	off, ok := committedOffset(t, c, "workers")
	require.True(t, ok)
	require.EqualValues(t, 9, off)
}

// Issue 9 item 4: Run called again after a HandlerError hands the failed
// record and the rest of its batch to the handler before anything newer,
// and commits past them only once they are processed.
func TestConsumerRunAgainRetriesFailedBatch(t *testing.T) {
	_, c := topicEnv(t)
	insertOrders(t, c, 0, 10)
	for _, manual := range []bool{true, false} {
		group := fmt.Sprintf("retry-manual-%v", manual)
		cfg := sdk.ConsumerConfig{Group: group, AutoOffsetReset: sdk.Earliest, ManualCommit: manual, MaxPollRecords: 5, PollTimeout: 100 * time.Millisecond}
		if !manual {
			cfg.AutoCommitInterval = time.Hour
		}
		k := newConsumer(t, c, cfg)
		boom := errors.New("boom")
		err := k.Run(context.Background(), func(ctx context.Context, r sdk.Record) error {
			if r.Offset == 2 {
				return boom
			}
			return nil
		})
		var he *sdk.HandlerError
		require.ErrorAs(t, err, &he)
		require.Equal(t, uint64(2), he.Offset)
		off, ok := committedOffset(t, c, group)
		require.True(t, ok && off == 1, "group ", group, " committed ", off)

		var seen []uint64
		ctx, cancel := context.WithCancel(context.Background())
		err = k.Run(ctx, func(ctx context.Context, r sdk.Record) error {
			seen = append(seen, r.Offset)
			if r.Offset == 9 {
				cancel()
			}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, span(2, 10), seen, "the failed record and the rest of its batch come first, once")
		off, _ = committedOffset(t, c, group)
		require.EqualValues(t, 9, off)
	}
}

// A context cancelled in the middle of a batch leaves the unhandled
// records to the next Run, not to a commit that passes them.
func TestConsumerRunCancelledMidBatchKeepsTheRest(t *testing.T) {
	_, c := topicEnv(t)
	insertOrders(t, c, 0, 10)
	k := newConsumer(t, c, sdk.ConsumerConfig{Group: "g", AutoOffsetReset: sdk.Earliest, ManualCommit: true, MaxPollRecords: 5, PollTimeout: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, k.Run(ctx, func(ctx context.Context, r sdk.Record) error {
		if r.Offset == 1 {
			cancel()
		}
		return nil
	}))
	off, ok := committedOffset(t, c, "g")
	require.True(t, ok)
	require.EqualValues(t, 1, off, "0 and 1 were handled")

	var seen []uint64
	ctx, cancel = context.WithCancel(context.Background())
	require.NoError(t, k.Run(ctx, func(ctx context.Context, r sdk.Record) error {
		seen = append(seen, r.Offset)
		if r.Offset == 9 {
			cancel()
		}
		return nil
	}))
	require.Equal(t, span(2, 10), seen)
	off, _ = committedOffset(t, c, "g")
	require.EqualValues(t, 9, off)
}

// The scenario of issue 9: 1,200 messages, four members of one group
// crashing in turn (each with processed-but-uncommitted records and an
// unprocessed batch still claimed, the next one starting while those
// claims are open), then a survivor. Every commit covers only processed
// records, and all 1,200 are processed.
func TestConsumerCrashingMembersLoseNothing(t *testing.T) {
	srv, c := topicEnv(t)
	const total = 1200
	insertOrdersBulk(t, c, 0, total)
	processed := make([]int, total)
	var commits int
	commit := func(k *sdk.Consumer) {
		t.Helper()
		res, err := k.Commit(context.Background())
		require.NoError(t, err)
		if !res.HasOffset {
			return
		}
		commits++
		for o := uint64(0); o <= res.Offset; o++ {
			require.NotZero(t, processed[o], "offset %d committed (up to %d) but never processed", o, res.Offset)
		}
	}
	process := func(k *sdk.Consumer, recs []sdk.Record) {
		t.Helper()
		for _, r := range recs {
			processed[r.Offset]++
			require.NoError(t, k.MarkProcessed(r))
		}
	}
	cfg := sdk.ConsumerConfig{Group: "workers", AutoOffsetReset: sdk.Earliest, ManualCommit: true, MaxPollRecords: 50, PollTimeout: 50 * time.Millisecond}
	newMember := func() *sdk.Consumer {
		k := newConsumer(t, c, cfg)
		sdk.SetConsumerPacing(k, time.Millisecond, time.Millisecond)
		return k
	}
	for m := 0; m < 4; m++ {
		k := newMember()
		for i := 0; i < 4; i++ {
			recs, err := k.Poll(context.Background())
			require.NoError(t, err)
			if i < 2 {
				process(k, recs)
				commit(k)
			} else if i == 2 {
				process(k, recs[:len(recs)/2]) // processed, never committed
			}
			// i == 3: claimed and never processed
		}
		// k crashes. Every other crash, the clock passes the visibility
		// timeout before the next member starts; otherwise it starts
		// while k's claims are open.
		if m%2 == 1 {
			srv.NeedEmulator(t, "clock").Advance(visibilityTimeout + time.Second)
		}
	}
	survivor := newMember()
	for round := 0; round < 200; round++ {
		recs, err := survivor.Poll(context.Background())
		require.NoError(t, err)
		process(survivor, recs)
		commit(survivor)
		if off, ok := committedOffset(t, c, "workers"); ok && off == total-1 {
			break
		}
		if len(recs) == 0 {
			srv.NeedEmulator(t, "clock").Advance(visibilityTimeout + time.Second) // let open claims expire
		}
	}
	off, ok := committedOffset(t, c, "workers")
	require.True(t, ok)
	require.EqualValues(t, total-1, off, "the survivor commits everything")
	lost, again := 0, 0
	for _, n := range processed {
		if n == 0 {
			lost++
		}
		if n > 1 {
			again++
		}
	}
	require.Zero(t, lost, "records never processed")
	t.Logf("%d records, %d processed more than once (crashed members' uncommitted work), %d commits", total, again, commits)
	require.Greater(t, commits, 8)
}
