//go:build !js

package sdk_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/sdk/internal/realtime/fakews"
	"github.com/kalamstack/kalam-go/transport/mock"
	"github.com/stretchr/testify/require"
)

func TestSubscribeSnapshotPagesThenLiveChanges(t *testing.T) {
	noGoroutineLeak(t)
	srv := fakews.New()
	seed(srv, "app.msgs", "s", 5)
	srv.Insert("app.msgs", "big", map[string]any{"body": "b", "n": "9007199254740993"})
	c, _ := rtClient(t, srv)
	require.Equal(t, sdk.StateIdle, c.ConnectionState(), "lazy: no connection before Subscribe")
	require.Equal(t, 0, srv.Dials())

	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.msgs", sdk.BatchSize(2))
	require.NoError(t, err)
	defer sub.Close()
	ack, ok := nextEvent(t, sub).(*sdk.Ack)
	require.True(t, ok, "first event is the ack")
	require.False(t, ack.Resumed)
	require.Equal(t, "id", ack.Columns[0].Name)
	require.True(t, ack.Columns[0].PrimaryKey)

	var got []string
	batches := 0
	for {
		b, ok := nextEvent(t, sub).(*sdk.InitialRows)
		require.True(t, ok, "initial batches follow the ack")
		batches++
		for _, r := range b.Rows {
			id, _ := r.String("id")
			got = append(got, id)
		}
		if b.Ready {
			break
		}
	}
	require.Equal(t, []string{"s-00", "s-01", "s-02", "s-03", "s-04", "big"}, got)
	require.Equal(t, 3, batches, "6 rows in pages of 2: the SDK asked for every page")
	require.Equal(t, 2, countKind(srv.Log(), "next_batch"))

	seq := srv.Insert("app.msgs", "live", map[string]any{"body": "hello", "n": "9223372036854775807"})
	ins := nextEvent(t, sub).(*sdk.Insert)
	n, err := ins.Rows[0].Int64("n")
	require.NoError(t, err)
	require.Equal(t, int64(9223372036854775807), n, "BIGINT decoded exactly")
	gotSeq, err := ins.Rows[0].Int64("_seq")
	require.NoError(t, err)
	require.Equal(t, seq, gotSeq, "_seq above 2^53 decoded exactly")

	srv.Update("app.msgs", "live", map[string]any{"body": "edited"})
	up := nextEvent(t, sub).(*sdk.Update)
	body, _ := up.Rows[0].String("body")
	oldBody, _ := up.Old[0].String("body")
	require.Equal(t, "edited", body)
	require.Equal(t, "hello", oldBody)
	require.Equal(t, []string{"body"}, up.Changed)

	srv.Delete("app.msgs", "live")
	del := nextEvent(t, sub).(*sdk.Delete)
	deleted, _ := del.Rows[0].Bool("_deleted")
	require.True(t, deleted)
	cp, ok := sub.Checkpoint()
	require.True(t, ok)
	require.Equal(t, srv.MaxSeq(), cp)
	require.Equal(t, sdk.StateConnected, c.ConnectionState())
}

func TestOneSharedSocketForAllSubscriptions(t *testing.T) {
	srv := fakews.New()
	seed(srv, "app.a", "a", 1)
	seed(srv, "app.b", "b", 1)
	c, _ := rtClient(t, srv)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Subscribe(waitCtx(t), fmt.Sprintf("SELECT * FROM app.%c", "ab"[i%2]))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, srv.Dials(), "six subscriptions share one WebSocket")
	require.Equal(t, 6, srv.ActiveSubs())
}

// Official TS/WASM SDK defect T4: the same SQL twice gives the same id and
// the second subscription replaces the first.
func TestDefectT4SameSQLTwiceAreTwoSubscriptions(t *testing.T) {
	srv := fakews.New()
	seed(srv, "app.t", "x", 1)
	c, _ := rtClient(t, srv)
	s1, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t", sdk.LiveOnly())
	require.NoError(t, err)
	s2, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t", sdk.LiveOnly())
	require.NoError(t, err)
	require.True(t, s1.ID() != s2.ID(), "distinct ids")
	nextEvent(t, s1)
	nextEvent(t, s2)
	srv.Insert("app.t", "new", nil)
	_, ok1 := nextEvent(t, s1).(*sdk.Insert)
	_, ok2 := nextEvent(t, s2).(*sdk.Insert)
	require.True(t, ok1 && ok2, "both receive the insert")
}

func TestConnectIsEagerAndIdempotent(t *testing.T) {
	srv := fakews.New()
	var events []sdk.ConnectionEvent
	var mu sync.Mutex
	c, _ := rtClient(t, srv, sdk.WithConnectionEvents(func(ev sdk.ConnectionEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))
	require.NoError(t, c.Connect(waitCtx(t)))
	require.NoError(t, c.Connect(waitCtx(t)))
	require.Equal(t, 1, srv.Dials())
	require.Equal(t, sdk.StateConnected, c.ConnectionState())
	eventually(t, "the connected event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) == 1 && events[0].Kind == sdk.EventConnected
	})
	require.Equal(t, []string{"tok"}, srv.Tokens(), "header auth with the client's token")
}

