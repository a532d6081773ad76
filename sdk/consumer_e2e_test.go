package sdk_test

// End-to-end tests of the topic consumer against the emulator
// (kalamdb/http-api.md §8, sql-model.md §7).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

const (
	ordersTopic = "shop.order_events"
	// visibilityTimeout is the emulator's (and the server's) default claim
	// lifetime; advancing the clock past it expires claims.
	visibilityTimeout = 60 * time.Second
)

// topicEnv starts an emulator with a SHARED table shop.orders whose
// inserts, updates and deletes feed the topic shop.order_events, and
// returns a client logged in as root.
func topicEnv(tb testing.TB) (*kalamtest.Server, *sdk.Client) {
	tb.Helper()
	srv := kalamtest.Start(tb, kalamtest.WithEmulatorOptions(func(o *emulator.Options) { o.SQLRateLimit = -1 }))
	if srv.Target == kalamtest.TargetURL {
		tb.Skip("the consumer tests need a fresh server per test; an external KALAMDB_URL runs the conformance suite only")
	}
	c, err := sdk.New(srv.URL, sdk.WithBasicAuth(srv.RootUser, srv.RootPassword))
	require.NoError(tb, err)
	tb.Cleanup(func() { c.Close() })
	for _, sql := range []string{
		"CREATE NAMESPACE shop",
		"CREATE TABLE shop.orders (id BIGINT PRIMARY KEY, item TEXT, total BIGINT) WITH (TYPE = 'SHARED')",
		"CREATE TOPIC " + ordersTopic,
		"ALTER TOPIC " + ordersTopic + " ADD SOURCE shop.orders ON INSERT",
		"ALTER TOPIC " + ordersTopic + " ADD SOURCE shop.orders ON UPDATE",
		"ALTER TOPIC " + ordersTopic + " ADD SOURCE shop.orders ON DELETE",
	} {
		_, err := c.Query(context.Background(), sql)
		require.NoError(tb, err, sql)
	}
	return srv, c
}

// insertOrders inserts orders with ids from..to-1.
func insertOrders(t *testing.T, c *sdk.Client, from, to int) {
	t.Helper()
	for id := from; id < to; id++ {
		_, err := c.Query(context.Background(), "INSERT INTO shop.orders (id, item, total) VALUES ($1, $2, $3)",
			sdk.Args(int64(id), fmt.Sprintf("item-%d", id), int64(id*100)))
		require.NoError(t, err, "insert order ", id)
	}
}

func newConsumer(t *testing.T, c *sdk.Client, cfg sdk.ConsumerConfig) *sdk.Consumer {
	t.Helper()
	if cfg.Topic == "" {
		cfg.Topic = ordersTopic
	}
	k, err := c.Consumer(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { k.Close(context.Background()) })
	return k
}

// pollN polls until n records arrived, failing after a bounded number of
// polls.
func pollN(t *testing.T, k *sdk.Consumer, n int) []sdk.Record {
	t.Helper()
	var out []sdk.Record
	for i := 0; i < 20 && len(out) < n; i++ {
		recs, err := k.Poll(context.Background())
		require.NoError(t, err)
		out = append(out, recs...)
	}
	require.Len(t, out, n, "records received")
	return out
}

func offsetsOf(recs []sdk.Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Offset
	}
	return out
}

func span(from, to uint64) []uint64 {
	var out []uint64
	for o := from; o < to; o++ {
		out = append(out, o)
	}
	return out
}

func markAll(t *testing.T, k *sdk.Consumer, recs []sdk.Record) {
	t.Helper()
	for _, r := range recs {
		require.NoError(t, k.MarkProcessed(r))
	}
}

// committedOffset reads the group's offset from system.topic_offsets.
func committedOffset(t *testing.T, c *sdk.Client, group string) (int64, bool) {
	t.Helper()
	res, err := c.Query(context.Background(), "SELECT last_acked_offset FROM system.topic_offsets WHERE topic_id = $1 AND group_id = $2",
		sdk.Args(ordersTopic, group))
	require.NoError(t, err)
	if len(res.Rows()) == 0 {
		return 0, false
	}
	n, err := res.Rows()[0].Int64("last_acked_offset")
	require.NoError(t, err)
	return n, true
}

