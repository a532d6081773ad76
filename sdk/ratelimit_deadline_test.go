package sdk_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

// Issue 9 item 10: a 429 whose Retry-After is beyond the call's deadline
// (the caller's, or the client's own timeout) fails with ErrRateLimited at
// once instead of sleeping until the deadline.
func TestRateLimitRetryAfterBeyondDeadlineFailsAtOnce(t *testing.T) {
	f := newFake(t)
	f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Retry-After", "3600")
		writeJSON(w, 429, rateLimited)
	}
	for name, setup := range map[string]struct {
		opts []sdk.Option
		ctx  func() (context.Context, context.CancelFunc)
	}{
		"caller deadline": {nil, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 10*time.Minute)
		}},
		"client timeout": {[]sdk.Option{sdk.WithTimeout(10 * time.Minute)}, func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}},
	} {
		t.Run(name, func(t *testing.T) {
			before := f.sqlCalls.Load()
			c, _ := newClient(t, f, append([]sdk.Option{basic()}, setup.opts...)...)
			ctx, cancel := setup.ctx()
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := c.Query(ctx, "SELECT 1")
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Query slept on a Retry-After longer than its deadline")
			}
			require.ErrorIs(t, err, sdk.ErrRateLimited)
			require.NotErrorIs(t, err, context.DeadlineExceeded)
			require.ErrorContains(t, err, "Retry-After 1h0m0s exceeds")
			var se *sdk.ServerError
			require.ErrorAs(t, err, &se)
			require.Equal(t, time.Hour, se.RetryAfter)
			require.EqualValues(t, 1, f.sqlCalls.Load()-before, "not resent")
		})
	}
}
