//go:build !js && !wasip1

package sdk_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkClusterFailover kills the node the client uses, b.N times, and
// reports how long the client took to recover: until a write succeeded on
// another node and the WebSocket was connected to one (the later of the
// two); the median and the worst in ms. It also reports the rows a live
// subscription missed or got twice over the run (both must be 0). Run
// with -benchtime=10x on the emulator. A real KalamDB 0.4.2 node does not
// rejoin after a restart, so with KALAMTEST_SERVER_BIN run one kill per
// fresh cluster: -benchtime=1x -count=10. node=leader starts the client on
// the leader, so its recovery includes an election; node=follower on a
// follower.
func BenchmarkClusterFailover(b *testing.B) {
	b.Run("node=leader", func(b *testing.B) { benchFailover(b, newClusterEnv(b)) })
	b.Run("node=follower", func(b *testing.B) { benchFailover(b, newClusterEnvOnFollower(b)) })
}

func benchFailover(b *testing.B, e *clusterEnv) {
	sub, err := e.client.Subscribe(waitCtx(b), "SELECT * FROM "+e.table)
	require.NoError(b, err)
	b.Cleanup(func() { sub.Close() })
	s := newSeen(b)
	var confirmed []string
	var lastErr error
	write := func(id string) bool {
		lastErr = e.insert(id)
		if lastErr == nil {
			confirmed = append(confirmed, id)
		}
		return lastErr == nil
	}
	n := 0
	next := func() string { n++; return "b" + strconv.Itoa(n) }
	for range 3 {
		require.True(b, write(next()))
	}
	var recoveries []time.Duration
	b.ResetTimer()
	for i := range b.N {
		e.read(s, sub, s.has(confirmed...))
		victim := e.nodeInUse()
		start := time.Now()
		require.NoError(b, victim.Stop())
		deadline := e.wait()
		for !write(next()) {
			// A cluster electing a leader refuses writes at once: pace
			// the retries (at most 5 ms added to the measurement).
			select {
			case <-deadline.Done():
				b.Fatalf("no write succeeded within the wait after node %d died: %v", victim.ID, lastErr)
			case <-time.After(5 * time.Millisecond):
			}
		}
		wrote := time.Since(start)
		require.NoError(b, e.connectedOff(e.wait(), victim.URL))
		recoveries = append(recoveries, max(wrote, time.Since(start)))
		if i < b.N-1 {
			require.NoError(b, victim.Start(e.wait()), victim.LogTail(20))
		}
	}
	b.StopTimer()
	e.read(s, sub, s.has(confirmed...))
	lost, dups := 0, 0
	for _, id := range confirmed {
		if s.ids[id] == 0 {
			lost++
		}
	}
	for _, c := range s.ids {
		dups += c - 1
	}
	slices.Sort(recoveries)
	b.ReportMetric(float64(recoveries[len(recoveries)/2].Microseconds())/1000, "recover-ms-median")
	b.ReportMetric(float64(recoveries[len(recoveries)-1].Microseconds())/1000, "recover-ms-max")
	b.ReportMetric(float64(lost), "rows-lost")
	b.ReportMetric(float64(dups), "rows-duplicated")
}