// Seed: "Topic Consumers" (rust-sdk-page.md), its Go twin.
func TestSeedTopicConsumers(t *testing.T) {
	_, client := topicEnv(t)
	insertOrders(t, client, 1, 4)
	ctx := context.Background()

	consumer, err := client.Consumer(sdk.ConsumerConfig{
		Group:           "billing-worker",
		Topic:           ordersTopic,
		AutoOffsetReset: sdk.Earliest,
		ManualCommit:    true,
		MaxPollRecords:  25,
		PollTimeout:     10 * time.Second,
	})
	require.NoError(t, err)
	records, err := consumer.Poll(ctx)
	require.NoError(t, err)
	require.Len(t, records, 3)
	for _, record := range records {
		t.Logf("offset=%d bytes=%d", record.Offset, len(record.Payload))
		require.NoError(t, consumer.MarkProcessed(record))
	}
	commit, err := consumer.Commit(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(2), commit.Offset)
	require.True(t, commit.Sent && commit.HasOffset)
	require.Equal(t, "billing-worker", commit.Group)
	require.NoError(t, consumer.Close(ctx))

	off, ok := committedOffset(t, client, "billing-worker")
	require.True(t, ok, "the group has a committed offset")
	require.EqualValues(t, 2, off)
}

// Inserts, updates and deletes arrive in order with their ops and rows.
func TestConsumerRecordsCarryOpsAndRows(t *testing.T) {
	srv, c := topicEnv(t)
	published := time.Now().UTC().Truncate(time.Second).Add(123 * time.Millisecond)
	srv.NeedEmulator(t, "clock").SetNow(published)
	big := int64(1)<<53 + 1 // not representable in float64
	mustQuery(t, c, "INSERT INTO shop.orders (id, item, total) VALUES ($1, 'book', $2)", sdk.Args(int64(7), big))
	mustQuery(t, c, "UPDATE shop.orders SET item = 'ebook' WHERE id = 7")
	mustQuery(t, c, "DELETE FROM shop.orders WHERE id = 7")

	k := newConsumer(t, c, sdk.ConsumerConfig{Group: "g", AutoOffsetReset: sdk.Earliest, ManualCommit: true})
	recs := pollN(t, k, 3)
	for i, want := range []struct {
		op   sdk.Op
		item string
	}{{sdk.OpInsert, "book"}, {sdk.OpUpdate, "ebook"}, {sdk.OpDelete, "ebook"}} {
		r := recs[i]
		require.Equal(t, uint64(i), r.Offset)
		require.Equal(t, want.op, r.Op)
		require.Equal(t, ordersTopic, r.Topic)
		require.Equal(t, "", r.User, "a SHARED row has no owner")
		require.Equal(t, uint32(0), r.Partition)
		// The server keys a message with the whole row as JSON.
		require.NotNil(t, r.Key, "key of record ", i)
		var key map[string]any
		require.NoError(t, json.Unmarshal([]byte(*r.Key), &key), "key of record ", i)
		require.Equal(t, "7", fmt.Sprint(key["id"]), "key of record ", i)
		require.Equal(t, sdk.TableName{Namespace: "shop", Name: "orders"}, r.Table)
		require.True(t, r.Timestamp.Equal(published), "timestamp ", r.Timestamp, ", published at ", published)
		row, err := r.Row()
		require.NoError(t, err)
		id, err := row.Int64("id")
		require.NoError(t, err)
		require.Equal(t, int64(7), id)
		total, err := row.Int64("total")
		require.NoError(t, err)
		require.Equal(t, big, total)
		item, err := row.String("item")
		require.NoError(t, err)
		require.Equal(t, want.item, item)
		deleted, err := row.Bool("_deleted")
		require.NoError(t, err)
		require.Equal(t, want.op == sdk.OpDelete, deleted)
		_, err = row.Raw("_table")
		require.Error(t, err, "_table is taken out of the row")
		require.Contains(t, string(r.Payload), `"_table":"shop:orders"`)
	}
}

// A USER table's messages name the row's owner as the producing user.
func TestConsumerRecordUser(t *testing.T) {
	srv, c := topicEnv(t)
	for _, sql := range []string{
		"CREATE USER alice WITH PASSWORD 'AlicePass123!' ROLE user",
		"CREATE TABLE shop.carts (id BIGINT PRIMARY KEY, note TEXT) WITH (TYPE = 'USER')",
		"CREATE TOPIC shop.cart_events",
		"ALTER TOPIC shop.cart_events ADD SOURCE shop.carts ON INSERT",
	} {
		mustQuery(t, c, sql)
	}
	_, err := srv.NeedEmulator(t, "ExecAs").ExecAs("alice", "INSERT INTO shop.carts (id, note) VALUES (1, 'hi')")
	require.NoError(t, err)
	k := newConsumer(t, c, sdk.ConsumerConfig{Group: "g", Topic: "shop.cart_events", AutoOffsetReset: sdk.Earliest, ManualCommit: true})
	recs := pollN(t, k, 1)
	require.Equal(t, "alice", recs[0].User)
	require.Equal(t, sdk.TableName{Namespace: "shop", Name: "carts"}, recs[0].Table)
}

