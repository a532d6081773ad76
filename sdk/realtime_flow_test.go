//go:build !js

package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/sdk/internal/realtime/fakews"
	"github.com/kalamstack/kalam-go/transport/mock"
	"github.com/stretchr/testify/require"
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

// Official Rust SDK defect R2: events were routed by id suffix, so one
// subscription could receive another's rows. Routing here is exact.
func TestDefectR2RoutingIsExact(t *testing.T) {
	srv := fakews.New()
	seed(srv, "app.t", "r", 1)
	c, _ := rtClient(t, srv)
	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t", sdk.LiveOnly())
	require.NoError(t, err)
	nextEvent(t, sub)
	srv.Inject(`{"type":"change","subscription_id":"x` + sub.ID() + `","change_type":"insert","rows":[{"id":"intruder","_seq":"1"}]}`)
	srv.Insert("app.t", "mine", nil)
	ins := nextEvent(t, sub).(*sdk.Insert)
	id, _ := ins.Rows[0].String("id")
	require.Equal(t, "mine", id, "the frame for another id was not delivered")
	eventually(t, "the stray id is unsubscribed", func() bool { return countKind(srv.Log(), "unsubscribe") == 1 })
}

func TestSubscribeWithoutCredentialsFailsFast(t *testing.T) {
	c, err := sdk.New("http://kalam.test", sdk.WithTransport(mock.New(fakews.New())))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Subscribe(waitCtx(t), "SELECT * FROM app.t")
	require.ErrorIs(t, err, sdk.ErrInvalidCredentials)
	require.ErrorIs(t, c.Connect(waitCtx(t)), sdk.ErrInvalidCredentials)
}

func TestWebSocketURLFollowsTheBaseURL(t *testing.T) {
	srv := fakews.New()
	for base, want := range map[string]string{
		"http://kalam.test":         "ws://kalam.test/v1/ws",
		"https://kalam.test/prefix": "wss://kalam.test/prefix/v1/ws?compress=false",
	} {
		tr := mock.New(srv, mock.WithTrafficLog())
		opts := []sdk.Option{sdk.WithTransport(tr), sdk.WithToken("tok"), sdk.WithReconnect(time.Millisecond, time.Millisecond, 1)}
		if want[len(want)-1] == 'e' {
			opts = append(opts, sdk.WithoutCompression())
		}
		c, err := sdk.New(base, opts...)
		require.NoError(t, err)
		c.Connect(waitCtx(t)) // the fake serves only /v1/ws at the root: the result does not matter
		c.Close()
		require.True(t, len(tr.Traffic()) > 0, "a dial was made")
		require.Equal(t, want, tr.Traffic()[0].URL)
	}
}

// Official Rust SDK defect B3: changes held while a snapshot loads grew
// without limit. Here they count against the subscription's buffer, and
// overflowing it resynchronises without loss or repetition.
func TestDefectB3HeldChangesAreBounded(t *testing.T) {
	srv := fakews.New()
	srv.NoFlowControl = true
	seeds := seed(srv, "app.t", "s", 3)
	gate := make(chan struct{})
	var once sync.Once
	srv.OnMessage = func(_ int, m map[string]any) bool {
		if m["type"] == "next_batch" {
			once.Do(func() { <-gate }) // the first page request waits: the snapshot stays loading
		}
		return true
	}
	c, _ := rtClient(t, srv, sdk.WithSubscriptionBuffer(4))
	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t", sdk.BatchSize(1))
	require.NoError(t, err)
	live := names("live", 8)
	var inserts sync.WaitGroup
	inserts.Add(1)
	go func() {
		defer inserts.Done()
		for _, id := range live {
			srv.Insert("app.t", id, nil)
		}
		// All 8 changes went out before the next page can: the client
		// receives them while the snapshot is still loading.
		close(gate)
	}()
	s := newSeen(t)
	overflows := 0
	ctx := waitCtx(t)
	for !s.has(append(seeds, live...)...)() {
		ev, err := sub.Next(ctx)
		if errors.Is(err, sdk.ErrOverflow) {
			overflows++
			continue
		}
		require.NoError(t, err)
		switch e := ev.(type) {
		case *sdk.InitialRows:
			s.rows("initial", e.Rows)
		case *sdk.Insert:
			s.rows("insert", e.Rows)
		}
	}
	inserts.Wait()
	require.Equal(t, 11, len(s.ids))
	for id, n := range s.ids {
		require.Equal(t, 1, n, "row "+id+" delivered once")
	}
	require.Equal(t, 1, overflows, "8 held changes overflow a buffer of 4, once")
	cp, ok := sub.Checkpoint()
	require.True(t, ok)
	require.Equal(t, srv.MaxSeq(), cp, "the checkpoint is the last row the application saw")
}

// Official TS SDK defect T2: auto-reconnect never fired after a drop.
func TestDefectT2AutoReconnectFires(t *testing.T) {
	srv := fakews.New()
	c, _ := rtClient(t, srv)
	require.NoError(t, c.Connect(waitCtx(t)))
	srv.CutAll()
	eventually(t, "a second connection without any call", func() bool { return srv.Dials() == 2 && srv.Conns() == 1 })
	eventually(t, "connected again", func() bool { return c.ConnectionState() == sdk.StateConnected })
}

// Official TS SDK defect C3: no auth timeout and no liveness check. Here a
// server that never answers the handshake fails Connect within the auth
// timeout (the dead-link half is TestFaultBlackholeIsDetectedAndResumed).
func TestDefectC3AuthTimeout(t *testing.T) {
	silent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.Read(r.Context()) // never answers
	})
	c, err := sdk.New("http://kalam.test", sdk.WithTransport(mock.New(silent)), sdk.WithToken("t"),
		sdk.WithAuthTimeout(50*time.Millisecond), sdk.WithReconnect(time.Millisecond, time.Millisecond, 1))
	require.NoError(t, err)
	defer c.Close()
	err = c.Connect(waitCtx(t))
	require.ErrorIs(t, err, sdk.ErrConnectionLost)
	require.ErrorContains(t, err, "no auth_success within 50ms")
}

func TestSubscribeRejectsSQLTheServerWouldDropTheConnectionFor(t *testing.T) {
	srv := fakews.New()
	c, _ := rtClient(t, srv)
	_, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t WHERE body = '"+strings.Repeat("x", 70<<10)+"'")
	require.ErrorContains(t, err, "64 KiB")
	require.Equal(t, 0, srv.Dials(), "nothing was sent")
}

// A resubscribe refused for the per-user subscription limit (the server
// still counts the lost connection's subscriptions) is retried, not fatal.
func TestResubscribeRetriedAfterSubscriptionLimit(t *testing.T) {
	srv := fakews.New()
	seed(srv, "app.t", "r", 1)
	var subscribes atomic.Int32
	srv.OnMessage = func(_ int, m map[string]any) bool {
		if m["type"] != "subscribe" || subscribes.Add(1) != 2 {
			return true
		}
		id := m["subscription"].(map[string]any)["id"].(string)
		srv.Inject(`{"type":"error","subscription_id":"` + id + `","code":"SUBSCRIPTION_LIMIT_EXCEEDED","message":"Maximum subscriptions reached"}`)
		return false
	}
	c, _ := rtClient(t, srv)
	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t")
	require.NoError(t, err)
	s := newSeen(t)
	s.read(sub, s.has("r-00"))
	srv.CutAll()
	srv.Insert("app.t", "gap", nil)
	s.read(sub, s.has("gap"))
	require.Equal(t, int32(3), subscribes.Load(), "first, refused, retried")
}
