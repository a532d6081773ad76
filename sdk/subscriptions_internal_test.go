package sdk

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/sdk/internal/realtime"
)

// Every realtime state has its own public state and name.
func TestSubscriptionStates(t *testing.T) {
	want := map[realtime.SubState]string{
		realtime.SubSubscribing: "subscribing", realtime.SubLoading: "loading", realtime.SubLive: "live",
		realtime.SubResyncing: "resyncing", realtime.SubClosed: "closed",
	}
	for st, name := range want {
		require.Equal(t, name, stateOf(st).String())
	}
	require.Equal(t, "SubscriptionState(9)", SubscriptionState(9).String())
}