// A consumer that dies without committing leaves its uncommitted records to
// the next member of the group, once the server's claims expire.
func TestConsumerCrashRedeliversExactlyUncommitted(t *testing.T) {
	srv, c := topicEnv(t)
	insertOrders(t, c, 0, 10)
	a := newConsumer(t, c, sdk.ConsumerConfig{Group: "workers", AutoOffsetReset: sdk.Earliest, ManualCommit: true})
	recs := pollN(t, a, 10)
	markAll(t, a, recs[:5])
	res, err := a.Commit(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(4), res.Offset)
	// a crashes here: it is never used again and never commits 5..9.

	b := newConsumer(t, c, sdk.ConsumerConfig{Group: "workers", AutoOffsetReset: sdk.Earliest, ManualCommit: true, PollTimeout: 100 * time.Millisecond})
	got, err := b.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, got, 0, "a's claim on 5..9 is still visible")

	srv.NeedEmulator(t, "clock").Advance(visibilityTimeout + time.Second)
	got = pollN(t, b, 5)
	require.Equal(t, span(5, 10), offsetsOf(got))
	markAll(t, b, got)
	res, err = b.Commit(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(9), res.Offset)
	more, err := b.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, more, 0, "nothing after the last commit")
}

// After its claims expire, the server redelivers uncommitted records; the
// consumer that already holds them does not hand them out twice, while a
// new member of the group receives them.
func TestConsumerVisibilityTimeoutRedelivery(t *testing.T) {
	srv, c := topicEnv(t)
	insertOrders(t, c, 0, 5)
	short := 100 * time.Millisecond
	a := newConsumer(t, c, sdk.ConsumerConfig{Group: "g", AutoOffsetReset: sdk.Earliest, ManualCommit: true, PollTimeout: short})
	recs := pollN(t, a, 5)
	markAll(t, a, recs[:2])
	_, err := a.Commit(context.Background())
	require.NoError(t, err)

	srv.NeedEmulator(t, "clock").Advance(visibilityTimeout + time.Second)
	again, err := a.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, again, 0, "a already holds 2..4")
	insertOrders(t, c, 5, 6)
	next := pollN(t, a, 1)
	require.Equal(t, uint64(5), next[0].Offset)

	srv.NeedEmulator(t, "clock").Advance(visibilityTimeout + time.Second)
	b := newConsumer(t, c, sdk.ConsumerConfig{Group: "g", AutoOffsetReset: sdk.Earliest, ManualCommit: true, PollTimeout: short})
	got := pollN(t, b, 4)
	require.Equal(t, span(2, 6), offsetsOf(got))
}

func TestConsumerGroupsAreIndependent(t *testing.T) {
	_, c := topicEnv(t)
	insertOrders(t, c, 0, 4)
	for _, group := range []string{"billing", "shipping"} {
		k := newConsumer(t, c, sdk.ConsumerConfig{Group: group, AutoOffsetReset: sdk.Earliest, ManualCommit: true})
		recs := pollN(t, k, 4)
		require.Equal(t, span(0, 4), offsetsOf(recs), "group ", group)
		markAll(t, k, recs)
		_, err := k.Commit(context.Background())
		require.NoError(t, err)
	}
	for _, group := range []string{"billing", "shipping"} {
		off, ok := committedOffset(t, c, group)
		require.True(t, ok && off == 3, "group ", group, " committed ", off)
	}
}

