package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
)

// The official Rust SDK's "Topic Consumers" example in Go.
func ExampleClient_Consumer() {
	ctx := context.Background()
	client, err := sdk.New("http://localhost:8080", sdk.WithBasicAuth("admin", "AdminPass123!"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	consumer, err := client.Consumer(sdk.ConsumerConfig{
		Group:           "billing-worker",
		Topic:           "orders.events",
		AutoOffsetReset: sdk.Earliest,
		ManualCommit:    true,
		MaxPollRecords:  25,
		PollTimeout:     10 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	records, err := consumer.Poll(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, record := range records {
		fmt.Printf("offset=%d bytes=%d\n", record.Offset, len(record.Payload))
		if err := consumer.MarkProcessed(record); err != nil {
			log.Fatal(err)
		}
	}
	commit, err := consumer.Commit(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("committed offset", commit.Offset)
	if err := consumer.Close(ctx); err != nil {
		log.Fatal(err)
	}
}

// A worker loop: Run hands each record to the handler, commits what was
// handled, and returns nil when ctx ends.
func ExampleConsumer_Run() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	client, err := sdk.New("http://localhost:8080", sdk.WithBasicAuth("admin", "AdminPass123!"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	consumer, err := client.Consumer(sdk.ConsumerConfig{Group: "billing-worker", Topic: "orders.events"})
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close(context.Background())
	err = consumer.Run(ctx, func(ctx context.Context, rec sdk.Record) error {
		row, err := rec.Row()
		if err != nil {
			return err
		}
		cents, err := row.Int64("cents")
		if err != nil {
			return err
		}
		fmt.Println(rec.Op, rec.Table, cents)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}

// topicExample starts an emulator with the topic shop.order_events fed by
// inserts into shop.orders, inserts orders 1..n, and returns a client.
func topicExample(n int) (client *sdk.Client, stop func()) {
	url, stopEmu := startEmulator()
	client, err := sdk.New(url, sdk.WithBasicAuth("root", "RootPass123!"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for _, sql := range []string{
		"CREATE NAMESPACE shop",
		"CREATE TABLE shop.orders (id BIGINT PRIMARY KEY, total BIGINT) WITH (TYPE = 'SHARED')",
		"CREATE TOPIC shop.order_events",
		"ALTER TOPIC shop.order_events ADD SOURCE shop.orders ON INSERT",
	} {
		if _, err := client.Query(ctx, sql); err != nil {
			log.Fatal(err)
		}
	}
	for id := 1; id <= n; id++ {
		if _, err := client.Query(ctx, "INSERT INTO shop.orders (id, total) VALUES ($1, $2)", sdk.Args(int64(id), int64(id*100))); err != nil {
			log.Fatal(err)
		}
	}
	return client, func() { client.Close(); stopEmu() }
}

// Seek forward skips records by choice: they are never delivered, and the
// next commit covers them.
func ExampleConsumer_Seek() {
	client, stop := topicExample(6)
	defer stop()
	ctx := context.Background()
	consumer, err := client.Consumer(sdk.ConsumerConfig{
		Group: "replayer", Topic: "shop.order_events", AutoOffsetReset: sdk.Earliest, ManualCommit: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close(ctx)

	if err := consumer.Seek(ctx, 4); err != nil { // skip offsets 0..3
		log.Fatal(err)
	}
	records, err := consumer.Poll(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, rec := range records {
		fmt.Println("offset", rec.Offset)
		if err := consumer.MarkProcessed(rec); err != nil {
			log.Fatal(err)
		}
	}
	res, err := consumer.Commit(ctx)
	fmt.Println("committed", res.Offset, err)

	// The server never delivers what the group committed again.
	err = consumer.Seek(ctx, 0)
	fmt.Println(errors.Is(err, sdk.ErrSeekBeforeStart))
	// Output:
	// offset 4
	// offset 5
	// committed 5 <nil>
	// true
}

// Position is where reading continues; Offsets adds what this consumer
// processed and committed.
func ExampleConsumer_Position() {
	client, stop := topicExample(3)
	defer stop()
	ctx := context.Background()
	consumer, err := client.Consumer(sdk.ConsumerConfig{
		Group: "auditor", Topic: "shop.order_events", AutoOffsetReset: sdk.Earliest, ManualCommit: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close(ctx)

	_, started := consumer.Position()
	fmt.Println("started:", started)
	records, err := consumer.Poll(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := consumer.MarkProcessed(records[0]); err != nil {
		log.Fatal(err)
	}
	pos, _ := consumer.Position()
	o := consumer.Offsets()
	fmt.Println("position:", pos, "highest processed:", o.HighestProcessed, "committed:", o.HasCommitted)
	// Output:
	// started: false
	// position: 3 highest processed: 0 committed: false
}

// Committed asks the server for the group's committed offset, whichever
// member committed it.
func ExampleConsumer_Committed() {
	client, stop := topicExample(3)
	defer stop()
	ctx := context.Background()
	cfg := sdk.ConsumerConfig{Group: "billing", Topic: "shop.order_events", AutoOffsetReset: sdk.Earliest, ManualCommit: true}
	worker, err := client.Consumer(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer worker.Close(ctx)
	records, err := worker.Poll(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, rec := range records[:2] {
		if err := worker.MarkProcessed(rec); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := worker.Commit(ctx); err != nil {
		log.Fatal(err)
	}

	monitor, err := client.Consumer(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer monitor.Close(ctx)
	offset, ok, err := monitor.Committed(ctx)
	fmt.Println(offset, ok, err)
	// Output: 1 true <nil>
}
