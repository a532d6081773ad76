package sdk_test

// Seek, Position, Committed and Offsets over the real wire (issue 12
// item 8), under the same no-loss rule as commits.

import (
	"context"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

func positionsConsumer(t *testing.T, c *sdk.Client, group string) *sdk.Consumer {
	t.Helper()
	return newConsumer(t, c, sdk.ConsumerConfig{Group: group, AutoOffsetReset: sdk.Earliest, ManualCommit: true, MaxPollRecords: 5, PollTimeout: 100 * time.Millisecond})
}

func TestConsumerPositionAndCommitted(t *testing.T) {
	_, c := topicEnv(t)
	insertOrders(t, c, 0, 5)
	ctx := context.Background()
	k := positionsConsumer(t, c, "g")
	_, ok := k.Position()
	require.False(t, ok, "no position before the first Poll")
	_, ok, err := k.Committed(ctx)
	require.NoError(t, err)
	require.False(t, ok, "the group has committed nothing")

	recs := pollN(t, k, 5)
	pos, ok := k.Position()
	require.True(t, ok)
	require.EqualValues(t, 5, pos)
	markAll(t, k, recs[:3])
	o := k.Offsets()
	require.True(t, o.Started && o.HasProcessed && !o.HasCommitted && !o.Held)
	require.EqualValues(t, 2, o.HighestProcessed)
	_, err = k.Commit(ctx)
	require.NoError(t, err)
	off, ok, err := k.Committed(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 2, off)
	o = k.Offsets()
	require.True(t, o.HasCommitted)
	require.EqualValues(t, 2, o.Committed)

	// Another member sees the group's offset; its start follows it.
	other := positionsConsumer(t, c, "g")
	off, ok, err = other.Committed(ctx)
	require.NoError(t, err)
	require.True(t, ok && off == 2)
	require.NoError(t, other.Seek(ctx, 3), "seeking to the group's start")
	pos, _ = other.Position()
	require.EqualValues(t, 3, pos)

	require.NoError(t, k.Close(ctx))
	_, _, err = k.Committed(ctx)
	require.ErrorIs(t, err, sdk.ErrClosed)
	require.ErrorIs(t, k.Seek(ctx, 9), sdk.ErrClosed)
}

// Seeking forward skips by the application's choice: the skipped records
// are never delivered and the next commit covers them.
func TestConsumerSeekForwardSkips(t *testing.T) {
	_, c := topicEnv(t)
	insertOrders(t, c, 0, 10)
	ctx := context.Background()
	k := positionsConsumer(t, c, "g")
	require.NoError(t, k.Seek(ctx, 4))
	pos, ok := k.Position()
	require.True(t, ok && pos == 4, "Seek resolves the start first")
	got := pollN(t, k, 6)
	require.Equal(t, span(4, 10), offsetsOf(got), "0..3 are never delivered")
	markAll(t, k, got)
	res, err := k.Commit(ctx)
	require.NoError(t, err)
	require.True(t, res.Sent)
	require.EqualValues(t, 9, res.Offset)
}

// A forward Seek releases nothing delivered and unprocessed: commits stay
// before it.
func TestConsumerSeekForwardKeepsUnprocessed(t *testing.T) {
	_, c := topicEnv(t)
	insertOrders(t, c, 0, 10)
	ctx := context.Background()
	k := positionsConsumer(t, c, "g")
	recs := pollN(t, k, 5)
	markAll(t, k, recs[:2])
	require.NoError(t, k.Seek(ctx, 8))
	got := pollN(t, k, 2)
	require.Equal(t, []uint64{8, 9}, offsetsOf(got))
	markAll(t, k, got)
	res, err := k.Commit(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, res.Offset, "2..4 were delivered and not processed")
	markAll(t, k, recs[2:])
	res, err = k.Commit(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 9, res.Offset, "5..7 were skipped by Seek")
}

// Seeking backward forgets what was delivered from there and waits for the
// server to redeliver it; seeking below the group's start fails.
func TestConsumerSeekBackward(t *testing.T) {
	srv, c := topicEnv(t)
	insertOrders(t, c, 0, 10)
	ctx := context.Background()
	k := positionsConsumer(t, c, "g")
	recs := append(pollN(t, k, 5), pollN(t, k, 5)...)
	markAll(t, k, recs[:5])
	_, err := k.Commit(ctx)
	require.NoError(t, err)

	err = k.Seek(ctx, 3)
	require.ErrorIs(t, err, sdk.ErrSeekBeforeStart)
	require.ErrorContains(t, err, "offset 5")

	markAll(t, k, recs[5:])
	require.NoError(t, k.Seek(ctx, 7))
	pos, _ := k.Position()
	require.EqualValues(t, 7, pos)
	require.NoError(t, k.MarkProcessed(recs[6]), "6 is still delivered")
	require.Error(t, k.MarkProcessed(recs[8]), "8 was forgotten by Seek")
	res, err := k.Commit(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 6, res.Offset, "processed marks from 7 on were dropped by Seek")
	more, err := k.Poll(ctx)
	require.NoError(t, err)
	require.Len(t, more, 0, "the server redelivers 7..9 only after their claim expires")

	srv.NeedEmulator(t, "clock").Advance(visibilityTimeout + time.Second)
	again := pollN(t, k, 3)
	require.Equal(t, span(7, 10), offsetsOf(again))
	markAll(t, k, again)
	res, err = k.Commit(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 9, res.Offset)
}

// A gap held by a live member resolves when that member commits it: the
// waiting member reads the group's committed offset and commits past it.
func TestConsumerGapCommittedByAnotherMember(t *testing.T) {
	_, c := topicEnv(t)
	insertOrders(t, c, 0, 10)
	ctx := context.Background()
	a := positionsConsumer(t, c, "g")
	b := positionsConsumer(t, c, "g")
	ra := pollN(t, a, 5)
	rb := pollN(t, b, 5)
	require.Equal(t, span(5, 10), offsetsOf(rb))
	markAll(t, b, rb)
	res, err := b.Commit(ctx)
	require.NoError(t, err)
	require.False(t, res.Sent)
	require.True(t, res.Held && res.HeldAt == 0, "b waits for 0..4: ", res)
	o := b.Offsets()
	require.True(t, o.Held && o.HeldAt == 0)

	markAll(t, a, ra)
	res, err = a.Commit(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 4, res.Offset)
	res, err = b.Commit(ctx)
	require.NoError(t, err)
	require.True(t, res.Sent && !res.Held)
	require.EqualValues(t, 9, res.Offset)
	off, _ := committedOffset(t, c, "g")
	require.EqualValues(t, 9, off)
}

// With auto commit, a member waiting on a gap keeps trying on its
// interval, so it commits once the member holding the gap commits it,
// with no new record to prompt it.
func TestConsumerAutoCommitResolvesGapLater(t *testing.T) {
	srv, c := topicEnv(t)
	insertOrders(t, c, 0, 10)
	ctx := context.Background()
	a := positionsConsumer(t, c, "g")
	commits := make(chan sdk.CommitResult, 100)
	b := newConsumer(t, c, sdk.ConsumerConfig{Group: "g", AutoOffsetReset: sdk.Earliest, MaxPollRecords: 5, PollTimeout: 100 * time.Millisecond,
		AutoCommitInterval: 10 * time.Millisecond, OnCommit: func(r sdk.CommitResult, err error) {
			if err == nil {
				commits <- r
			}
		}})
	ra := pollN(t, a, 5)
	consumes := func() int64 {
		return srv.NeedEmulator(t, "traffic log").Traffic().ByRoute["POST /v1/api/topics/consume"]
	}
	markAll(t, b, pollN(t, b, 5))
	// Let b's auto commit find the gap open a few times (each attempt
	// reads the group's committed offset) before a commits it.
	before := consumes()
	require.Eventually(t, func() bool { return consumes() >= before+3 }, 10*time.Second, time.Millisecond)
	select {
	case r := <-commits:
		t.Fatalf("b committed %d over a's open claim", r.Offset)
	default:
	}
	markAll(t, a, ra)
	_, err := a.Commit(ctx)
	require.NoError(t, err)
	select {
	case r := <-commits:
		require.EqualValues(t, 9, r.Offset)
	case <-time.After(10 * time.Second):
		t.Fatal("b never committed past the gap a committed")
	}
}