func TestConsumerOffsetReset(t *testing.T) {
	_, c := topicEnv(t)
	insertOrders(t, c, 0, 3)
	short := 100 * time.Millisecond

	latest := newConsumer(t, c, sdk.ConsumerConfig{Group: "latest", ManualCommit: true, PollTimeout: short})
	recs, err := latest.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 0, "Latest skips what was there before")
	insertOrders(t, c, 3, 5)
	require.Equal(t, span(3, 5), offsetsOf(pollN(t, latest, 2)))

	earliest := newConsumer(t, c, sdk.ConsumerConfig{Group: "earliest", AutoOffsetReset: sdk.Earliest, ManualCommit: true})
	require.Equal(t, span(0, 5), offsetsOf(pollN(t, earliest, 5)))

	at := newConsumer(t, c, sdk.ConsumerConfig{Group: "at", AutoOffsetReset: sdk.AtOffset(2), ManualCommit: true})
	require.Equal(t, span(2, 5), offsetsOf(pollN(t, at, 3)))

	paged := newConsumer(t, c, sdk.ConsumerConfig{Group: "paged", AutoOffsetReset: sdk.Earliest, ManualCommit: true, MaxPollRecords: 2})
	for _, want := range [][]uint64{{0, 1}, {2, 3}, {4}} {
		recs, err := paged.Poll(context.Background())
		require.NoError(t, err)
		require.Equal(t, want, offsetsOf(recs), "MaxPollRecords pages")
	}
}

// Poll waits for records itself: one produced while it waits is returned
// without waiting for the poll timeout.
func TestConsumerPollReturnsWhenRecordsArrive(t *testing.T) {
	_, c := topicEnv(t)
	k := newConsumer(t, c, sdk.ConsumerConfig{Group: "g", AutoOffsetReset: sdk.Earliest, ManualCommit: true, PollTimeout: time.Minute})
	got := make(chan []sdk.Record, 1)
	errc := make(chan error, 1)
	go func() {
		recs, err := k.Poll(context.Background())
		got <- recs
		errc <- err
	}()
	insertOrders(t, c, 0, 1)
	select {
	case recs := <-got:
		require.NoError(t, <-errc)
		require.Equal(t, []uint64{0}, offsetsOf(recs))
	case <-time.After(30 * time.Second):
		t.Fatal("Poll did not return within 30 s of a record being produced")
	}
}

func TestConsumerAutoCommit(t *testing.T) {
	_, c := topicEnv(t)
	insertOrders(t, c, 0, 3)
	commits := make(chan sdk.CommitResult, 16)
	k := newConsumer(t, c, sdk.ConsumerConfig{Group: "auto", AutoOffsetReset: sdk.Earliest, AutoCommitInterval: 10 * time.Millisecond,
		OnCommit: func(r sdk.CommitResult, err error) {
			if err != nil {
				t.Errorf("auto commit: %v", err)
			}
			commits <- r
		}})
	recs := pollN(t, k, 3)
	markAll(t, k, recs[:2])
	waitCommit(t, commits, 1)
	markAll(t, k, recs[2:])
	waitCommit(t, commits, 2)
	off, ok := committedOffset(t, c, "auto")
	require.True(t, ok && off == 2, "committed ", off)
}

// waitCommit waits for an automatic commit of offset.
func waitCommit(t *testing.T, commits <-chan sdk.CommitResult, offset uint64) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case r := <-commits:
			if r.Sent && r.Offset == offset {
				return
			}
		case <-timeout:
			t.Fatalf("no automatic commit of offset %d within 30 s", offset)
		}
	}
}

func TestConsumerCloseCommits(t *testing.T) {
	_, c := topicEnv(t)
	insertOrders(t, c, 0, 3)
	var closing []sdk.CommitResult
	k, err := c.Consumer(sdk.ConsumerConfig{Group: "closer", Topic: ordersTopic, AutoOffsetReset: sdk.Earliest,
		AutoCommitInterval: time.Hour, OnCommit: func(r sdk.CommitResult, err error) {
			require.NoError(t, err)
			closing = append(closing, r)
		}})
	require.NoError(t, err)
	recs := pollN(t, k, 3)
	markAll(t, k, recs)
	require.NoError(t, k.Close(context.Background()))
	require.Len(t, closing, 1)
	require.True(t, closing[0].Sent && closing[0].Offset == 2, "close commit ", closing[0])
	off, ok := committedOffset(t, c, "closer")
	require.True(t, ok && off == 2, "committed ", off)

	_, err = k.Poll(context.Background())
	require.ErrorIs(t, err, sdk.ErrClosed)
	_, err = k.Commit(context.Background())
	require.ErrorIs(t, err, sdk.ErrClosed)
	require.ErrorIs(t, k.MarkProcessed(recs[0]), sdk.ErrClosed)
	require.NoError(t, k.Close(context.Background()), "a second Close does nothing")
}

