//go:build !js && !wasip1

package sdk_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/kalamstack/kalam-go/sdk"
)

// The Target benchmarks run against whatever kalamtest.Start picks, so the
// same numbers can be taken on the emulator and on a real KalamDB
// (KALAMTEST_SERVER_BIN=...): the emulator's speed says nothing of
// KalamDB's.

func benchTarget(b *testing.B) (*kalamtest.Server, *sdk.Client) {
	b.Helper()
	srv := kalamtest.Start(b, kalamtest.WithEmulatorOptions(func(o *emulator.Options) { o.SQLRateLimit = -1 }))
	c, err := sdk.New(srv.URL, sdk.WithBasicAuth(srv.RootUser, srv.RootPassword))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return srv, c
}

// BenchmarkTargetQueryRoundTrip: one small SELECT, login excluded.
func BenchmarkTargetQueryRoundTrip(b *testing.B) {
	_, c := benchTarget(b)
	ctx := context.Background()
	if _, err := c.Query(ctx, "SELECT 1 AS ok"); err != nil { // logs in
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Query(ctx, "SELECT 1 AS ok, 'hello' AS greeting")
		if err != nil {
			b.Fatal(err)
		}
		if n, err := res.Rows()[0].Int64("ok"); err != nil || n != 1 {
			b.Fatalf("ok = %d, %v", n, err)
		}
	}
}

// BenchmarkTargetChangeEvents: rows inserted 100 per statement, each
// delivered as a change event to one live subscription on the same server.
func BenchmarkTargetChangeEvents(b *testing.B) {
	_, c := benchTarget(b)
	ctx := context.Background()
	ns := "bench_" + kalamtest.RandomSuffix()
	for _, sql := range []string{
		"CREATE NAMESPACE " + ns,
		"CREATE SHARED TABLE " + ns + ".ev (id BIGINT PRIMARY KEY, body TEXT)",
	} {
		if _, err := c.Query(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	sub, err := c.Subscribe(ctx, "SELECT * FROM "+ns+".ev", sdk.LiveOnly())
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Next(ctx); err != nil { // the ack
		b.Fatal(err)
	}
	writeErr := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		const perStatement = 100
		for start := 0; start < b.N; start += perStatement {
			var vals []string
			for i := start; i < min(start+perStatement, b.N); i++ {
				vals = append(vals, fmt.Sprintf("(%d, 'hello world')", i))
			}
			if _, err := c.Query(ctx, "INSERT INTO "+ns+".ev (id, body) VALUES "+strings.Join(vals, ", ")); err != nil {
				writeErr <- err
				return
			}
		}
	}()
	for got := 0; got < b.N; {
		select {
		case err := <-writeErr:
			b.Fatal(err)
		default:
		}
		ev, err := sub.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if ins, ok := ev.(*sdk.Insert); ok {
			got += len(ins.Rows)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
