//go:build !js

package sdk_test

import (
	"context"
	"fmt"
	"github.com/stretchr/testify/require"
	"runtime"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/sdk/internal/realtime/fakews"
	"github.com/kalamstack/kalam-go/transport"
	"github.com/kalamstack/kalam-go/transport/mock"
)

const waitLimit = 10 * time.Second

// rtClient is a client on a fake /v1/ws over the in-memory transport, with
// fast keepalive and reconnects.
func rtClient(t testing.TB, srv *fakews.Server, opts ...sdk.Option) (*sdk.Client, *mock.Transport) {
	t.Helper()
	return rtClientAuth(t, srv, sdk.WithToken("tok"), opts...)
}

func rtClientAuth(t testing.TB, srv *fakews.Server, auth sdk.Option, opts ...sdk.Option) (*sdk.Client, *mock.Transport) {
	t.Helper()
	tr := mock.New(srv)
	base := []sdk.Option{sdk.WithTransport(tr), auth,
		sdk.WithKeepalive(time.Second, 2*time.Second),
		sdk.WithReconnect(5*time.Millisecond, 40*time.Millisecond, 0)}
	c, err := sdk.New("http://kalam.test", append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, tr
}

func waitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds, failing after waitLimit.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", waitLimit, what)
		}
		<-tick.C
	}
}

func nextEvent(t testing.TB, s *sdk.Subscription) sdk.Event {
	t.Helper()
	ev, err := s.Next(waitCtx(t))
	require.NoError(t, err)
	return ev
}

// seen accumulates the rows a subscription delivered, failing on any
// duplicate (id, _seq) pair: the no-duplicate invariant.
type seen struct {
	t      testing.TB
	ids    map[string]int // id -> times seen as inserted/initial
	seqs   map[int64]bool
	events []string
}

func newSeen(t testing.TB) *seen {
	return &seen{t: t, ids: map[string]int{}, seqs: map[int64]bool{}}
}

func (s *seen) rows(kind string, rows []sdk.Row) {
	s.t.Helper()
	for _, r := range rows {
		id, err := r.String("id")
		if err != nil {
			s.t.Fatalf("%s row without id: %v", kind, err)
		}
		seq, err := r.Int64("_seq")
		if err != nil {
			s.t.Fatalf("%s row %s without _seq: %v", kind, id, err)
		}
		if s.seqs[seq] {
			s.t.Fatalf("duplicate delivery: %s row %s with _seq %d was already delivered (events so far: %v)", kind, id, seq, s.events)
		}
		s.seqs[seq] = true
		s.ids[id]++
		s.events = append(s.events, kind+":"+id)
	}
}

// read consumes events until done reports true.
func (s *seen) read(sub *sdk.Subscription, done func() bool) {
	s.t.Helper()
	s.readCtx(waitCtx(s.t), sub, done)
}

// readCtx is read with the caller's deadline.
func (s *seen) readCtx(ctx context.Context, sub *sdk.Subscription, done func() bool) {
	s.t.Helper()
	for !done() {
		ev, err := sub.Next(ctx)
		if err != nil {
			s.t.Fatalf("Next: %v (events so far: %v)", err, s.events)
		}
		switch e := ev.(type) {
		case *sdk.InitialRows:
			s.rows("initial", e.Rows)
		case *sdk.Insert:
			s.rows("insert", e.Rows)
		case *sdk.Update:
			s.rows("update", e.Rows)
		case *sdk.Delete:
			s.rows("delete", e.Rows)
		}
	}
}

func (s *seen) has(ids ...string) func() bool {
	return func() bool {
		for _, id := range ids {
			if s.ids[id] == 0 {
				return false
			}
		}
		return true
	}
}

func seed(srv *fakews.Server, tbl, prefix string, n int) []string {
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%02d", prefix, i)
		srv.Insert(tbl, ids[i], map[string]any{"body": "seed"})
	}
	return ids
}

// noGoroutineLeak fails if goroutines started during the test outlive it.
func noGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitLimit)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				n := runtime.Stack(buf, true)
				t.Errorf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:n])
				return
			}
			<-tick.C
		}
	})
}

// browserTransport hides Dial headers, as browsers do, forcing
// message-path authentication.
type browserTransport struct{ transport.Transport }

func (browserTransport) SupportsDialHeaders() bool { return false }

func countKind(log []string, kind string) int {
	n := 0
	for _, k := range log {
		if k == kind {
			n++
		}
	}
	return n
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return out
}