// Run stops at a failing record: earlier records are committed, the failed
// one and those after it are redelivered.
func TestConsumerRunHandlerError(t *testing.T) {
	srv, c := topicEnv(t)
	insertOrders(t, c, 0, 5)
	for _, manual := range []bool{true, false} {
		group := fmt.Sprintf("run-manual-%v", manual)
		cfg := sdk.ConsumerConfig{Group: group, AutoOffsetReset: sdk.Earliest, ManualCommit: manual, PollTimeout: 100 * time.Millisecond}
		if !manual {
			cfg.AutoCommitInterval = time.Hour
		}
		k := newConsumer(t, c, cfg)
		boom := errors.New("boom")
		var seen []uint64
		err := k.Run(context.Background(), func(ctx context.Context, r sdk.Record) error {
			seen = append(seen, r.Offset)
			if r.Offset == 3 {
				return boom
			}
			return nil
		})
		require.ErrorIs(t, err, boom)
		var he *sdk.HandlerError
		require.ErrorAs(t, err, &he)
		require.Equal(t, uint64(3), he.Offset)
		require.Contains(t, err.Error(), "offset 3")
		require.Equal(t, span(0, 4), seen)
		off, ok := committedOffset(t, c, group)
		require.True(t, ok && off == 2, "group ", group, " committed ", off)

		// The same consumer gets offset 3 again once the claim expires.
		srv.NeedEmulator(t, "clock").Advance(visibilityTimeout + time.Second)
		seen = nil
		ctx, cancel := context.WithCancel(context.Background())
		err = k.Run(ctx, func(ctx context.Context, r sdk.Record) error {
			seen = append(seen, r.Offset)
			if r.Offset == 4 {
				cancel()
			}
			return nil
		})
		require.NoError(t, err, "Run ends cleanly on cancellation")
		require.Equal(t, []uint64{3, 4}, seen)
		off, _ = committedOffset(t, c, group)
		require.EqualValues(t, 4, off, "processed records are committed on cancellation")
	}
}

func TestConsumerRunStopsOnClose(t *testing.T) {
	_, c := topicEnv(t)
	insertOrders(t, c, 0, 2)
	k, err := c.Consumer(sdk.ConsumerConfig{Group: "g", Topic: ordersTopic, AutoOffsetReset: sdk.Earliest, AutoCommitInterval: time.Hour})
	require.NoError(t, err)
	handled := make(chan uint64, 2)
	done := make(chan error, 1)
	go func() {
		done <- k.Run(context.Background(), func(ctx context.Context, r sdk.Record) error {
			handled <- r.Offset
			return nil
		})
	}()
	<-handled
	<-handled
	require.NoError(t, k.Close(context.Background()))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of Close")
	}
	off, ok := committedOffset(t, c, "g")
	require.True(t, ok && off == 1, "committed ", off)
}

// Role user may not consume (403 FORBIDDEN); an unknown topic is 404.
func TestConsumerTypedServerErrors(t *testing.T) {
	srv, root := topicEnv(t)
	mustQuery(t, root, "CREATE USER alice WITH PASSWORD 'AlicePass123!' ROLE user")
	alice, err := sdk.New(srv.URL, sdk.WithBasicAuth("alice", "AlicePass123!"))
	require.NoError(t, err)
	defer alice.Close()
	k := newConsumer(t, alice, sdk.ConsumerConfig{Group: "g"})
	_, err = k.Poll(context.Background())
	require.ErrorIs(t, err, sdk.ErrPermissionDenied)
	require.Contains(t, err.Error(), "FORBIDDEN")

	missing := newConsumer(t, root, sdk.ConsumerConfig{Group: "g", Topic: "shop.nope"})
	_, err = missing.Poll(context.Background())
	require.ErrorIs(t, err, sdk.ErrNotFound)
	require.Contains(t, err.Error(), "shop.nope")
}

// Transient server failures are retried within the poll.
func TestConsumerRetriesServerErrors(t *testing.T) {
	srv, c := topicEnv(t)
	insertOrders(t, c, 0, 2)
	k := newConsumer(t, c, sdk.ConsumerConfig{Group: "g", AutoOffsetReset: sdk.Earliest, ManualCommit: true})
	sdk.SetConsumerPacing(k, time.Millisecond, time.Millisecond)
	srv.NeedEmulator(t, "fault injection").FailNextPath("/v1/api/topics/consume", 2, 503, `{"error":"Service Unavailable","code":"INTERNAL_ERROR"}`)
	recs := pollN(t, k, 2)
	markAll(t, k, recs)
	srv.NeedEmulator(t, "fault injection").FailNextPath("/v1/api/topics/ack", 1, 500, `{"error":"Failed to acknowledge offset: disk","code":"INTERNAL_ERROR"}`)
	res, err := k.Commit(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(1), res.Offset)
}
