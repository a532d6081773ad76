package sdk

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// The realtime package joins the context's cause and the last connection
// error; the SDK says each once.
func TestRealtimeCtxError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dial := errors.New("dial tcp: connection refused")
	joined := fmt.Errorf("%w (connection: %w)", context.Cause(ctx), dial)
	err := realtimeCtxError("subscribing", ctx, joined)
	require.Equal(t, "sdk: subscribing: context canceled; last connection error: dial tcp: connection refused", err.Error())
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, dial)
	require.Equal(t, "sdk: subscribing: context canceled", realtimeCtxError("subscribing", ctx, context.Canceled).Error())
}
