package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/sdk/internal/realtime/fakews"
)

// Official Rust SDK defect B1: one slow subscriber stalled every
// subscription and the keepalive. Here it overflows alone, is told so, and
// resynchronises without losing or repeating a row.
func TestDefectB1SlowConsumerStallsNothingAndResyncs(t *testing.T) {
	noGoroutineLeak(t)
	srv := fakews.New()
	c, _ := rtClient(t, srv, sdk.WithSubscriptionBuffer(8))
	srv.Insert("app.slow", "s0", nil)
	srv.Insert("app.fast", "f0", nil)
	slow, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.slow")
	require.NoError(t, err)
	fast, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.fast")
	require.NoError(t, err)
	fs := newSeen(t)
	var want []string
	for i := range 40 {
		id := fmt.Sprintf("r%02d", i)
		want = append(want, id)
		srv.Insert("app.slow", id, nil)
		srv.Insert("app.fast", id, nil)
		fs.read(fast, fs.has(id)) // the fast consumer keeps up while slow is not read at all
	}
	require.Equal(t, 41, len(fs.ids))

	ss := newSeen(t)
	overflows := 0
	ctx := waitCtx(t)
	for !ss.has(append(want, "s0")...)() {
		ev, err := slow.Next(ctx)
		if errors.Is(err, sdk.ErrOverflow) {
			overflows++
			continue
		}
		require.NoError(t, err)
		switch e := ev.(type) {
		case *sdk.InitialRows:
			ss.rows("initial", e.Rows)
		case *sdk.Insert:
			ss.rows("insert", e.Rows)
		}
	}
	require.Equal(t, 1, overflows, "the overflow is reported, once")
	for id, n := range ss.ids {
		require.Equal(t, 1, n, "row "+id+" delivered once")
	}
}

// Official Rust SDK defect B2: a snapshot larger than the event buffer
// deadlocked subscribe(). Here Subscribe returns at the ack and the pages
// are fetched as the consumer reads them.
func TestDefectB2LargeSnapshotNoDeadlock(t *testing.T) {
	srv := fakews.New()
	ids := seed(srv, "app.t", "r", 60)
	c, _ := rtClient(t, srv, sdk.WithSubscriptionBuffer(4))
	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t", sdk.BatchSize(1))
	require.NoError(t, err)
	s := newSeen(t)
	s.read(sub, s.has(ids...))
	require.Equal(t, 60, len(s.ids))
}

// Official TS SDK defect T1: next_batch was never sent. Here every page of a
// snapshot is requested, with last_seq_id of the previous page.
func TestDefectT1EveryPageIsRequested(t *testing.T) {
	srv := fakews.New()
	ids := seed(srv, "app.t", "r", 10)
	var asked []string
	var mu sync.Mutex
	srv.OnMessage = func(_ int, m map[string]any) bool {
		if m["type"] == "next_batch" {
			mu.Lock()
			asked = append(asked, fmt.Sprint(m["last_seq_id"]))
			mu.Unlock()
		}
		return true
	}
	c, _ := rtClient(t, srv)
	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t", sdk.BatchSize(3))
	require.NoError(t, err)
	s := newSeen(t)
	s.read(sub, s.has(ids...))
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{
		fmt.Sprint(fakews.BaseSeq + 2), fmt.Sprint(fakews.BaseSeq + 5), fmt.Sprint(fakews.BaseSeq + 8),
	}, asked)
}

func TestSixtySubscribesAtOnceAllSucceedUnderTheRateLimit(t *testing.T) {
	srv := fakews.New()
	srv.RateLimit = 50
	seed(srv, "app.t", "r", 1)
	c, _ := rtClient(t, srv)
	require.NoError(t, c.Connect(waitCtx(t)))
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t", sdk.LiveOnly())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 60, srv.ActiveSubs())
}

func TestServerRateLimitIsTypedAndNothingIsLost(t *testing.T) {
	srv := fakews.New()
	srv.RateLimit = 5
	seed(srv, "app.t", "r", 1)
	var mu sync.Mutex
	var limitErrs []error
	c, _ := rtClient(t, srv, sdk.WithSendRate(1000, 100), sdk.WithConnectionEvents(func(ev sdk.ConnectionEvent) {
		if ev.Kind == sdk.EventError {
			mu.Lock()
			limitErrs = append(limitErrs, ev.Err)
			mu.Unlock()
		}
	}))
	require.NoError(t, c.Connect(waitCtx(t)))
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t", sdk.LiveOnly())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "a subscribe the server dropped is repeated")
	}
	mu.Lock()
	defer mu.Unlock()
	require.True(t, len(limitErrs) > 0, "the server's limit was reported")
	require.ErrorIs(t, limitErrs[0], sdk.ErrRateLimited)
	var se *sdk.SubscriptionError
	require.ErrorAs(t, limitErrs[0], &se)
	require.Equal(t, "RATE_LIMIT_EXCEEDED", se.Code)
	eventually(t, "12 subscriptions on the server", func() bool { return srv.ActiveSubs() == 12 })
}