func TestSubscribeRejectedFailsTheCallAndLeavesNothing(t *testing.T) {
	noGoroutineLeak(t)
	srv := fakews.New()
	c, _ := rtClient(t, srv)
	_, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.missing")
	var se *sdk.SubscriptionError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "NOT_FOUND", se.Code)
	require.ErrorIs(t, err, sdk.ErrNotFound)
	_, err = c.Subscribe(waitCtx(t), "SELECT * FROM nonamespace")
	require.ErrorAs(t, err, &se)
	require.Equal(t, "INVALID_SQL", se.Code)
	require.Equal(t, 0, srv.ActiveSubs())
}

// Official SDK defects C1/C2: a subscribe cancelled midway neither blocks
// past its context nor leaves a zombie that is resubscribed later.
func TestDefectC2CancelledSubscribeLeavesNoZombie(t *testing.T) {
	noGoroutineLeak(t)
	srv := fakews.New()
	seed(srv, "app.t", "x", 1)
	release := make(chan struct{})
	held := make(chan struct{}, 1)
	srv.OnMessage = func(_ int, m map[string]any) bool {
		if m["type"] == "subscribe" {
			select {
			case held <- struct{}{}:
				<-release // the server answers only after the caller gave up
			default:
			}
		}
		return true
	}
	c, _ := rtClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Subscribe(ctx, "SELECT * FROM app.t")
		done <- err
	}()
	<-held
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	close(release)
	// The late ack is for a subscription nobody wants: the client
	// unsubscribes it.
	eventually(t, "the server-side zombie is unsubscribed", func() bool {
		return countKind(srv.Log(), "unsubscribe") == 1 && srv.ActiveSubs() == 0
	})
	// And it is not resubscribed after a reconnect.
	srv.CutAll()
	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t", sdk.LiveOnly())
	require.NoError(t, err)
	defer sub.Close()
	require.Equal(t, 1, srv.ActiveSubs())
}

func TestDefectC1SubscribeDuringOutageHonoursContext(t *testing.T) {
	srv := fakews.New()
	c, tr := rtClient(t, srv)
	tr.FailNext(1 << 20)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Subscribe(ctx, "SELECT * FROM app.t")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "dialling the WebSocket", "the error says why the connection is missing")
}

// Official SDK defect C6: Connect reports a server that is down instead of
// returning success.
func TestDefectC6ConnectReportsFailure(t *testing.T) {
	srv := fakews.New()
	c, tr := rtClient(t, srv, sdk.WithReconnect(time.Millisecond, 2*time.Millisecond, 2))
	tr.FailNext(1 << 20)
	err := c.Connect(waitCtx(t))
	require.ErrorIs(t, err, sdk.ErrConnectionLost)
	require.Equal(t, sdk.StateIdle, c.ConnectionState())
}

// Official Rust SDK defect R1: a drop in the middle of a multi-batch
// snapshot delivered the already-delivered batches again.
func TestDefectR1DropMidSnapshotNoDuplicates(t *testing.T) {
	noGoroutineLeak(t)
	srv := fakews.New()
	ids := seed(srv, "app.t", "seed", 30)
	var nextBatches atomic.Int32
	var cut atomic.Bool
	srv.OnMessage = func(_ int, m map[string]any) bool {
		if m["type"] == "next_batch" && nextBatches.Add(1) == 4 && cut.CompareAndSwap(false, true) {
			go srv.CutAll()
			return false
		}
		return true
	}
	c, _ := rtClient(t, srv)
	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t", sdk.BatchSize(3))
	require.NoError(t, err)
	defer sub.Close()
	s := newSeen(t)
	s.read(sub, func() bool { return cut.Load() && len(s.ids) >= 12 })
	srv.Insert("app.t", "gap", nil)
	s.read(sub, s.has(append(ids, "gap")...))
	eventually(t, "the resumed subscription is live", func() bool { return srv.ActiveSubs() == 1 })
	srv.Insert("app.t", "after", nil)
	s.read(sub, s.has("after"))
	require.Equal(t, 32, len(s.ids))
	for id, n := range s.ids {
		require.Equal(t, 1, n, "row "+id+" delivered once")
	}
}

