package sdk_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
)

// BenchmarkConsumerThroughput polls, decodes, marks and commits a topic of
// benchRecords messages from the emulator (a fresh group per iteration)
// and reports records per second.
func BenchmarkConsumerThroughput(b *testing.B) {
	const benchRecords = 2000
	_, c := topicEnv(b)
	for from := 0; from < benchRecords; from += 100 {
		var values []string
		for id := from; id < from+100; id++ {
			values = append(values, fmt.Sprintf("(%d, 'item-%d', %d)", id, id, int64(id)*1_000_000_007))
		}
		if _, err := c.Query(context.Background(), "INSERT INTO shop.orders (id, item, total) VALUES "+strings.Join(values, ", ")); err != nil {
			b.Fatal(err)
		}
	}
	group := 0 // every iteration reads as a new group; -count reruns sub-benchmarks on this server
	for _, batch := range []int{100, 500} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				group++
				k, err := c.Consumer(sdk.ConsumerConfig{Group: fmt.Sprintf("bench-%d-%d", batch, group), Topic: ordersTopic,
					AutoOffsetReset: sdk.Earliest, ManualCommit: true, MaxPollRecords: batch, PollTimeout: 2 * time.Second})
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for polls := 0; got < benchRecords; polls++ {
					if polls > 2*benchRecords/batch+2 {
						b.Fatalf("%d polls read only %d of %d records", polls, got, benchRecords)
					}
					recs, err := k.Poll(ctx)
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range recs {
						row, err := r.Row()
						if err != nil {
							b.Fatal(err)
						}
						if _, err := row.Int64("total"); err != nil {
							b.Fatal(err)
						}
						if err := k.MarkProcessed(r); err != nil {
							b.Fatal(err)
						}
					}
					got += len(recs)
					if _, err := k.Commit(ctx); err != nil {
						b.Fatal(err)
					}
				}
				if err := k.Close(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkConsumerIdlePoll measures how many requests an idle Poll makes
// against an empty topic on the emulator: one op is one Poll of 2 s.
func BenchmarkConsumerIdlePoll(b *testing.B) {
	srv, c := topicEnv(b)
	k, err := c.Consumer(sdk.ConsumerConfig{Group: "idle", Topic: ordersTopic, PollTimeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close(context.Background())
	before := srv.Emulator.Traffic()
	for b.Loop() {
		recs, err := k.Poll(context.Background())
		if err != nil || len(recs) != 0 {
			b.Fatalf("idle poll: %d records, %v", len(recs), err)
		}
	}
	const route = "POST /v1/api/topics/consume"
	requests := srv.Emulator.Traffic().ByRoute[route] - before.ByRoute[route]
	if requests == 0 {
		b.Fatalf("no %s in the emulator's traffic %v", route, srv.Emulator.Traffic().ByRoute)
	}
	b.ReportMetric(float64(requests)/float64(b.N), "requests/poll")
	b.ReportMetric(float64(requests)/b.Elapsed().Seconds(), "requests/s")
}
