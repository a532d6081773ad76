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
// with -benchtime=10x; set KALAMTEST_SERVER_BIN for a real cluster.
func BenchmarkClusterFailover(b *testing.B) {
	e := newClusterEnv(b)
	sub, err := e.client.Subscribe(waitCtx(b), "SELECT * FROM "+e.table)
	require.NoError(b, err)
	b.Cleanup(func() { sub.Close() })
	s := newSeen(b)
	var confirmed []string
	write := func(id string) bool {
		err := e.insert(id)
		if err == nil {
			confirmed = append(confirmed, id)
		}
		return err == nil
	}
	n := 0
	next := func() string { n++; return "b" + strconv.Itoa(n) }
	for range 3 {
		require.True(b, write(next()))
	}
	var recoveries []time.Duration
	b.ResetTimer()
	for range b.N {
		s.read(sub, s.has(confirmed...))
		victim := e.nodeInUse()
		start := time.Now()
		require.NoError(b, victim.Stop())
		for !write(next()) {
		}
		wrote := time.Since(start)
		require.NoError(b, e.connectedOff(waitCtx(b), victim.URL))
		recoveries = append(recoveries, max(wrote, time.Since(start)))
		require.NoError(b, victim.Start(waitCtx(b)), victim.LogTail(20))
	}
	b.StopTimer()
	s.read(sub, s.has(confirmed...))
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