func TestSubscriptionLimitErrorIsTyped(t *testing.T) {
	err := &sdk.SubscriptionError{SubscriptionID: "s", Code: "SUBSCRIPTION_LIMIT_EXCEEDED", Message: "Maximum subscriptions reached"}
	require.ErrorIs(t, err, sdk.ErrSubscriptionLimit)
	perConn := &sdk.SubscriptionError{SubscriptionID: "s", Code: "UNSUPPORTED", Message: "Maximum subscriptions (100) per connection exceeded"}
	require.ErrorIs(t, perConn, sdk.ErrSubscriptionLimit)
	require.NotErrorIs(t, perConn, sdk.ErrRateLimited)
}

func TestMessagePackAndGzipFrames(t *testing.T) {
	srv := fakews.New()
	srv.Msgpack, srv.Gzip = true, true
	big := strings.Repeat("é-payload ", 200)
	srv.Insert("app.t", "big", map[string]any{"body": big, "n": "-9223372036854775808"})
	c, _ := rtClient(t, srv, sdk.WithMessagePack())
	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t")
	require.NoError(t, err)
	nextEvent(t, sub)
	b := nextEvent(t, sub).(*sdk.InitialRows)
	body, _ := b.Rows[0].String("body")
	require.Equal(t, big, body)
	n, err := b.Rows[0].Int64("n")
	require.NoError(t, err)
	require.Equal(t, int64(-9223372036854775808), n)
	srv.Insert("app.t", "x", map[string]any{"body": big})
	ins := nextEvent(t, sub).(*sdk.Insert)
	id, _ := ins.Rows[0].String("id")
	require.Equal(t, "x", id)
}

func TestUnsubscribeDuringOutageIsNotResubscribed(t *testing.T) {
	srv := fakews.New()
	seed(srv, "app.a", "a", 1)
	seed(srv, "app.b", "b", 1)
	c, tr := rtClient(t, srv)
	keep, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.a")
	require.NoError(t, err)
	drop, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.b")
	require.NoError(t, err)
	tr.FailNext(3)
	srv.CutAll()
	require.NoError(t, drop.Close())
	require.NoError(t, drop.Close(), "Close is idempotent")
	_, err = drop.Next(waitCtx(t))
	require.ErrorIs(t, err, sdk.ErrSubscriptionClosed)
	srv.Insert("app.a", "gap", nil)
	s := newSeen(t)
	s.read(keep, s.has("a-00", "gap"))
	require.Equal(t, 1, srv.ActiveSubs(), "only the kept subscription was resubscribed")
}

func TestSubscribeDuringReconnect(t *testing.T) {
	srv := fakews.New()
	seed(srv, "app.a", "a", 1)
	seed(srv, "app.b", "b", 2)
	c, tr := rtClient(t, srv)
	a, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.a")
	require.NoError(t, err)
	sa := newSeen(t)
	sa.read(a, sa.has("a-00"))
	tr.FailNext(3)
	srv.CutAll()
	srv.Insert("app.a", "gap", nil)
	b, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.b")
	require.NoError(t, err)
	sb := newSeen(t)
	sb.read(b, sb.has("b-00", "b-01"))
	sa.read(a, sa.has("gap"))
}

func TestEventsIteratorEndsOnClose(t *testing.T) {
	srv := fakews.New()
	seed(srv, "app.t", "r", 2)
	c, _ := rtClient(t, srv)
	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t")
	require.NoError(t, err)
	var rows int
	for ev, err := range sub.Events(waitCtx(t)) {
		require.NoError(t, err)
		if b, ok := ev.(*sdk.InitialRows); ok {
			rows += len(b.Rows)
			if b.Ready {
				sub.Close()
			}
		}
	}
	require.Equal(t, 2, rows)
	ctx, cancel := context.WithCancel(context.Background())
	sub2, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t", sdk.LiveOnly())
	require.NoError(t, err)
	cancel()
	for _, err := range sub2.Events(ctx) {
		require.ErrorIs(t, err, context.Canceled)
	}
}

func TestClientCloseEndsSubscriptionsAndGoroutines(t *testing.T) {
	noGoroutineLeak(t)
	srv := fakews.New()
	seed(srv, "app.t", "r", 1)
	c, _ := rtClient(t, srv)
	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t")
	require.NoError(t, err)
	live, err := c.LiveRows(waitCtx(t), "SELECT * FROM app.t")
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.Equal(t, sdk.StateClosed, c.ConnectionState())
	_, err = sub.Next(waitCtx(t))
	require.ErrorIs(t, err, sdk.ErrSubscriptionClosed)
	_, err = live.Next(waitCtx(t))
	require.ErrorIs(t, err, sdk.ErrSubscriptionClosed)
	_, err = c.Subscribe(waitCtx(t), "SELECT * FROM app.t")
	require.ErrorIs(t, err, sdk.ErrClosed)
	eventually(t, "the server saw the unsubscribes", func() bool { return srv.ActiveSubs() == 0 })
}