func TestResumeLiveNoLossNoDuplicates(t *testing.T) {
	srv := fakews.New()
	seed(srv, "app.t", "pre", 3)
	var ev []sdk.ConnectionEventKind
	var mu sync.Mutex
	c, tr := rtClient(t, srv, sdk.WithConnectionEvents(func(e sdk.ConnectionEvent) {
		mu.Lock()
		ev = append(ev, e.Kind)
		mu.Unlock()
	}))
	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t")
	require.NoError(t, err)
	s := newSeen(t)
	s.read(sub, s.has("pre-00", "pre-01", "pre-02"))
	srv.Insert("app.t", "live-1", nil)
	s.read(sub, s.has("live-1"))
	for cycle := range 3 {
		tr.FailNext(2) // down for two attempts
		require.Equal(t, 1, srv.CutAll())
		for i := range 5 {
			srv.Insert("app.t", fmt.Sprintf("gap-%d-%d", cycle, i), nil)
		}
		s.read(sub, s.has(fmt.Sprintf("gap-%d-4", cycle)))
		eventually(t, "reconnected", func() bool { return srv.ActiveSubs() == 1 })
		srv.Insert("app.t", fmt.Sprintf("after-%d", cycle), nil)
		s.read(sub, s.has(fmt.Sprintf("after-%d", cycle)))
	}
	require.Equal(t, 3+1+3*6, len(s.ids))
	for id, n := range s.ids {
		require.Equal(t, 1, n, "row "+id+" delivered once")
	}
	// event_counter_integrity: one disconnect per outage, one connect per recovery.
	eventually(t, "4 connects and 3 disconnects", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return countEv(ev, sdk.EventConnected) == 4 && countEv(ev, sdk.EventDisconnected) == 3
	})
	require.Equal(t, 4, srv.Dials())
}

func countEv(evs []sdk.ConnectionEventKind, k sdk.ConnectionEventKind) int {
	n := 0
	for _, e := range evs {
		if e == k {
			n++
		}
	}
	return n
}

// Official SDK defect A1: the dynamic auth provider was asked once; here it
// is asked again on every reconnect.
func TestDefectA1AuthProviderAskedOnEveryReconnect(t *testing.T) {
	srv := fakews.New()
	var calls atomic.Int32
	c, _ := rtClientAuth(t, srv, sdk.WithAuthProvider(func(context.Context) (sdk.Credentials, error) {
		return sdk.Credentials{Token: fmt.Sprintf("tok-%d", calls.Add(1))}, nil
	}))
	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t", sdk.LiveOnly())
	require.ErrorIs(t, err, sdk.ErrNotFound) // no table yet: the socket is up anyway
	_ = sub
	for i := 2; i <= 3; i++ {
		srv.CutAll()
		eventually(t, fmt.Sprintf("reconnect %d", i), func() bool { return srv.Conns() == 1 && len(srv.Tokens()) == i })
	}
	require.Equal(t, []string{"tok-1", "tok-2", "tok-3"}, srv.Tokens())
}

func TestMessagePathAuthForBrowsers(t *testing.T) {
	srv := fakews.New()
	srv.Token = "tok"
	c, tr := rtClient(t, srv)
	c2, err := sdk.New("http://kalam.test", sdk.WithTransport(browserTransport{tr}), sdk.WithToken("tok"))
	require.NoError(t, err)
	defer c2.Close()
	_ = c
	require.NoError(t, c2.Connect(waitCtx(t)))
	require.Equal(t, []string{"tok"}, srv.Tokens())

	bad, err := sdk.New("http://kalam.test", sdk.WithTransport(browserTransport{tr}), sdk.WithToken("wrong"),
		sdk.WithReconnect(time.Millisecond, time.Millisecond, 1))
	require.NoError(t, err)
	defer bad.Close()
	err = bad.Connect(waitCtx(t))
	require.ErrorIs(t, err, sdk.ErrInvalidCredentials)
	require.NotContains(t, err.Error(), "wrong", "the token is not in the error")
}

func TestRejectedHeaderTokenIsReportedAsInvalidCredentials(t *testing.T) {
	srv := fakews.New()
	srv.Token = "tok"
	c, _ := rtClientAuth(t, srv, sdk.WithToken("stale"), sdk.WithReconnect(time.Millisecond, time.Millisecond, 1))
	err := c.Connect(waitCtx(t))
	require.ErrorIs(t, err, sdk.ErrInvalidCredentials)
	require.ErrorIs(t, err, sdk.ErrTokenExpired, "a static token cannot be renewed, and the error says so")
}

// A token that expired while the WebSocket was open is refused at the
// reconnect (HTTP 401 on the upgrade); the client renews it and goes on.
func TestExpiredTokenIsRenewedOnReconnect(t *testing.T) {
	f := newFake(t)
	srv := fakews.New()
	srv.TokenOK = func(tok string) bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return tok == f.validToken
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/ws", srv)
	mux.Handle("/", f)
	seed(srv, "app.t", "r", 1)
	c, err := sdk.New("http://kalam.test", sdk.WithTransport(mock.New(mux)), basic(),
		sdk.WithReconnect(5*time.Millisecond, 40*time.Millisecond, 0))
	require.NoError(t, err)
	defer c.Close()
	sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t")
	require.NoError(t, err)
	s := newSeen(t)
	s.read(sub, s.has("r-00"))
	f.expire()
	srv.CutAll()
	srv.Insert("app.t", "after-renewal", nil)
	s.read(sub, s.has("after-renewal"))
	toks := srv.Tokens()
	require.Equal(t, 2, len(toks), fmt.Sprint(toks))
	require.True(t, toks[0] != toks[1], "the second connection used a renewed token")
	require.Equal(t, int32(1), f.refreshes.Load())
}
